// Package kmod finds Linux kernel modules in an unpacked Debian kernel package
// and resolves the order to load them in.
//
// Debian's linux-image .deb ships no modules.dep (depmod runs at install
// time), so dependencies are read from each module's ELF ".modinfo" section
// ("depends=a,b"), the same data depmod reads. Compressed modules (.ko.xz, as
// in the backports kernels) are decompressed in Go, so a guest can load them
// with init_module(2) without an xz-capable kernel loader.
package kmod

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ulikunitz/xz"
)

// Info is what a module's .modinfo section says about it.
type Info struct {
	Name    string   // "name=" (kernels ≥ 5.x record it); empty if absent
	Depends []string // "depends=": modules that must be loaded first
	// Fields holds every key=value pair in section order; keys may repeat
	// (alias=, parm=).
	Fields [][2]string
}

// ParseModinfo parses the raw bytes of a .modinfo section: NUL-separated
// "key=value" strings, possibly with NUL padding between them. An entry
// without '=' is an error naming its offset; empty entries are padding.
func ParseModinfo(sec []byte) (Info, error) {
	var info Info
	off := 0
	for len(sec) > 0 {
		i := bytes.IndexByte(sec, 0)
		entry := sec
		if i >= 0 {
			entry = sec[:i]
		}
		if len(entry) > 0 {
			k, v, ok := bytes.Cut(entry, []byte{'='})
			if !ok || len(k) == 0 {
				return Info{}, fmt.Errorf("modinfo: entry at offset %d is not key=value: %q", off, truncate(entry, 40))
			}
			key, val := string(k), string(v)
			info.Fields = append(info.Fields, [2]string{key, val})
			switch key {
			case "name":
				info.Name = val
			case "depends":
				for _, d := range strings.Split(val, ",") {
					if d = strings.TrimSpace(d); d != "" {
						info.Depends = append(info.Depends, Normalize(d))
					}
				}
			}
		}
		if i < 0 {
			break
		}
		off += i + 1
		sec = sec[i+1:]
	}
	return info, nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// ReadModinfo reads the .modinfo section of an (uncompressed) module image.
// Malformed ELF data yields an error, never a panic.
func ReadModinfo(r io.ReaderAt) (info Info, err error) {
	// debug/elf is not hardened against every hostile input; a module file
	// is untrusted input to this function, so a panic becomes an error.
	defer func() {
		if p := recover(); p != nil {
			info, err = Info{}, fmt.Errorf("modinfo: malformed ELF: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return Info{}, fmt.Errorf("modinfo: %w", err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return Info{}, errors.New("modinfo: no .modinfo section (not a kernel module?)")
	}
	if s.Size > 1<<20 {
		return Info{}, fmt.Errorf("modinfo: .modinfo section of %d bytes is implausibly large", s.Size)
	}
	data, err := s.Data()
	if err != nil {
		return Info{}, fmt.Errorf("modinfo: reading .modinfo: %w", err)
	}
	return ParseModinfo(data)
}

// Normalize returns the canonical form of a module name: the kernel treats
// '-' and '_' alike ("vfio-pci" is module vfio_pci).
func Normalize(name string) string { return strings.ReplaceAll(name, "-", "_") }

// Module is a module file to load, with what it depends on.
type Module struct {
	Name    string   // normalized module name, e.g. "vfio_pci"
	Path    string   // file in the modules directory (.ko or .ko.xz)
	Depends []string // normalized names from .modinfo
}

// Index maps module names to files in one kernel's modules directory
// (lib/modules/<release> of an unpacked linux-image package).
type Index struct {
	dir     string
	files   map[string]string // normalized name → path
	builtin map[string]bool   // normalized names built into the kernel
}

// Open indexes modulesDir: every *.ko and *.ko.xz below it by name, and the
// names listed in modules.builtin (those need no loading).
func Open(modulesDir string) (*Index, error) {
	ix := &Index{dir: modulesDir, files: map[string]string{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(modulesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if name, ok := moduleName(d.Name()); ok {
			if _, dup := ix.files[name]; !dup {
				ix.files[name] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kmod: indexing %s: %w", modulesDir, err)
	}
	if len(ix.files) == 0 {
		return nil, fmt.Errorf("kmod: no modules (*.ko, *.ko.xz) under %s", modulesDir)
	}
	if f, err := os.Open(filepath.Join(modulesDir, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if name, ok := moduleName(filepath.Base(strings.TrimSpace(sc.Text()))); ok {
				ix.builtin[name] = true
			}
		}
		f.Close()
	}
	return ix, nil
}

// moduleName returns the normalized module name of a module file name.
func moduleName(base string) (string, bool) {
	for _, ext := range []string{".ko", ".ko.xz"} {
		if n, ok := strings.CutSuffix(base, ext); ok && n != "" {
			return Normalize(n), true
		}
	}
	return "", false
}

// Dir is the indexed modules directory.
func (ix *Index) Dir() string { return ix.dir }

// Builtin reports whether name is compiled into the kernel.
func (ix *Index) Builtin(name string) bool { return ix.builtin[Normalize(name)] }

// Resolve returns the modules to load for names, dependencies first, each
// once, otherwise in the order given. Built-in modules are left out. A name
// that is neither a module file nor built in is an error.
func (ix *Index) Resolve(names ...string) ([]Module, error) {
	var out []Module
	done := map[string]bool{}
	visiting := map[string]bool{}
	var visit func(name, via string) error
	visit = func(name, via string) error {
		name = Normalize(name)
		if done[name] {
			return nil
		}
		if visiting[name] {
			return fmt.Errorf("kmod: dependency cycle through %q", name)
		}
		path, ok := ix.files[name]
		if !ok {
			if ix.builtin[name] {
				done[name] = true
				return nil
			}
			if via != "" {
				return fmt.Errorf("kmod: module %q (needed by %q) not found in %s", name, via, ix.dir)
			}
			return fmt.Errorf("kmod: module %q not found in %s and not built in", name, ix.dir)
		}
		visiting[name] = true
		info, err := readInfo(path)
		if err != nil {
			return fmt.Errorf("kmod: %s: %w", path, err)
		}
		for _, d := range info.Depends {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		visiting[name] = false
		done[name] = true
		out = append(out, Module{Name: name, Path: path, Depends: info.Depends})
		return nil
	}
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readInfo(path string) (Info, error) {
	img, err := Image(path)
	if err != nil {
		return Info{}, err
	}
	return ReadModinfo(bytes.NewReader(img))
}

// Image returns the uncompressed ELF image of a module file, ready for
// init_module(2): .ko files as they are, .ko.xz decompressed.
func Image(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return os.ReadFile(path)
	case strings.HasSuffix(path, ".ko.xz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := xz.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		// Kernel modules are at most tens of MB uncompressed.
		img, err := io.ReadAll(io.LimitReader(zr, 256<<20))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return img, nil
	default:
		return nil, fmt.Errorf("unsupported module file %s (want .ko or .ko.xz)", filepath.Base(path))
	}
}
