package dhcp

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// sharedMem is a SharedStore in memory with etcd's rules: every record has
// the revision that last wrote it, a claim compares on the revision its
// view last saw, and each view learns the others' writes by watch.
type sharedMem struct {
	mu   sync.Mutex
	rev  int64
	recs map[netip.Addr]memRec
	subs []*memView
	down bool
}

type memRec struct {
	l   Lease
	rev int64
}

type memView struct {
	db   *sharedMem
	mu   sync.Mutex
	seen map[netip.Addr]int64
	fn   func(Change)
	// hold, when set, delays the watch: tests open the window in which
	// two servers decide on stale views.
	hold chan struct{}
	// gate, when set, holds every claim until it is closed; entered
	// hears of each claim that waits (setGate).
	gate, entered chan struct{}
}

// setGate makes claims wait for gate, each first sending on entered.
func (v *memView) setGate(gate, entered chan struct{}) {
	v.mu.Lock()
	v.gate, v.entered = gate, entered
	v.mu.Unlock()
}

func newSharedMem() *sharedMem { return &sharedMem{recs: map[netip.Addr]memRec{}} }

func (db *sharedMem) view() *memView {
	v := &memView{db: db, seen: map[netip.Addr]int64{}}
	db.mu.Lock()
	db.subs = append(db.subs, v)
	db.mu.Unlock()
	return v
}

func (v *memView) Load() ([]Lease, error) {
	v.db.mu.Lock()
	defer v.db.mu.Unlock()
	var out []Lease
	for a, r := range v.db.recs {
		v.seen[a] = r.rev
		out = append(out, r.l)
	}
	return out, nil
}

func (v *memView) Apply(ops []Op) error {
	cs, err := v.Claim(ops)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c != nil {
			return ErrClaimConflict
		}
	}
	return nil
}

func (v *memView) Claim(ops []Op) ([]*Lease, error) {
	v.mu.Lock()
	gate, entered := v.gate, v.entered
	v.mu.Unlock()
	if gate != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
	}
	db := v.db
	db.mu.Lock()
	if db.down {
		db.mu.Unlock()
		return nil, context.DeadlineExceeded
	}
	db.rev++
	out := make([]*Lease, len(ops))
	var written []Change
	v.mu.Lock()
	for i, o := range ops {
		cur, ok := db.recs[o.Lease.IP]
		if ok && cur.rev != v.seen[o.Lease.IP] || !ok && v.seen[o.Lease.IP] != 0 {
			l := cur.l
			out[i] = &l
			v.seen[o.Lease.IP] = cur.rev
			continue
		}
		db.recs[o.Lease.IP] = memRec{o.Lease, db.rev}
		v.seen[o.Lease.IP] = db.rev
		written = append(written, Change{Lease: o.Lease})
	}
	v.mu.Unlock()
	subs := append([]*memView(nil), db.subs...)
	rev := db.rev
	db.mu.Unlock()
	for _, o := range subs {
		if o != v {
			o.deliver(written, rev)
		}
	}
	return out, nil
}

func (v *memView) deliver(cs []Change, rev int64) {
	go func() {
		if v.hold != nil {
			<-v.hold
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, c := range cs {
			if v.seen[c.Lease.IP] < rev {
				v.seen[c.Lease.IP] = rev
			}
			if v.fn != nil {
				v.fn(c)
			}
		}
	}()
}

func (v *memView) Watch(_ context.Context, fn func(Change)) error {
	v.mu.Lock()
	v.fn = fn
	v.mu.Unlock()
	return nil
}

func (v *memView) Available() bool {
	v.db.mu.Lock()
	defer v.db.mu.Unlock()
	return !v.db.down
}

// serveShared runs a server on a loopback socket with store st.
func serveShared(t *testing.T, st Store, id string, mutate func(*Config)) (*Server, *relayClient) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, func(c *Config) {
		c.Conn, c.Store, c.ServerID = conn, st, netip.MustParseAddr(id)
		if mutate != nil {
			mutate(c)
		}
	})
	s.now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-s.Ready()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, &relayClient{conn: c, server: conn.LocalAddr()}
}

// Two servers decide on views that have not yet seen each other's
// writes: both offer the same free address to two clients; the second
// ACK's claim fails, that client gets a NAK, and on its next DISCOVER
// another address. No address is acknowledged twice.
func TestSharedStoreSecondClaimIsNAKed(t *testing.T) {
	db := newSharedMem()
	va, vb := db.view(), db.view()
	vb.hold = make(chan struct{}) // B does not hear of A's writes yet
	_, ca := serveShared(t, va, "192.0.2.1", nil)
	_, cb := serveShared(t, vb, "192.0.2.2", nil)

	a, err := ca.dora(mustMAC("52:54:00:00:60:01"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:60:02"))
	o, err := cb.exchange(d, dhcpv4.MessageTypeOffer)
	if err != nil {
		t.Fatal(err)
	}
	if addrOf(o.YourIPAddr) != a {
		t.Fatalf("B offered %s; the test wants B's stale view to offer A's %s", o.YourIPAddr, a)
	}
	req, _ := dhcpv4.NewRequestFromOffer(o)
	if _, err := cb.exchange(req, dhcpv4.MessageTypeNak); err != nil {
		t.Fatalf("REQUEST of an address A committed first: %v", err)
	}
	b, err := cb.dora(mustMAC("52:54:00:00:60:02"))
	if err != nil {
		t.Fatal(err)
	}
	if b == a {
		t.Fatalf("%s acknowledged to two clients", a)
	}
	close(vb.hold)
}

// Active-active: both servers answer the same DISCOVER; the client takes
// one OFFER; the other server, told by the REQUEST's server identifier,
// forgets its offer, and learns the lease by watch, so it answers the
// client's renewal too.
func TestSharedStoreBothAnswerOneDiscover(t *testing.T) {
	db := newSharedMem()
	sa, ca := serveShared(t, db.view(), "192.0.2.1", nil)
	sb, cb := serveShared(t, db.view(), "192.0.2.2", nil)
	mac := mustMAC("52:54:00:00:61:01")
	d, _ := dhcpv4.NewDiscovery(mac)
	oa, err := ca.exchange(d, dhcpv4.MessageTypeOffer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.exchange(d, dhcpv4.MessageTypeOffer); err != nil {
		t.Fatal(err)
	}
	req, _ := dhcpv4.NewRequestFromOffer(oa)
	if _, err := ca.exchange(req, dhcpv4.MessageTypeAck); err != nil {
		t.Fatal(err)
	}
	cb.conn.SetReadDeadline(time.Time{})
	ip := addrOf(oa.YourIPAddr)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l, ok := sb.LeaseByMAC(mac); ok && l.IP == ip {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B never learned A's lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Renewal (ciaddr set, no server id) at B, which did not grant it.
	rn, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(ip.AsSlice()))
	ack, err := cb.exchange(rn, dhcpv4.MessageTypeAck)
	if err != nil {
		t.Fatalf("renewal at the other server: %v", err)
	}
	if addrOf(ack.YourIPAddr) != ip {
		t.Fatalf("renewed %s, want %s", ack.YourIPAddr, ip)
	}
	if l, _ := sa.LeaseByIP(ip); l.MAC.String() != mac.String() {
		t.Fatalf("A's view of %s: %+v", ip, l)
	}
}

// With the store down nothing is handed out or renewed, each refusal is
// counted; when it comes back the server serves again by itself.
func TestSharedStoreUnavailableRefusesThenRecovers(t *testing.T) {
	db := newSharedMem()
	s, c := serveShared(t, db.view(), "192.0.2.1", nil)
	a, err := c.dora(mustMAC("52:54:00:00:62:01"))
	if err != nil {
		t.Fatal(err)
	}
	db.mu.Lock()
	db.down = true
	db.mu.Unlock()
	d, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:62:02"))
	if o, err := c.exchange(d, dhcpv4.MessageTypeOffer); err == nil {
		t.Fatalf("offered %s with the store down", o.YourIPAddr)
	}
	rn, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC("52:54:00:00:62:01")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(a.AsSlice()))
	if _, err := c.exchange(rn, dhcpv4.MessageTypeAck); err == nil {
		t.Fatal("renewed with the store down")
	}
	if n := s.Stats().Dropped[DropStoreUnavailable]; n < 2 {
		t.Fatalf("store-unavailable drops = %d, want each retransmit counted", n)
	}
	db.mu.Lock()
	db.down = false
	db.mu.Unlock()
	if _, err := c.dora(mustMAC("52:54:00:00:62:02")); err != nil {
		t.Fatalf("after the store came back: %v", err)
	}
}

// fixedShare is a Sharing that gives this server the MACs whose last byte
// has the parity it owns.
type fixedShare struct{ i int }

func (f fixedShare) Serves(mac net.HardwareAddr) bool { return int(mac[5]%2) == f.i }
func (f fixedShare) Share() (int, int)                { return f.i, 2 }

// Sharing: each server answers only its clients, and takes addresses from
// its half of the pool.
func TestSharingSplitsClientsAndPool(t *testing.T) {
	db := newSharedMem()
	sa, ca := serveShared(t, db.view(), "192.0.2.1", func(c *Config) { c.Sharing = fixedShare{0} })
	_, cb := serveShared(t, db.view(), "192.0.2.2", func(c *Config) { c.Sharing = fixedShare{1} })
	odd := mustMAC("52:54:00:00:63:01")
	d, _ := dhcpv4.NewDiscovery(odd)
	if _, err := ca.exchange(d, dhcpv4.MessageTypeOffer); err == nil {
		t.Fatal("A answered a client B serves")
	}
	if sa.Stats().Dropped[DropPeerClient] == 0 {
		t.Fatal("peer-client drop not counted")
	}
	b, err := cb.dora(odd)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.dora(mustMAC("52:54:00:00:63:02"))
	if err != nil {
		t.Fatal(err)
	}
	if a != mustAddr("192.0.2.100") || b != mustAddr("192.0.2.150") {
		t.Fatalf("A gave %s (want the first half's first, .100), B %s (want the second half's first, .150)", a, b)
	}
}

// A client that asks twice while the commit before is under way (a
// retransmission, or its next exchange) has both REQUESTs in one batch:
// the later decision, the same client's and lasting longer, is written
// once and covers both, so both are acknowledged and the store holds the
// later one.
func TestSharedStoreRepeatedRequestsBothAcked(t *testing.T) {
	db := newSharedMem()
	v := db.view()
	s, c := serveShared(t, v, "192.0.2.1", nil)
	m, x := mustMAC("52:54:00:00:64:01"), mustMAC("52:54:00:00:64:02")
	am, err := c.dora(m)
	if err != nil {
		t.Fatal(err)
	}
	ax, err := c.dora(x)
	if err != nil {
		t.Fatal(err)
	}
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	v.setGate(gate, entered)
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(gate)
		}
	}
	defer open()

	// x's renewal holds the committer in its claim.
	cx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cx.Close()
	xDone := make(chan error, 1)
	go func() {
		rn, _ := dhcpv4.New(dhcpv4.WithHwAddr(x), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(ax.AsSlice()))
		_, err := (&relayClient{conn: cx, server: c.server}).exchange(rn, dhcpv4.MessageTypeAck)
		xDone <- err
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the renewal of x never reached the store")
	}

	// m renews twice meanwhile: both queue behind the held claim.
	before := s.Stats().Requests["request"]
	var xids []dhcpv4.TransactionID
	for range 2 {
		rn, _ := dhcpv4.New(dhcpv4.WithHwAddr(m), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithClientIP(am.AsSlice()))
		rn.GatewayIPAddr = net.IPv4(127, 0, 0, 1)
		rn.UpdateOption(dhcpv4.OptRelayAgentInfo(
			dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subLinkSelection), []byte{192, 0, 2, 0}),
			dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subRelaySourcePort), nil)))
		xids = append(xids, rn.TransactionID)
		if _, err := c.conn.WriteTo(rn.ToBytes(), c.server); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // a later decision, a later expiry
	}
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Requests["request"] < before+2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server never read m's two REQUESTs")
		}
	}
	time.Sleep(50 * time.Millisecond) // let the workers queue both decisions
	open()
	if err := <-xDone; err != nil {
		t.Fatalf("x's renewal: %v", err)
	}

	acked := map[dhcpv4.TransactionID]bool{}
	buf := make([]byte, 1500)
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(acked) < 2 {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("ACKed %d of m's 2 REQUESTs (dropped: %v)", len(acked), s.Stats().Dropped)
		}
		p, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || (p.TransactionID != xids[0] && p.TransactionID != xids[1]) {
			continue
		}
		if p.MessageType() != dhcpv4.MessageTypeAck || addrOf(p.YourIPAddr) != am {
			t.Fatalf("m's REQUEST answered %s %s, want ACK %s", p.MessageType(), p.YourIPAddr, am)
		}
		acked[p.TransactionID] = true
	}
	mem, ok := s.LeaseByMAC(m)
	if !ok {
		t.Fatal("m has no lease in memory")
	}
	db.mu.Lock()
	rec := db.recs[am]
	db.mu.Unlock()
	if string(rec.l.MAC) != string(m) || !rec.l.Expiry.Equal(mem.Expiry) {
		t.Fatalf("store holds %+v for %s; memory %+v", rec.l, am, mem)
	}
}
