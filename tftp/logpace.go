package tftp

import (
	"sync"
	"time"
)

// logEvery paces the per-request refusal log lines: a flood of requests
// (65,535 names that do not exist) would otherwise write one line each.
// Every refusal is still counted in Stats and sent as an Event.
const logEvery = time.Second

// logPacer lets one line per reason through per logEvery and says how
// many it held back since the last one.
type logPacer struct {
	mu   sync.Mutex
	last map[DropReason]time.Time
	held map[DropReason]int
}

// allow reports whether a line for why may be logged now, and how many
// were suppressed before it.
func (p *logPacer) allow(why DropReason) (suppressed int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last, p.held = map[DropReason]time.Time{}, map[DropReason]int{}
	}
	now := time.Now()
	if t, seen := p.last[why]; seen && now.Sub(t) < logEvery {
		p.held[why]++
		return 0, false
	}
	p.last[why] = now
	n := p.held[why]
	p.held[why] = 0
	return n, true
}
