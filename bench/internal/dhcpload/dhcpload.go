// Package dhcpload is the comparison's own relayed DORA client. perfdhcp
// spends 70–90 µs of CPU per exchange here, more than the servers it
// measures, so on two cores it runs out of CPU near 18,000 DORA/s
// whichever server answers. This client does what perfdhcp -R N does with
// a relay address (a random MAC of N per exchange, DISCOVER, REQUEST for
// the offered address, open loop at a fixed rate) from pre-built packets,
// in batches of sendmmsg/recvmmsg, at a few µs per exchange, so the server
// is what runs out first. It parses only what it must: op, xid, yiaddr,
// options 53 and 54.
//
// Like a relay agent with several helper addresses, it forwards every
// request to each of Config.Servers, so it measures a pair of servers as
// the clients of a rack see them: the first OFFER is taken, the REQUEST
// names the server that made it. It can also send rebinding clients
// (Config.RebindRate) and keep what each exchange got from whom and when
// (Config.Record), which is how a failover is timed and its leases
// checked; Config.Verify rebinds a given list of leases, to learn which
// are still renewable.
package dhcpload

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Config is one run of the load client.
type Config struct {
	// Servers are the DHCP servers every request is relayed to, each on
	// port 67.
	Servers []netip.Addr
	Relay   netip.Addr // the relay agent's address (giaddr), where the client listens on port 67
	Rate    int        // DISCOVERs a second
	Secs    int        // seconds of load
	// Clients is how many simulated clients (MACs) the exchanges are
	// spread over, at most 65535.
	Clients int
	// Drop is how long an exchange may take before it counts as lost.
	Drop time.Duration
	// RebindRate is how many rebinding REQUESTs a second (RFC 2131
	// §4.4.5: ciaddr, no server identifier) go out beside the DISCOVERs,
	// each from a client holding an address from an earlier exchange of
	// the run.
	RebindRate int
	// Record keeps every exchange in Report.Exchanges.
	Record bool
	// Verify, when set, is the whole run: one rebinding REQUEST for each
	// lease, at Rate, each sent again every Drop until answered, Tries
	// times in all (default 3). Secs and RebindRate are not used; every
	// exchange is recorded.
	Verify []Lease
	Tries  int
	// Retry, when set, makes every DORA and rebind retransmit as a
	// client's firmware does until answered or Retry after it began:
	// 1 s after the first request, then every 2 s (RFC 2131 §4.1 lets a
	// client wait 4 s, then up to 64 s; PXE ROMs retry sooner). A DORA
	// without its ACK starts again from the DISCOVER, with the same xid,
	// as the server its REQUEST named may be gone. The run then lasts
	// Retry past its last new exchange.
	Retry time.Duration
}

// Lease is an address a simulated client holds.
type Lease struct {
	Client uint16     `json:"client"`
	IP     netip.Addr `json:"ip"`
}

// Validate checks that c can run.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if len(c.Servers) == 0 {
		errs = append(errs, field.Required(field.NewPath("servers"), "at least one DHCP server"))
	}
	for i, s := range c.Servers {
		if !s.Is4() {
			errs = append(errs, field.Invalid(field.NewPath("servers").Index(i), s.String(), "must be an IPv4 address"))
		}
	}
	if !c.Relay.Is4() {
		errs = append(errs, field.Invalid(field.NewPath("relay"), c.Relay.String(), "must be an IPv4 address"))
	}
	if c.Rate <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("rate"), c.Rate, "must be positive"))
	}
	if c.Secs <= 0 && len(c.Verify) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("secs"), c.Secs, "must be positive"))
	}
	if c.Clients <= 0 || c.Clients > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("clients"), c.Clients, "must be 1 to 65535"))
	}
	if c.Drop < 0 {
		errs = append(errs, field.Invalid(field.NewPath("drop"), c.Drop.String(), "must not be negative"))
	}
	if c.RebindRate < 0 {
		errs = append(errs, field.Invalid(field.NewPath("rebindRate"), c.RebindRate, "must not be negative"))
	}
	if c.Retry < 0 {
		errs = append(errs, field.Invalid(field.NewPath("retry"), c.Retry.String(), "must not be negative"))
	}
	if c.Tries < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tries"), c.Tries, "must not be negative"))
	}
	for i, l := range c.Verify {
		if !l.IP.Is4() {
			errs = append(errs, field.Invalid(field.NewPath("verify").Index(i).Child("ip"), l.IP.String(), "must be an IPv4 address"))
		}
	}
	return errs
}

// Report is what one run achieved, in perfdhcp's terms; the dhcpload
// role prints it as JSON.
type Report struct {
	Discovers int     `json:"discovers"`
	Offers    int     `json:"offers"`
	Requests  int     `json:"requests"`
	Acks      int     `json:"acks"`
	Naks      int     `json:"naks"`
	SendSecs  float64 `json:"sendSecs"` // how long sending the DISCOVERs took (the run is client-bound when longer than secs)
	// Rebinds, RebindAcks and RebindNaks count the rebinding REQUESTs
	// and their answers.
	Rebinds    int `json:"rebinds,omitempty"`
	RebindAcks int `json:"rebindAcks,omitempty"`
	RebindNaks int `json:"rebindNaks,omitempty"`
	// Start is when the first request left, in Unix nanoseconds.
	Start int64 `json:"start"`
	// Exchanges, with Config.Record, is every exchange in the order they
	// began; Extra the answers an exchange got after its first one
	// (another server answering the same request).
	Exchanges []Exchange `json:"exchanges,omitempty"`
	Extra     []Exchange `json:"extra,omitempty"`
}

// Kind is what an exchange is.
type Kind string

// The kinds of exchange.
const (
	KindDORA   Kind = "dora"   // DISCOVER, OFFER, REQUEST, ACK
	KindRebind Kind = "rebind" // a rebinding REQUEST, and its ACK
)

// Result is how an exchange ended.
type Result string

// The results of an exchange.
const (
	ResultACK  Result = "ack"
	ResultNAK  Result = "nak"
	ResultNone Result = "none" // no answer within Drop (for a DORA: no OFFER, or no answer to the REQUEST)
)

// Exchange is one exchange as the client saw it.
type Exchange struct {
	Kind   Kind   `json:"kind"`
	Client uint16 `json:"client"`
	// Sent is when its first request left, Done when the ACK or NAK came
	// (0: none), in Unix nanoseconds.
	Sent int64 `json:"sent"`
	Done int64 `json:"done,omitempty"`
	// Server is the server identifier (option 54) of the answer, IP the
	// address it ACKed.
	Server netip.Addr `json:"server,omitzero"`
	IP     netip.Addr `json:"ip,omitzero"`
	Result Result     `json:"result"`
}

// MAC is the hardware address of simulated client c.
func MAC(c uint16) net.HardwareAddr { m := mac(c); return m[:] }

func mac(c uint16) [6]byte { return [6]byte{0x02, 0x4c, 0x44, 0, byte(c >> 8), byte(c)} }

// Exchange states, one atomic per exchange.
const (
	stUnsent = iota
	stDiscover
	stRequest
	stAck
	stNak
)

const (
	batch      = 64
	bootpMin   = 300 // BOOTP's minimum message, as clients pad to
	dhcpMagic  = 0x63825363
	optMsgType = 53
	optServer  = 54
	optReqIP   = 50
	optParams  = 55
	optEnd     = 255
)

// writeRequest writes a relayed DHCP request into b (bootpMin bytes): op 1,
// hops 1, ciaddr, giaddr relay, chaddr mac, the message type, the
// requested address and server identifier when not zero, and a parameter
// request list.
func writeRequest(b []byte, xid uint32, mac [6]byte, relay [4]byte, msgType byte, reqIP, server, ciaddr [4]byte) {
	clear(b)
	b[0], b[1], b[2], b[3] = 1, 1, 6, 1
	binary.BigEndian.PutUint32(b[4:], xid)
	copy(b[12:16], ciaddr[:])
	copy(b[24:28], relay[:])
	copy(b[28:34], mac[:])
	binary.BigEndian.PutUint32(b[236:], dhcpMagic)
	i := 240
	put := func(v ...byte) { i += copy(b[i:], v) }
	put(optMsgType, 1, msgType)
	if reqIP != [4]byte{} {
		put(optReqIP, 4)
		put(reqIP[:]...)
	}
	if server != [4]byte{} {
		put(optServer, 4)
		put(server[:]...)
	}
	put(optParams, 4, 1, 3, 6, 51, optEnd)
}

// replyInfo reads a server's reply: its xid, message type, offered address
// and server identifier. ok is false for anything that is not a BOOTREPLY
// with a message type.
func replyInfo(b []byte) (xid uint32, mt byte, yiaddr, server [4]byte, ok bool) {
	if len(b) < 244 || b[0] != 2 || binary.BigEndian.Uint32(b[236:]) != dhcpMagic {
		return
	}
	xid = binary.BigEndian.Uint32(b[4:])
	copy(yiaddr[:], b[16:20])
	for o := b[240:]; len(o) > 0; {
		code := o[0]
		if code == 0 {
			o = o[1:]
			continue
		}
		if code == optEnd || len(o) < 2 || len(o) < 2+int(o[1]) {
			break
		}
		v := o[2 : 2+int(o[1])]
		switch {
		case code == optMsgType && len(v) == 1:
			mt = v[0]
		case code == optServer && len(v) == 4:
			copy(server[:], v)
		}
		o = o[2+len(v):]
	}
	return xid, mt, yiaddr, server, mt != 0
}

func newBatch(size int) []ipv4.Message {
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, size)}
	}
	return ms
}

// writeAll sends ms, again from where sendmmsg stopped.
func writeAll(pc *ipv4.PacketConn, ms []ipv4.Message) error {
	for len(ms) > 0 {
		k, err := pc.WriteBatch(ms, 0)
		if err != nil {
			return err
		}
		ms = ms[k:]
	}
	return nil
}

// run is the state of one Run: one slot per exchange, indexed by xid -
// base. The sender fills a slot before it publishes its state; the
// receiver writes the answer's fields once its state change succeeded,
// and they are read after the receiver has stopped.
type run struct {
	cfg   Config
	pc    *ipv4.PacketConn
	dsts  []*net.UDPAddr
	relay [4]byte
	base  uint32

	state  []atomic.Uint32
	kind   []Kind
	client []uint16
	ciaddr [][4]byte // a rebind's address
	sent   []int64
	done   []int64
	server [][4]byte
	ip     [][4]byte
	extra  []Exchange
	used   int // slots sent
	// retryAt is when slot i is due its next retransmission (Unix ns),
	// with Config.Retry; oldest is the first slot that may still retry.
	retryAt []int64
	oldest  int
	// held is the address each client was last ACKed (0: none), for the
	// rebinding clients.
	held []atomic.Uint32
}

// toAll sends the first n messages of ms to every server.
func (r *run) toAll(ms []ipv4.Message) error {
	for _, d := range r.dsts {
		for i := range ms {
			ms[i].Addr = d
		}
		if err := writeAll(r.pc, ms); err != nil {
			return err
		}
	}
	return nil
}

// receive answers OFFERs with REQUESTs and records ACKs and NAKs until
// the socket is closed.
func (r *run) receive() error {
	in, out := newBatch(1500), newBatch(bootpMin)
	n := uint32(len(r.state))
	for {
		k, err := r.pc.ReadBatch(in, 0)
		if err != nil {
			return err
		}
		m := 0
		for _, msg := range in[:k] {
			xid, mt, yi, sid, ok := replyInfo(msg.Buffers[0][:msg.N])
			idx := xid - r.base
			if !ok || idx >= n {
				continue
			}
			switch mt {
			case 2: // OFFER: REQUEST it at once (a later OFFER is not taken)
				if r.state[idx].CompareAndSwap(stDiscover, stRequest) {
					writeRequest(out[m].Buffers[0], xid, mac(r.client[idx]), r.relay, 3, yi, sid, [4]byte{})
					m++
				}
			case 5, 6: // ACK, NAK
				now := time.Now().UnixNano()
				st := uint32(stAck)
				if mt == 6 {
					st = stNak
				}
				if r.state[idx].CompareAndSwap(stRequest, st) {
					r.done[idx], r.server[idx], r.ip[idx] = now, sid, yi
					c := r.client[idx]
					if mt == 5 {
						r.held[c].Store(binary.BigEndian.Uint32(yi[:]))
					} else {
						r.held[c].Store(0)
					}
				} else if r.cfg.Record || len(r.cfg.Verify) > 0 {
					e := Exchange{Kind: r.kind[idx], Client: r.client[idx], Sent: r.sent[idx], Done: now,
						Server: netip.AddrFrom4(sid), Result: ResultNAK}
					if mt == 5 {
						e.IP, e.Result = netip.AddrFrom4(yi), ResultACK
					}
					r.extra = append(r.extra, e)
				}
			}
		}
		if m > 0 {
			if err := r.toAll(out[:m]); err != nil {
				return err
			}
		}
	}
}

// Run offers c.Rate exchanges a second for c.Secs seconds (and
// c.RebindRate rebinds), then waits c.Drop for the last answers and
// counts what completed; with c.Verify it rebinds those leases instead.
// Its one socket is made in the calling thread's network namespace.
func Run(ctx context.Context, c Config) (*Report, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if c.Tries == 0 {
		c.Tries = 3
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Relay, 67)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// Socket buffers stay at net.core.rmem_default, which the DHCP part
	// raises for every client (SetReadBuffer would cap them at rmem_max).
	r := &run{cfg: c, pc: ipv4.NewPacketConn(conn), relay: c.Relay.As4(), base: rand.Uint32()}
	for _, s := range c.Servers {
		r.dsts = append(r.dsts, net.UDPAddrFromAddrPort(netip.AddrPortFrom(s, 67)))
	}
	nD, nR := c.Rate*c.Secs, c.RebindRate*c.Secs
	if len(c.Verify) > 0 {
		nD, nR = 0, len(c.Verify)
	}
	n := nD + nR
	r.state = make([]atomic.Uint32, n)
	r.kind, r.client, r.ciaddr = make([]Kind, n), make([]uint16, n), make([][4]byte, n)
	r.sent, r.done = make([]int64, n), make([]int64, n)
	r.server, r.ip = make([][4]byte, n), make([][4]byte, n)
	r.retryAt = make([]int64, n)
	r.held = make([]atomic.Uint32, 1<<16)
	for i, l := range c.Verify {
		r.kind[i], r.client[i], r.ciaddr[i] = KindRebind, l.Client, l.IP.As4()
	}

	recvErr := make(chan error, 1)
	go func() { recvErr <- r.receive() }()
	stop := func() error {
		conn.Close()
		err := <-recvErr
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	}
	rep, err := r.send(ctx, recvErr, nD, nR)
	if err != nil {
		stop()
		return nil, err
	}
	if err := stop(); err != nil {
		return nil, err
	}
	r.count(rep)
	return rep, nil
}

// send sends nD DISCOVERs at Rate and nR rebinds at RebindRate (or the
// Verify list at Rate, resent Tries times), then waits for the answers.
func (r *run) send(ctx context.Context, recvErr <-chan error, nD, nR int) (*Report, error) {
	c := r.cfg
	rebindRate := c.RebindRate
	if len(c.Verify) > 0 {
		rebindRate = c.Rate
	}
	// Open loop: every 250 µs, send what is due by now. Short ticks keep
	// the bursts small (4 DISCOVERs at 16,000/s), close to an even
	// stream, so a server that reads one packet at a time is not judged
	// on bursts it would never see from a rack.
	out := newBatch(bootpMin)
	tick := time.NewTicker(250 * time.Microsecond)
	defer tick.Stop()
	start := time.Now()
	rep := &Report{Start: start.UnixNano()}
	next, sentD, sentR := 0, 0, 0
	lastRetry := start
	for sentD < nD || sentR < nR {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-recvErr:
			return nil, err
		case <-tick.C:
		}
		if c.Retry > 0 && time.Since(lastRetry) >= retryScan {
			r.used, lastRetry = next, time.Now()
			if err := r.retransmit(out); err != nil {
				return nil, err
			}
		}
		el := time.Since(start).Seconds()
		dueD, dueR := min(nD, int(float64(c.Rate)*el)), min(nR, int(float64(rebindRate)*el))
		for sentD < dueD || sentR < dueR {
			m := 0
			for m < batch && (sentD < dueD || sentR < dueR) {
				// Both kinds interleaved while both are due.
				if sentD < dueD {
					r.prepare(out[m].Buffers[0], next, KindDORA, uint16(rand.IntN(c.Clients)), [4]byte{})
					next, m, sentD = next+1, m+1, sentD+1
				}
				if m == batch || sentR >= dueR {
					continue
				}
				sentR++
				cl, ip, ok := r.client[next], r.ciaddr[next], true
				if len(c.Verify) == 0 {
					// A client holding an address; none yet: skipped.
					cl, ip, ok = r.holder(c.Clients)
				}
				if ok {
					r.prepare(out[m].Buffers[0], next, KindRebind, cl, ip)
					next, m = next+1, m+1
				}
			}
			if m == 0 {
				continue
			}
			if err := r.toAll(out[:m]); err != nil {
				return nil, err
			}
		}
	}
	rep.SendSecs = time.Since(start).Seconds()
	r.used = next
	if c.Retry > 0 {
		if err := r.retryUntil(ctx, recvErr, out, time.Now().Add(c.Retry)); err != nil {
			return nil, err
		}
	}
	wait := func() error {
		select {
		case <-time.After(c.Drop):
			return nil
		case err := <-recvErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for try := 1; try < c.Tries && len(c.Verify) > 0; try++ {
		if err := wait(); err != nil {
			return nil, err
		}
		if err := r.resend(out); err != nil {
			return nil, err
		}
	}
	if err := wait(); err != nil {
		return nil, err
	}
	return rep, nil
}

// retryScan is how often the unanswered exchanges are looked at for a
// retransmission due, with Config.Retry: the retries are that late at
// most.
const retryScan = 50 * time.Millisecond

// retryUntil keeps retransmitting what is unanswered until deadline.
func (r *run) retryUntil(ctx context.Context, recvErr <-chan error, out []ipv4.Message, deadline time.Time) error {
	tick := time.NewTicker(retryScan)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-recvErr:
			return err
		case <-tick.C:
		}
		if err := r.retransmit(out); err != nil {
			return err
		}
	}
	return nil
}

// retransmit sends again, from the sender, every exchange of the first
// r.used slots unanswered and due: a rebind its REQUEST, a DORA its
// DISCOVER (taking back a REQUEST left unanswered).
func (r *run) retransmit(out []ipv4.Message) error {
	now := time.Now().UnixNano()
	life := int64(r.cfg.Retry)
	for r.oldest < r.used && now-r.sent[r.oldest] > life {
		r.oldest++
	}
	return r.sendEach(out, r.oldest, r.used, func(i int, b []byte) bool {
		if r.retryAt[i] > now {
			return false
		}
		st := r.state[i].Load()
		switch {
		case st != stDiscover && st != stRequest:
			return false
		case r.kind[i] == KindRebind:
			writeRequest(b, r.base+uint32(i), mac(r.client[i]), r.relay, 3, [4]byte{}, [4]byte{}, r.ciaddr[i])
		case st == stDiscover || r.state[i].CompareAndSwap(stRequest, stDiscover):
			writeRequest(b, r.base+uint32(i), mac(r.client[i]), r.relay, 1, [4]byte{}, [4]byte{}, [4]byte{})
		default: // answered meanwhile
			return false
		}
		r.retryAt[i] = now + int64(2*time.Second)
		return true
	})
}

// sendEach sends, in batches, the request write puts into a message for
// each slot of [from, to) it returns true for.
func (r *run) sendEach(out []ipv4.Message, from, to int, write func(i int, b []byte) bool) error {
	m := 0
	for i := from; i < to; i++ {
		if !write(i, out[m].Buffers[0]) {
			continue
		}
		if m++; m == batch {
			if err := r.toAll(out[:m]); err != nil {
				return err
			}
			m = 0
		}
	}
	if m > 0 {
		return r.toAll(out[:m])
	}
	return nil
}

// prepare fills slot i for a new exchange and writes its first request
// into b.
func (r *run) prepare(b []byte, i int, k Kind, client uint16, ciaddr [4]byte) {
	r.kind[i], r.client[i], r.ciaddr[i], r.sent[i] = k, client, ciaddr, time.Now().UnixNano()
	r.retryAt[i] = r.sent[i] + int64(time.Second)
	if k == KindDORA {
		r.state[i].Store(stDiscover)
		writeRequest(b, r.base+uint32(i), mac(client), r.relay, 1, [4]byte{}, [4]byte{}, [4]byte{})
		return
	}
	r.state[i].Store(stRequest)
	writeRequest(b, r.base+uint32(i), mac(client), r.relay, 3, [4]byte{}, [4]byte{}, ciaddr)
}

// resend sends the rebinds still unanswered again, with their xids.
func (r *run) resend(out []ipv4.Message) error {
	return r.sendEach(out, 0, r.used, func(i int, b []byte) bool {
		if r.state[i].Load() != stRequest {
			return false
		}
		writeRequest(b, r.base+uint32(i), mac(r.client[i]), r.relay, 3, [4]byte{}, [4]byte{}, r.ciaddr[i])
		return true
	})
}

// holder picks a client that holds an address, trying a few at random.
func (r *run) holder(clients int) (uint16, [4]byte, bool) {
	for range 8 {
		c := uint16(rand.IntN(clients))
		if v := r.held[c].Load(); v != 0 {
			var ip [4]byte
			binary.BigEndian.PutUint32(ip[:], v)
			return c, ip, true
		}
	}
	return 0, [4]byte{}, false
}

// count fills rep from the slots, once the receiver has stopped.
func (r *run) count(rep *Report) {
	record := r.cfg.Record || len(r.cfg.Verify) > 0
	for i := range r.used {
		st := r.state[i].Load()
		if r.kind[i] == KindRebind {
			rep.Rebinds++
			switch st {
			case stAck:
				rep.RebindAcks++
			case stNak:
				rep.RebindNaks++
			}
		} else {
			rep.Discovers++
			if st >= stRequest {
				rep.Offers++
				rep.Requests++
			}
			switch st {
			case stAck:
				rep.Acks++
			case stNak:
				rep.Naks++
			}
		}
		if !record {
			continue
		}
		e := Exchange{Kind: r.kind[i], Client: r.client[i], Sent: r.sent[i], Result: ResultNone}
		switch st {
		case stAck, stNak:
			e.Done, e.Server, e.Result = r.done[i], netip.AddrFrom4(r.server[i]), ResultNAK
			if st == stAck {
				e.IP, e.Result = netip.AddrFrom4(r.ip[i]), ResultACK
			}
		}
		rep.Exchanges = append(rep.Exchanges, e)
	}
	rep.Extra = r.extra
}
