// Package dhcpload is the comparison's own relayed DORA client. perfdhcp
// spends 70–90 µs of CPU per exchange here, more than the servers it
// measures, so on two cores it runs out of CPU near 18,000 DORA/s
// whichever server answers. This client does what perfdhcp -R N does with
// a relay address (a random MAC of N per exchange, DISCOVER, REQUEST for
// the offered address, open loop at a fixed rate) from pre-built packets,
// in batches of sendmmsg/recvmmsg, at a few µs per exchange, so the server
// is what runs out first. It parses only what it must: op, xid, yiaddr,
// options 53 and 54.
package dhcpload

import (
	"context"
	"encoding/binary"
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
	Server netip.Addr // the DHCP server, on port 67
	Relay  netip.Addr // the relay agent's address (giaddr), where the client listens on port 67
	Rate   int        // DISCOVERs a second
	Secs   int        // seconds of load
	// Clients is how many simulated clients (MACs) the exchanges are
	// spread over, at most 65535.
	Clients int
	// Drop is how long an exchange may take before it counts as lost.
	Drop time.Duration
}

// Validate checks that c can run.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if !c.Server.Is4() {
		errs = append(errs, field.Invalid(field.NewPath("server"), c.Server.String(), "must be an IPv4 address"))
	}
	if !c.Relay.Is4() {
		errs = append(errs, field.Invalid(field.NewPath("relay"), c.Relay.String(), "must be an IPv4 address"))
	}
	if c.Rate <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("rate"), c.Rate, "must be positive"))
	}
	if c.Secs <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("secs"), c.Secs, "must be positive"))
	}
	if c.Clients <= 0 || c.Clients > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("clients"), c.Clients, "must be 1 to 65535"))
	}
	if c.Drop < 0 {
		errs = append(errs, field.Invalid(field.NewPath("drop"), c.Drop.String(), "must not be negative"))
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
}

// Exchange states, one atomic per DISCOVER sent.
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
// hops 1, giaddr relay, chaddr mac, and the options for msgType.
func writeRequest(b []byte, xid uint32, mac [6]byte, relay [4]byte, msgType byte, reqIP, server [4]byte) {
	clear(b)
	b[0], b[1], b[2], b[3] = 1, 1, 6, 1
	binary.BigEndian.PutUint32(b[4:], xid)
	copy(b[24:28], relay[:])
	copy(b[28:34], mac[:])
	binary.BigEndian.PutUint32(b[236:], dhcpMagic)
	i := 240
	put := func(v ...byte) { i += copy(b[i:], v) }
	put(optMsgType, 1, msgType)
	if msgType == 3 { // REQUEST, selecting: the offered address and who offered it
		put(optReqIP, 4)
		put(reqIP[:]...)
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

// writeAll sends ms[:n], again from where sendmmsg stopped.
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

// Run offers c.Rate exchanges a second for c.Secs seconds, then waits
// c.Drop for the last answers and counts what completed. Its one socket is
// made in the calling thread's network namespace.
func Run(ctx context.Context, c Config) (*Report, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Relay, 67)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// Socket buffers stay at net.core.rmem_default, which the DHCP part
	// raises for every client (SetReadBuffer would cap them at rmem_max).
	pc := ipv4.NewPacketConn(conn)
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Server, 67))
	relay := c.Relay.As4()

	n := c.Rate * c.Secs
	state := make([]atomic.Uint32, n)
	macOf := make([]uint16, n) // which simulated client each exchange is
	base := rand.Uint32()
	mac := func(c uint16) [6]byte { return [6]byte{0x02, 0x4c, 0x44, 0, byte(c >> 8), byte(c)} }

	recvErr := make(chan error, 1)
	go func() {
		in, out := newBatch(1500), newBatch(bootpMin)
		for i := range out {
			out[i].Addr = dst
		}
		for {
			k, err := pc.ReadBatch(in, 0)
			if err != nil {
				recvErr <- err
				return
			}
			m := 0
			for _, msg := range in[:k] {
				xid, mt, yi, sid, ok := replyInfo(msg.Buffers[0][:msg.N])
				idx := xid - base
				if !ok || idx >= uint32(n) {
					continue
				}
				switch mt {
				case 2: // OFFER: REQUEST it at once
					if state[idx].CompareAndSwap(stDiscover, stRequest) {
						writeRequest(out[m].Buffers[0], xid, mac(macOf[idx]), relay, 3, yi, sid)
						m++
					}
				case 5: // ACK
					state[idx].CompareAndSwap(stRequest, stAck)
				case 6: // NAK
					state[idx].CompareAndSwap(stRequest, stNak)
				}
			}
			if m > 0 {
				if err := writeAll(pc, out[:m]); err != nil {
					recvErr <- err
					return
				}
			}
		}
	}()

	// Open loop: every 250 µs, send what is due by now. Short ticks keep
	// the bursts small (4 DISCOVERs at 16,000/s), close to an even
	// stream, so a server that reads one packet at a time is not judged
	// on bursts it would never see from a rack.
	out := newBatch(bootpMin)
	for i := range out {
		out[i].Addr = dst
	}
	tick := time.NewTicker(250 * time.Microsecond)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for sent < n {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-recvErr:
			return nil, err
		case <-tick.C:
		}
		due := min(n, int(float64(c.Rate)*time.Since(start).Seconds()))
		for sent < due {
			m := 0
			for ; m < batch && sent < due; m++ {
				client := uint16(rand.IntN(c.Clients))
				macOf[sent] = client
				state[sent].Store(stDiscover)
				writeRequest(out[m].Buffers[0], base+uint32(sent), mac(client), relay, 1, [4]byte{}, [4]byte{})
				sent++
			}
			if err := writeAll(pc, out[:m]); err != nil {
				return nil, err
			}
		}
	}
	r := &Report{Discovers: sent, SendSecs: time.Since(start).Seconds()}
	select {
	case <-time.After(c.Drop):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for i := range state {
		switch state[i].Load() {
		case stRequest:
			r.Offers++
			r.Requests++
		case stAck:
			r.Offers++
			r.Requests++
			r.Acks++
		case stNak:
			r.Offers++
			r.Requests++
			r.Naks++
		}
	}
	return r, nil
}
