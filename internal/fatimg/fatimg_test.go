package fatimg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// readFile finds path in img the way a FAT driver does (root directory,
// then each directory's clusters, following the first FAT) and returns the
// file's bytes.
func readFile(t testing.TB, img *Image, p string) ([]byte, error) {
	raw := make([]byte, img.Size())
	if _, err := img.ReadAt(raw, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	bps := int(binary.LittleEndian.Uint16(raw[11:]))
	spc := int(raw[13])
	rsvd := int(binary.LittleEndian.Uint16(raw[14:]))
	nfats := int(raw[16])
	rootN := int(binary.LittleEndian.Uint16(raw[17:]))
	fatSz := int(binary.LittleEndian.Uint16(raw[22:]))
	fat := raw[rsvd*bps:]
	rootOff := (rsvd + nfats*fatSz) * bps
	dataOff := rootOff + rootN*32
	cb := spc * bps
	chain := func(c int, size int) []byte {
		var out []byte
		for c >= 2 && c < 0xfff8 {
			out = append(out, raw[dataOff+(c-2)*cb:dataOff+(c-1)*cb]...)
			c = int(binary.LittleEndian.Uint16(fat[2*c:]))
		}
		if size >= 0 && size <= len(out) {
			out = out[:size]
		}
		return out
	}
	dir := raw[rootOff:dataOff]
	elems := strings.Split(p, "/")
	for i, e := range elems {
		want := pad83(e)
		found := false
		for off := 0; off+32 <= len(dir); off += 32 {
			ent := dir[off : off+32]
			if ent[0] == 0 {
				break
			}
			if !bytes.Equal(ent[:11], want[:]) || ent[11]&0x08 != 0 {
				continue
			}
			c := int(binary.LittleEndian.Uint16(ent[26:]))
			size := int(binary.LittleEndian.Uint32(ent[28:]))
			if i == len(elems)-1 {
				if ent[11]&0x10 != 0 {
					return nil, fmt.Errorf("%s is a directory", p)
				}
				return chain(c, size), nil
			}
			dir, found = chain(c, -1), true
			break
		}
		if !found {
			return nil, fmt.Errorf("%s: no %s", p, e)
		}
	}
	return nil, fmt.Errorf("%s: not found", p)
}

func payload(n int, mark byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ mark
	}
	return b
}

func bootFiles() map[string][]byte {
	return map[string][]byte{
		"EFI/BOOT/BOOTX64.EFI": payload(100_000, 1),
		"EFI/BOOT/GRUBX64.EFI": payload(70_001, 2),
		"GRUB/GRUB.CFG":        []byte("linux /VMLINUZ console=ttyS0\ninitrd /INITRD\nboot\n"),
		"VMLINUZ":              payload(1_500_000, 3),
		"INITRD":               payload(3_000_123, 4),
		"EMPTY.TXT":            nil,
	}
}

func build(t testing.TB, files map[string][]byte) *Image {
	var fs []File
	for p, b := range files {
		fs = append(fs, File{Path: p, Size: int64(len(b)), Data: bytes.NewReader(b), ModTime: time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)})
	}
	img, err := New("PXEKIT", fs)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImageReadsBack(t *testing.T) {
	files := bootFiles()
	img := build(t, files)
	for p, want := range files {
		got, err := readFile(t, img, p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", p, len(got), err, len(want))
		}
	}
	if img.Size()%512 != 0 {
		t.Errorf("size %d is not whole sectors", img.Size())
	}
	// Any window reads what the whole does.
	whole := make([]byte, img.Size())
	if _, err := img.ReadAt(whole, 0); err != nil {
		t.Fatal(err)
	}
	for _, w := range [][2]int64{{0, 1}, {510, 4}, {img.Size() - 10, 10}, {123_456, 200_000}} {
		part := make([]byte, w[1])
		if n, err := img.ReadAt(part, w[0]); int64(n) != w[1] || err != nil || !bytes.Equal(part, whole[w[0]:w[0]+w[1]]) {
			t.Errorf("ReadAt(%d, %d) = %d, %v, or other bytes", w[0], w[1], n, err)
		}
	}
	if n, err := img.ReadAt(make([]byte, 20), img.Size()-10); n != 10 || err != io.EOF {
		t.Errorf("ReadAt across the end = %d, %v; want 10, EOF", n, err)
	}
}

// dosfstools' fsck.fat and mtools read the image as a FAT16 file system
// with the same files.
func TestImageRealTools(t *testing.T) {
	fsck := pxetest.RequireCmd(t, "fsck.fat", "dosfstools")
	mtype := pxetest.RequireCmd(t, "mtype", "mtools")
	files := bootFiles()
	img := build(t, files)
	path := filepath.Join(t.TempDir(), "boot.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, io.NewSectionReader(img, 0, img.Size())); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(fsck, "-n", "-v", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2 FATs, 16 bit entries") {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	for p, want := range files {
		cmd := exec.Command(mtype, "-i", path, "::/"+p)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		got, err := cmd.Output()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("mtype %s: %d bytes, %v; want %d", p, len(got), err, len(want))
		}
	}
}

// zeros is a large file that is never stored.
type zeros struct{}

func (zeros) ReadAt(p []byte, off int64) (int, error) { clear(p); return len(p), nil }

func TestImageClusterSize(t *testing.T) {
	for _, tt := range []struct {
		size int64
		spc  byte
	}{{10, 1}, {30 << 20, 1}, {100 << 20, 4}, {1500 << 20, 64}} {
		img, err := New("", []File{{Path: "BIG", Size: tt.size, Data: zeros{}}})
		if err != nil {
			t.Fatalf("%d bytes: %v", tt.size, err)
		}
		b := make([]byte, 512)
		img.ReadAt(b, 0)
		spc := b[13]
		fatSz := int64(binary.LittleEndian.Uint16(b[22:]))
		total := int64(binary.LittleEndian.Uint16(b[19:]))
		if total == 0 {
			total = int64(binary.LittleEndian.Uint32(b[32:]))
		}
		clusters := (total - 1 - 2*fatSz - 32) / int64(spc)
		if spc != tt.spc || clusters < minClusters || clusters > maxClusters || total*512 != img.Size() {
			t.Errorf("%d bytes: %d sectors per cluster (want %d), %d clusters, %d sectors for %d bytes", tt.size, spc, tt.spc, clusters, total, img.Size())
		}
	}
	if _, err := New("", []File{{Path: "HUGE", Size: 3 << 30, Data: zeros{}}}); err == nil {
		t.Error("a 3 GiB file fit FAT16")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		label string
		files []File
		msg   string
	}{
		{"lower", nil, "byte 0"},
		{"TWELVE CHARS", nil, "longer than 11"},
		{"", []File{{Path: "vmlinuz"}}, "not A-Z"},
		{"", []File{{Path: "LONGNAME1"}}, "not an 8.3 name"},
		{"", []File{{Path: "A.TOOLONG"}}, "not an 8.3 name"},
		{"", []File{{Path: "A"}, {Path: "A"}}, "given twice"},
		{"", []File{{Path: "A"}, {Path: "A/B"}}, "given twice"},
		{"", []File{{Path: "/"}}, "root directory"},
		{"", []File{{Path: "X", Size: 3}}, "without data"},
	} {
		if _, err := New(tt.label, tt.files); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("New(%q, %v) = %v, want %q", tt.label, tt.files, err, tt.msg)
		}
	}
}

// FuzzImage: whatever files New accepts read back whole.
func FuzzImage(f *testing.F) {
	f.Add("EFI/BOOT/BOOTX64.EFI", 5000, "GRUB/GRUB.CFG", 100)
	f.Add("A", 0, "B/C/D", 513)
	f.Fuzz(func(t *testing.T, p1 string, n1 int, p2 string, n2 int) {
		if n1 < 0 || n2 < 0 || n1 > 1<<20 || n2 > 1<<20 {
			return
		}
		files := map[string][]byte{p1: payload(n1, 1), p2: payload(n2, 2)}
		var fs []File
		for p, b := range files {
			fs = append(fs, File{Path: p, Size: int64(len(b)), Data: bytes.NewReader(b)})
		}
		img, err := New("", fs)
		if err != nil {
			return
		}
		for p, want := range files {
			got, err := readFile(t, img, strings.Trim(filepathClean(p), "/"))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%q: %d bytes, %v; want %d", p, len(got), err, len(want))
			}
		}
	})
}

func filepathClean(p string) string { return filepath.Clean("/" + p) }
