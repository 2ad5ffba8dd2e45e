package initramfs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cavaliergopher/cpio"
)

type entry struct {
	mode cpio.FileMode
	body string
}

func readArchive(t *testing.T, r io.Reader) (map[string]entry, []string) {
	t.Helper()
	cr := cpio.NewReader(r)
	got := map[string]entry{}
	var order []string
	for {
		h, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(cr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode&^cpio.ModePerm == cpio.TypeSymlink {
			b = []byte(h.Linkname) // the reader moves the target there
		}
		got[h.Name] = entry{h.Mode, string(b)}
		order = append(order, h.Name)
	}
	return got, order
}

func TestWriterRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(src, []byte("#!fake busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, Options{Gzip: gz})
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(w.File("/init", []byte("#!/bin/busybox sh\n"), 0o755))
			must(w.CopyFile("bin/busybox", src, 0))
			must(w.Symlink("/bin/sh", "busybox"))
			must(w.Dir("/proc", 0o555))
			must(w.File("/etc/deep/er/file", []byte("x"), 0o600))
			must(w.Close())

			var r io.Reader = &buf
			if gz {
				zr, err := gzip.NewReader(&buf)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			}
			got, order := readArchive(t, r)
			want := map[string]entry{
				"init":             {cpio.TypeReg | 0o755, "#!/bin/busybox sh\n"},
				"bin":              {cpio.TypeDir | 0o755, ""},
				"bin/busybox":      {cpio.TypeReg | 0o755, "#!fake busybox"},
				"bin/sh":           {cpio.TypeSymlink | 0o777, "busybox"},
				"proc":             {cpio.TypeDir | 0o555, ""},
				"etc":              {cpio.TypeDir | 0o755, ""},
				"etc/deep":         {cpio.TypeDir | 0o755, ""},
				"etc/deep/er":      {cpio.TypeDir | 0o755, ""},
				"etc/deep/er/file": {cpio.TypeReg | 0o600, "x"},
			}
			if len(got) != len(want) {
				t.Errorf("archive has %v, want %d entries", order, len(want))
			}
			for name, w := range want {
				if g, ok := got[name]; !ok || g != w {
					t.Errorf("%s = %+v (present %v), want %+v", name, g, ok, w)
				}
			}
			// Parents precede children, or the kernel cannot create them.
			seen := map[string]bool{}
			for _, n := range order {
				if d := filepath.Dir(n); d != "." && !seen[d] {
					t.Errorf("%s comes before its directory %s", n, d)
				}
				seen[n] = true
			}
		})
	}
}

func TestWriterRejectsBadInput(t *testing.T) {
	w := NewWriter(io.Discard, Options{})
	for _, p := range []string{"", "/", "..", "../etc/passwd", "/a/../../b"} {
		if err := w.File(p, nil, 0o644); err == nil {
			t.Errorf("File(%q): no error", p)
		}
	}
	if err := w.Symlink("/x", ""); err == nil {
		t.Error("empty symlink target: no error")
	}
	if err := w.CopyFile("/d", t.TempDir(), 0); err == nil {
		t.Error("CopyFile of a directory: no error")
	}
	if err := w.File("/a", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.File("/a", nil, 0o644); err == nil {
		t.Error("duplicate entry: no error")
	}
}

func ExampleWriter() {
	var buf bytes.Buffer
	w := NewWriter(&buf, Options{})
	_ = w.File("/init", []byte("#!/bin/busybox sh\necho hello\n"), 0o755)
	_ = w.Symlink("/bin/sh", "busybox")
	_ = w.Dir("/proc", 0o555)
	_ = w.Close()

	r := cpio.NewReader(&buf)
	for {
		h, err := r.Next()
		if err != nil {
			break
		}
		fmt.Println(h.Name, h.Mode&^cpio.ModePerm == cpio.TypeDir)
	}
	// Output:
	// init false
	// bin true
	// bin/sh false
	// proc true
}
