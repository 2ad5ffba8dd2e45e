package sriov

import (
	"fmt"
	"strconv"
	"strings"
)

// PFName is one nicSelector.pfNames entry: a PF netdev name and, written
// "name#first-last", the range of its VFs the policy takes.
type PFName struct {
	// Name is the PF netdev name, e.g. eno3.
	Name string
	// HasRange reports whether a "#first-last" range was given; without one
	// the policy takes every VF.
	HasRange bool
	// First and Last are the inclusive VF index range, when HasRange.
	First, Last int
}

// String writes the entry back in the operator's syntax.
func (p PFName) String() string {
	if !p.HasRange {
		return p.Name
	}
	return fmt.Sprintf("%s#%d-%d", p.Name, p.First, p.Last)
}

// Contains reports whether VF index i is in the entry's range.
func (p PFName) Contains(i int) bool {
	return !p.HasRange || (i >= p.First && i <= p.Last)
}

// ParsePFName parses "eno3" or "eno3#0-3" with the operator's rules: one
// '#', one '-', two decimal indexes, first ≤ last. numVfs > 0 also checks
// that last < numVfs, as the webhook does.
func ParsePFName(s string, numVfs int) (PFName, error) {
	name, rng, ok := strings.Cut(s, "#")
	if name == "" {
		return PFName{}, fmt.Errorf("empty PF name")
	}
	if !ok {
		return PFName{Name: s}, nil
	}
	if strings.Contains(rng, "#") {
		return PFName{}, fmt.Errorf("more than one '#': write name#first-last")
	}
	parts := strings.Split(rng, "-")
	if len(parts) != 2 {
		return PFName{}, fmt.Errorf("VF range %q is not first-last", rng)
	}
	first, err := strconv.Atoi(parts[0])
	if err != nil || first < 0 {
		return PFName{}, fmt.Errorf("VF range start %q is not a VF index", parts[0])
	}
	last, err := strconv.Atoi(parts[1])
	if err != nil || last < 0 {
		return PFName{}, fmt.Errorf("VF range end %q is not a VF index", parts[1])
	}
	if last < first {
		return PFName{}, fmt.Errorf("VF range end %d is smaller than its start %d", last, first)
	}
	if numVfs > 0 && last >= numVfs {
		return PFName{}, fmt.Errorf("VF range end %d exceeds the maximum VF index %d (numVfs %d)", last, numVfs-1, numVfs)
	}
	return PFName{Name: name, HasRange: true, First: first, Last: last}, nil
}
