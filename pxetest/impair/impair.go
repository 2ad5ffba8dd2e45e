// Package impair is a userspace impairment relay for lab networks: it
// bridges two interfaces with packet sockets and drops, duplicates,
// reorders and delays the Ethernet frames between them, with decisions
// drawn from fixed-seed random streams so a run can be repeated. It stands
// in for netem where the kernel has no sch_netem.
package impair

import (
	"container/heap"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Config says how frames are impaired. Fractions are 0..1; the zero Config
// forwards everything.
type Config struct {
	Loss      float64       // drop this fraction of frames
	Duplicate float64       // send this fraction twice
	Reorder   float64       // hold this fraction back and send it after the next frame (or after Delay+Jitter)
	Delay     time.Duration // added to every frame
	Jitter    time.Duration // uniform extra delay in [0, Jitter)
	Seed      uint64        // fixed seed: the same Config and traffic give the same decisions
	// Match, when set, impairs only frames for which it returns true (e.g.
	// only UDP, only one direction's IPv4); the rest are forwarded
	// untouched.
	Match func(frame []byte) bool
}

// DefaultHold is how long a reordered frame waits for a next frame to
// overtake it when the Config has no Delay or Jitter: lock-step protocols
// send nothing more until the held frame is answered, so without a bound
// the hold would be a loss.
const DefaultHold = 20 * time.Millisecond

// hold is how long a reordered frame waits for the next one.
func (c Config) hold() time.Duration {
	if h := c.Delay + c.Jitter; h > 0 {
		return h
	}
	return DefaultHold
}

// Direction counts one direction's frames.
type Direction struct{ Frames, Forwarded, Dropped, Duplicated, Reordered uint64 }

// Stats are a relay's counters: AtoB and BtoA.
type Stats struct{ AtoB, BtoA Direction }

// Stream constants tell the per-direction random streams apart, so the two
// directions' decisions are independent but each is fixed by Seed.
const (
	streamAtoB = 0x9e3779b97f4a7c15
	streamBtoA = 0xbf58476d1ce4e5b9
)

// counters are a Direction updated while Stats reads it.
type counters struct{ frames, forwarded, dropped, duplicated, reordered atomic.Uint64 }

func (c *counters) load() Direction {
	return Direction{c.frames.Load(), c.forwarded.Load(), c.dropped.Load(), c.duplicated.Load(), c.reordered.Load()}
}

// pending is a frame scheduled to leave at a time; seq keeps frames due at
// the same time in the order they were scheduled.
type pending struct {
	at  time.Time
	seq uint64
	b   []byte
}

type queue []pending

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(pending)) }
func (q *queue) Pop() any {
	old := *q
	p := old[len(old)-1]
	*q = old[:len(old)-1]
	return p
}

// path impairs one direction: handle decides each frame's fate as it
// arrives, and the frames that survive wait in a time-ordered queue until
// run sends them.
type path struct {
	cfg   Config
	rng   *rand.Rand
	send  func([]byte) error
	stats counters
	wake  chan struct{}

	mu       sync.Mutex
	q        queue
	seq      uint64
	held     []byte    // a reordered frame waiting for the next one
	heldTill time.Time // when it goes anyway
}

func newPath(cfg Config, stream uint64, send func([]byte) error) *path {
	return &path{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, stream)), send: send, wake: make(chan struct{}, 1)}
}

// handle takes one received frame (which it keeps: the caller must not
// reuse b) and schedules what is to be sent.
func (p *path) handle(b []byte, now time.Time) {
	p.stats.frames.Add(1)
	if p.cfg.Match != nil && !p.cfg.Match(b) {
		p.stats.forwarded.Add(1)
		p.mu.Lock()
		p.push(now, b)
		p.releaseHeld(now)
		p.mu.Unlock()
		p.signal()
		return
	}
	// Every impaired frame draws the same four numbers whatever its fate,
	// so decisions depend only on the frame's position in the stream.
	loss, dup, reorder := p.rng.Float64(), p.rng.Float64(), p.rng.Float64()
	var jitter time.Duration
	if p.cfg.Jitter > 0 {
		jitter = time.Duration(p.rng.Int64N(int64(p.cfg.Jitter)))
	} else {
		p.rng.Uint64()
	}
	if loss < p.cfg.Loss {
		p.stats.dropped.Add(1)
		return
	}
	p.stats.forwarded.Add(1)
	at := now.Add(p.cfg.Delay + jitter)
	p.mu.Lock()
	if reorder < p.cfg.Reorder {
		p.stats.reordered.Add(1)
		// A frame already held is overtaken by this one only as far as
		// this one's arrival: it goes now.
		p.releaseHeld(now)
		p.held, p.heldTill = b, at.Add(p.cfg.hold())
	} else {
		p.push(at, b)
		p.releaseHeld(at)
	}
	if dup < p.cfg.Duplicate {
		p.stats.duplicated.Add(1)
		p.push(at, b)
	}
	p.mu.Unlock()
	p.signal()
}

// push queues b to leave at at; p.mu is held.
func (p *path) push(at time.Time, b []byte) {
	p.seq++
	heap.Push(&p.q, pending{at: at, seq: p.seq, b: b})
}

// releaseHeld queues the held frame, if any, to leave at at, after what
// is already queued for then; p.mu is held.
func (p *path) releaseHeld(at time.Time) {
	if p.held == nil {
		return
	}
	p.push(at, p.held)
	p.held = nil
}

func (p *path) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// due pops the frames due by now (releasing a held frame whose wait is
// over) and says when the next one is due (zero: nothing waiting).
func (p *path) due(now time.Time, out [][]byte) ([][]byte, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held != nil && !now.Before(p.heldTill) {
		p.releaseHeld(p.heldTill)
	}
	for len(p.q) > 0 && !now.Before(p.q[0].at) {
		out = append(out, heap.Pop(&p.q).(pending).b)
	}
	var next time.Time
	if len(p.q) > 0 {
		next = p.q[0].at
	}
	if p.held != nil && (next.IsZero() || p.heldTill.Before(next)) {
		next = p.heldTill
	}
	return out, next
}

// run sends queued frames when they are due until done is closed. A send
// error (a frame larger than the egress MTU, a link gone down) loses that
// frame only, as a wire would; onErr hears of it.
func (p *path) run(done <-chan struct{}, onErr func(error)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var out [][]byte
	for {
		var next time.Time
		out, next = p.due(time.Now(), out[:0])
		for _, b := range out {
			if err := p.send(b); err != nil && onErr != nil {
				onErr(err)
			}
		}
		clear(out)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-done:
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}
