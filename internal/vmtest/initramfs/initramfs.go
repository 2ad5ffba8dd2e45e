// Package initramfs writes Linux initramfs archives (cpio "newc") in Go, so
// tests build guest root filesystems at run time instead of committing
// binary images.
//
// The kernel unpacks the archive over its built-in initramfs, which on
// Debian kernels (CONFIG_INITRAMFS_SOURCE="") already holds /dev/console —
// so an archive need not (and with this writer cannot) contain device nodes;
// the guest mounts devtmpfs on /dev for the rest.
package initramfs

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"

	"github.com/pxekit/pxekit/internal/vmtest/kmod"
)

// Writer adds directories, files and symlinks to an initramfs archive.
// Parent directories are created implicitly, each once. Call Close to write
// the trailer (and finish compression when gzipped).
type Writer struct {
	cw   *cpio.Writer
	gz   *gzip.Writer
	bw   *bufio.Writer
	dirs map[string]bool
	seen map[string]bool
	err  error
}

// Options select the archive encoding.
type Options struct {
	// Gzip compresses the archive. Leave it off for guests booted with
	// QEMU -initrd (less work for an emulated CPU); turn it on for archives
	// sent over the network (iPXE).
	Gzip bool
}

// NewWriter returns a Writer that writes an archive to w.
func NewWriter(w io.Writer, opts Options) *Writer {
	iw := &Writer{dirs: map[string]bool{".": true, "": true}, seen: map[string]bool{}}
	iw.bw = bufio.NewWriterSize(w, 1<<20)
	var out io.Writer = iw.bw
	if opts.Gzip {
		// BestSpeed: the archive is built once per test run; compression
		// ratio matters less than the CPU the build takes.
		iw.gz, _ = gzip.NewWriterLevel(iw.bw, gzip.BestSpeed)
		out = iw.gz
	}
	iw.cw = cpio.NewWriter(out)
	return iw
}

// clean validates an archive path: relative to the archive root, slash
// separated, no "..".
func clean(name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	n = path.Clean(n)
	if n == "." || n == "" || n == ".." || strings.HasPrefix(n, "../") {
		return "", fmt.Errorf("initramfs: bad path %q", name)
	}
	return n, nil
}

func (w *Writer) header(h *cpio.Header) error {
	if w.err != nil {
		return w.err
	}
	if w.seen[h.Name] {
		w.err = fmt.Errorf("initramfs: %s added twice", h.Name)
		return w.err
	}
	w.seen[h.Name] = true
	h.ModTime = time.Unix(0, 0) // reproducible archives
	if err := w.cw.WriteHeader(h); err != nil {
		w.err = fmt.Errorf("initramfs: %s: %w", h.Name, err)
	}
	return w.err
}

func (w *Writer) parents(name string) error {
	dir := path.Dir(name)
	if w.dirs[dir] {
		return nil
	}
	if err := w.parents(dir); err != nil {
		return err
	}
	w.dirs[dir] = true
	return w.header(&cpio.Header{Name: dir, Mode: cpio.TypeDir | 0o755, Links: 2})
}

// Dir adds a directory (and its parents).
func (w *Writer) Dir(name string, perm fs.FileMode) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	if w.dirs[n] {
		return nil
	}
	if err := w.parents(n); err != nil {
		return err
	}
	w.dirs[n] = true
	return w.header(&cpio.Header{Name: n, Mode: cpio.TypeDir | cpio.FileMode(perm.Perm()), Links: 2})
}

// File adds a regular file with the given contents.
func (w *Writer) File(name string, data []byte, perm fs.FileMode) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	if err := w.parents(n); err != nil {
		return err
	}
	if err := w.header(&cpio.Header{Name: n, Mode: cpio.TypeReg | cpio.FileMode(perm.Perm()), Size: int64(len(data))}); err != nil {
		return err
	}
	if _, err := w.cw.Write(data); err != nil {
		w.err = fmt.Errorf("initramfs: %s: %w", n, err)
	}
	return w.err
}

// CopyFile adds the host file src as name, streaming it; perm 0 keeps the
// source's permission bits.
func (w *Writer) CopyFile(name, src string, perm fs.FileMode) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("initramfs: %s is not a regular file", src)
	}
	if perm == 0 {
		perm = st.Mode().Perm()
	}
	if err := w.parents(n); err != nil {
		return err
	}
	if err := w.header(&cpio.Header{Name: n, Mode: cpio.TypeReg | cpio.FileMode(perm.Perm()), Size: st.Size()}); err != nil {
		return err
	}
	if m, err := io.Copy(w.cw, f); err != nil || m != st.Size() {
		w.err = fmt.Errorf("initramfs: copying %s: %d of %d bytes: %v", src, m, st.Size(), err)
	}
	return w.err
}

// Symlink adds a symbolic link name → target.
func (w *Writer) Symlink(name, target string) error {
	n, err := clean(name)
	if err != nil {
		return err
	}
	if target == "" {
		return fmt.Errorf("initramfs: symlink %s has an empty target", n)
	}
	if err := w.parents(n); err != nil {
		return err
	}
	// newc stores a symlink's target as its file data.
	if err := w.header(&cpio.Header{Name: n, Mode: cpio.TypeSymlink | 0o777, Size: int64(len(target)), Links: 1}); err != nil {
		return err
	}
	if _, err := w.cw.Write([]byte(target)); err != nil {
		w.err = fmt.Errorf("initramfs: %s: %w", n, err)
	}
	return w.err
}

// Close writes the trailer and flushes; the underlying writer stays open.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.cw.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if w.gz != nil {
		if err := w.gz.Close(); err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	w.err = fmt.Errorf("initramfs: writer closed")
	return nil
}

// Modules adds the images of mods (in load order) under dir, decompressed,
// named NN-name.ko so the order survives a directory listing, and returns
// their archive paths in order.
func (w *Writer) Modules(dir string, mods []kmod.Module) ([]string, error) {
	paths := make([]string, 0, len(mods))
	for i, m := range mods {
		img, err := kmod.Image(m.Path)
		if err != nil {
			return nil, fmt.Errorf("initramfs: module %s: %w", m.Name, err)
		}
		p := path.Join("/", dir, fmt.Sprintf("%02d-%s.ko", i, m.Name))
		if err := w.File(p, img, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
