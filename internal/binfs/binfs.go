// Package binfs finds boot binaries that a distribution installs under names
// of its own and serves them flat under canonical names: what ipxe.Locate
// and grub.Locate share.
package binfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Find looks for each canonical name of names in dirs, trying its aliases
// (the file names distributions use; the name itself when it has none) in
// every directory before the next one: the first directory that has a
// non-empty regular file wins. It returns what it found (canonical name →
// path) and the names it did not find, in the order of names.
func Find[N ~string](names []N, aliases map[N][]string, dirs []string) (found map[N]string, missing []string) {
	found = map[N]string{}
	for _, n := range names {
		candidates := aliases[n]
		if len(candidates) == 0 {
			candidates = []string{string(n)}
		}
	search:
		for _, d := range dirs {
			for _, c := range candidates {
				p := filepath.Join(d, c)
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
					found[n] = p
					break search
				}
			}
		}
		if found[n] == "" {
			missing = append(missing, string(n))
		}
	}
	return found, missing
}

// FS serves found (canonical name → path on disk) flat under the canonical
// names; its root directory lists them in the order of names.
func FS[N ~string](names []N, found map[N]string) fs.FS {
	b := &binFS{found: map[string]string{}}
	for _, n := range names {
		b.names = append(b.names, string(n))
	}
	for n, p := range found {
		b.found[string(n)] = p
	}
	return b
}

type binFS struct {
	names []string
	found map[string]string
}

// Open opens a file by its canonical name, or the root directory ".".
func (b *binFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &binDir{b: b}, nil
	}
	p, ok := b.found[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.Unwrap(err)}
	}
	return f, nil
}

// binDir is the root directory of a binFS, listing the files.
type binDir struct {
	b    *binFS
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

// ReadDir lists the files under their canonical names.
func (d *binDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.read {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, nil
	}
	d.read = true
	var out []fs.DirEntry
	for _, name := range d.b.names {
		if p, ok := d.b.found[name]; ok {
			if fi, err := os.Stat(p); err == nil {
				out = append(out, fs.FileInfoToDirEntry(renamed{fi, name}))
			}
		}
	}
	return out, nil
}

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
