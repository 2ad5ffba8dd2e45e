package ipxe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Binary is the canonical name under which an iPXE build is served.
type Binary string

// The iPXE builds a boot server hands out.
const (
	UndionlyKPXE Binary = "undionly.kpxe" // BIOS PXE: iPXE on top of the NIC's UNDI driver
	IPXEEFI      Binary = "ipxe.efi"      // UEFI x86-64 with iPXE's own NIC drivers
	SNPOnlyEFI   Binary = "snponly.efi"   // UEFI x86-64 using the firmware's SNP driver only
)

// Binaries lists the builds Locate looks for (a function, not a package
// variable: no global state a caller could change).
func Binaries() []Binary { return []Binary{UndionlyKPXE, IPXEEFI, SNPOnlyEFI} }

// DefaultDirs are where distributions install iPXE builds: Debian and
// Ubuntu's ipxe package (/usr/lib/ipxe), Fedora/RHEL's ipxe-bootimgs and
// openSUSE, Arch and Alpine (/usr/share/ipxe and subdirectories).
func DefaultDirs() []string {
	return []string{"/usr/lib/ipxe", "/usr/share/ipxe", "/usr/share/ipxe/x86_64", "/usr/share/ipxe/bin-x86_64-efi", "/usr/lib/ipxe/efi"}
}

// aliases are the file names distributions use for each build.
var aliases = map[Binary][]string{
	UndionlyKPXE: {"undionly.kpxe"},
	IPXEEFI:      {"ipxe.efi", "ipxe-x86_64.efi", "ipxe-snp-x86_64.efi"},
	SNPOnlyEFI:   {"snponly.efi", "ipxe-snponly-x86_64.efi", "snponly-x86_64.efi"},
}

// Locate finds the iPXE builds in dirs, or in DefaultDirs when none are
// given; the first directory that has a build wins. It returns what it
// found (canonical name → path) and an error naming every build it did
// not find and where it looked.
func Locate(dirs ...string) (map[Binary]string, error) {
	if len(dirs) == 0 {
		dirs = DefaultDirs()
	}
	found := map[Binary]string{}
	var missing []string
	for _, b := range Binaries() {
	search:
		for _, d := range dirs {
			for _, name := range aliases[b] {
				p := filepath.Join(d, name)
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
					found[b] = p
					break search
				}
			}
		}
		if found[b] == "" {
			missing = append(missing, string(b))
		}
	}
	if len(missing) > 0 {
		return found, fmt.Errorf("iPXE builds not found: %s (looked in %s; on Debian: apt-get install ipxe)",
			strings.Join(missing, ", "), strings.Join(dirs, ", "))
	}
	return found, nil
}

// BinaryFS serves located builds under their canonical names, flat, so a
// TFTP or HTTP root can hand out "ipxe.efi" whatever the distribution
// calls it.
func BinaryFS(found map[Binary]string) fs.FS { return binFS(found) }

type binFS map[Binary]string

// Open opens a build by its canonical name, or the root directory ".".
func (b binFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &binDir{b: b}, nil
	}
	p, ok := b[Binary(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.Unwrap(err)}
	}
	return f, nil
}

// binDir is the root directory of a BinaryFS, listing the builds.
type binDir struct {
	b    binFS
	read bool
}

// Stat describes the root directory.
func (d *binDir) Stat() (fs.FileInfo, error) { return dirInfo{}, nil }

// Read fails: it is a directory.
func (d *binDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: errors.New("is a directory")}
}

// Close does nothing.
func (d *binDir) Close() error { return nil }

// ReadDir lists the located builds under their canonical names.
func (d *binDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.read {
		if n > 0 {
			return nil, errEOF
		}
		return nil, nil
	}
	d.read = true
	var out []fs.DirEntry
	for _, b := range Binaries() {
		if p, ok := d.b[b]; ok {
			if fi, err := os.Stat(p); err == nil {
				out = append(out, fs.FileInfoToDirEntry(renamed{fi, string(b)}))
			}
		}
	}
	return out, nil
}

var errEOF = io.EOF

type renamed struct {
	fs.FileInfo
	name string
}

// Name is the canonical name.
func (r renamed) Name() string { return r.name }

type dirInfo struct{}

// Name, Size, Mode, ModTime, IsDir and Sys describe the root directory.
func (dirInfo) Name() string       { return "." }
func (dirInfo) Size() int64        { return 0 }
func (dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (dirInfo) ModTime() time.Time { return time.Time{} }
func (dirInfo) IsDir() bool        { return true }
func (dirInfo) Sys() any           { return nil }
