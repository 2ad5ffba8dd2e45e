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

// FuzzJSONLines: any text gives lines within the text, never a panic.
func FuzzJSONLines(f *testing.F) {
	f.Add([]byte("{\"cniVersion\": \"0.3.1\",\n \"plugins\": [\n  {\"type\": \"bridge\", \"vlanTrunk\": [{\"id\": 1}]}\n ]}"))
	f.Add([]byte("[[[[1]]], {\"a\": {\"b\": [true, null]}}"))
	f.Add([]byte("{\"a\" 1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 1 + strings.Count(string(data), "\n")
		for p, l := range jsonLines(data) {
			if l < 1 || l > n {
				t.Fatalf("%s: line %d of %d", p, l, n)
			}
			if lookupLine(jsonLines(data), p) != l {
				t.Fatalf("lookup %s", p)
			}
		}
	})
}
