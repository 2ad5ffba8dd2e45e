// Package fatimg lays out a FAT16 file system image whose files are read
// from their sources as the image is read, so a boot server can hand out a
// disk image of a kernel and its initrds without copying them.
//
// UEFI HTTP boot takes such an image (Content-Type application/vnd.efi-img)
// as a RAM disk and boots its \EFI\BOOT\BOOTX64.EFI, which is how a
// Secure Boot chain (shim, GRUB, kernel) runs from one HTTP download: the
// files are then read from the disk, not over a network GRUB cannot use.
//
// The image has no partition table (a "superfloppy", as mkfs.vfat -C
// makes), 512-byte sectors, two FATs, a 512-entry root directory and
// short (8.3, upper-case) names only; files are contiguous. The cluster
// size is the smallest that keeps the image FAT16, so images up to about
// 2 GiB can be made.
package fatimg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// File is one file of an image.
type File struct {
	// Path is where the file is, relative to the root, its elements 8.3
	// names in upper case: "EFI/BOOT/BOOTX64.EFI".
	Path string
	// Size is the file's length in bytes.
	Size int64
	// Data is read at offsets 0 to Size-1 as the image is read.
	Data io.ReaderAt
	// ModTime is the file's modification time in its directory entry.
	ModTime time.Time
}

const (
	sectorSize  = 512
	rootEntries = 512
	entrySize   = 32
	minClusters = 4085  // fewer makes the file system FAT12
	maxClusters = 65524 // more makes it FAT32
	reserved    = 1     // the boot sector
	numFATs     = 2
)

// Image is a laid-out FAT16 image; it reads as the bytes of the disk.
type Image struct {
	size int64
	segs []segment // sorted by off, not overlapping; gaps read as zeros
}

type segment struct {
	off, n int64
	data   []byte      // in memory, or
	src    io.ReaderAt // read from here at src offset 0
}

// node is a directory or a file of the tree being laid out.
type node struct {
	name     string // 8.3, upper case, "" for the root
	parent   *node
	dir      bool
	children map[string]*node
	file     File
	cluster  uint32
	clusters uint32
}

// New lays out an image holding files under the volume label (at most 11
// characters of A-Z, 0-9, space, _ and -).
func New(label string, files []File) (*Image, error) {
	if len(label) > 11 {
		return nil, fmt.Errorf("fatimg: label %q is longer than 11 characters", label)
	}
	for i := 0; i < len(label); i++ {
		if !labelChar(label[i]) {
			return nil, fmt.Errorf("fatimg: label %q: byte %d is not A-Z, 0-9, space, _ or -", label, i)
		}
	}
	root := &node{dir: true, children: map[string]*node{}}
	for _, f := range files {
		if err := root.insert(f); err != nil {
			return nil, err
		}
	}
	if len(root.children)+1 > rootEntries {
		return nil, fmt.Errorf("fatimg: %d entries in the root directory, at most %d", len(root.children), rootEntries-1)
	}
	// Pick the smallest cluster that keeps the count within FAT16.
	var spc int64
	var need uint32
	for spc = 1; spc <= 64; spc *= 2 {
		n, ok := root.countClusters(spc * sectorSize)
		if ok && n <= maxClusters {
			need = n
			break
		}
	}
	if spc > 64 {
		return nil, errors.New("fatimg: the files do not fit a FAT16 image (about 2 GiB at most)")
	}
	clusters := max(need, minClusters)
	fatSectors := (int64(clusters+2)*2 + sectorSize - 1) / sectorSize
	rootSectors := int64(rootEntries * entrySize / sectorSize)
	fatStart := int64(reserved) * sectorSize
	rootStart := fatStart + numFATs*fatSectors*sectorSize
	dataStart := rootStart + rootSectors*sectorSize
	clusterBytes := spc * sectorSize
	totalSectors := reserved + numFATs*fatSectors + rootSectors + int64(clusters)*spc

	img := &Image{size: totalSectors * sectorSize}
	fat := make([]byte, fatSectors*sectorSize)
	binary.LittleEndian.PutUint16(fat[0:], 0xfff8) // media descriptor
	binary.LittleEndian.PutUint16(fat[2:], 0xffff) // end-of-chain marker
	next := uint32(2)
	var order []*node // directories and files in cluster order
	root.assign(&next, clusterBytes, &order)
	for _, n := range order {
		for c := n.cluster; c < n.cluster+n.clusters; c++ {
			v := uint16(c + 1)
			if c == n.cluster+n.clusters-1 {
				v = 0xffff
			}
			binary.LittleEndian.PutUint16(fat[2*c:], v)
		}
	}
	img.add(segment{off: 0, data: bootSector(label, spc, totalSectors, fatSectors)})
	for i := int64(0); i < numFATs; i++ {
		img.add(segment{off: fatStart + i*fatSectors*sectorSize, data: fat})
	}
	rootDir := root.entries(label)
	img.add(segment{off: rootStart, data: rootDir})
	for _, n := range order {
		off := dataStart + int64(n.cluster-2)*clusterBytes
		if n.dir {
			img.add(segment{off: off, data: n.entries("")})
			continue
		}
		if n.file.Size > 0 {
			img.add(segment{off: off, n: n.file.Size, src: n.file.Data})
		}
	}
	sort.Slice(img.segs, func(i, j int) bool { return img.segs[i].off < img.segs[j].off })
	return img, nil
}

func labelChar(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == ' ' || b == '_' || b == '-'
}

func (img *Image) add(s segment) {
	if s.data != nil {
		s.n = int64(len(s.data))
	}
	if s.n > 0 {
		img.segs = append(img.segs, s)
	}
}

// Size is the image's length in bytes.
func (img *Image) Size() int64 { return img.size }

// ReadAt reads the image's bytes at off, reading files from their Data.
func (img *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fatimg: negative offset")
	}
	if off >= img.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := img.size - off; int64(want) > rest {
		p = p[:rest]
	}
	clear(p)
	// The first segment that ends after off.
	i := sort.Search(len(img.segs), func(i int) bool { return img.segs[i].off+img.segs[i].n > off })
	end := off + int64(len(p))
	for ; i < len(img.segs) && img.segs[i].off < end; i++ {
		s := img.segs[i]
		from, to := max(off, s.off), min(end, s.off+s.n)
		dst := p[from-off : to-off]
		if s.data != nil {
			copy(dst, s.data[from-s.off:to-s.off])
			continue
		}
		if n, err := s.src.ReadAt(dst, from-s.off); n < len(dst) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return int(from - off), fmt.Errorf("fatimg: reading a file at %d: %w", from-s.off, err)
		}
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// ShortName checks one path element for the image: an 8.3 name in upper
// case (A-Z, 0-9, _ and -, a base of 1-8 and an extension of up to 3).
func ShortName(name string) error {
	base, ext, dot := strings.Cut(name, ".")
	if base == "" || len(base) > 8 || len(ext) > 3 || dot && ext == "" || strings.Contains(ext, ".") {
		return fmt.Errorf("fatimg: %q is not an 8.3 name", name)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.') {
			return fmt.Errorf("fatimg: %q: byte %d is not A-Z, 0-9, _, - or .", name, i)
		}
	}
	return nil
}

func (n *node) insert(f File) error {
	if f.Size < 0 || f.Size > 0 && f.Data == nil {
		return fmt.Errorf("fatimg: %s: size %d without data", f.Path, f.Size)
	}
	if f.Size >= 1<<32 {
		return fmt.Errorf("fatimg: %s: %d bytes, more than a FAT file holds", f.Path, f.Size)
	}
	elems := strings.Split(path.Clean("/" + f.Path)[1:], "/")
	if elems[0] == "" {
		return fmt.Errorf("fatimg: %q names the root directory", f.Path)
	}
	cur := n
	for i, e := range elems {
		if err := ShortName(e); err != nil {
			return fmt.Errorf("%w (in %s)", err, f.Path)
		}
		child := cur.children[e]
		last := i == len(elems)-1
		switch {
		case child == nil && last:
			cur.children[e] = &node{name: e, parent: cur, file: f}
			return nil
		case child == nil:
			child = &node{name: e, parent: cur, dir: true, children: map[string]*node{}}
			cur.children[e] = child
		case last || !child.dir:
			return fmt.Errorf("fatimg: %s: %s is given twice, or as a file and a directory", f.Path, e)
		}
		cur = child
	}
	return nil
}

// countClusters is how many clusters the tree below the root takes.
func (n *node) countClusters(clusterBytes int64) (uint32, bool) {
	var total int64
	for _, c := range n.children {
		if c.dir {
			total += (int64(len(c.children)+2)*entrySize + clusterBytes - 1) / clusterBytes
			sub, ok := c.countClusters(clusterBytes)
			if !ok {
				return 0, false
			}
			total += int64(sub)
		} else {
			total += (c.file.Size + clusterBytes - 1) / clusterBytes
		}
		if total > maxClusters {
			return 0, false
		}
	}
	return uint32(total), true
}

func (n *node) sorted() []*node {
	out := make([]*node, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// assign gives every node below n its first cluster, directories before
// the files in them, in name order.
func (n *node) assign(next *uint32, clusterBytes int64, order *[]*node) {
	for _, c := range n.sorted() {
		var size int64
		if c.dir {
			size = int64(len(c.children)+2) * entrySize
		} else {
			size = c.file.Size
		}
		c.clusters = uint32((size + clusterBytes - 1) / clusterBytes)
		if c.clusters > 0 {
			c.cluster = *next
			*next += c.clusters
			*order = append(*order, c)
		}
		if c.dir {
			c.assign(next, clusterBytes, order)
		}
	}
}

// entries renders directory n: the root gets the volume label (when
// given) and a fixed 512-entry area; other directories "." and "..".
func (n *node) entries(label string) []byte {
	var b []byte
	if n.name == "" {
		b = make([]byte, 0, rootEntries*entrySize)
		if label != "" {
			b = append(b, dirEntry(pad83(label), 0x08, 0, 0, time.Time{})...)
		}
	} else {
		b = append(b, dirEntry(pad11("."), 0x10, n.cluster, 0, time.Time{})...)
		// ".." of a directory in the root points at cluster 0.
		up := n.parent.cluster
		b = append(b, dirEntry(pad11(".."), 0x10, up, 0, time.Time{})...)
	}
	for _, c := range n.sorted() {
		if c.dir {
			b = append(b, dirEntry(pad83(c.name), 0x10, c.cluster, 0, c.file.ModTime)...)
		} else {
			b = append(b, dirEntry(pad83(c.name), 0x20, c.cluster, uint32(c.file.Size), c.file.ModTime)...)
		}
	}
	if n.name == "" {
		b = b[:rootEntries*entrySize]
	}
	return b
}

// pad83 is an 8.3 name in a directory entry: base and extension, each
// padded with spaces.
func pad83(name string) [11]byte {
	base, ext, _ := strings.Cut(name, ".")
	var out [11]byte
	copy(out[:], strings.Repeat(" ", 11))
	copy(out[:8], base)
	copy(out[8:], ext)
	return out
}

func pad11(s string) [11]byte {
	var out [11]byte
	copy(out[:], s+strings.Repeat(" ", 11-len(s)))
	return out
}

// dirEntry is a 32-byte directory entry.
func dirEntry(name [11]byte, attr byte, cluster, size uint32, mod time.Time) []byte {
	e := make([]byte, entrySize)
	copy(e, name[:])
	e[11] = attr
	date, tim := dosTime(mod)
	binary.LittleEndian.PutUint16(e[14:], tim) // creation
	binary.LittleEndian.PutUint16(e[16:], date)
	binary.LittleEndian.PutUint16(e[18:], date) // last access
	binary.LittleEndian.PutUint16(e[22:], tim)  // modification
	binary.LittleEndian.PutUint16(e[24:], date)
	binary.LittleEndian.PutUint16(e[26:], uint16(cluster))
	binary.LittleEndian.PutUint32(e[28:], size)
	return e
}

// dosTime encodes t (UTC) as a FAT date and time; before 1980, or unset,
// it is 1980-01-01 00:00.
func dosTime(t time.Time) (date, tim uint16) {
	t = t.UTC()
	if t.Year() < 1980 || t.Year() > 2107 {
		return 1<<5 | 1, 0
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tim = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	return date, tim
}

// bootSector is the FAT16 boot sector: the BIOS parameter block, no boot
// code (UEFI does not run it).
func bootSector(label string, spc, totalSectors, fatSectors int64) []byte {
	b := make([]byte, sectorSize)
	copy(b, []byte{0xeb, 0x3c, 0x90}) // a jump over the BPB, as every FAT boot sector starts
	copy(b[3:], "PXEKIT  ")
	binary.LittleEndian.PutUint16(b[11:], sectorSize)
	b[13] = byte(spc)
	binary.LittleEndian.PutUint16(b[14:], reserved)
	b[16] = numFATs
	binary.LittleEndian.PutUint16(b[17:], rootEntries)
	if totalSectors < 1<<16 {
		binary.LittleEndian.PutUint16(b[19:], uint16(totalSectors))
	} else {
		binary.LittleEndian.PutUint32(b[32:], uint32(totalSectors))
	}
	b[21] = 0xf8 // fixed disk
	binary.LittleEndian.PutUint16(b[22:], uint16(fatSectors))
	binary.LittleEndian.PutUint16(b[24:], 32) // sectors per track
	binary.LittleEndian.PutUint16(b[26:], 64) // heads
	b[36] = 0x80                              // drive number
	b[38] = 0x29                              // extended boot signature: the next three fields are valid
	binary.LittleEndian.PutUint32(b[39:], 0x50584b54)
	if label == "" {
		label = "NO NAME"
	}
	l := pad11(label)
	copy(b[43:], l[:])
	copy(b[54:], "FAT16   ")
	b[510], b[511] = 0x55, 0xaa
	return b
}
