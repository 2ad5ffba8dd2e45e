package dhcp

import (
	"net/netip"
	"time"
)

// Clock is where a Server reads time. Lease expiries, offer holds and rate
// limits run on Monotonic, which never steps, so an NTP step of the wall
// clock (forward an hour, back a day) neither expires a live lease early
// nor frees an address still in use. Now, the wall clock, is read only to
// anchor that time at start and to write expiries to the lease file as
// wall-clock times.
type Clock interface {
	// Now is the wall clock; it may step.
	Now() time.Time
	// Monotonic is the time elapsed since an arbitrary fixed origin; it
	// never steps backwards and is not moved by wall-clock steps.
	Monotonic() time.Duration
}

// systemClock is the host's clock: Monotonic is the monotonic reading Go
// keeps in every time.Now (time.Since uses it, not the wall clock).
type systemClock struct{ origin time.Time }

func (c systemClock) Now() time.Time           { return time.Now() }
func (c systemClock) Monotonic() time.Duration { return time.Since(c.origin) }

// leaseClock is the server's time: the wall clock read at start plus the
// monotonic time since. Expiries in memory are in this time. A lease file
// holds wall-clock expiries; at start the two agree, so loaded expiries are
// re-based on the start by being read as they are, and whenever the wall
// clock has stepped since, wall() converts an expiry before it is written.
type leaseClock struct {
	c     Clock
	wall0 time.Time
	mono0 time.Duration
}

func newLeaseClock(c Clock) *leaseClock {
	if c == nil {
		c = systemClock{origin: time.Now()}
	}
	return &leaseClock{c: c, wall0: c.Now(), mono0: c.Monotonic()}
}

// now is the server's current time.
func (l *leaseClock) now() time.Time { return l.wall0.Add(l.c.Monotonic() - l.mono0) }

// offset is how far the wall clock has stepped since start.
func (l *leaseClock) offset() time.Duration { return l.c.Now().Round(0).Sub(l.now().Round(0)) }

// stepThreshold is the wall-clock step after which the committer rewrites
// every record with wall-clock expiries; smaller drift (NTP slewing) is
// not worth a rewrite.
const stepThreshold = time.Second

// wallSteps tracks the offset the lease file's expiries were written with.
// Only the committer uses it.
type wallSteps struct{ written time.Duration }

// rebase reports the offset to write expiries with and whether the wall
// clock stepped since the last commit (so every record must be rewritten).
func (w *wallSteps) rebase(lc *leaseClock) (time.Duration, bool) {
	off := lc.offset()
	d := off - w.written
	if d < stepThreshold && d > -stepThreshold {
		return w.written, false
	}
	return off, true
}

// records lists the addresses that have a bound or declined record.
func (t *table) records() []netip.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]netip.Addr, 0, len(t.byIP)+len(t.byIPx))
	for a, i := range t.each {
		if t.at(i).state != stOffered {
			out = append(out, a)
		}
	}
	return out
}

// commitOps are the store writes for batch: each address's current record
// with its expiry on the wall clock. After a wall-clock step every record
// is rewritten, so the file never holds expiries from before the step that
// a restart would read as earlier (or later) than they are. The returned
// offset is what steps records once the commit succeeds.
func (s *Server) commitOps(ops []Op, batch []pending, steps *wallSteps) ([]Op, time.Duration) {
	off, stepped := steps.rebase(s.lclock)
	add := func(a netip.Addr) {
		if l, ok := s.table.persisted(a); ok {
			l.Expiry = l.Expiry.Add(off).Round(0)
			ops = append(ops, Op{Lease: l})
		}
	}
	if stepped {
		for _, a := range s.table.records() {
			add(a)
		}
		return ops, off
	}
	for _, q := range batch {
		for _, op := range q.o.ops {
			// Write the address's current state, not the worker's
			// snapshot: see table.persisted.
			add(op.Lease.IP)
		}
	}
	return ops, off
}
