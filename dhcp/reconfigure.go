package dhcp

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Reconfigure replaces the subnets (pools, options, lease times) and the
// reservations the server hands out, while it serves: what a config
// reload changes. Nothing held is dropped: every lease and every
// outstanding offer stays with its client, also when its address is no
// longer inside a pool (the client keeps renewing it until it lets it go);
// a new reservation for an address another client holds takes effect
// when that client next asks, with a NAK, as a reservation found at start
// does. The change is checked first, like New checks a Config; on an
// error nothing changes. Packets already being answered finish under the
// old settings, later ones see the new.
func (s *Server) Reconfigure(subnets []Subnet, reservations []Reservation) error {
	check := s.cfg
	check.Subnets, check.Reservations = subnets, reservations
	check.Conn, check.Store = nil, nil
	if errs := check.Validate(); len(errs) > 0 {
		return fmt.Errorf("dhcp: invalid config: %w", errs.ToAggregate())
	}
	subnets = append([]Subnet(nil), subnets...)
	reservations = append([]Reservation(nil), reservations...)
	opts := make([]dhcpv4.Options, len(subnets))
	for i, sn := range subnets {
		opts[i] = subnetOptions(sn, leaseTimeOf(sn))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Subnets, s.cfg.Reservations, s.subOpts = subnets, reservations, opts
	s.table.reconfigure(subnets, reservations)
	s.log.Info("dhcp: reconfigured", "subnets", len(subnets), "reservations", len(reservations))
	return nil
}

// reconfigure installs new subnets and reservations, keeping every record:
// each is re-filed under the subnet that now contains its address (-1 when
// none does: it is neither offered again nor counted, and the store keeps
// it until it expires). A pool that is kept keeps its cursor, so
// addresses keep being handed out in turn.
func (t *table) reconfigure(subnets []Subnet, res []Reservation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	type poolKey struct {
		prefix netip.Prefix
		r      Range
	}
	cursors := map[poolKey]uint32{}
	for _, p := range t.pools {
		cursors[poolKey{t.subnets[p.subnet].Prefix.Masked(), p.r}] = p.cursor
	}
	t.subnets, t.pools = subnets, nil
	for i, sn := range subnets {
		for _, r := range sn.Pools {
			t.pools = append(t.pools, pool{r: r, subnet: i, cursor: cursors[poolKey{sn.Prefix.Masked(), r}]})
		}
	}
	t.resIP = make(map[netip.Addr]string, len(res))
	t.resMAC = make(map[string]Reservation, len(res))
	for _, r := range res {
		t.resIP[r.IP] = string(r.MAC)
		t.resMAC[string(r.MAC)] = r
	}
	for a, i := range t.each {
		t.at(i).subnet = int32(t.subnetOf(a))
	}
}

// SubnetStats are one subnet's address counts.
type SubnetStats struct {
	Prefix netip.Prefix
	// PoolSize counts the subnet's dynamic pool addresses, PoolFree those
	// free now (reserved and quarantined ones are not), ActiveLeases the
	// bound, unexpired leases in the subnet (reservations included).
	PoolSize, PoolFree, ActiveLeases int
}

// countsBySubnet is counts, per subnet.
func (t *table) countsBySubnet(now time.Time) []SubnetStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SubnetStats, len(t.subnets))
	for i, sn := range t.subnets {
		out[i].Prefix = sn.Prefix.Masked()
	}
	for _, p := range t.pools {
		out[p.subnet].PoolSize += p.r.Size()
		out[p.subnet].PoolFree += p.r.Size()
	}
	nowi := instantOf(now)
	for a, i := range t.each {
		e := t.at(i)
		if e.subnet < 0 || !t.live(i, nowi) {
			continue
		}
		if e.state == stBound {
			out[e.subnet].ActiveLeases++
		}
		if t.inPool(a, int(e.subnet)) {
			out[e.subnet].PoolFree--
		}
	}
	for a := range t.resIP {
		if i := t.lookIP(a); i == 0 || !t.live(i, nowi) {
			if sub := t.subnetOf(a); sub >= 0 && t.inPool(a, sub) {
				out[sub].PoolFree--
			}
		}
	}
	return out
}

// CommitBuckets returns the upper bounds of Stats.CommitLatency's
// buckets: from an in-memory store's microseconds to a slow disk's fsync.
func CommitBuckets() []time.Duration {
	return []time.Duration{
		50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
		time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
		25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
		500 * time.Millisecond, time.Second,
	}
}

// Histogram is a distribution of durations: Counts[i] counts the
// observations at most Bounds[i] (and above Bounds[i-1]); the last element
// of Counts, one past Bounds, those above every bound. Count and Sum are
// over all of them.
type Histogram struct {
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// histogram records durations into fixed buckets, lock-free.
type histogram struct {
	bounds []time.Duration
	counts []atomic.Uint64
	sum    atomic.Int64
}

func newHistogram(bounds []time.Duration) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{Bounds: h.bounds, Counts: make([]uint64, len(h.counts)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	return out
}
