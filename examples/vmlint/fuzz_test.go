package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLint: any stream gives findings, never a panic, and every finding
// names a document of the stream.
func FuzzLint(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("kind: VirtualMachine\n---\nkind: NetworkAttachmentDefinition\nspec: {config: '{\"plugins\":[{}]}'}\n"))
	f.Add([]byte("---\n---\n...\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out strings.Builder
		code := run([]string{"-"}, strings.NewReader(string(data)), &out, io.Discard)
		if code != 0 && code != 1 {
			t.Fatalf("exit %d", code)
		}
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l != "" && !strings.HasPrefix(l, "<stdin>:") {
				t.Fatalf("finding without a location: %q", l)
			}
		}
	})
}
