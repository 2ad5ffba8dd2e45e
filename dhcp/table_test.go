package dhcp

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// modelRun drives a table and the model with the same random operations.
type modelRun struct {
	t     *testing.T
	r     *rand.Rand
	got   *table
	want  *refTable
	macs  []string
	addrs []netip.Addr
	now   time.Time
	step  int
}

// TestTableMatchesModel runs random operation sequences on the table and
// on the heap-entry model it replaced, and checks that every answer and
// every lookup agree, and that the table frees what it unlinks. The MACs
// include an empty and a 20-byte one, the addresses IPv6 and IPv4-mapped
// ones, and the expiries times outside int64 Unix nanoseconds.
func TestTableMatchesModel(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	for seed := range seeds {
		m := newModelRun(t, uint64(seed))
		for m.step = 0; m.step < 150 && !t.Failed(); m.step++ {
			m.op()
			m.compare()
		}
		m.checkTable()
		if t.Failed() {
			t.Fatalf("seed %d failed at step %d", seed, m.step)
		}
	}
}

// newModelRun builds a table and the model from one random load.
func newModelRun(t *testing.T, seed uint64) *modelRun {
	r := rand.New(rand.NewPCG(seed, 1))
	subnets := []Subnet{
		{Prefix: mustPrefix("10.0.0.0/28"), Pools: []Range{{mustAddr("10.0.0.2"), mustAddr("10.0.0.9")}}},
		{Prefix: mustPrefix("10.0.1.0/29"), Pools: []Range{{mustAddr("10.0.1.2"), mustAddr("10.0.1.5")}}},
		// Not a valid Config (Validate wants IPv4), but the table keeps
		// whatever address a subnet contains.
		{Prefix: netip.MustParsePrefix("2001:db8::/124")},
	}
	m := &modelRun{t: t, r: r, now: t0}
	for i := range 9 {
		m.macs = append(m.macs, string([]byte{0x52, 0x54, 0, 0, 0, byte(i)}))
	}
	m.macs = append(m.macs, "", strings.Repeat("\x80", 20), strings.Repeat("\x81", 16))
	res := []Reservation{
		{MAC: []byte(m.macs[0]), IP: mustAddr("10.0.0.5"), Hostname: "r0"},
		{MAC: []byte(m.macs[1]), IP: mustAddr("10.0.1.7")},
	}
	for i := range 16 {
		m.addrs = append(m.addrs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	for i := range 8 {
		m.addrs = append(m.addrs, netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}))
	}
	m.addrs = append(m.addrs, mustAddr("10.0.2.1"), mustAddr("2001:db8::1"), mustAddr("2001:db8::2"),
		netip.AddrFrom16(mustAddr("10.0.0.3").As16()))
	m.got, m.want = newTable(subnets, res), newRefTable(subnets, res)
	var ls []Lease
	for range r.IntN(30) {
		ls = append(ls, m.lease())
	}
	m.got.load(ls)
	m.want.load(ls)
	return m
}

// mac, addr and dur pick a random client, address and duration.
func (m *modelRun) mac() string        { return m.macs[m.r.IntN(len(m.macs))] }
func (m *modelRun) addr() netip.Addr   { return m.addrs[m.r.IntN(len(m.addrs))] }
func (m *modelRun) dur() time.Duration { return time.Duration(m.r.IntN(120)) * time.Minute }

// expiry is mostly near now, sometimes outside int64 Unix nanoseconds.
func (m *modelRun) expiry() time.Time {
	switch m.r.IntN(12) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	case 2:
		return time.Date(3000+m.r.IntN(2), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return m.now.Add(time.Duration(m.r.IntN(240)-120) * time.Minute).UTC()
}

// lease is a random record, as a store or another server may hold it.
func (m *modelRun) lease() Lease {
	l := Lease{IP: m.addr(), Expiry: m.expiry(), State: Bound}
	if mac := m.mac(); mac != "" {
		l.MAC = []byte(mac)
	}
	if m.r.IntN(4) == 0 {
		l.State = Declined
	}
	switch m.r.IntN(6) {
	case 0:
		l.ClientID = []byte{}
	case 1:
		l.ClientID = []byte{1, 2, 3}
	}
	if m.r.IntN(4) == 0 {
		l.Hostname = "h"
	}
	return l
}

// op runs one random operation on both tables and compares the answers.
func (m *modelRun) op() {
	r := m.r
	m.now = m.now.Add(time.Duration(r.IntN(40)) * time.Minute)
	switch r.IntN(9) {
	case 0, 1:
		mac, sub, req, hold := m.mac(), r.IntN(len(m.want.subnets)), m.addr(), m.dur()
		if r.IntN(2) == 0 {
			req = netip.Addr{}
		}
		a1, e1 := m.got.offer(mac, sub, req, m.now, hold)
		a2, e2 := m.want.offer(mac, sub, req, m.now, hold)
		m.check(a1 == a2 && e1 == e2, "offer(%x, %d, %v) = %v, %v; model %v, %v", mac, sub, req, a1, e1, a2, e2)
	case 2, 3:
		mac, a, sub, lt := m.mac(), m.addr(), r.IntN(len(m.want.subnets)), m.dur()
		var cid []byte
		if r.IntN(3) == 0 {
			cid = []byte{9, byte(r.IntN(3))}
		}
		host := []string{"", "", "x"}[r.IntN(3)]
		allow := r.IntN(2) == 0
		if r.IntN(2) == 0 { // mostly ACK what was offered
			if ip, _, ok := m.want.current(mac); ok {
				a = ip
			}
		}
		l1, ok1 := m.got.ack(mac, a, sub, lt, cid, host, m.now, allow)
		l2, ok2 := m.want.ack(mac, a, sub, lt, cid, host, m.now, allow)
		m.check(ok1 == ok2 && sameLease(l1, l2), "ack(%x, %v) = %+v, %v; model %+v, %v", mac, a, l1, ok1, l2, ok2)
	case 4:
		mac, a := m.mac(), m.addr()
		l1, ok1 := m.got.release(mac, a, m.now)
		l2, ok2 := m.want.release(mac, a, m.now)
		m.check(ok1 == ok2 && sameLease(l1, l2), "release(%x, %v) = %+v, %v; model %+v, %v", mac, a, l1, ok1, l2, ok2)
	case 5:
		mac, a, hold := m.mac(), m.addr(), m.dur()
		l1, ok1 := m.got.decline(mac, a, m.now, hold)
		l2, ok2 := m.want.decline(mac, a, m.now, hold)
		m.check(ok1 == ok2 && sameLease(l1, l2), "decline(%x, %v) = %+v, %v; model %+v, %v", mac, a, l1, ok1, l2, ok2)
	case 6:
		mac := m.mac()
		m.got.dropOffer(mac)
		m.want.dropOffer(mac)
	case 7:
		c := Change{Lease: m.lease(), Deleted: r.IntN(4) == 0}
		m.got.remote(c)
		m.want.remote(c)
	case 8:
		if r.IntN(4) != 0 {
			return
		}
		subnets := slices.Clone(m.want.subnets)
		if r.IntN(2) == 0 && len(subnets) > 1 {
			subnets = subnets[1:] // records re-filed, some under no subnet
		} else {
			slices.Reverse(subnets)
		}
		res := []Reservation{{MAC: []byte(m.mac()), IP: m.addr()}}
		m.got.reconfigure(subnets, res)
		m.want.reconfigure(subnets, res)
	}
}

// compare checks every lookup of the table against the model.
func (m *modelRun) compare() {
	for _, mac := range m.macs {
		a1, s1, ok1 := m.got.current(mac)
		a2, s2, ok2 := m.want.current(mac)
		m.check(a1 == a2 && s1 == s2 && ok1 == ok2, "current(%x) = %v %v %v; model %v %v %v", mac, a1, s1, ok1, a2, s2, ok2)
		l1, ok1 := m.got.byMACLease(mac, m.now)
		l2, ok2 := m.want.byMACLease(mac, m.now)
		m.check(ok1 == ok2 && sameLease(l1, l2), "byMACLease(%x) = %+v %v; model %+v %v", mac, l1, ok1, l2, ok2)
	}
	for _, a := range m.addrs {
		l1, ok1 := m.got.byIPLease(a, m.now)
		l2, ok2 := m.want.byIPLease(a, m.now)
		m.check(ok1 == ok2 && sameLease(l1, l2), "byIPLease(%v) = %+v %v; model %+v %v", a, l1, ok1, l2, ok2)
		l1, ok1 = m.got.persisted(a)
		l2, ok2 = m.want.persisted(a)
		m.check(ok1 == ok2 && sameLease(l1, l2), "persisted(%v) = %+v %v; model %+v %v", a, l1, ok1, l2, ok2)
	}
	g, w := sortedLeases(m.got.all()), sortedLeases(m.want.all())
	m.check(len(g) == len(w), "all: %d leases; model %d", len(g), len(w))
	for i := range min(len(g), len(w)) {
		m.check(sameLease(g[i], w[i]), "all[%d] = %+v; model %+v", i, g[i], w[i])
		m.check(m.got.still(w[i]) == m.want.still(w[i]), "still(%+v) disagrees", w[i])
	}
	a1, f1, s1 := m.got.counts(m.now)
	a2, f2, s2 := m.want.counts(m.now)
	m.check(a1 == a2 && f1 == f2 && s1 == s2, "counts = %d %d %d; model %d %d %d", a1, f1, s1, a2, f2, s2)
	c1, c2 := m.got.countsBySubnet(m.now), m.want.countsBySubnet(m.now)
	m.check(slices.Equal(c1, c2), "countsBySubnet = %v; model %v", c1, c2)
	r1, r2 := m.got.records(), m.want.records()
	slices.SortFunc(r1, netip.Addr.Compare)
	slices.SortFunc(r2, netip.Addr.Compare)
	m.check(slices.Equal(r1, r2), "records = %v; model %v", r1, r2)
}

// checkTable checks the table's own bookkeeping: indexes refer to live
// entries under their own keys, extra parts match the flags, and every
// entry handed out is indexed or free (none leaks).
func (m *modelRun) checkTable() {
	t := m.got
	refd := map[uint32]bool{}
	for a, i := range t.each {
		m.check(t.at(i).state != 0 && t.addrOf(i) == a, "address index %v → free or foreign entry %d", a, i)
		refd[i] = true
	}
	for k, i := range t.byMAC {
		m.check(t.at(i).state != 0 && t.at(i).mac == k, "MAC index %x → free or foreign entry %d", k, i)
		refd[i] = true
	}
	m.check(len(refd) == int(t.next)-1-len(t.freed), "%d entries indexed, %d handed out", len(refd), int(t.next)-1-len(t.freed))
	for _, i := range t.freed {
		m.check(!refd[i] && t.at(i).state == 0, "free entry %d in use", i)
	}
	for i, x := range t.extra {
		f := t.at(i).flags
		m.check(refd[i] && f != 0, "extra part of entry %d (flags %b) outlived it", i, f)
		m.check((f&fInfo != 0) == (x.clientID != nil || x.hostname != "") && (f&fAddr != 0) == x.addr.IsValid(), "entry %d: flags %b, extra %+v", i, f, x)
	}
	m.check(len(t.longNames) <= 1, "%d long MACs interned, want at most 1", len(t.longNames))
}

// check reports a mismatch at the current step.
func (m *modelRun) check(ok bool, format string, args ...any) {
	m.t.Helper()
	if !ok {
		m.t.Errorf("step %d: "+format, append([]any{m.step}, args...)...)
	}
}

// sortedLeases sorts ls by address, as Server.Leases does.
func sortedLeases(ls []Lease) []Lease {
	slices.SortFunc(ls, func(a, b Lease) int { return a.IP.Compare(b.IP) })
	return ls
}

// sameLease compares leases as a client of the table sees them; Expiry
// with Equal (the table keeps neither location nor monotonic reading).
func sameLease(a, b Lease) bool {
	return a.IP == b.IP && string(a.MAC) == string(b.MAC) && (a.MAC == nil) == (b.MAC == nil) &&
		bytes.Equal(a.ClientID, b.ClientID) && (a.ClientID == nil) == (b.ClientID == nil) &&
		a.Hostname == b.Hostname && a.State == b.State && a.Expiry.Equal(b.Expiry)
}

// TestTableFreesDroppedOffers checks that offers dropped and addresses
// re-taken reuse entries: the slabs stay as large as the peak, not the
// number of operations.
func TestTableFreesDroppedOffers(t *testing.T) {
	tb := newTable([]Subnet{{Prefix: mustPrefix("10.0.0.0/24"), Pools: []Range{{mustAddr("10.0.0.10"), mustAddr("10.0.0.20")}}}}, nil)
	for i := range 10000 {
		mac := string([]byte{0x52, 0x54, 0, 0, byte(i >> 8), byte(i)})
		if _, err := tb.offer(mac, 0, netip.Addr{}, t0, time.Minute); err != nil {
			t.Fatal(err)
		}
		tb.dropOffer(mac)
	}
	for i := range 10000 {
		mac := string([]byte{0x52, 0x54, 0, 1, byte(i >> 8), byte(i)})
		now := t0.Add(time.Duration(i) * time.Hour) // every earlier lease has expired
		a, err := tb.offer(mac, 0, netip.Addr{}, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tb.ack(mac, a, 0, time.Minute, []byte{1}, "h", now, false); !ok {
			t.Fatalf("ack %d failed", i)
		}
	}
	// 11 addresses, each with its newest entry; older MACs' index
	// entries point at records other MACs took over.
	if n := int(tb.next) - 1 - len(tb.freed); n > 11 || len(tb.extra) > 11 {
		t.Errorf("%d entries, %d extra parts live for an 11-address pool", n, len(tb.extra))
	}
	if len(tb.byMAC) > 11 {
		t.Errorf("MAC index holds %d clients for an 11-address pool", len(tb.byMAC))
	}
}
