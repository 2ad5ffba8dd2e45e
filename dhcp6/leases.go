package dhcp6

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pxekit/pxekit/dhcp"
)

// errPoolFull: no free address in the client's subnet.
var errPoolFull = errors.New("no free address in the pool")

type entryState uint8

const (
	stOffered entryState = iota + 1
	stBound
	stDeclined
)

// holder names a client in the table. A binding is keyed by the client's
// MAC when it is known, else by its DUID: in a PXE chain the firmware's
// DHCPv6 client (DUID-LLT), its second DHCPv6 client, iPXE (DUID-UUID) and
// the installed OS each have a DUID of their own, and the machine is
// expected to keep one address through the chain, as the DHCPv4 server
// keys by MAC for the same reason. One address per client: an IA_NA
// beyond the first gets NoAddrsAvail.
type holder struct {
	key  string // "m" + MAC bytes, or "d" + DUID bytes
	mac  string // raw MAC bytes, "" when unknown
	duid string // raw DUID bytes
}

func holderOf(c Client) holder {
	h := holder{mac: string(c.MAC), duid: string(c.DUID)}
	if h.mac != "" {
		h.key = "m" + h.mac
	} else {
		h.key = "d" + h.duid
	}
	return h
}

// holderOfLease is the holder a stored record names.
func holderOfLease(l dhcp.Lease) holder {
	return holderOf(Client{Client: dhcp.Client{MAC: l.MAC}, DUID: l.ClientID})
}

// entry is the in-memory record of one address. Offers live only here;
// bound and declined records are mirrored in the Store.
type entry struct {
	ip       netip.Addr
	who      holder // zero for a declined address
	hostname string
	expiry   time.Time
	state    entryState
	subnet   int
	// boundBy is the DUID and IAID (iaKey) of the client that last bound
	// the address. The machine's other clients share the binding (keyed
	// by MAC), but only this one's RELEASE ends it: OVMF's IPv6 stack
	// releases its own binding after its PXE client took the same address
	// and before the boot file is fetched.
	boundBy string
}

// iaKey names one client's IA_NA: its DUID and IAID.
func iaKey(duid string, iaid [4]byte) string { return duid + "/" + string(iaid[:]) }

func (e *entry) lease() dhcp.Lease {
	l := dhcp.Lease{IP: e.ip, Hostname: e.hostname, Expiry: e.expiry, State: dhcp.Bound}
	if e.who.mac != "" {
		l.MAC = net.HardwareAddr(e.who.mac)
	}
	if e.who.duid != "" {
		l.ClientID = []byte(e.who.duid)
	}
	if e.state == stDeclined {
		l.State = dhcp.Declined
	}
	return l
}

type pool struct {
	r      Range
	subnet int
	cursor uint64
}

// table is the allocator: who holds which address.
type table struct {
	mu      sync.Mutex
	byIP    map[netip.Addr]*entry
	byKey   map[string]*entry
	resIP   map[netip.Addr]Reservation
	resDUID map[string]Reservation
	resMAC  map[string]Reservation
	pools   []pool
	subnets []Subnet
}

func newTable(subnets []Subnet, res []Reservation) *table {
	t := &table{byIP: map[netip.Addr]*entry{}, byKey: map[string]*entry{}}
	t.setConfig(subnets, res, nil)
	return t
}

// setConfig installs subnets and reservations; a pool in cursors keeps its
// place, so addresses keep being handed out in turn across a reload.
func (t *table) setConfig(subnets []Subnet, res []Reservation, cursors map[poolKey]uint64) {
	t.subnets, t.pools = subnets, nil
	for i, sn := range subnets {
		for _, r := range sn.Pools {
			t.pools = append(t.pools, pool{r: r, subnet: i, cursor: cursors[poolKey{sn.Prefix.Masked(), r}]})
		}
	}
	t.resIP = make(map[netip.Addr]Reservation, len(res))
	t.resDUID = map[string]Reservation{}
	t.resMAC = map[string]Reservation{}
	for _, r := range res {
		t.resIP[r.IP] = r
		if len(r.DUID) > 0 {
			t.resDUID[string(r.DUID)] = r
		}
		if len(r.MAC) > 0 {
			t.resMAC[string(r.MAC)] = r
		}
	}
}

type poolKey struct {
	prefix netip.Prefix
	r      Range
}

// reconfigure installs new subnets and reservations, keeping every
// record, each re-filed under the subnet that now contains its address
// (-1 when none does: it is neither offered again nor counted, and the
// store keeps it until it expires).
func (t *table) reconfigure(subnets []Subnet, res []Reservation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cursors := map[poolKey]uint64{}
	for _, p := range t.pools {
		cursors[poolKey{t.subnets[p.subnet].Prefix.Masked(), p.r}] = p.cursor
	}
	t.setConfig(subnets, res, cursors)
	for a, e := range t.byIP {
		e.subnet = t.subnetOf(a)
	}
}

// load installs records from the store: IPv6 ones inside a subnet (the
// DHCPv4 server's records in a shared store are passed over). Records of
// one holder keep the newest; a record for an address reserved to another
// client is dropped (the reservation wins).
func (t *table) load(ls []dhcp.Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range ls {
		t.put(l)
	}
}

// put installs one stored record, under t.mu; see load.
func (t *table) put(l dhcp.Lease) {
	if !l.IP.Is6() || l.IP.Is4In6() {
		return
	}
	sub := t.subnetOf(l.IP)
	if sub < 0 {
		return
	}
	who := holderOfLease(l)
	if l.State != dhcp.Declined && !t.mayHold(l.IP, who) {
		return
	}
	e := &entry{ip: l.IP, who: who, hostname: l.Hostname, expiry: l.Expiry, state: stBound, subnet: sub}
	if l.State == dhcp.Declined {
		e.state, e.who = stDeclined, holder{}
	}
	t.byIP[l.IP] = e
	if e.who.key != "" {
		if old := t.byKey[e.who.key]; old == nil || old.state == stOffered || old.expiry.Before(e.expiry) {
			t.byKey[e.who.key] = e
		}
	}
}

func (t *table) subnetOf(a netip.Addr) int {
	for i, s := range t.subnets {
		if s.Prefix.Masked().Contains(a) {
			return i
		}
	}
	return -1
}

func (t *table) inPool(a netip.Addr, subnet int) bool {
	for _, p := range t.pools {
		if p.subnet == subnet && p.r.Contains(a) {
			return true
		}
	}
	return false
}

// reservation is who's reservation, if it has one.
func (t *table) reservation(who holder) (Reservation, bool) {
	if r, ok := t.resDUID[who.duid]; ok && who.duid != "" {
		return r, true
	}
	if r, ok := t.resMAC[who.mac]; ok && who.mac != "" {
		return r, true
	}
	return Reservation{}, false
}

// mayHold reports whether a is reserved to nobody or to who.
func (t *table) mayHold(a netip.Addr, who holder) bool {
	r, ok := t.resIP[a]
	if !ok {
		return true
	}
	return len(r.DUID) > 0 && string(r.DUID) == who.duid || len(r.MAC) > 0 && string(r.MAC) == who.mac
}

// free reports whether a may be given to who now.
func (t *table) free(a netip.Addr, who holder, now time.Time) bool {
	if !t.mayHold(a, who) {
		return false
	}
	e := t.byIP[a]
	return e == nil || e.who.key == who.key && e.state != stDeclined || !now.Before(e.expiry)
}

// claim makes a belong to who as state until expiry, unlinking whatever
// held it before.
func (t *table) claim(a netip.Addr, who holder, subnet int, st entryState, expiry time.Time) *entry {
	if old := t.byIP[a]; old != nil && old.who.key != who.key && old.who.key != "" && t.byKey[old.who.key] == old {
		delete(t.byKey, old.who.key)
	}
	e := t.byIP[a]
	if e == nil || e.who.key != who.key {
		e = &entry{ip: a, subnet: subnet}
		t.byIP[a] = e
	}
	e.who, e.state, e.expiry, e.subnet = who, st, expiry, subnet
	t.byKey[who.key] = e
	return e
}

// offer picks an address for who in subnet and sets it aside until
// now+hold: the reservation, else what who holds or was offered, else the
// address it asked for (hint) if free in a pool, else the next free one.
func (t *table) offer(who holder, subnet int, hint netip.Addr, now time.Time, hold time.Duration) (netip.Addr, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	until := now.Add(hold)
	if r, ok := t.reservation(who); ok && t.subnetOf(r.IP) == subnet {
		if e := t.byIP[r.IP]; e != nil && e.who.key == who.key && e.state == stBound && now.Before(e.expiry) {
			return r.IP, nil
		}
		if t.free(r.IP, who, now) {
			t.claim(r.IP, who, subnet, stOffered, until)
			return r.IP, nil
		}
	}
	if e := t.byKey[who.key]; e != nil && e.subnet == subnet && e.state != stDeclined && t.byIP[e.ip] == e && t.mayHold(e.ip, who) {
		if !(e.state == stBound && now.Before(e.expiry)) {
			e.state, e.expiry = stOffered, until
		}
		return e.ip, nil
	}
	if hint.IsValid() && t.inPool(hint, subnet) && t.free(hint, who, now) {
		t.claim(hint, who, subnet, stOffered, until)
		return hint, nil
	}
	// From its cursor, a pool has a free address within as many steps as
	// it has records, plus one: a /64 pool is never scanned whole.
	bound := uint64(len(t.byIP) + len(t.resIP) + 1)
	for i := range t.pools {
		p := &t.pools[i]
		if p.subnet != subnet {
			continue
		}
		size := p.r.Size()
		for k := uint64(0); k < min(size, bound); k++ {
			off := (p.cursor + k) % size
			a := p.r.at(off)
			if t.free(a, who, now) {
				p.cursor = (off + 1) % size
				t.claim(a, who, subnet, stOffered, until)
				return a, nil
			}
		}
	}
	return netip.Addr{}, errPoolFull
}

// bind gives a to who until now+valid. allowNew lets a client the table
// does not know take a (a renewal or rebinding after the server lost its
// state, or a rapid-commit SOLICIT's fresh pick) when it is free and in a
// pool or reserved to who; otherwise a must be what who holds or was
// offered.
func (t *table) bind(who holder, a netip.Addr, subnet int, valid time.Duration, hostname string, now time.Time, allowNew bool, by string) (dhcp.Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.mayHold(a, who) {
		return dhcp.Lease{}, false
	}
	if r, ok := t.reservation(who); ok && t.subnetOf(r.IP) == subnet && r.IP != a {
		return dhcp.Lease{}, false // the client's address is its reserved one
	}
	e := t.byIP[a]
	ours := e != nil && e.who.key == who.key && e.state != stDeclined
	if !ours {
		_, reserved := t.resIP[a]
		if !allowNew || !t.free(a, who, now) || !(reserved || t.inPool(a, subnet)) {
			return dhcp.Lease{}, false
		}
	}
	e = t.claim(a, who, subnet, stBound, now.Add(valid))
	e.boundBy = by
	if hostname != "" {
		e.hostname = hostname
	}
	if r, ok := t.resIP[a]; ok && r.Hostname != "" {
		e.hostname = r.Hostname
	}
	return e.lease(), true
}

// holds reports whether who holds a bound, unexpired lease on a.
func (t *table) holds(who holder, a netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	return e != nil && e.who.key == who.key && e.state == stBound && now.Before(e.expiry)
}

// release ends who's lease on a now; the record stays as a hint.
func (t *table) release(who holder, a netip.Addr, by string, now time.Time) (dhcp.Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if e == nil || e.who.key != who.key || e.state != stBound || !now.Before(e.expiry) ||
		e.boundBy != "" && by != "" && e.boundBy != by {
		return dhcp.Lease{}, false
	}
	e.expiry = now
	return e.lease(), true
}

// decline quarantines a, which who reports in use by someone else
// (duplicate address detection failed).
func (t *table) decline(who holder, a netip.Addr, now time.Time, hold time.Duration) (dhcp.Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if e == nil || e.who.key != who.key || e.state == stDeclined {
		return dhcp.Lease{}, false
	}
	if t.byKey[who.key] == e {
		delete(t.byKey, who.key)
	}
	e.who, e.hostname = holder{}, ""
	e.state, e.expiry = stDeclined, now.Add(hold)
	return e.lease(), true
}

// lookup is the active lease on a, or of the holder with key.
func (t *table) lookup(a netip.Addr, key string, now time.Time) (dhcp.Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if key != "" {
		e = t.byKey[key]
	}
	if e == nil || e.state != stBound || !now.Before(e.expiry) {
		return dhcp.Lease{}, false
	}
	return e.lease(), true
}

func (t *table) all() []dhcp.Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]dhcp.Lease, 0, len(t.byIP))
	for _, e := range t.byIP {
		if e.state != stOffered {
			out = append(out, e.lease())
		}
	}
	return out
}

// persisted is what the store must hold for a now: the current bound or
// declined record. The committer writes this instead of the snapshot a
// worker took, so two writes for one address that reach the commit queue
// out of order still leave the store agreeing with memory.
func (t *table) persisted(a netip.Addr) (dhcp.Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byIP[a]
	if e == nil || e.state == stOffered {
		return dhcp.Lease{}, false
	}
	return e.lease(), true
}

// SubnetStats are one subnet's address counts. Pools of IPv6 can be a
// whole /64, hence uint64.
type SubnetStats struct {
	Prefix netip.Prefix
	// PoolSize counts the subnet's dynamic pool addresses, PoolFree those
	// free now (reserved, held, offered and quarantined ones are not),
	// ActiveLeases the bound, unexpired leases (reservations included).
	PoolSize, PoolFree uint64
	ActiveLeases       int
}

// countsBySubnet counts addresses per subnet at now.
func (t *table) countsBySubnet(now time.Time) []SubnetStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SubnetStats, len(t.subnets))
	for i, sn := range t.subnets {
		out[i].Prefix = sn.Prefix.Masked()
	}
	for _, p := range t.pools {
		out[p.subnet].PoolSize += p.r.Size()
	}
	used := make([]uint64, len(t.subnets))
	for a, e := range t.byIP {
		if e.subnet < 0 || !now.Before(e.expiry) {
			continue
		}
		if e.state == stBound {
			out[e.subnet].ActiveLeases++
		}
		if t.inPool(a, e.subnet) {
			used[e.subnet]++
		}
	}
	for a := range t.resIP {
		if e := t.byIP[a]; e == nil || !now.Before(e.expiry) {
			if sub := t.subnetOf(a); sub >= 0 && t.inPool(a, sub) {
				used[sub]++
			}
		}
	}
	for i := range out {
		out[i].PoolFree = out[i].PoolSize - min(used[i], out[i].PoolSize)
	}
	return out
}
