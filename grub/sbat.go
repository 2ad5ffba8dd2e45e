package grub

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SBATEntry is one line of a Secure Boot Advanced Targeting list (shim's
// SBAT.md): a component and its generation, which a revocation level
// requires to be at least some number, and in an image's .sbat section the
// vendor, package, version and URL after them.
type SBATEntry struct {
	Component  string
	Generation int
	// Vendor, Package, Version and URL describe the component in an
	// image's .sbat; a revocation level has none.
	Vendor, Package, Version, URL string
}

// ParseSBAT reads SBAT CSV: one entry per line, "component,generation"
// and optional further fields, up to a NUL (sections are padded) or the
// end. Empty lines are skipped.
func ParseSBAT(data []byte) ([]SBATEntry, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	var out []SBATEntry
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 2 || f[0] == "" {
			return nil, fmt.Errorf("sbat line %d: %q is not component,generation,...", n+1, line)
		}
		g, err := strconv.Atoi(f[1])
		if err != nil || g < 0 {
			return nil, fmt.Errorf("sbat line %d: generation %q is not a number", n+1, f[1])
		}
		e := SBATEntry{Component: f[0], Generation: g}
		field := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		e.Vendor, e.Package, e.Version = field(2), field(3), field(4)
		if len(f) > 5 {
			e.URL = strings.Join(f[5:], ",") // a URL may hold commas
		}
		out = append(out, e)
	}
	return out, nil
}

// ParseSBATLevel reads shim's .sbatlevel section: a 32-bit version (0),
// then the offsets, from the end of the version, of two NUL-terminated
// revocation levels: the previous one, which shim applies by itself, and
// the latest, which it applies when asked to (mokutil --set-sbat-policy
// latest).
func ParseSBATLevel(section []byte) (previous, latest []SBATEntry, err error) {
	if len(section) < 12 {
		return nil, nil, errors.New("sbatlevel: shorter than its header")
	}
	if v := binary.LittleEndian.Uint32(section); v != 0 {
		return nil, nil, fmt.Errorf("sbatlevel: version %d, want 0", v)
	}
	body := section[4:]
	read := func(name string, off uint32) ([]SBATEntry, error) {
		if uint64(off) >= uint64(len(body)) {
			return nil, fmt.Errorf("sbatlevel: %s level at offset %d, past the section's %d bytes", name, off, len(body))
		}
		s := body[off:]
		end := bytes.IndexByte(s, 0)
		if end < 0 {
			return nil, fmt.Errorf("sbatlevel: %s level is not NUL-terminated", name)
		}
		return ParseSBAT(s[:end])
	}
	if previous, err = read("previous", binary.LittleEndian.Uint32(section[4:])); err != nil {
		return nil, nil, err
	}
	if latest, err = read("latest", binary.LittleEndian.Uint32(section[8:])); err != nil {
		return nil, nil, err
	}
	return previous, latest, nil
}

// section returns the named section of the PE image at path.
func section(path, name string) ([]byte, error) {
	f, err := pe.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(name)
	if s == nil {
		return nil, fmt.Errorf("%s has no %s section", path, name)
	}
	return s.Data()
}

// ReadSBAT returns the .sbat section of the PE image at path: shim refuses
// to load an image without one.
func ReadSBAT(path string) ([]SBATEntry, error) {
	b, err := section(path, ".sbat")
	if err != nil {
		return nil, err
	}
	return ParseSBAT(b)
}

// Revoked returns the entries of image (an image's .sbat) whose
// generation is below what level requires for the same component: shim
// refuses such an image with a security violation. An image without a
// component of the level is not revoked by it.
func Revoked(image, level []SBATEntry) []SBATEntry {
	have := map[string]int{}
	for _, e := range image {
		if g, ok := have[e.Component]; !ok || e.Generation > g {
			have[e.Component] = e.Generation
		}
	}
	var out []SBATEntry
	for _, l := range level {
		if g, ok := have[l.Component]; ok && g < l.Generation {
			out = append(out, SBATEntry{Component: l.Component, Generation: g})
		}
	}
	return out
}

// CheckSBAT reports whether shim (a path) will load grub (a path): grub has
// an SBAT section and no component below the revocation level that shim
// applies by itself (the previous level of its .sbatlevel). A machine
// whose SbatLevel variable was raised further (by a newer shim, or by
// choosing the latest policy) may still refuse it; that is not visible
// from here.
func CheckSBAT(shim, grub string) error {
	img, err := ReadSBAT(grub)
	if err != nil {
		return fmt.Errorf("GRUB %s: %w (shim loads no image without SBAT)", grub, err)
	}
	lvl, err := section(shim, ".sbatlevel")
	if err != nil {
		return fmt.Errorf("shim %s: %w", shim, err)
	}
	previous, _, err := ParseSBATLevel(lvl)
	if err != nil {
		return fmt.Errorf("shim %s: %w", shim, err)
	}
	if bad := Revoked(img, previous); len(bad) > 0 {
		var parts []string
		for _, b := range bad {
			want := 0
			for _, l := range previous {
				if l.Component == b.Component {
					want = l.Generation
				}
			}
			parts = append(parts, fmt.Sprintf("%s generation %d < %d", b.Component, b.Generation, want))
		}
		return fmt.Errorf("shim %s refuses GRUB %s: its SBAT revocation level revokes %s", shim, grub, strings.Join(parts, ", "))
	}
	return nil
}
