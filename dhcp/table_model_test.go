package dhcp

// The table as it was when every entry was a heap object, kept as the
// model that TestTableMatchesModel checks the slab table against.

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// refEntry is the in-memory record of one address. Offers live only here;
// bound and declined records are mirrored in the Store.
type refEntry struct {
	ip       netip.Addr
	mac      string // raw hardware address bytes; "" for a declined address
	clientID []byte
	hostname string
	expiry   time.Time
	state    entryState
	subnet   int
}

func (e *refEntry) lease() Lease {
	l := Lease{IP: e.ip, ClientID: e.clientID, Hostname: e.hostname, Expiry: e.expiry, State: Bound}
	if e.mac != "" {
		l.MAC = net.HardwareAddr(e.mac)
	}
	if e.state == stDeclined {
		l.State = Declined
	}
	return l
}

// table is the allocator: who has which address. Clients are keyed by MAC,
// not client-id, on purpose: in a PXE chain the firmware, iPXE and the
// installed OS use the same NIC but different client-ids (or none), and an
// operator expects that machine to keep one address through the chain.
type refTable struct {
	mu      sync.Mutex
	byIP    map[netip.Addr]*refEntry
	byMAC   map[string]*refEntry
	resIP   map[netip.Addr]string  // reserved address → MAC
	resMAC  map[string]Reservation // MAC → reservation
	pools   []pool
	subnets []Subnet
	// share, when set, is Sharing.Share: where in each pool this server
	// looks for a free address first.
	share func() (i, n int)
	// slab is what is left of the block newLoaded hands entries from.
	refSlab []refEntry
}

func newRefTable(subnets []Subnet, res []Reservation) *refTable {
	t := &refTable{
		byIP:    map[netip.Addr]*refEntry{},
		byMAC:   map[string]*refEntry{},
		resIP:   map[netip.Addr]string{},
		resMAC:  map[string]Reservation{},
		subnets: subnets,
	}
	for i, s := range subnets {
		for _, r := range s.Pools {
			t.pools = append(t.pools, pool{r: r, subnet: i})
		}
	}
	for _, r := range res {
		t.resIP[r.IP] = string(r.MAC)
		t.resMAC[string(r.MAC)] = r
	}
	return t
}

// load installs records from the store. Records for the same MAC keep the
// newest; a record for an address reserved to another MAC is dropped (the
// reservation wins, and the next ACK overwrites it).
func (t *refTable) load(ls []Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reserve(len(ls))
	for _, l := range ls {
		t.add(l)
	}
}

// reserve sizes an empty table for n records, so that the maps do not
// grow (and rehash) record by record.
func (t *refTable) reserve(n int) {
	if len(t.byIP) == 0 && n > 0 {
		t.byIP = make(map[netip.Addr]*refEntry, n)
	}
	if len(t.byMAC) == 0 && n > 0 {
		t.byMAC = make(map[string]*refEntry, n)
	}
}

// newLoaded returns a zero refEntry for a loaded record, from a block of
// entries: a million records are then a thousand allocations, not a million.
func (t *refTable) newLoaded() *refEntry {
	if len(t.refSlab) == 0 {
		t.refSlab = make([]refEntry, slabLen)
	}
	e := &t.refSlab[0]
	t.refSlab = t.refSlab[1:]
	return e
}

// add installs one loaded record (t.mu held).
func (t *refTable) add(l Lease) {
	sub := t.subnetOf(l.IP)
	if sub < 0 {
		return
	}
	mac := string(l.MAC)
	if m, ok := t.resIP[l.IP]; ok && m != mac {
		return
	}
	e := t.newLoaded()
	*e = refEntry{ip: l.IP, mac: mac, clientID: l.ClientID, hostname: l.Hostname, expiry: l.Expiry, state: stBound, subnet: sub}
	if l.State == Declined {
		e.state, e.mac = stDeclined, ""
	}
	t.byIP[l.IP] = e
	if e.mac != "" {
		if old := t.byMAC[e.mac]; old == nil || old.expiry.Before(e.expiry) {
			t.byMAC[e.mac] = e
		}
	}
}

func (t *refTable) subnetOf(a netip.Addr) int {
	for i, s := range t.subnets {
		if s.Prefix.Masked().Contains(a) {
			return i
		}
	}
	return -1
}

func (t *refTable) inPool(a netip.Addr, subnet int) bool {
	for _, p := range t.pools {
		if p.subnet == subnet && p.r.Contains(a) {
			return true
		}
	}
	return false
}

// free reports whether a may be given to mac now.
func (t *refTable) free(a netip.Addr, mac string, now time.Time) bool {
	if m, ok := t.resIP[a]; ok && m != mac {
		return false
	}
	e := t.byIP[a]
	return e == nil || e.mac == mac && e.state != stDeclined || !now.Before(e.expiry)
}

// claim makes a belong to mac as state until expiry, unlinking whatever
// held it before.
func (t *refTable) claim(a netip.Addr, mac string, subnet int, st entryState, expiry time.Time) *refEntry {
	if old := t.byIP[a]; old != nil && old.mac != mac && old.mac != "" && t.byMAC[old.mac] == old {
		delete(t.byMAC, old.mac)
	}
	e := t.byIP[a]
	if e == nil || e.mac != mac {
		e = &refEntry{ip: a, mac: mac, subnet: subnet}
		t.byIP[a] = e
	}
	e.state, e.expiry, e.subnet = st, expiry, subnet
	t.byMAC[mac] = e
	return e
}

// offer picks an address for mac in subnet and holds it until now+hold.
func (t *refTable) offer(mac string, subnet int, requested netip.Addr, now time.Time, hold time.Duration) (netip.Addr, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hold1 := now.Add(hold)
	if r, ok := t.resMAC[mac]; ok && t.subnetOf(r.IP) == subnet {
		e := t.byIP[r.IP]
		if e != nil && e.mac == mac && e.state == stBound && now.Before(e.expiry) {
			return r.IP, nil
		}
		t.claim(r.IP, mac, subnet, stOffered, hold1)
		return r.IP, nil
	}
	if e := t.byMAC[mac]; e != nil && e.subnet == subnet && e.state != stDeclined && t.byIP[e.ip] == e {
		if !(e.state == stBound && now.Before(e.expiry)) {
			e.state, e.expiry = stOffered, hold1
		}
		return e.ip, nil
	}
	if requested.Is4() && t.inPool(requested, subnet) && t.free(requested, mac, now) {
		t.claim(requested, mac, subnet, stOffered, hold1)
		return requested, nil
	}
	si, sn := 0, 1
	if t.share != nil {
		si, sn = t.share()
		if sn < 1 || si < 0 || si >= sn {
			si, sn = 0, 1
		}
	}
	for i := range t.pools {
		p := &t.pools[i]
		if p.subnet != subnet {
			continue
		}
		size := uint32(p.r.Size())
		base := ip4u(p.r.Start)
		// Servers sharing a store start in different parts of the pool.
		start := uint32(uint64(size) * uint64(si) / uint64(sn))
		for k := uint32(0); k < size; k++ {
			off := (start + p.cursor + k) % size
			a := u2ip4(base + off)
			if t.free(a, mac, now) {
				p.cursor = (off + size - start + 1) % size
				t.claim(a, mac, subnet, stOffered, hold1)
				return a, nil
			}
		}
	}
	return netip.Addr{}, errPoolFull
}

// ack binds a to mac until now+lt. allowNew lets a client that the table
// does not know take a free pool address (init-reboot and renewals after
// the server lost its state); otherwise a must be what mac was offered or
// holds.
func (t *refTable) ack(mac string, a netip.Addr, subnet int, lt time.Duration, clientID []byte, hostname string, now time.Time, allowNew bool) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.resIP[a]; ok && m != mac {
		return Lease{}, false
	}
	if r, ok := t.resMAC[mac]; ok && t.subnetOf(r.IP) == subnet && r.IP != a {
		return Lease{}, false // send the machine to its reserved address
	}
	e := t.byIP[a]
	ours := e != nil && e.mac == mac && e.state != stDeclined
	if !ours {
		_, reserved := t.resIP[a]
		if !allowNew || !t.free(a, mac, now) || !(reserved || t.inPool(a, subnet)) {
			return Lease{}, false
		}
	}
	e = t.claim(a, mac, subnet, stBound, now.Add(lt))
	if len(clientID) > 0 {
		e.clientID = append([]byte(nil), clientID...)
	}
	if hostname != "" {
		e.hostname = hostname
	}
	if r, ok := t.resMAC[mac]; ok && r.IP == a && r.Hostname != "" {
		e.hostname = r.Hostname
	}
	return e.lease(), true
}

// release ends mac's lease on a now; the record stays as a hint.
func (t *refTable) release(mac string, a netip.Addr, now time.Time) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if e == nil || e.mac != mac || e.state != stBound || !now.Before(e.expiry) {
		return Lease{}, false
	}
	e.expiry = now
	return e.lease(), true
}

// decline quarantines a, which mac reports in use by someone else.
func (t *refTable) decline(mac string, a netip.Addr, now time.Time, hold time.Duration) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if e == nil || e.mac != mac || e.state == stDeclined {
		return Lease{}, false
	}
	if t.byMAC[mac] == e {
		delete(t.byMAC, mac)
	}
	e.mac, e.clientID, e.hostname = "", nil, ""
	e.state, e.expiry = stDeclined, now.Add(hold)
	return e.lease(), true
}

// dropOffer forgets an unanswered offer to mac (it chose another server).
func (t *refTable) dropOffer(mac string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byMAC[mac]; e != nil && e.state == stOffered {
		delete(t.byMAC, mac)
		if t.byIP[e.ip] == e {
			delete(t.byIP, e.ip)
		}
	}
}

// current returns what mac holds or was offered, if anything.
func (t *refTable) current(mac string) (netip.Addr, entryState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byMAC[mac]
	if e == nil {
		return netip.Addr{}, 0, false
	}
	return e.ip, e.state, true
}

func (t *refTable) byIPLease(a netip.Addr, now time.Time) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if e == nil || e.state != stBound || !now.Before(e.expiry) {
		return Lease{}, false
	}
	return e.lease(), true
}

func (t *refTable) byMACLease(mac string, now time.Time) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byMAC[mac]
	if e == nil || e.state != stBound || !now.Before(e.expiry) {
		return Lease{}, false
	}
	return e.lease(), true
}

func (t *refTable) all() []Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Lease, 0, len(t.byIP))
	for _, e := range t.byIP {
		if e.state != stOffered {
			out = append(out, e.lease())
		}
	}
	return out
}

// counts returns active bound leases, free pool addresses and pool size.
func (t *refTable) counts(now time.Time) (active, free, size int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pools {
		size += p.r.Size()
	}
	used := 0
	for a, e := range t.byIP {
		live := now.Before(e.expiry)
		if live && e.state == stBound {
			active++
		}
		if live && t.inPool(a, e.subnet) {
			used++
		}
	}
	for a := range t.resIP {
		if e := t.byIP[a]; (e == nil || !now.Before(e.expiry)) && t.subnetOf(a) >= 0 && t.inPool(a, t.subnetOf(a)) {
			used++
		}
	}
	return active, size - used, size
}

// persisted is what the store must hold for a now: the current bound or
// quarantined record. The committer writes this instead of the snapshot a
// worker took, so two writes for one address that reach the commit queue
// out of order (a release and a re-lease racing) still leave the store
// agreeing with memory.
func (t *refTable) persisted(a netip.Addr) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if e == nil || e.state == stOffered {
		return Lease{}, false
	}
	return e.lease(), true
}

// remote installs a record another server wrote (Change from a
// SharedStore's watch). The address's holder here, if another MAC, loses
// it (an offer of it is void); the MAC's index points at its newest
// record, as load does.
func (t *refTable) remote(c Change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := c.Lease
	if !l.IP.IsValid() {
		return
	}
	old := t.byIP[l.IP]
	if old != nil && t.byMAC[old.mac] == old && (c.Deleted || old.mac != string(l.MAC) || l.State == Declined) {
		delete(t.byMAC, old.mac)
	}
	if c.Deleted {
		delete(t.byIP, l.IP)
		return
	}
	sub := t.subnetOf(l.IP)
	if sub < 0 {
		delete(t.byIP, l.IP)
		return
	}
	e := old
	if e == nil || e.mac != string(l.MAC) || l.State == Declined {
		e = &refEntry{ip: l.IP, subnet: sub}
		t.byIP[l.IP] = e
	}
	e.mac, e.clientID, e.hostname, e.expiry, e.state = string(l.MAC), l.ClientID, l.Hostname, l.Expiry, stBound
	if l.State == Declined {
		e.mac, e.state = "", stDeclined
		return
	}
	if e.mac == "" {
		return
	}
	if cur := t.byMAC[e.mac]; cur == nil || cur == e || !cur.expiry.After(e.expiry) || cur.state == stOffered {
		if cur != nil && cur != e && cur.state == stOffered && t.byIP[cur.ip] == cur {
			// Another server bound this client: our offer to it is moot.
			delete(t.byIP, cur.ip)
		}
		t.byMAC[e.mac] = e
	}
}

// still reports whether l is what memory holds for its address now, so a
// write decided earlier is not committed over a later decision (this
// server's or another's) for that address.
func (t *refTable) still(l Lease) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[l.IP]
	if e == nil || e.state == stOffered {
		return false
	}
	c := e.lease()
	return string(c.MAC) == string(l.MAC) && c.State == l.State && c.Expiry.Equal(l.Expiry)
}
func (t *refTable) reconfigure(subnets []Subnet, res []Reservation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	type poolKey struct {
		prefix netip.Prefix
		r      Range
	}
	cursors := map[poolKey]uint32{}
	for _, p := range t.pools {
		cursors[poolKey{t.subnets[p.subnet].Prefix.Masked(), p.r}] = p.cursor
	}
	t.subnets, t.pools = subnets, nil
	for i, sn := range subnets {
		for _, r := range sn.Pools {
			t.pools = append(t.pools, pool{r: r, subnet: i, cursor: cursors[poolKey{sn.Prefix.Masked(), r}]})
		}
	}
	t.resIP = make(map[netip.Addr]string, len(res))
	t.resMAC = make(map[string]Reservation, len(res))
	for _, r := range res {
		t.resIP[r.IP] = string(r.MAC)
		t.resMAC[string(r.MAC)] = r
	}
	for a, e := range t.byIP {
		e.subnet = t.subnetOf(a)
	}
}
func (t *refTable) countsBySubnet(now time.Time) []SubnetStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SubnetStats, len(t.subnets))
	for i, sn := range t.subnets {
		out[i].Prefix = sn.Prefix.Masked()
	}
	for _, p := range t.pools {
		out[p.subnet].PoolSize += p.r.Size()
		out[p.subnet].PoolFree += p.r.Size()
	}
	for a, e := range t.byIP {
		if e.subnet < 0 || !now.Before(e.expiry) {
			continue
		}
		if e.state == stBound {
			out[e.subnet].ActiveLeases++
		}
		if t.inPool(a, e.subnet) {
			out[e.subnet].PoolFree--
		}
	}
	for a := range t.resIP {
		if e := t.byIP[a]; e == nil || !now.Before(e.expiry) {
			if sub := t.subnetOf(a); sub >= 0 && t.inPool(a, sub) {
				out[sub].PoolFree--
			}
		}
	}
	return out
}
func (t *refTable) records() []netip.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]netip.Addr, 0, len(t.byIP))
	for a, e := range t.byIP {
		if e.state != stOffered {
			out = append(out, a)
		}
	}
	return out
}
