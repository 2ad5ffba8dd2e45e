package tftp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// ErrPathRefused is wrapped by every error CleanPath and the symlink check
// return, so callers can tell a refused path from a missing file.
var ErrPathRefused = errors.New("path refused")

// MaxPathLen bounds a requested file name; no boot file name comes close.
const MaxPathLen = 255

// CleanPath turns a file name from a request into a path inside the served
// fs.FS, or refuses it. It strips leading slashes (firmware asks for
// "/pxelinux.0" and means the TFTP root, as tftpd-hpa -s does), maps
// backslashes to slashes (some firmware sends DOS paths), drops "." and
// empty elements, and refuses "..", NUL and other control characters, and
// anything that is still not an fs.ValidPath. It never touches the file
// system.
func CleanPath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty file name", ErrPathRefused)
	}
	if len(name) > MaxPathLen {
		return "", fmt.Errorf("%w: file name longer than %d bytes", ErrPathRefused, MaxPathLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%w: control character 0x%02x at byte %d", ErrPathRefused, c, i)
		}
	}
	p := strings.ReplaceAll(name, `\`, "/")
	var elems []string
	for _, e := range strings.Split(p, "/") {
		switch e {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("%w: %q climbs out with \"..\"", ErrPathRefused, name)
		}
		elems = append(elems, e)
	}
	if len(elems) == 0 {
		return "", fmt.Errorf("%w: %q names the root directory", ErrPathRefused, name)
	}
	clean := strings.Join(elems, "/")
	if !fs.ValidPath(clean) {
		return "", fmt.Errorf("%w: %q is not a valid path", ErrPathRefused, name)
	}
	return clean, nil
}

// maxSymlinkHops bounds symlink resolution, like the kernel's ELOOP limit.
const maxSymlinkHops = 40

// checkSymlinks resolves name element by element and refuses it when a
// symbolic link on the way points outside the root (an absolute target or
// one that climbs above it). File systems that cannot report links (no
// fs.ReadLinkFS) have none to follow. A missing element is not an error
// here: Open reports it.
func checkSymlinks(fsys fs.FS, name string) error {
	rl, ok := fsys.(fs.ReadLinkFS)
	if !ok {
		return nil
	}
	todo := strings.Split(name, "/")
	var done []string
	for hops := 0; len(todo) > 0; {
		e := todo[0]
		todo = todo[1:]
		switch e {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return fmt.Errorf("%w: symbolic link in %q leads outside the root", ErrPathRefused, name)
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(done, e)...)
		fi, err := rl.Lstat(cur)
		if err != nil {
			return nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, e)
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return fmt.Errorf("%w: too many symbolic links in %q", ErrPathRefused, name)
		}
		target, err := rl.ReadLink(cur)
		if err != nil {
			return fmt.Errorf("%w: reading symbolic link %q: %v", ErrPathRefused, cur, err)
		}
		if path.IsAbs(target) || strings.HasPrefix(target, `\`) {
			return fmt.Errorf("%w: symbolic link %q points to absolute path %q", ErrPathRefused, cur, target)
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return nil
}

// Dir serves the directory dir through an os.Root, so the kernel-level
// lookup itself refuses symbolic links that leave dir, on top of the
// server's own check. Close the returned *os.Root when done serving.
func Dir(dir string) (fs.FS, *os.Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	return r.FS(), r, nil
}
