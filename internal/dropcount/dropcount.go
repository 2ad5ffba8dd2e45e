// Package dropcount counts refused input by reason for the serving
// packages' Stats: lock-free on the hot path, a map in the snapshot.
package dropcount

import "sync/atomic"

// Counts holds one counter per reason. Create it with New; it is safe for
// concurrent use.
type Counts[R ~string] struct {
	reasons []R
	n       []atomic.Uint64
}

// New returns counters for these reasons, all zero.
func New[R ~string](reasons ...R) *Counts[R] {
	return &Counts[R]{reasons: reasons, n: make([]atomic.Uint64, len(reasons))}
}

// Add counts one drop for r. A reason New was not given is not counted: a
// server only drops for the reasons it declares.
func (c *Counts[R]) Add(r R) {
	for i, x := range c.reasons {
		if x == r {
			c.n[i].Add(1)
			return
		}
	}
}

// Snapshot returns the reasons counted so far and their counts; reasons at
// zero are left out.
func (c *Counts[R]) Snapshot() map[R]uint64 {
	m := map[R]uint64{}
	for i, r := range c.reasons {
		if v := c.n[i].Load(); v > 0 {
			m[r] = v
		}
	}
	return m
}
