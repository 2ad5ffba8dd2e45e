package etcdstore

import (
	"testing"
	"time"

	"github.com/pxekit/pxekit/dhcp"
)

// A lease record from etcd never crashes the decoder; what decodes
// encodes back to a record that decodes to the same lease.
func FuzzDecodeLease(f *testing.F) {
	f.Add("/pxekit/leases/192.0.2.10", []byte(`{"ip":"192.0.2.10","mac":"02:00:00:00:00:01","expiry":"2026-01-02T03:04:05Z","state":"bound","server":"a"}`))
	f.Add("/pxekit/leases/2001:db8::1", []byte(`{"ip":"2001:db8::1","mac":"02:00:00:00:00:01","clientID":"000100010203","expiry":"2026-01-02T03:04:05Z","state":"bound"}`))
	f.Add("/pxekit/leases/192.0.2.11", []byte(`{"ip":"192.0.2.11","expiry":"2026-01-02T03:04:05Z","state":"declined"}`))
	f.Add("/pxekit/leases/x", []byte(`{"ip":"192.0.2.1"`))
	f.Fuzz(func(t *testing.T, key string, v []byte) {
		l, by, err := decodeLease(key, v)
		if err != nil {
			return
		}
		b, err := encodeLease(l, by)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", l, err)
		}
		l2, by2, err := decodeLease(key, b)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, b)
		}
		if l2.IP != l.IP || l2.MAC.String() != l.MAC.String() || !l2.Expiry.Equal(l.Expiry) || l2.State != l.State || by2 != by || string(l2.ClientID) != string(l.ClientID) {
			t.Fatalf("round trip changed %+v into %+v", l, l2)
		}
		_ = seenRec{rev: 1, l: l, ok: true}.holds(dhcp.Op{Lease: l}, time.Now())
	})
}

// Inventory records from etcd never crash the decoder; a decoded
// inventory encodes back to records that decode to the same spec.
func FuzzDecodeInventory(f *testing.F) {
	f.Add("machines/02:00:00:00:00:01", []byte(`{"mac":"02:00:00:00:00:01","hostname":"n1","profile":"p"}`), "profiles/p", []byte(`{"kernel":"vmlinuz","args":["console=ttyS0"]}`))
	f.Add("files/p/config.yaml", []byte("token: x\n"), "default", []byte("p"))
	f.Add("machines/zz", []byte(`{"mac":1}`), "profiles/q", []byte(`{"kernel":"k","extra":1}`))
	f.Fuzz(func(t *testing.T, k1 string, v1 []byte, k2 string, v2 []byte) {
		raw := map[string][]byte{k1: v1, k2: v2, "profiles/p": []byte(`{"kernel":"k"}`)}
		spec, err := decodeInventory(raw)
		if err != nil || len(spec.Validate()) > 0 {
			return
		}
		enc, err := encodeInventory(spec)
		if err != nil {
			return // a profile name with a slash cannot be written back
		}
		again, err := decodeInventory(enc)
		if err != nil {
			t.Fatalf("re-encoded inventory does not decode: %v", err)
		}
		if len(again.Machines) != len(spec.Machines) || len(again.Profiles) != len(spec.Profiles) || again.Default != spec.Default {
			t.Fatalf("round trip changed %+v into %+v", spec, again)
		}
	})
}

// An inventory file never crashes the parser; what parses marshals back
// to a file that parses to the same inventory.
func FuzzParseInventoryFile(f *testing.F) {
	f.Add([]byte("default: p\nprofiles:\n  p: {kernel: vmlinuz, files: {a.yaml: \"x: 1\\n\"}}\nmachines:\n- {mac: \"02:00:00:00:00:01\", profile: p}\n"))
	f.Add([]byte("machines:\n- {mac: zz, profile: p}\n"))
	f.Add([]byte("profiles: {p: {kernel: k, nope: 1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseInventoryFile(data)
		if err != nil {
			return
		}
		b, err := MarshalInventoryFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseInventoryFile(b)
		if err != nil {
			t.Fatalf("marshalled inventory does not parse: %v\n%s", err, b)
		}
		if len(again.Machines) != len(spec.Machines) || len(again.Profiles) != len(spec.Profiles) || again.Default != spec.Default {
			t.Fatalf("round trip changed %+v into %+v", spec, again)
		}
	})
}
