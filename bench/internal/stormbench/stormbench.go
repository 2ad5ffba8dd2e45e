package stormbench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
	"github.com/pxekit/pxekit/dhcp"
)

// summary is the report folded per step.
type summary struct {
	times  map[string][]time.Duration // sorted, booted machines only
	failed int
	byStep map[string]int
	first  map[string]string // first error per step
	resent int
	naks   int    // NAKs to REQUESTs, over all machines
	nak    string // the first of them
}

// summarize folds rep. With nakFails, a machine that got a NAK
// failed even though it went back to DISCOVER and booted: pxekit holds its
// offers, so a NAK from it is a bug, and the storm counts it as a failure.
func summarize(rep *stormclient.Report, nakFails bool) summary {
	s := summary{times: map[string][]time.Duration{}, byStep: map[string]int{}, first: map[string]string{}}
	for _, c := range rep.Clients {
		s.resent += c.Resent
		s.naks += c.Naks
		if s.nak == "" && c.FirstNak != "" {
			s.nak = c.MAC + ": " + c.FirstNak
		}
		if c.Step == "" && nakFails && c.Naks > 0 {
			c.Step, c.Err = "nak", c.FirstNak
		}
		if c.Step != "" {
			s.failed++
			s.byStep[c.Step]++
			if s.first[c.Step] == "" {
				s.first[c.Step] = c.MAC + ": " + c.Err
			}
			continue
		}
		for k, d := range c.Times {
			s.times[k] = append(s.times[k], d)
		}
	}
	for _, d := range s.times {
		slices.Sort(d)
	}
	return s
}

// failNote says what failed, by step, with the first error of each; or,
// when nothing did, what would have.
func (s summary) failNote() string {
	if s.failed == 0 {
		return "failure = NAK, TFTP/HTTP error, wrong or short file, or not booted within 150 s"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.byStep)) {
		parts = append(parts, fmt.Sprintf("%s: %d (first: %s)", k, s.byStep[k], harness.Tail(s.first[k], 160)))
	}
	return strings.Join(parts, "; ")
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// dropsNote lists the DHCP server's drops by reason, "none" for none.
func dropsNote(m map[dhcp.DropReason]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// logErrors returns the ERROR lines of a pxekit server's log (its
// roles log at WARN and above).
func logErrors(out string) []string {
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") {
			errs = append(errs, harness.Tail(l, 200))
		}
	}
	return errs
}
