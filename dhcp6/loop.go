package dhcp6

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/net/ipv6"

	"github.com/pxekit/pxekit/dhcp"
)

// The serving loop: one reader takes up to readBatch datagrams off the
// socket per system call (recvmmsg) and hands them to a worker together;
// workers decide and answer; replies that bind a lease go through the
// committer, which writes every lease queued during one commit in one
// Store.Apply and only then sends those replies.

const readBatch = 32

// batch is what one read returned.
type batch struct{ in []inbound }

func (s *Server) reader(ctx context.Context, c *sock, jobs chan<- *batch) {
	ms := make([]ipv6.Message, readBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 4096)}
		ms[i].OOB = ipv6.NewControlMessage(ipv6.FlagInterface | ipv6.FlagDst)
	}
	for {
		n, err := s.read(c, ms)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("dhcp6: read", "err", err)
			time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		b := &batch{in: make([]inbound, 0, n)}
		for i := range n {
			m := &ms[i]
			ifi := 0
			var cm ipv6.ControlMessage
			if m.NN > 0 && cm.Parse(m.OOB[:m.NN]) == nil {
				ifi = cm.IfIndex
			}
			m.OOB = m.OOB[:cap(m.OOB)]
			s.cnt.received.Add(1)
			if ifi > 0 && len(s.links) > 0 {
				if _, ok := s.links[ifi]; !ok {
					s.cnt.dropped.Add(DropOtherLink)
					continue
				}
			}
			var src netip.AddrPort
			if ua, ok := m.Addr.(*net.UDPAddr); ok {
				src = ua.AddrPort()
				src = netip.AddrPortFrom(src.Addr().Unmap().WithZone(""), src.Port())
			}
			b.in = append(b.in, inbound{data: append([]byte(nil), m.Buffers[0][:m.N]...), ifIndex: ifi, src: src})
		}
		if len(b.in) == 0 {
			continue
		}
		k := int64(len(b.in))
		if s.queued.Add(k) <= int64(s.cfg.QueueLen) {
			select {
			case jobs <- b:
				continue
			default:
			}
		}
		s.queued.Add(-k)
		for range b.in {
			s.cnt.dropped.Add(DropQueueFull)
		}
	}
}

// read fills ms from the socket: a batch with control messages, or one
// datagram from a conn that has none.
func (s *Server) read(c *sock, ms []ipv6.Message) (int, error) {
	if c.pc != nil {
		return c.pc.ReadBatch(ms, 0)
	}
	n, src, err := c.conn.ReadFrom(ms[0].Buffers[0])
	if err != nil {
		return 0, err
	}
	ms[0].N, ms[0].NN, ms[0].Addr = n, 0, src
	return 1, nil
}

func (s *Server) worker(c *sock, jobs <-chan *batch, commits chan<- outcome) {
	for b := range jobs {
		for _, in := range b.in {
			o, why := s.safeHandle(in)
			switch {
			case why != "":
				s.cnt.dropped.Add(why)
			case len(o.ops) > 0:
				commits <- o
			default:
				s.finish(c, o)
			}
		}
		s.queued.Add(-int64(len(b.in)))
	}
}

// safeHandle is handle under the read lock (a Reconfigure waits for the
// packets being answered), with a last line of defence: a panic on input
// the fuzzer missed costs that packet, not the server.
func (s *Server) safeHandle(in inbound) (o outcome, why DropReason) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("dhcp6: panic handling a packet", "panic", r, "src", in.src)
			o, why = outcome{}, DropMalformed
		}
	}()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.handle(in, s.now())
}

// committer is the group commit: it takes every reply that queued up
// while the previous commit ran, writes their leases in one Apply, and
// only then sends them.
func (s *Server) committer(c *sock, commits <-chan outcome) {
	group := make([]outcome, 0, s.cfg.MaxCommitBatch)
	var ops []dhcp.Op
	for o := range commits {
		group = append(group[:0], o)
	more:
		for len(group) < s.cfg.MaxCommitBatch {
			select {
			case q, ok := <-commits:
				if !ok {
					break more
				}
				group = append(group, q)
			default:
				break more
			}
		}
		if s.shared != nil {
			s.commitShared(c, group)
			continue
		}
		ops = ops[:0]
		for _, q := range group {
			for _, op := range q.ops {
				// The address's current state, not the worker's snapshot:
				// see table.persisted.
				if l, ok := s.table.persisted(op.Lease.IP); ok {
					ops = append(ops, dhcp.Op{Lease: l})
				}
			}
		}
		if err := s.store.Apply(ops); err != nil {
			s.commitFailed(len(group), len(ops), err)
			continue
		}
		s.committed(len(ops))
		for _, q := range group {
			s.finish(c, q)
		}
	}
}

// finish sends a reply and reports its events.
func (s *Server) finish(c *sock, o outcome) {
	if o.reply != nil {
		if err := s.send(c, o); err != nil {
			s.cnt.dropped.Add(DropSendError)
			s.log.Debug("dhcp6: send", "dst", o.dst, "err", err)
			return
		}
		s.cnt.replied.Add(1)
		if o.relayed {
			s.cnt.relayed.Add(1)
		}
	}
	for _, e := range o.events {
		switch e.Kind {
		case EventAdvertised:
			s.cnt.advertises.Add(1)
		case EventBound:
			s.cnt.binds.Add(1)
		case EventRefused:
			s.cnt.refusals.Add(1)
		case EventDeclined:
			s.cnt.declines.Add(1)
		case EventReleased:
			s.cnt.releases.Add(1)
		case EventInformed:
			s.cnt.informs.Add(1)
		}
		if s.cfg.OnEvent != nil {
			s.cfg.OnEvent(e)
		}
	}
}

// send writes one reply out of the link the request came in on: a
// client's link-local address means nothing on another.
func (s *Server) send(c *sock, o outcome) error {
	ua := net.UDPAddrFromAddrPort(o.dst)
	if o.ifIndex > 0 && o.dst.Addr().IsLinkLocalUnicast() {
		// The zone as a number: a name would be looked up in the
		// caller's namespace, not the socket's.
		ua.Zone = strconv.Itoa(o.ifIndex)
	}
	if c.pc != nil && o.ifIndex > 0 {
		_, err := c.pc.WriteTo(o.reply, &ipv6.ControlMessage{IfIndex: o.ifIndex}, ua)
		return err
	}
	_, err := c.conn.WriteTo(o.reply, ua)
	return err
}

// commitFailed counts and logs a commit group of n replies (leases
// writes) that the store did not commit: none of them is sent.
func (s *Server) commitFailed(n, leases int, err error) {
	s.log.Error("dhcp6: lease commit failed; replies withheld", "err", err, "leases", leases)
	for range n {
		s.cnt.dropped.Add(DropStoreError)
	}
}

// committed counts one commit of n lease writes.
func (s *Server) committed(n int) {
	s.cnt.commits.Add(1)
	s.cnt.leaseWrites.Add(uint64(n))
}
