package dhcp

import (
	"context"
	"net/netip"
	"time"
)

// commitShared is the group commit on a SharedStore: one Claim for the
// batch, each reply sent only if every lease it carries was claimed. A
// reply whose lease lost its claim becomes its NAK (the address went to
// another client) or nothing (another server answered this client).
//
// As on a local store, what is written for an address is memory's current
// record, not the worker's snapshot: a client that asked twice before the
// commit (a retransmission, or a new exchange) has both answers covered by
// the later record, the same client's and lasting at least as long, so
// both are sent. A reply whose lease memory no longer covers (the address
// went to another client, or a later decision shortened it) is not sent.
func (s *Server) commitShared(batch []pending, out *outbox) {
	var ops []Op
	at := map[netip.Addr]int{}        // address → index in ops
	want := make([][]int, len(batch)) // each pending's op indices; -1: not written
	for i, q := range batch {
		for _, op := range q.o.ops {
			j, seen := at[op.Lease.IP]
			switch {
			case op.Delete:
				j = -1
				if !seen && s.table.still(op.Lease) {
					j = len(ops)
					ops = append(ops, op)
					at[op.Lease.IP] = j
				}
			case !seen:
				j = -1
				if cur, ok := s.table.persisted(op.Lease.IP); ok && covers(cur, op.Lease) {
					j = len(ops)
					ops = append(ops, Op{Lease: cur})
					at[op.Lease.IP] = j
				}
			case j >= 0 && (ops[j].Delete || !covers(ops[j].Lease, op.Lease)):
				j = -1
			}
			// j < 0: a later decision for this address (ours or another
			// server's) replaced this one; it is not answered.
			want[i] = append(want[i], j)
		}
	}
	var conflicts []*Lease
	var err error
	if len(ops) > 0 {
		start := time.Now()
		conflicts, err = s.shared.Claim(ops)
		s.cnt.commitLatency.observe(time.Since(start))
	}
	if err != nil {
		s.storeRefused(len(batch), err)
		return
	}
	if len(ops) > 0 {
		s.cnt.commits.Add(1)
		s.cnt.leaseWrites.Add(uint64(len(ops)))
	}
	for _, c := range conflicts {
		if c != nil && c.IP.IsValid() {
			s.table.remote(Change{Lease: *c})
		}
	}
	for i, q := range batch {
		ok := true
		var lost *Lease
		for k, j := range want[i] {
			switch {
			case j < 0:
				ok = false
			case conflicts != nil && conflicts[j] != nil:
				ok = false
				lost = conflicts[j]
				if !lost.IP.IsValid() {
					lost.IP = q.o.ops[k].Lease.IP
				}
			}
		}
		if ok {
			out.add(q.l, q.o)
			continue
		}
		if lost == nil {
			s.cnt.drop(DropSuperseded)
			continue
		}
		s.cnt.conflicts.Add(1)
		mine := q.o.ops[0].Lease
		if string(lost.MAC) == string(mine.MAC) && lost.State == Bound && lost.Expiry.After(s.now()) {
			// Another server acknowledged this client: it has its answer.
			s.cnt.drop(DropClaimLost)
			continue
		}
		s.log.Info("dhcp: address claimed by another server first", "ip", mine.IP, "mac", mine.MAC, "holder", lost.MAC)
		if q.o.lost != nil {
			out.add(q.l, *q.o.lost)
		} else {
			s.cnt.drop(DropClaimLost)
		}
	}
	s.flush(out)
}

// covers reports whether writing cur keeps the promise a reply made with
// l: the same client and state, lasting at least as long.
func covers(cur, l Lease) bool {
	return string(cur.MAC) == string(l.MAC) && cur.State == l.State && !cur.Expiry.Before(l.Expiry)
}

// storeRefused counts and logs n requests the store could not commit.
func (s *Server) storeRefused(n int, err error) {
	for range n {
		s.cnt.drop(DropStoreError)
	}
	s.log.Error("dhcp: lease commit failed; replies withheld", "err", err, "requests", n)
}

// unavailable counts a request refused because the shared store cannot
// commit now, and logs once per change of state and then every 10 s
// with the count.
func (s *Server) unavailable(now time.Time) {
	s.cnt.drop(DropStoreUnavailable)
	n := s.cnt.refusedSince.Add(1)
	last := s.cnt.refusedLog.Load()
	if last == 0 || now.UnixNano()-last > int64(10*time.Second) {
		if s.cnt.refusedLog.CompareAndSwap(last, now.UnixNano()) {
			s.log.Error("dhcp: lease store unavailable: no address handed out, no lease renewed", "refused", n)
		}
	}
}

// available reports whether the shared store can commit, logging when it
// comes back.
func (s *Server) available() bool {
	if s.shared == nil {
		return true
	}
	if s.shared.Available() {
		if n := s.cnt.refusedSince.Swap(0); n > 0 {
			s.cnt.refusedLog.Store(0)
			s.log.Info("dhcp: lease store available again", "refused", n)
		}
		return true
	}
	return false
}

// watchShared feeds what other servers write into the table until ctx
// ends.
func (s *Server) watchShared(ctx context.Context) error {
	return s.shared.Watch(ctx, s.table.remote)
}
