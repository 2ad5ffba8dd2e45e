package dhcp

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	bolt "go.etcd.io/bbolt"
)

func TestLeasesSurviveRestartWithBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	first := newTestServer(t, func(c *Config) { c.LeaseFile = path })
	want := map[string]netip.Addr{}
	for i := range 20 {
		mac := fmt.Sprintf("52:54:00:00:20:%02x", i)
		_, ack := dora(t, first, mac, inbound{}, t0)
		want[mac] = addrOf(ack.YourIPAddr)
	}
	// A declined address must stay quarantined across the restart too.
	dec, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC("52:54:00:00:20:00")), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(want["52:54:00:00:20:00"].AsSlice())))
	if _, _, why := exchange(t, first, dec, inbound{}, t0); why != "" {
		t.Fatal(why)
	}
	declined := want["52:54:00:00:20:00"]
	delete(want, "52:54:00:00:20:00")
	first.closeStore()

	second := newTestServer(t, func(c *Config) { c.LeaseFile = path })
	defer second.closeStore()
	for mac, ip := range want {
		r, _, _ := exchange(t, second, discover(t, mac), inbound{}, t0.Add(time.Minute))
		if r == nil || addrOf(r.YourIPAddr) != ip {
			t.Errorf("%s: offered %v after restart, had %s", mac, r, ip)
		}
		if l, ok := second.LeaseByIP(ip); !ok || l.MAC.String() != mac {
			t.Errorf("LeaseByIP(%s) after restart = %+v", ip, l)
		}
	}
	r, _, _ := exchange(t, second, discover(t, "52:54:00:00:21:00"), inbound{}, t0.Add(time.Minute))
	if r == nil || addrOf(r.YourIPAddr) == declined {
		t.Errorf("quarantined address handed out after restart: %v", r)
	}
	if st := second.Stats(); st.ActiveLeases != 19 {
		t.Errorf("active leases after restart %d", st.ActiveLeases)
	}
}

func TestBoltSkipsCorruptRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	bs, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	good := Lease{IP: netip.MustParseAddr("192.0.2.100"), MAC: mustMAC("52:54:00:00:22:01"), Expiry: t0.Add(time.Hour), State: Bound}
	if err := bs.Apply([]Op{{Lease: good}}); err != nil {
		t.Fatal(err)
	}
	if err := bs.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(leaseBucket).Put([]byte{192, 0, 2, 101}, []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	ls, err := bs.Load()
	if len(ls) != 1 || ls[0].IP != good.IP || err == nil || !strings.Contains(err.Error(), "192.0.2.101") {
		t.Fatalf("load: %v, %v", ls, err)
	}
	bs.Close()
	// The server starts anyway, with the good lease.
	s := newTestServer(t, func(c *Config) { c.LeaseFile = path })
	defer s.closeStore()
	if _, ok := s.LeaseByIP(good.IP); !ok {
		t.Fatal("good lease lost")
	}
}

// DHCPv4 and DHCPv6 leases (package dhcp6 keeps its own in the same
// records) live side by side in one file and come back as they went in.
func TestBoltKeepsIPv4AndIPv6Leases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	bs, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	v4 := Lease{IP: netip.MustParseAddr("192.0.2.100"), MAC: mustMAC("52:54:00:00:22:01"), Expiry: t0.Add(time.Hour).UTC(), State: Bound}
	v6 := Lease{IP: netip.MustParseAddr("2001:db8::100"), MAC: mustMAC("52:54:00:00:22:01"), ClientID: []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0, 0x22, 1},
		Expiry: t0.Add(time.Hour).UTC(), State: Bound}
	gone := Lease{IP: netip.MustParseAddr("2001:db8::101"), Expiry: t0.UTC(), State: Declined}
	if err := bs.Apply([]Op{{Lease: v4}, {Lease: v6}, {Lease: gone}}); err != nil {
		t.Fatal(err)
	}
	if err := bs.Apply([]Op{{Lease: gone, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	bs.Close()
	if bs, err = OpenBoltStore(path); err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	ls, err := bs.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := map[netip.Addr]Lease{}
	for _, l := range ls {
		got[l.IP] = l
	}
	if len(ls) != 2 || got[v4.IP].MAC.String() != v4.MAC.String() || string(got[v6.IP].ClientID) != string(v6.ClientID) || !got[v6.IP].Expiry.Equal(v6.Expiry) {
		t.Fatalf("loaded %+v, want the IPv4 and the IPv6 lease", ls)
	}
}

func FuzzDecodeLease(f *testing.F) {
	f.Add([]byte{192, 0, 2, 100}, []byte(`{"ip":"192.0.2.100","mac":"52:54:00:00:00:01","expiry":"2026-01-01T00:00:00Z","state":1}`))
	f.Add([]byte{192, 0, 2, 100}, []byte(`{"ip":"192.0.2.101","state":1}`))
	f.Add([]byte{1, 2, 3}, []byte(`{}`))
	f.Add([]byte{192, 0, 2, 1}, []byte(`{"ip":"192.0.2.1","state":9}`))
	v6 := netip.MustParseAddr("2001:db8::100").As16()
	f.Add(v6[:], []byte(`{"ip":"2001:db8::100","clientID":"AAEAAQ==","expiry":"2026-01-01T00:00:00Z","state":1}`))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		l, err := decodeLease(k, v)
		key, _ := netip.AddrFromSlice(k)
		if err == nil && (l.IP != key || (l.State != Bound && l.State != Declined)) {
			t.Fatalf("accepted an inconsistent record %+v", l)
		}
	})
}

// Lease writes for one address that reach the commit queue out of order
// (a lease, its release and the address's next lease, racing on three
// workers) still leave the store agreeing with what the clients were told.
func TestCommitOrderDoesNotMatter(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Subnets[0].Pools = []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.10")}}
	})
	step := func(p *dhcpv4.DHCPv4) outcome {
		o, why := s.handle(inbound{data: p.ToBytes()}, t0)
		if why != "" {
			t.Fatal(why)
		}
		return o
	}
	offer1 := step(discover(t, "52:54:00:00:60:01"))
	req1, _ := dhcpv4.NewRequestFromOffer(offer1.reply)
	ack1 := step(req1)
	rel, _ := dhcpv4.NewReleaseFromACK(ack1.reply)
	released := step(rel)
	offer2 := step(discover(t, "52:54:00:00:60:02"))
	req2, _ := dhcpv4.NewRequestFromOffer(offer2.reply)
	ack2 := step(req2)
	if !ack1.reply.YourIPAddr.Equal(ack2.reply.YourIPAddr) {
		t.Fatal("test needs both clients on one address")
	}
	commits := make(chan pending, 3)
	l := &listener{conn: discardConn{}}
	for _, o := range []outcome{ack2, released, ack1} { // worst order
		commits <- pending{o: o, l: l}
	}
	close(commits)
	s.committer(commits)
	ls, _ := s.store.Load()
	if len(ls) != 1 || ls[0].MAC.String() != "52:54:00:00:60:02" || !ls[0].Active(t0) {
		t.Fatalf("store after out-of-order commits: %+v", ls)
	}
}
