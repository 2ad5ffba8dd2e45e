package dhcp

import (
	"time"

	"github.com/pxekit/pxekit/internal/ratelimit"
)

// limiter limits packets per MAC or per relay: internal/ratelimit's keyed
// token buckets, shared with the DHCPv6 server. A nil limiter allows
// everything.
type limiter struct{ k *ratelimit.Keyed }

func newLimiter(rate float64, burst, slots int) *limiter {
	if rate < 0 {
		return nil
	}
	return &limiter{ratelimit.New(rate, burst, slots)}
}

// allow takes one token for key at now.
func (l *limiter) allow(key []byte, now time.Time) bool {
	if l == nil {
		return true
	}
	return l.k.Allow(key, now)
}

// peek finds a token for key at now without taking it (see
// ratelimit.Keyed.Peek).
func (l *limiter) peek(key []byte, now time.Time) (ratelimit.Token, bool) {
	if l == nil {
		return ratelimit.Token{}, true
	}
	return l.k.Peek(key, now)
}
