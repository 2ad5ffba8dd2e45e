package vmtest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"

	"github.com/pxekit/pxekit/internal/vmtest/initramfs"
)

func TestAddTestdata(t *testing.T) {
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(src, "a.yaml"), []byte("a: 1\n"), 0o644))
	must(os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("b"), 0o600))
	must(os.Symlink("a.yaml", filepath.Join(src, "link.yaml")))
	must(os.Symlink("missing", filepath.Join(src, "dangling")))

	var buf bytes.Buffer
	w := initramfs.NewWriter(&buf, initramfs.Options{})
	must(addTestdata(w, src, "/pkg/testdata"))
	must(addTestdata(w, filepath.Join(src, "nope"), "/other")) // missing: fine
	must(w.Close())

	got := map[string]string{}
	r := cpio.NewReader(&buf)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		must(err)
		b, _ := io.ReadAll(r)
		got[h.Name] = string(b)
	}
	for name, want := range map[string]string{
		"pkg/testdata/a.yaml":    "a: 1\n",
		"pkg/testdata/sub/b.txt": "b",
		"pkg/testdata/link.yaml": "a: 1\n", // followed
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q (archive: %v)", name, got[name], want, got)
		}
	}
	if _, ok := got["pkg/testdata/dangling"]; ok {
		t.Error("dangling symlink copied")
	}
	if _, ok := got["other"]; !ok {
		t.Error("missing testdata must still create the directory")
	}
}

func TestAddTestdataTooLarge(t *testing.T) {
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "big"))
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: no disk used.
	if err := f.Truncate(maxTestdata + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = addTestdata(initramfs.NewWriter(io.Discard, initramfs.Options{}), src, "/pkg/testdata")
	if err == nil || !strings.Contains(err.Error(), "64 MB") {
		t.Errorf("oversized testdata: %v", err)
	}
}
