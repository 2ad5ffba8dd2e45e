package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// LeaseSchema is the version of the record layout BoltStore writes. A file
// marked with a newer version was written by a newer pxekit and is refused
// rather than misread. Schema 1 wrote JSON records, schema 2 writes binary
// ones (record.go); both are read, so a file of schema 1 opens and is
// marked 2, which makes an older server refuse it instead of misreading
// the binary records it will get.
const LeaseSchema = 2

var (
	metaBucket = []byte("pxekit")
	schemaKey  = []byte("schema")
)

// ErrLeaseFileCorrupt is matched (errors.Is) by a LeaseFileError for a file
// that is not a readable bbolt database: truncated, overwritten, or not a
// lease file at all.
var ErrLeaseFileCorrupt = errors.New("lease file is corrupt")

// ErrLeaseFileNewer is matched by a LeaseFileError for a lease file written
// with a newer schema than this server reads.
var ErrLeaseFileNewer = errors.New("lease file has a newer schema")

// LeaseFileError says that the lease file at Path cannot be used and what
// the operator can do about it. The server never resets such a file by
// itself: the leases in it may still be live on the network.
type LeaseFileError struct {
	Path string
	Err  error // ErrLeaseFileCorrupt or ErrLeaseFileNewer, wrapping the cause
}

// Error names the file, the fault and the repair.
func (e *LeaseFileError) Error() string {
	repair := "move it aside (mv " + e.Path + " " + e.Path + ".bad) and start again: the server starts with no leases, " +
		"clients keep their addresses by renewing them, and the address check of a client (ARP, DHCPDECLINE) covers an address handed out twice"
	if errors.Is(e.Err, ErrLeaseFileNewer) {
		repair = "run the pxekit version that wrote it, or move it aside (mv " + e.Path + " " + e.Path + ".new) and start again"
	}
	return fmt.Sprintf("dhcp: lease file %s: %v; %s", e.Path, e.Err, repair)
}

// Unwrap returns the fault.
func (e *LeaseFileError) Unwrap() error { return e.Err }

// bbolt's on-disk meta page, as far as checkBoltFile needs it: a 16-byte
// page header, then magic, version, page size, flags, root bucket (root
// page id, sequence), freelist page id, high-water page id, txid and an
// FNV-64a checksum of the meta fields before it.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltPageHeader = 16
	boltMetaLen    = 4 + 4 + 4 + 4 + 16 + 8 + 8 + 8 // up to the checksum
)

// checkBoltFile reads the two meta pages of a bbolt file and checks that
// at least one is intact and that the file is as long as that meta page
// says. bbolt itself trusts those facts and, on a torn or truncated file,
// faults on unmapped memory in a goroutine of its own, which no recover
// reaches; so the server checks before it opens. A missing or empty file is
// fine (bbolt creates it).
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("dhcp: lease file %s is a directory", path)
	}
	if fi.Size() == 0 {
		return nil
	}
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if err := checkBoltMeta(head[:n], fi.Size()); err != nil {
		return &LeaseFileError{Path: path, Err: fmt.Errorf("%w: %v", ErrLeaseFileCorrupt, err)}
	}
	return nil
}

// checkBoltMeta checks the meta pages at the start of a bbolt file of size
// bytes (head holds its first bytes).
func checkBoltMeta(head []byte, size int64) error {
	first, err := parseBoltMeta(head, 0)
	if err != nil {
		return err
	}
	var best *boltMeta
	var why error
	for i, m := range []*boltMeta{first, nil} {
		if i == 1 {
			second, err := parseBoltMeta(head, int64(first.pageSize))
			if err != nil {
				why = errors.Join(why, err)
				continue
			}
			m = second
		}
		if err := m.valid(); err != nil {
			why = errors.Join(why, err)
			continue
		}
		if best == nil || m.txid > best.txid {
			best = m
		}
	}
	if best == nil {
		return why
	}
	if need := int64(best.hwm) * int64(best.pageSize); size < need {
		return fmt.Errorf("truncated: %d bytes, its pages need %d", size, need)
	}
	return nil
}

type boltMeta struct {
	magic, version, pageSize uint32
	hwm, txid                uint64
	sum, want                uint64
}

func parseBoltMeta(head []byte, off int64) (*boltMeta, error) {
	end := off + boltPageHeader + boltMetaLen + 8
	if off < 0 || int64(len(head)) < end {
		return nil, fmt.Errorf("too short for a bbolt meta page at %d", off)
	}
	b := head[off+boltPageHeader : end]
	le := binary.LittleEndian
	m := &boltMeta{
		magic:    le.Uint32(b[0:]),
		version:  le.Uint32(b[4:]),
		pageSize: le.Uint32(b[8:]),
		hwm:      le.Uint64(b[40:]),
		txid:     le.Uint64(b[48:]),
		want:     le.Uint64(b[56:]),
	}
	h := fnv.New64a()
	h.Write(b[:boltMetaLen])
	m.sum = h.Sum64()
	if m.magic != boltMagic {
		return nil, fmt.Errorf("not a bbolt database (magic %#x)", m.magic)
	}
	if m.pageSize < 1024 || m.pageSize > 1<<16 || m.pageSize&(m.pageSize-1) != 0 {
		return nil, fmt.Errorf("bad page size %d", m.pageSize)
	}
	return m, nil
}

func (m *boltMeta) valid() error {
	switch {
	case m.magic != boltMagic:
		return fmt.Errorf("bad magic %#x", m.magic)
	case m.version != boltVersion:
		return fmt.Errorf("bbolt version %d", m.version)
	case m.sum != m.want:
		return errors.New("meta page checksum mismatch")
	case m.hwm < 4:
		return fmt.Errorf("high-water page %d", m.hwm)
	}
	return nil
}

// checkSchema refuses a file marked with a newer schema and marks an
// unmarked or older one (a new file, one written before the mark existed,
// one of JSON records) with LeaseSchema.
func checkSchema(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		v := b.Get(schemaKey)
		if v == nil {
			return b.Put(schemaKey, []byte(strconv.Itoa(LeaseSchema)))
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("%w: schema mark %q", ErrLeaseFileCorrupt, v)
		}
		if n > LeaseSchema {
			return fmt.Errorf("%w: schema %d, this server reads up to %d", ErrLeaseFileNewer, n, LeaseSchema)
		}
		if n < LeaseSchema {
			return b.Put(schemaKey, []byte(strconv.Itoa(LeaseSchema)))
		}
		return nil
	})
}

// safeView runs fn in a read transaction, turning a panic or a fault on
// the memory-mapped file (a page that points outside it) into an error.
func safeView(db *bolt.DB, fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading records: %v", ErrLeaseFileCorrupt, r)
		}
	}()
	return db.View(fn)
}
