package pxe

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// assetDirHandler serves a real directory, as a deployment does
// (os.DirFS), so the small-file cache meets real stats and mtimes.
func assetDirHandler(t *testing.T) (*handler, string) {
	t.Helper()
	dir := t.TempDir()
	h, _ := testHandler(t, nil)
	h.assets = os.DirFS(dir)
	return h, dir
}

// writeAged writes data to dir/name with a modification time age ago.
func writeAged(t *testing.T, dir, name string, data []byte, age time.Duration) time.Time {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(-age).Truncate(time.Second)
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	return mt
}

func getAsset(t *testing.T, h *handler, name string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	w := do(h, "GET", "/assets/"+name, "192.0.2.10:1", hdr)
	return w.Code, w.Body.String(), w.Header()
}

// A replaced small file is served new, whether its size or only its
// modification time changed; a removed one is gone.
func TestSmallAssetReplaced(t *testing.T) {
	h, dir := assetDirHandler(t)
	writeAged(t, dir, "menu.ipxe", []byte("#!ipxe\necho one\n"), time.Hour)
	for range 3 {
		if code, body, _ := getAsset(t, h, "menu.ipxe", nil); code != 200 || body != "#!ipxe\necho one\n" {
			t.Fatalf("first version: %d %q", code, body)
		}
	}
	writeAged(t, dir, "menu.ipxe", []byte("#!ipxe\necho two\n"), 30*time.Minute) // same size
	if code, body, _ := getAsset(t, h, "menu.ipxe", nil); code != 200 || body != "#!ipxe\necho two\n" {
		t.Fatalf("same size, newer: %d %q", code, body)
	}
	writeAged(t, dir, "menu.ipxe", []byte("#!ipxe\necho three\n"), 30*time.Minute) // same time
	if code, body, _ := getAsset(t, h, "menu.ipxe", nil); code != 200 || body != "#!ipxe\necho three\n" {
		t.Fatalf("same time, other size: %d %q", code, body)
	}
	if err := os.Remove(filepath.Join(dir, "menu.ipxe")); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := getAsset(t, h, "menu.ipxe", nil); code != 404 {
		t.Fatalf("removed file: %d %q", code, body)
	}
	if n := len(h.assetFiles.files); n != 0 {
		t.Errorf("%d files still kept after removal", n)
	}
}

// A file written in place twice within the file system's timestamp
// granularity keeps its size and time; a copy of the first write must not
// outlive the second.
func TestSmallAssetStillBeingWritten(t *testing.T) {
	h, dir := assetDirHandler(t)
	p := filepath.Join(dir, "ks.cfg")
	if err := os.WriteFile(p, []byte("part one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := getAsset(t, h, "ks.cfg", nil); code != 200 || body != "part one\n" {
		t.Fatalf("%d %q", code, body)
	}
	if err := os.WriteFile(p, []byte("part two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil { // the same tick
		t.Fatal(err)
	}
	if code, body, _ := getAsset(t, h, "ks.cfg", nil); code != 200 || body != "part two\n" {
		t.Fatalf("rewritten in the same tick: %d %q", code, body)
	}
}

// Served from memory, a small file keeps what serving it from disk gave:
// ETag and Last-Modified, ranges, conditional requests, events.
func TestSmallAssetHeadersRangesFromMemory(t *testing.T) {
	h, dir := assetDirHandler(t)
	data := []byte(strings.Repeat("0123456789", 1000))
	mt := writeAged(t, dir, "answers.txt", data, time.Hour)
	for i := range 3 {
		code, body, hdr := getAsset(t, h, "answers.txt", nil)
		if code != 200 || body != string(data) {
			t.Fatalf("fetch %d: %d, %d bytes", i, code, len(body))
		}
		wantTag := fmt.Sprintf(`"%x-%x"`, len(data), mt.UnixNano())
		if hdr.Get("Etag") != wantTag || hdr.Get("Last-Modified") != mt.UTC().Format(http.TimeFormat) {
			t.Fatalf("fetch %d: Etag %q Last-Modified %q, want %s %s", i, hdr.Get("Etag"), hdr.Get("Last-Modified"), wantTag, mt.UTC().Format(http.TimeFormat))
		}
		if code, body, _ := getAsset(t, h, "answers.txt", map[string]string{"Range": "bytes=9995-"}); code != http.StatusPartialContent || body != "56789" {
			t.Fatalf("fetch %d: range: %d %q", i, code, body)
		}
		if code, _, _ := getAsset(t, h, "answers.txt", map[string]string{"If-None-Match": wantTag}); code != http.StatusNotModified {
			t.Fatalf("fetch %d: If-None-Match: %d", i, code)
		}
		if code, _, _ := getAsset(t, h, "answers.txt", map[string]string{"If-Modified-Since": mt.UTC().Format(http.TimeFormat)}); code != http.StatusNotModified {
			t.Fatalf("fetch %d: If-Modified-Since: %d", i, code)
		}
		if code, body, _ := getAsset(t, h, "answers.txt", map[string]string{"If-Modified-Since": mt.Add(-time.Hour).UTC().Format(http.TimeFormat)}); code != 200 || body != string(data) {
			t.Fatalf("fetch %d: If-Modified-Since an hour earlier: %d, %d bytes", i, code, len(body))
		}
	}
	if _, ok := h.assetFiles.files["answers.txt"]; !ok {
		t.Error("a settled 10 kB file is not kept in memory")
	}
}

// Files above the size bound and everything past the total bound are
// served from disk, complete.
func TestSmallAssetBounds(t *testing.T) {
	h, dir := assetDirHandler(t)
	big := bytes.Repeat([]byte{0xa5}, maxSmallFile+1)
	writeAged(t, dir, "big.bin", big, time.Hour)
	if code, body, _ := getAsset(t, h, "big.bin", nil); code != 200 || body != string(big) {
		t.Fatalf("big file: %d, %d bytes", code, len(body))
	}
	if _, ok := h.assetFiles.files["big.bin"]; ok {
		t.Error("a file above maxSmallFile was kept")
	}
	file := bytes.Repeat([]byte{'x'}, maxSmallFile)
	n := maxSmallFiles/maxSmallFile + 3
	for i := range n {
		writeAged(t, dir, fmt.Sprintf("f%03d", i), file, time.Hour)
	}
	for i := range n {
		if code, body, _ := getAsset(t, h, fmt.Sprintf("f%03d", i), nil); code != 200 || body != string(file) {
			t.Fatalf("file %d: %d, %d bytes", i, code, len(body))
		}
	}
	if h.assetFiles.bytes > maxSmallFiles {
		t.Errorf("cache holds %d bytes, bound %d", h.assetFiles.bytes, maxSmallFiles)
	}
}

// Many requesters, files changing underneath (run with -race): every
// response is one whole version of the file.
func TestSmallAssetConcurrent(t *testing.T) {
	h, dir := assetDirHandler(t)
	versions := []string{"version A\n", "version BB\n", "version CCC\n"}
	writeAged(t, dir, "v.txt", []byte(versions[0]), time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 4 {
		wg.Go(func() {
			for range 200 {
				w := do(h, "GET", "/assets/v.txt", "192.0.2.10:1", nil)
				body := w.Body.String()
				ok := false
				for _, v := range versions {
					ok = ok || body == v
				}
				if w.Code != 200 || !ok {
					errs <- fmt.Errorf("%d %q", w.Code, body)
					return
				}
			}
		})
	}
	for i := range 50 {
		v := versions[i%len(versions)]
		tmp := filepath.Join(dir, ".v.tmp")
		if err := os.WriteFile(tmp, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-time.Hour + time.Duration(i)*time.Second)
		if err := os.Chtimes(tmp, mt, mt); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "v.txt")); err != nil { // atomic replace
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkSmallAsset serves a 200-byte script file from /assets/.
func BenchmarkSmallAsset(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "boot.ipxe")
	if err := os.WriteFile(p, []byte("#!ipxe\nkernel http://192.0.2.1/assets/vmlinuz console=ttyS0 quiet\ninitrd http://192.0.2.1/assets/initrd.gz\nboot\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		b.Fatal(err)
	}
	h := &handler{assets: os.DirFS(dir), bus: &Bus{}}
	b.ReportAllocs()
	for b.Loop() {
		if w := do(h, "GET", "/assets/boot.ipxe", "192.0.2.10:1", nil); w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
