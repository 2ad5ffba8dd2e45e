package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeLeaseFile makes a real lease file with n leases and returns its bytes.
func writeLeaseFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	bs, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	var ops []Op
	for i := range n {
		ops = append(ops, Op{Lease: Lease{IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), MAC: mustMAC(fmt.Sprintf("52:54:00:00:60:%02x", i)), Expiry: t0.Add(time.Hour), State: Bound}})
	}
	if err := bs.Apply(ops); err != nil {
		t.Fatal(err)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// usedBytes is how much of a bbolt file its newer meta page says holds
// pages (the file itself is grown beyond that in large steps).
func usedBytes(file []byte) int {
	hwm := func(off int) int { return int(binary.LittleEndian.Uint64(file[off+boltPageHeader+40:])) }
	return max(hwm(0), hwm(4096)) * 4096
}

// TestBadLeaseFileAtStart: a lease file torn by a power cut (truncated at
// any page), overwritten with garbage, or marked by a newer schema makes
// New fail with an error that names the file and says how to repair it.
// The file is left as it was (no silent reset), and nothing panics.
func TestBadLeaseFileAtStart(t *testing.T) {
	dir := t.TempDir()
	good := writeLeaseFile(t, filepath.Join(dir, "good.db"), 200)

	cases := map[string][]byte{
		"garbage":        []byte("this is a text file, not a lease database\n"),
		"random-bytes":   []byte(strings.Repeat("\xde\xad\xbe\xef", 4096)),
		"half-meta-page": good[:100],
		"one-page":       good[:4096],
		"two-pages":      good[:8192],
		"three-pages":    good[:12288],
		"half":           good[:usedBytes(good)/2],
		"meta-overwritten": func() []byte {
			b := append([]byte(nil), good...)
			copy(b[16:], strings.Repeat("x", 64))      // first meta page
			copy(b[4096+16:], strings.Repeat("y", 64)) // second meta page
			return b
		}(),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := labConfig()
			cfg.LeaseFile = path
			_, err := New(cfg)
			var lfe *LeaseFileError
			if !errors.As(err, &lfe) || !errors.Is(err, ErrLeaseFileCorrupt) {
				t.Fatalf("New: %v, want a LeaseFileError for a corrupt file", err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "mv "+path) {
				t.Errorf("error does not name the file and the repair: %s", msg)
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(data) {
				t.Error("the refused file was changed")
			}
		})
	}

	t.Run("newer-schema", func(t *testing.T) {
		path := filepath.Join(dir, "newer.db")
		writeLeaseFile(t, path, 3)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(metaBucket).Put(schemaKey, []byte(strconv.Itoa(LeaseSchema+1)))
		})
		db.Close()
		cfg := labConfig()
		cfg.LeaseFile = path
		_, err = New(cfg)
		if !errors.Is(err, ErrLeaseFileNewer) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "version that wrote it") {
			t.Fatalf("New on a newer-schema file: %v", err)
		}
	})

	t.Run("repair", func(t *testing.T) {
		// The documented repair: move the file aside and start again.
		path := filepath.Join(dir, "half.db")
		if err := os.Rename(path, path+".bad"); err != nil {
			t.Fatal(err)
		}
		s := newTestServer(t, func(c *Config) { c.LeaseFile = path })
		defer s.Close()
		if _, ack := dora(t, s, "52:54:00:00:61:01", inbound{}, t0); ack == nil {
			t.Fatal("no lease after the repair")
		}
	})

	t.Run("good-and-unmarked", func(t *testing.T) {
		// The untouched file, and one written before the schema mark
		// existed, both load every lease.
		path := filepath.Join(dir, "good.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(metaBucket) })
		db.Close()
		bs, err := OpenBoltStore(path)
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		ls, err := bs.Load()
		if err != nil || len(ls) != 200 {
			t.Fatalf("Load: %d leases, %v", len(ls), err)
		}
	})
}

func FuzzBoltMeta(f *testing.F) {
	good := writeLeaseFileF(f)
	f.Add(good[:8192], int64(len(good)))
	f.Add(good[:100], int64(100))
	f.Add([]byte("garbage"), int64(7))
	f.Fuzz(func(t *testing.T, head []byte, size int64) {
		checkBoltMeta(head, size) // must not panic
	})
}

func writeLeaseFileF(f *testing.F) []byte {
	path := filepath.Join(f.TempDir(), "l.db")
	bs, err := OpenBoltStore(path)
	if err != nil {
		f.Fatal(err)
	}
	bs.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
