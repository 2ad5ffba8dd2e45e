// Package ratelimit is the keyed token bucket the DHCP servers (dhcp,
// dhcp6) limit clients and relays with.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// Keyed is a set of token buckets in a fixed-size table indexed by a hash
// of the key (a MAC, a DUID, a relay address). Memory stays bounded
// however many keys a flood invents; two keys that share a slot share a
// budget, which only makes the limit stricter for them. A nil *Keyed
// allows everything.
type Keyed struct {
	mu    sync.Mutex
	rate  float64
	burst float64
	seed  maphash.Seed
	slots []bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns rate tokens a second per key, at most burst at once, in a
// table of slots buckets; a negative rate means no limit (nil).
func New(rate float64, burst, slots int) *Keyed {
	if rate < 0 {
		return nil
	}
	return &Keyed{rate: rate, burst: float64(burst), seed: maphash.MakeSeed(), slots: make([]bucket, slots)}
}

// Allow takes one token for key at now.
func (l *Keyed) Allow(key []byte, now time.Time) bool {
	if l == nil {
		return true
	}
	i := maphash.Bytes(l.seed, key) % uint64(len(l.slots))
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &l.slots[i]
	ok := l.refill(b, now)
	if ok {
		b.tokens--
	}
	return ok
}

// Token is a key's bucket that Peek found a token in: Take spends it.
type Token struct {
	l *Keyed
	i uint64
}

// Peek reports whether key has a token at now without taking it. A
// packet checked against several limits (its MAC, its relay) takes a
// token from each only once all of them allow it: a flood that one
// limit stops then costs the others nothing, so the well-behaved keys
// that share a slot with the flood's keys keep their budget.
func (l *Keyed) Peek(key []byte, now time.Time) (Token, bool) {
	if l == nil {
		return Token{}, true
	}
	i := maphash.Bytes(l.seed, key) % uint64(len(l.slots))
	l.mu.Lock()
	defer l.mu.Unlock()
	return Token{l, i}, l.refill(&l.slots[i], now)
}

// Take spends the token Peek found. Two callers that peeked the same slot
// at once may both take: the bucket then owes a token, never more than
// the callers in flight.
func (t Token) Take() {
	if t.l == nil {
		return
	}
	t.l.mu.Lock()
	t.l.slots[t.i].tokens--
	t.l.mu.Unlock()
}

// refill adds the tokens earned since the bucket's last use and reports
// whether one is there.
func (l *Keyed) refill(b *bucket, now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = l.burst
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens += d.Seconds() * l.rate
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
	}
	b.last = now
	return b.tokens >= 1
}
