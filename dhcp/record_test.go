package dhcp

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Every field of a lease comes back from its binary record as it went in,
// and the record is a fraction of the JSON one.
func TestRecordRoundTrip(t *testing.T) {
	for _, l := range []Lease{
		{IP: mustAddr("192.0.2.100"), MAC: mustMAC("52:54:00:00:22:01"), ClientID: []byte{1, 0x52, 0x54, 0, 0, 0x22, 1}, Hostname: "node-1",
			Expiry: time.Date(2026, 12, 4, 3, 0, 0, 123456789, time.UTC), State: Bound},
		{IP: mustAddr("192.0.2.101"), Expiry: time.Date(1969, 1, 1, 0, 0, 0, 1, time.UTC), State: Declined},
		{IP: netip.MustParseAddr("2001:db8::100"), ClientID: []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0, 0x22, 1}, State: Bound},
	} {
		v := appendRecord(nil, l)
		got, err := decodeLease(l.IP.AsSlice(), v)
		if err != nil {
			t.Fatalf("%s: %v", l.IP, err)
		}
		if got.IP != l.IP || got.MAC.String() != l.MAC.String() || !bytes.Equal(got.ClientID, l.ClientID) || got.Hostname != l.Hostname ||
			!got.Expiry.Equal(l.Expiry) || got.Expiry.IsZero() != l.Expiry.IsZero() || got.State != l.State {
			t.Errorf("decoded %+v, want %+v", got, l)
		}
		j, _ := json.Marshal(l)
		if len(v)*2 > len(j) {
			t.Errorf("%s: binary record %d bytes, JSON %d", l.IP, len(v), len(j))
		}
	}
}

// A record cut short, with bytes after its last field, an oversized field
// or an unknown state is refused with the address in the error.
func TestRecordRefusesBadRecords(t *testing.T) {
	l := Lease{IP: mustAddr("192.0.2.100"), MAC: mustMAC("52:54:00:00:22:01"), Hostname: "node-1", Expiry: t0, State: Bound}
	v := appendRecord(nil, l)
	long := appendRecord(nil, Lease{IP: l.IP, MAC: make([]byte, maxRecordMAC+1), State: Bound})
	bad := map[string][]byte{
		"short":    v[:len(v)-1],
		"trailing": append(append([]byte(nil), v...), 0),
		"state":    append([]byte{recordV1, 9}, v[2:]...),
		"mark":     {recordV1},
		"long mac": long,
		"empty":    {},
	}
	for name, b := range bad {
		if _, err := decodeLease(l.IP.AsSlice(), b); err == nil || !bytes.Contains([]byte(err.Error()), []byte("192.0.2.100")) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A file of schema 1 (JSON records) opens: its leases load, it is marked
// with the current schema, and records written since are binary and sit
// beside the JSON ones.
func TestBoltOpensJSONLeaseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := Lease{IP: mustAddr("192.0.2.100"), MAC: mustMAC("52:54:00:00:22:01"), Hostname: "old", Expiry: t0.Add(time.Hour).UTC(), State: Bound}
	if err := db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket(metaBucket)
		b, _ := tx.CreateBucket(leaseBucket)
		j, _ := json.Marshal(old)
		return errorsJoin(m.Put(schemaKey, []byte("1")), b.Put(old.IP.AsSlice(), j))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	bs, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	nu := Lease{IP: mustAddr("192.0.2.101"), MAC: mustMAC("52:54:00:00:22:02"), Expiry: t0.Add(time.Hour).UTC(), State: Bound}
	if err := bs.Apply([]Op{{Lease: nu}}); err != nil {
		t.Fatal(err)
	}
	var mark, rec []byte
	bs.db.View(func(tx *bolt.Tx) error {
		mark = append(mark, tx.Bucket(metaBucket).Get(schemaKey)...)
		rec = append(rec, tx.Bucket(leaseBucket).Get(nu.IP.AsSlice())...)
		return nil
	})
	bs.Close()
	if string(mark) != strconv.Itoa(LeaseSchema) || len(rec) == 0 || rec[0] != recordV1 {
		t.Fatalf("schema mark %q, new record %x", mark, rec)
	}

	s := newTestServer(t, func(c *Config) { c.LeaseFile = path })
	defer s.closeStore()
	for _, want := range []Lease{old, nu} {
		got, ok := s.LeaseByIP(want.IP)
		if !ok || got.MAC.String() != want.MAC.String() || got.Hostname != want.Hostname || !got.Expiry.Equal(want.Expiry) {
			t.Errorf("lease of %s after the upgrade: %+v, %v", want.IP, got, ok)
		}
	}
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// FuzzLeaseRecord feeds the binary decoder arbitrary records: it never
// panics, and what it accepts encodes back to the same bytes.
func FuzzLeaseRecord(f *testing.F) {
	f.Add(appendRecord(nil, Lease{IP: mustAddr("192.0.2.100"), MAC: mustMAC("52:54:00:00:22:01"), ClientID: []byte{1, 2}, Hostname: "node-1", Expiry: t0, State: Bound}))
	f.Add(appendRecord(nil, Lease{IP: mustAddr("192.0.2.100"), Expiry: t0, State: Declined}))
	f.Add([]byte{recordV1, 1, 0x80})
	f.Add([]byte{recordV1, 1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0})
	key := []byte{192, 0, 2, 100}
	f.Fuzz(func(t *testing.T, v []byte) {
		if len(v) > 0 {
			v[0] = recordV1 // the JSON half has FuzzDecodeLease
		}
		l, err := decodeLease(key, v)
		if err != nil {
			return
		}
		if l.State != Bound && l.State != Declined {
			t.Fatalf("accepted state %d", l.State)
		}
		if again := appendRecord(nil, l); !bytes.Equal(again, v) {
			// Varints have one shortest form; a longer one decodes too,
			// so compare what the record means, not its bytes.
			l2, err := decodeLease(key, again)
			if err != nil || !l2.Expiry.Equal(l.Expiry) || l2.MAC.String() != l.MAC.String() || !bytes.Equal(l2.ClientID, l.ClientID) || l2.Hostname != l.Hostname {
				t.Fatalf("re-encoded %x to %x: %+v, %v", v, again, l2, err)
			}
		}
	})
}
