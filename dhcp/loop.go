package dhcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// The serving loop: readers take datagrams off the sockets a system call
// at a time (recvmmsg) and hand each read to a worker whole; workers decide
// and answer; the committer writes lease changes in groups and answers
// those clients once their leases are durable. Replies leave in batches
// too (sendmmsg): under load the cost that remains per packet is the
// kernel's, not a system call and a goroutine wake-up each.

// readBatch is how many datagrams one recvmmsg may return.
const readBatch = 32

// batch is what one read returned, handed to one worker: one hand-off per
// system call instead of one per packet.
type batch struct {
	l  *listener
	in []inbound
}

func (s *Server) reader(ctx context.Context, l *listener, jobs chan<- *batch) {
	if l.pc != nil {
		s.batchReader(ctx, l, jobs)
		return
	}
	for {
		bp := s.bufs.Get().(*[]byte)
		buf := *bp
		n, src, err := l.conn.ReadFrom(buf)
		if err != nil {
			s.bufs.Put(bp)
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("dhcp: read", "err", err)
			time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		b := s.batches.Get().(*batch)
		b.l = l
		// No control messages on this conn: the link is unknown (0).
		if s.admit(b, buf[:n], 0, src, s.now()) {
			if s.enqueue(jobs, b) {
				continue
			}
		} else {
			s.bufs.Put(bp)
		}
		s.batches.Put(b)
	}
}

// batchReader reads up to readBatch datagrams per system call (recvmmsg),
// with the receiving interface of each.
func (s *Server) batchReader(ctx context.Context, l *listener, jobs chan<- *batch) {
	ms := make([]ipv4.Message, readBatch)
	bps := make([]*[]byte, readBatch)
	for i := range ms {
		bps[i] = s.bufs.Get().(*[]byte)
		ms[i].Buffers = [][]byte{*bps[i]}
		ms[i].OOB = ipv4.NewControlMessage(ipv4.FlagInterface)
	}
	defer func() {
		for _, bp := range bps {
			s.bufs.Put(bp)
		}
	}()
	for {
		n, err := l.pc.ReadBatch(ms, 0)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("dhcp: read", "err", err)
			time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		b := s.batches.Get().(*batch)
		b.l = l
		now := s.now() // one clock read per system call, not per packet
		for i := 0; i < n; i++ {
			m := &ms[i]
			ifi := 0
			var cm ipv4.ControlMessage
			if m.NN > 0 && cm.Parse(m.OOB[:m.NN]) == nil {
				ifi = cm.IfIndex
			}
			if s.admit(b, (*bps[i])[:m.N], ifi, m.Addr, now) {
				// The batch owns that buffer now: take a fresh one.
				bps[i] = s.bufs.Get().(*[]byte)
				m.Buffers[0] = *bps[i]
			}
			m.OOB = m.OOB[:cap(m.OOB)]
		}
		if len(b.in) == 0 || !s.enqueue(jobs, b) {
			s.batches.Put(b)
		}
	}
}

// admit counts a datagram and adds it to b unless it came from a link we
// do not serve or the screen refuses it; false means the caller keeps the
// buffer.
func (s *Server) admit(b *batch, data []byte, ifi int, src net.Addr, now time.Time) bool {
	s.cnt.received.Add(1)
	if oversized(len(data)) {
		s.cnt.drop(DropOversized)
		return false
	}
	if ifi > 0 && len(s.links) > 0 {
		if _, ok := s.links[ifi]; !ok {
			s.cnt.drop(DropNoSubnet)
			return false
		}
	}
	var sp netip.AddrPort
	if ua, ok := src.(*net.UDPAddr); ok {
		sp = ua.AddrPort()
		sp = netip.AddrPortFrom(sp.Addr().Unmap(), sp.Port())
	}
	if why := s.screen(data, sp, now); why != "" {
		s.cnt.drop(why)
		return false
	}
	b.in = append(b.in, inbound{data: data, ifIndex: ifi, src: sp, proxy: b.l.proxy, l: b.l, screened: true})
	return true
}

// enqueue hands b to the workers unless QueueLen datagrams are already
// waiting; then the whole read is dropped and counted, its buffers
// returned, and false tells the caller to recycle b.
func (s *Server) enqueue(jobs chan<- *batch, b *batch) bool {
	n := int64(len(b.in))
	if s.queued.Add(n) <= int64(s.cfg.QueueLen) {
		select {
		case jobs <- b:
			return true
		default:
		}
	}
	s.queued.Add(-n)
	for _, in := range b.in {
		s.cnt.drop(DropQueueFull)
		s.putBuf(in.data)
	}
	b.in = b.in[:0]
	return false
}

func (s *Server) putBuf(data []byte) {
	buf := data[:cap(data)]
	s.bufs.Put(&buf)
}

func (s *Server) worker(jobs <-chan *batch, commits chan<- pending) {
	var out outbox
	for b := range jobs {
		for _, in := range b.in {
			o, why := s.safeHandle(in)
			s.putBuf(in.data)
			if why != "" {
				s.cnt.drop(why)
				continue
			}
			if len(o.ops) > 0 {
				commits <- pending{o: o, l: b.l}
				continue
			}
			out.add(b.l, o)
		}
		s.queued.Add(-int64(len(b.in)))
		b.in = b.in[:0]
		s.batches.Put(b)
		s.flush(&out)
	}
}

// safeHandle is handle with a last line of defence: a panic on some input
// the fuzzers missed costs that packet, not the server.
func (s *Server) safeHandle(in inbound) (o outcome, why DropReason) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("dhcp: panic handling a packet", "panic", r, "src", in.src)
			o, why = outcome{}, DropMalformed
		}
	}()
	// The read lock keeps a Reconfigure from swapping the subnets under
	// a packet being answered.
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.handle(in, s.now())
}

// committer is the group commit: it takes every pending reply that queued
// up while the previous commit ran, writes their leases in one Apply, and
// only then sends the replies.
func (s *Server) committer(commits <-chan pending) {
	batch := make([]pending, 0, s.cfg.MaxCommitBatch)
	var ops []Op
	var out outbox
	var faults commitFaults
	var steps wallSteps
	for p := range commits {
		batch = append(batch[:0], p)
	fill:
		for len(batch) < s.cfg.MaxCommitBatch {
			select {
			case q, ok := <-commits:
				if !ok {
					break fill
				}
				batch = append(batch, q)
			default:
				break fill
			}
		}
		if s.shared != nil {
			s.commitShared(batch, &out)
			continue
		}
		var off time.Duration
		ops, off = s.commitOps(ops[:0], batch, &steps)
		start := time.Now()
		err := s.store.Apply(ops)
		s.cnt.commitLatency.observe(time.Since(start))
		if err != nil {
			s.commitFailed(&faults, err, len(ops), len(batch))
			continue
		}
		s.commitOK(&faults)
		steps.written = off
		s.cnt.commits.Add(1)
		s.cnt.leaseWrites.Add(uint64(len(ops)))
		for _, q := range batch {
			out.add(q.l, q.o)
		}
		s.flush(&out)
	}
}

// outbox collects replies to send together, per socket.
type outbox struct {
	socks []sockOut
}

type sockOut struct {
	l    *listener
	outs []outcome
	msgs []ipv4.Message
}

func (b *outbox) add(l *listener, o outcome) {
	for i := range b.socks {
		if b.socks[i].l == l {
			b.socks[i].outs = append(b.socks[i].outs, o)
			return
		}
	}
	b.socks = append(b.socks, sockOut{l: l, outs: []outcome{o}})
}

// flush sends every collected reply (one sendmmsg per socket where the
// socket allows it), then counts and reports them, and empties b.
func (s *Server) flush(b *outbox) {
	for i := range b.socks {
		so := &b.socks[i]
		if len(so.outs) == 0 {
			continue
		}
		sent := s.sendAll(so)
		for j, o := range so.outs {
			if sent[j] {
				s.account(o)
			}
			so.outs[j] = outcome{}
		}
		so.outs = so.outs[:0]
	}
}

// sendAll sends so's replies and says which left. Outcomes without a
// reply (a RELEASE) count as sent.
func (s *Server) sendAll(so *sockOut) []bool {
	sent := make([]bool, len(so.outs))
	if so.l.pc == nil || len(so.outs) == 1 {
		for j, o := range so.outs {
			sent[j] = o.reply == nil || s.sendOne(so.l, o) == nil
		}
		return sent
	}
	so.msgs = so.msgs[:0]
	idx := make([]int, 0, len(so.outs))
	for j, o := range so.outs {
		if o.reply == nil {
			sent[j] = true
			continue
		}
		m := ipv4.Message{Buffers: [][]byte{o.reply.ToBytes()}, Addr: net.UDPAddrFromAddrPort(o.dst)}
		if o.ifIndex > 0 {
			m.OOB = (&ipv4.ControlMessage{IfIndex: o.ifIndex}).Marshal()
		}
		so.msgs = append(so.msgs, m)
		idx = append(idx, j)
	}
	for off := 0; off < len(so.msgs); {
		n, err := so.l.pc.WriteBatch(so.msgs[off:], 0)
		n = max(n, 0) // a failed sendmmsg reports -1
		for k := off; k < off+n; k++ {
			sent[idx[k]] = true
		}
		off += n
		if err != nil {
			// The message at off is the one that failed: count it and go
			// on with the rest.
			s.cnt.drop(DropSendError)
			s.log.Debug("dhcp: send", "dst", so.outs[idx[off]].dst, "err", err)
			off++
		} else if n == 0 {
			break
		}
	}
	for k := range so.msgs {
		so.msgs[k] = ipv4.Message{}
	}
	return sent
}

// finish sends one reply (if any) and reports its events.
func (s *Server) finish(o outcome, l *listener) {
	if o.reply != nil && s.sendOne(l, o) != nil {
		return
	}
	s.account(o)
}

func (s *Server) sendOne(l *listener, o outcome) error {
	err := s.send(l, o.reply.ToBytes(), o.dst, o.ifIndex)
	if err != nil {
		s.cnt.drop(DropSendError)
		s.log.Debug("dhcp: send", "dst", o.dst, "err", err)
	}
	return err
}

// account counts a handled request and reports its events.
func (s *Server) account(o outcome) {
	if o.reply != nil {
		s.cnt.replied.Add(1)
	}
	for _, e := range o.events {
		switch e.Kind {
		case EventOffered:
			s.cnt.offers.Add(1)
		case EventAcked:
			s.cnt.acks.Add(1)
		case EventNAK:
			s.cnt.naks.Add(1)
		case EventDeclined:
			s.cnt.declines.Add(1)
		case EventReleased:
			s.cnt.releases.Add(1)
		case EventInformed:
			s.cnt.informs.Add(1)
		}
	}
	s.emit(o.events)
}

func (s *Server) emit(evs []Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	for _, e := range evs {
		s.cfg.OnEvent(e)
	}
}

func (s *Server) send(l *listener, b []byte, dst netip.AddrPort, ifIndex int) error {
	ua := net.UDPAddrFromAddrPort(dst)
	if l.pc != nil {
		var cm *ipv4.ControlMessage
		if ifIndex > 0 {
			// Out of the link the request came in on (broadcasts
			// especially: 255.255.255.255 has no route to pick one).
			cm = &ipv4.ControlMessage{IfIndex: ifIndex}
		}
		_, err := l.pc.WriteTo(b, cm, ua)
		return err
	}
	_, err := l.conn.WriteTo(b, ua)
	return err
}
