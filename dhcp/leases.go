package dhcp

import (
	"cmp"
	"errors"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// errPoolFull: no free address in the client's subnet.
var errPoolFull = errors.New("no free address in the pool")

type entryState uint8

const (
	stOffered entryState = iota + 1
	stBound
	stDeclined
)

// macKey is a hardware address as a comparable value with no pointers, so
// that the index keyed by it is not scanned by the GC. chaddr holds at most
// 16 bytes; a longer address (only a store's record can hold one) is
// interned: n is longMAC and b holds the address's number in
// table.longNames.
type macKey struct {
	b [16]byte
	n uint8 // length; 0 for no address
}

// longMAC is macKey.n for an interned address.
const longMAC = 0xff

// Entry flags: which parts of an entry are in table.extra.
const (
	fInfo   uint8 = 1 << iota // client-id or host name
	fAddr                     // an address that is not IPv4
	fExpiry                   // an expiry beyond int64 Unix nanoseconds
)

// entry is the in-memory record of one address. Offers live only here;
// bound and declined records are mirrored in the Store. An entry holds no
// pointers, so the slabs of a million of them cost the GC nothing to mark;
// the parts that need pointers are in table.extra. A client-id and host
// name short enough are kept in the entry itself: OS clients send a host
// name, and a million of them in table.extra would be a million strings
// to mark again.
type entry struct {
	exp    int64  // expiry in Unix nanoseconds; MinInt64 or MaxInt64 (fExpiry): the expiry is in table.extra
	ip     uint32 // the IPv4 address; with fAddr the address is in table.extra
	subnet int32
	mac    macKey // zero for a declined address
	state  entryState
	flags  uint8
	// info holds the client-id, then the host name, when both fit.
	info  [infoLen]byte
	cidN  uint8 // the client-id's length in info + 1; 0: none there
	hostN uint8 // the host name's length in info
}

// infoLen is how many bytes of client-id and host name an entry holds
// itself: a MAC-based client-id and a host name of up to 36 bytes, and
// the entry is 80 bytes.
const infoLen = 43

// entryExtra is what an entry holds that needs pointers: a client-id or
// host name (firmware rarely sends either), an address that is not IPv4,
// or an expiry outside int64 Unix nanoseconds (years 1678 to 2262).
type entryExtra struct {
	clientID []byte
	hostname string
	addr     netip.Addr
	expiry   time.Time
}

// instant is a time as expiries are compared with it: its Unix nanoseconds
// (saturated as unixNanos does) and the time itself for when those tie.
type instant struct {
	n int64
	t time.Time
}

// instantOf returns x as an instant.
func instantOf(x time.Time) instant {
	n, _ := unixNanos(x)
	return instant{n, x}
}

// unixNanos returns x in Unix nanoseconds, or false and MinInt64 or
// MaxInt64 when x is outside their range. In-range times never map to
// those two values, so they mark an expiry kept as a time.Time.
func unixNanos(x time.Time) (int64, bool) {
	const lim = math.MaxInt64 / 1_000_000_000
	s := x.Unix()
	switch {
	case s <= -lim:
		return math.MinInt64, false
	case s >= lim:
		return math.MaxInt64, false
	}
	return s*1_000_000_000 + int64(x.Nanosecond()), true
}

// farExpiry reports whether n marks an expiry kept in table.extra.
func farExpiry(n int64) bool { return n == math.MinInt64 || n == math.MaxInt64 }

type pool struct {
	r      Range
	subnet int
	cursor uint32
}

// slabShift sets the entries in one slab: 1<<slabShift.
const (
	slabShift = 10
	slabLen   = 1 << slabShift
)

// table is the allocator: who has which address. Clients are keyed by MAC,
// not client-id, on purpose: in a PXE chain the firmware, iPXE and the
// installed OS use the same NIC but different client-ids (or none), and an
// operator expects that machine to keep one address through the chain.
//
// Entries live in slabs and are named by index; the indexes map keys to
// indices. Neither slabs nor indexes hold pointers, so a million leases do
// not lengthen every GC cycle. An entry is in byIP (or byIPx) only under
// its own address and in byMAC only under its own MAC; once in neither it
// is freed for reuse.
type table struct {
	mu sync.Mutex
	// slabs hold the entries: index i is slabs[i>>slabShift][i&(slabLen-1)].
	// Index 0 is never handed out, so a missing map key reads as none.
	slabs [][]entry
	next  uint32                // the next index never handed out
	freed []uint32              // indices of forgotten entries, reused first
	byIP  map[uint32]uint32     // IPv4 address → entry
	byIPx map[netip.Addr]uint32 // any other address → entry; pools and reservations are IPv4, so normally nil
	byMAC map[macKey]uint32
	// extra holds the parts of entries with flags set.
	extra map[uint32]entryExtra
	// longMACs numbers the hardware addresses longer than 16 bytes the
	// table has held (longNames lists them by number). They come only from
	// store records, chaddr holding at most 16 bytes, and are kept for the
	// table's life.
	longMACs  map[string]uint32
	longNames []string
	resIP     map[netip.Addr]string  // reserved address → MAC
	resMAC    map[string]Reservation // MAC → reservation
	pools     []pool
	subnets   []Subnet
	// share, when set, is Sharing.Share: where in each pool this server
	// looks for a free address first.
	share func() (i, n int)
}

func newTable(subnets []Subnet, res []Reservation) *table {
	t := &table{
		next:    1,
		byIP:    map[uint32]uint32{},
		byMAC:   map[macKey]uint32{},
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

// at returns entry i. The pointer stays valid while i is linked: slabs
// never move.
func (t *table) at(i uint32) *entry { return &t.slabs[i>>slabShift][i&(slabLen-1)] }

// newEntry returns the index of a zero entry.
func (t *table) newEntry() uint32 {
	if n := len(t.freed); n > 0 {
		i := t.freed[n-1]
		t.freed = t.freed[:n-1]
		return i
	}
	i := t.next
	if int(i>>slabShift) == len(t.slabs) {
		t.slabs = append(t.slabs, make([]entry, slabLen))
	}
	t.next++
	return i
}

// forget frees entry i for reuse once no index refers to it.
func (t *table) forget(i uint32) {
	if i == 0 {
		return
	}
	e := t.at(i)
	if e.state == 0 || t.holdsIP(i) || t.byMAC[e.mac] == i {
		return
	}
	if e.flags != 0 {
		delete(t.extra, i)
	}
	*e = entry{}
	t.freed = append(t.freed, i)
}

// extraOf returns entry i's extra part, with the client-id and host name
// wherever they are kept.
func (t *table) extraOf(i uint32) entryExtra {
	e := t.at(i)
	var x entryExtra
	if e.flags != 0 {
		x = t.extra[i]
	}
	c := 0
	if e.cidN > 0 {
		c = int(e.cidN) - 1
		x.clientID = append([]byte{}, e.info[:c]...)
	}
	if e.hostN > 0 {
		x.hostname = string(e.info[c : c+int(e.hostN)])
	}
	return x
}

// setExtra makes x entry i's extra part, or drops it when i needs none.
func (t *table) setExtra(i uint32, x entryExtra) {
	e := t.at(i)
	e.cidN, e.hostN = 0, 0
	if len(x.clientID)+len(x.hostname) <= infoLen {
		n := copy(e.info[:], x.clientID)
		copy(e.info[n:], x.hostname)
		if x.clientID != nil {
			e.cidN = uint8(len(x.clientID)) + 1
		}
		e.hostN = uint8(len(x.hostname))
		x.clientID, x.hostname = nil, ""
	}
	var f uint8
	if x.clientID != nil || x.hostname != "" {
		f |= fInfo
	}
	if x.addr.IsValid() {
		f |= fAddr
	}
	if farExpiry(e.exp) {
		f |= fExpiry
	} else {
		x.expiry = time.Time{}
	}
	e.flags = f
	if f == 0 {
		delete(t.extra, i)
		return
	}
	if t.extra == nil {
		t.extra = map[uint32]entryExtra{}
	}
	t.extra[i] = x
}

// setAddr gives a new entry i its address.
func (t *table) setAddr(i uint32, a netip.Addr) {
	if a.Is4() {
		t.at(i).ip = ip4u(a)
		return
	}
	x := t.extraOf(i)
	x.addr = a
	t.setExtra(i, x)
}

// addrOf returns entry i's address.
func (t *table) addrOf(i uint32) netip.Addr {
	e := t.at(i)
	if e.flags&fAddr != 0 {
		return t.extra[i].addr
	}
	return u2ip4(e.ip)
}

// setExpiry sets entry i's expiry.
func (t *table) setExpiry(i uint32, x time.Time) {
	e := t.at(i)
	n, ok := unixNanos(x)
	if ok && e.flags&fExpiry == 0 {
		e.exp = n
		return
	}
	ex := t.extraOf(i)
	e.exp, ex.expiry = n, x
	t.setExtra(i, ex)
}

// expiryOf returns entry i's expiry.
func (t *table) expiryOf(i uint32) time.Time {
	e := t.at(i)
	if e.flags&fExpiry != 0 {
		return t.extra[i].expiry
	}
	return time.Unix(0, e.exp)
}

// cmpExpiry compares x with entry i's expiry, as x.Compare would.
func (t *table) cmpExpiry(x instant, i uint32) int {
	n := t.at(i).exp
	if x.n != n || !farExpiry(n) {
		return cmp.Compare(x.n, n)
	}
	return x.t.Compare(t.extra[i].expiry)
}

// live reports whether entry i has not expired at now.
func (t *table) live(i uint32, now instant) bool { return t.cmpExpiry(now, i) < 0 }

// lookIP returns the entry at a, or 0.
func (t *table) lookIP(a netip.Addr) uint32 {
	if a.Is4() {
		return t.byIP[ip4u(a)]
	}
	return t.byIPx[a]
}

// holdsIP reports whether the address index refers to entry i.
func (t *table) holdsIP(i uint32) bool {
	e := t.at(i)
	if e.flags&fAddr != 0 {
		return t.byIPx[t.extra[i].addr] == i
	}
	return t.byIP[e.ip] == i
}

// linkIP files entry i under a, forgetting the entry it displaces.
func (t *table) linkIP(a netip.Addr, i uint32) {
	var old uint32
	if a.Is4() {
		k := ip4u(a)
		old = t.byIP[k]
		t.byIP[k] = i
	} else {
		if t.byIPx == nil {
			t.byIPx = map[netip.Addr]uint32{}
		}
		old = t.byIPx[a]
		t.byIPx[a] = i
	}
	if old != i {
		t.forget(old)
	}
}

// unlinkIP removes a from the address index, forgetting its entry if the
// MAC index does not refer to it.
func (t *table) unlinkIP(a netip.Addr) {
	var old uint32
	if a.Is4() {
		k := ip4u(a)
		old = t.byIP[k]
		delete(t.byIP, k)
	} else {
		old = t.byIPx[a]
		delete(t.byIPx, a)
	}
	t.forget(old)
}

// linkMAC files entry i under k, forgetting the entry it displaces.
func (t *table) linkMAC(k macKey, i uint32) {
	old := t.byMAC[k]
	t.byMAC[k] = i
	if old != i {
		t.forget(old)
	}
}

// unlinkMAC removes k from the MAC index, forgetting its entry if the
// address index does not refer to it.
func (t *table) unlinkMAC(k macKey) {
	old := t.byMAC[k]
	delete(t.byMAC, k)
	t.forget(old)
}

// each calls yield with every entry in the address index.
func (t *table) each(yield func(netip.Addr, uint32) bool) {
	for a, i := range t.byIP {
		if !yield(u2ip4(a), i) {
			return
		}
	}
	for a, i := range t.byIPx {
		if !yield(a, i) {
			return
		}
	}
}

// macKeyOf returns mac's key, and false for an address longer than 16
// bytes that the table has never held (no entry can have it).
func (t *table) macKeyOf(mac []byte) (macKey, bool) {
	var k macKey
	if len(mac) <= len(k.b) {
		k.n = uint8(len(mac))
		copy(k.b[:], mac)
		return k, true
	}
	id, ok := t.longMACs[string(mac)]
	k.n = longMAC
	k.b[0], k.b[1], k.b[2], k.b[3] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
	return k, ok
}

// internMAC returns mac's key, numbering an address longer than 16 bytes
// first if the table has not held it before.
func (t *table) internMAC(mac []byte) macKey {
	k, ok := t.macKeyOf(mac)
	if ok {
		return k
	}
	if t.longMACs == nil {
		t.longMACs = map[string]uint32{}
	}
	id := uint32(len(t.longNames))
	t.longNames = append(t.longNames, string(mac))
	t.longMACs[string(mac)] = id
	k, _ = t.macKeyOf(mac)
	return k
}

// macOf returns the hardware address k stands for (nil for none).
func (t *table) macOf(k macKey) net.HardwareAddr {
	switch k.n {
	case 0:
		return nil
	case longMAC:
		id := uint32(k.b[0]) | uint32(k.b[1])<<8 | uint32(k.b[2])<<16 | uint32(k.b[3])<<24
		return net.HardwareAddr(t.longNames[id])
	}
	return append(net.HardwareAddr(nil), k.b[:k.n]...)
}

// lease returns entry i as a Lease.
func (t *table) lease(i uint32) Lease {
	e := t.at(i)
	l := Lease{IP: t.addrOf(i), MAC: t.macOf(e.mac), Expiry: t.expiryOf(i), State: Bound}
	if e.flags&fInfo != 0 || e.cidN > 0 || e.hostN > 0 {
		x := t.extraOf(i)
		l.ClientID, l.Hostname = x.clientID, x.hostname
	}
	if e.state == stDeclined {
		l.State = Declined
	}
	return l
}

// load installs records from the store. Records for the same MAC keep the
// newest; a record for an address reserved to another MAC is dropped (the
// reservation wins, and the next ACK overwrites it).
func (t *table) load(ls []Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reserve(len(ls))
	for _, l := range ls {
		t.add(l)
	}
}

// eachStore is a Store that hands its records over one at a time
// (BoltStore), so that a large file loads with no list of every record in
// between.
type eachStore interface {
	loadEach(size func(n int), each func(Lease)) error
}

// loadStore loads st's records as load does and returns how many it read
// and the store's error: a fault of the whole file, or records skipped.
func (t *table) loadStore(st Store) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if es, ok := st.(eachStore); ok {
		n := 0
		err := es.loadEach(t.reserve, func(l Lease) { n++; t.add(l) })
		return n, err
	}
	ls, err := st.Load()
	t.reserve(len(ls))
	for _, l := range ls {
		t.add(l)
	}
	return len(ls), err
}

// reserve sizes an empty table for n records, so that the maps do not
// grow (and rehash) record by record.
func (t *table) reserve(n int) {
	if n <= 0 {
		return
	}
	if len(t.byIP) == 0 {
		t.byIP = make(map[uint32]uint32, n)
	}
	if len(t.byMAC) == 0 {
		t.byMAC = make(map[macKey]uint32, n)
	}
	if need := (int(t.next)+n)>>slabShift + 1; need > len(t.slabs) {
		t.slabs = slices.Grow(t.slabs, need-len(t.slabs))
	}
}

// add installs one loaded record (t.mu held).
func (t *table) add(l Lease) {
	sub := t.subnetOf(l.IP)
	if sub < 0 {
		return
	}
	if m, ok := t.resIP[l.IP]; ok && m != string(l.MAC) {
		return
	}
	i := t.newEntry()
	e := t.at(i)
	*e = entry{subnet: int32(sub), state: stBound}
	t.setAddr(i, l.IP)
	t.setExpiry(i, l.Expiry)
	if l.ClientID != nil || l.Hostname != "" {
		x := t.extraOf(i)
		x.clientID, x.hostname = l.ClientID, l.Hostname
		t.setExtra(i, x)
	}
	if l.State == Declined {
		e.state = stDeclined
	} else {
		e.mac = t.internMAC(l.MAC)
	}
	t.linkIP(l.IP, i)
	if e.mac.n != 0 {
		if old := t.byMAC[e.mac]; old == 0 || t.cmpExpiry(instantOf(l.Expiry), old) > 0 {
			t.linkMAC(e.mac, i)
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

// free reports whether a may be given to mac (whose key is k) now.
func (t *table) free(a netip.Addr, mac string, k macKey, now instant) bool {
	if m, ok := t.resIP[a]; ok && m != mac {
		return false
	}
	i := t.lookIP(a)
	if i == 0 {
		return true
	}
	e := t.at(i)
	return e.mac == k && e.state != stDeclined || !t.live(i, now)
}

// claim makes a belong to the MAC whose key is k as state until expiry,
// unlinking whatever held it before, and returns its entry.
func (t *table) claim(a netip.Addr, k macKey, subnet int, st entryState, expiry time.Time) uint32 {
	i := t.lookIP(a)
	if i != 0 {
		if old := t.at(i).mac; old != k && old.n != 0 && t.byMAC[old] == i {
			t.unlinkMAC(old)
		}
	}
	if i == 0 || t.at(i).mac != k {
		i = t.newEntry()
		*t.at(i) = entry{mac: k, subnet: int32(subnet), state: st}
		t.setAddr(i, a)
		t.linkIP(a, i)
	}
	e := t.at(i)
	e.state, e.subnet = st, int32(subnet)
	t.setExpiry(i, expiry)
	t.linkMAC(k, i)
	return i
}

// offer picks an address for mac in subnet and holds it until now+hold.
func (t *table) offer(mac string, subnet int, requested netip.Addr, now time.Time, hold time.Duration) (netip.Addr, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hold1 := now.Add(hold)
	k := t.internMAC([]byte(mac))
	nowi := instantOf(now)
	if r, ok := t.resMAC[mac]; ok && t.subnetOf(r.IP) == subnet {
		if i := t.lookIP(r.IP); i != 0 {
			if e := t.at(i); e.mac == k && e.state == stBound && t.live(i, nowi) {
				return r.IP, nil
			}
		}
		t.claim(r.IP, k, subnet, stOffered, hold1)
		return r.IP, nil
	}
	if i := t.byMAC[k]; i != 0 {
		if e := t.at(i); int(e.subnet) == subnet && e.state != stDeclined && t.holdsIP(i) {
			if !(e.state == stBound && t.live(i, nowi)) {
				e.state = stOffered
				t.setExpiry(i, hold1)
			}
			return t.addrOf(i), nil
		}
	}
	if requested.Is4() && t.inPool(requested, subnet) && t.free(requested, mac, k, nowi) {
		t.claim(requested, k, subnet, stOffered, hold1)
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
		for j := uint32(0); j < size; j++ {
			off := (start + p.cursor + j) % size
			a := u2ip4(base + off)
			if t.free(a, mac, k, nowi) {
				p.cursor = (off + size - start + 1) % size
				t.claim(a, k, subnet, stOffered, hold1)
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
func (t *table) ack(mac string, a netip.Addr, subnet int, lt time.Duration, clientID []byte, hostname string, now time.Time, allowNew bool) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.resIP[a]; ok && m != mac {
		return Lease{}, false
	}
	if r, ok := t.resMAC[mac]; ok && t.subnetOf(r.IP) == subnet && r.IP != a {
		return Lease{}, false // send the machine to its reserved address
	}
	k := t.internMAC([]byte(mac))
	i := t.lookIP(a)
	ours := i != 0 && t.at(i).mac == k && t.at(i).state != stDeclined
	if !ours {
		_, reserved := t.resIP[a]
		if !allowNew || !t.free(a, mac, k, instantOf(now)) || !(reserved || t.inPool(a, subnet)) {
			return Lease{}, false
		}
	}
	i = t.claim(a, k, subnet, stBound, now.Add(lt))
	x := t.extraOf(i)
	if len(clientID) > 0 {
		x.clientID = append([]byte(nil), clientID...)
	}
	if hostname != "" {
		x.hostname = hostname
	}
	if r, ok := t.resMAC[mac]; ok && r.IP == a && r.Hostname != "" {
		x.hostname = r.Hostname
	}
	if x.clientID != nil || x.hostname != "" {
		t.setExtra(i, x)
	}
	return t.lease(i), true
}

// release ends mac's lease on a now; the record stays as a hint.
func (t *table) release(mac string, a netip.Addr, now time.Time) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, known := t.macKeyOf([]byte(mac))
	i := t.lookIP(a)
	if i == 0 || !known {
		return Lease{}, false
	}
	if e := t.at(i); e.mac != k || e.state != stBound || !t.live(i, instantOf(now)) {
		return Lease{}, false
	}
	t.setExpiry(i, now)
	return t.lease(i), true
}

// decline quarantines a, which mac reports in use by someone else.
func (t *table) decline(mac string, a netip.Addr, now time.Time, hold time.Duration) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, known := t.macKeyOf([]byte(mac))
	i := t.lookIP(a)
	if i == 0 || !known {
		return Lease{}, false
	}
	e := t.at(i)
	if e.mac != k || e.state == stDeclined {
		return Lease{}, false
	}
	if t.byMAC[k] == i {
		t.unlinkMAC(k) // e stays: the address index refers to it
	}
	e.mac = macKey{}
	x := t.extraOf(i)
	x.clientID, x.hostname = nil, ""
	t.setExtra(i, x)
	e.state = stDeclined
	t.setExpiry(i, now.Add(hold))
	return t.lease(i), true
}

// dropOffer forgets an unanswered offer to mac (it chose another server).
func (t *table) dropOffer(mac string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, known := t.macKeyOf([]byte(mac))
	if !known {
		return
	}
	i := t.byMAC[k]
	if i == 0 || t.at(i).state != stOffered {
		return
	}
	a, filed := t.addrOf(i), t.holdsIP(i)
	t.unlinkMAC(k)
	if filed {
		t.unlinkIP(a)
	}
}

// current returns what mac holds or was offered, if anything.
func (t *table) current(mac string) (netip.Addr, entryState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, known := t.macKeyOf([]byte(mac))
	i := t.byMAC[k]
	if !known || i == 0 {
		return netip.Addr{}, 0, false
	}
	return t.addrOf(i), t.at(i).state, true
}

func (t *table) byIPLease(a netip.Addr, now time.Time) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.lookIP(a)
	if i == 0 || t.at(i).state != stBound || !t.live(i, instantOf(now)) {
		return Lease{}, false
	}
	return t.lease(i), true
}

func (t *table) byMACLease(mac string, now time.Time) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, known := t.macKeyOf([]byte(mac))
	i := t.byMAC[k]
	if !known || i == 0 || t.at(i).state != stBound || !t.live(i, instantOf(now)) {
		return Lease{}, false
	}
	return t.lease(i), true
}

func (t *table) all() []Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Lease, 0, len(t.byIP)+len(t.byIPx))
	for _, i := range t.each {
		if t.at(i).state != stOffered {
			out = append(out, t.lease(i))
		}
	}
	return out
}

// counts returns active bound leases, free pool addresses and pool size.
func (t *table) counts(now time.Time) (active, free, size int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pools {
		size += p.r.Size()
	}
	nowi := instantOf(now)
	used := 0
	for a, i := range t.each {
		live := t.live(i, nowi)
		if live && t.at(i).state == stBound {
			active++
		}
		if live && t.inPool(a, int(t.at(i).subnet)) {
			used++
		}
	}
	for a := range t.resIP {
		if i := t.lookIP(a); (i == 0 || !t.live(i, nowi)) && t.subnetOf(a) >= 0 && t.inPool(a, t.subnetOf(a)) {
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
func (t *table) persisted(a netip.Addr) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.lookIP(a)
	if i == 0 || t.at(i).state == stOffered {
		return Lease{}, false
	}
	return t.lease(i), true
}

// remote installs a record another server wrote (Change from a
// SharedStore's watch). The address's holder here, if another MAC, loses
// it (an offer of it is void); the MAC's index points at its newest
// record, as load does.
func (t *table) remote(c Change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := c.Lease
	if !l.IP.IsValid() {
		return
	}
	declined := l.State == Declined
	old := t.lookIP(l.IP)
	if old != 0 {
		om := t.at(old).mac
		if t.byMAC[om] == old {
			k, known := t.macKeyOf(l.MAC)
			if c.Deleted || !known || om != k || declined {
				t.unlinkMAC(om) // old stays: the address index refers to it
			}
		}
	}
	if c.Deleted {
		t.unlinkIP(l.IP)
		return
	}
	sub := t.subnetOf(l.IP)
	if sub < 0 {
		t.unlinkIP(l.IP)
		return
	}
	var k macKey
	if !declined {
		k = t.internMAC(l.MAC)
	}
	i := old
	if i == 0 || declined || t.at(i).mac != k {
		i = t.newEntry()
		*t.at(i) = entry{subnet: int32(sub), state: stBound}
		t.setAddr(i, l.IP)
		t.linkIP(l.IP, i)
	}
	e := t.at(i)
	e.mac, e.state = k, stBound
	t.setExpiry(i, l.Expiry)
	x := t.extraOf(i)
	x.clientID, x.hostname = l.ClientID, l.Hostname
	t.setExtra(i, x)
	if declined {
		e.state = stDeclined
		return
	}
	if e.mac.n == 0 {
		return
	}
	if cur := t.byMAC[k]; cur == 0 || cur == i || t.cmpExpiry(instantOf(l.Expiry), cur) >= 0 || t.at(cur).state == stOffered {
		if cur != 0 && cur != i && t.at(cur).state == stOffered && t.holdsIP(cur) {
			// Another server bound this client: our offer to it is moot.
			t.unlinkIP(t.addrOf(cur))
		}
		t.linkMAC(k, i)
	}
}

// still reports whether l is what memory holds for its address now, so a
// write decided earlier is not committed over a later decision (this
// server's or another's) for that address.
func (t *table) still(l Lease) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.lookIP(l.IP)
	if i == 0 || t.at(i).state == stOffered {
		return false
	}
	c := t.lease(i)
	return string(c.MAC) == string(l.MAC) && c.State == l.State && c.Expiry.Equal(l.Expiry)
}
