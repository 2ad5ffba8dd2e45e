package dhcp

import (
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// DropPoolCap is a new client refused an address because its relay or its
// relay port already holds as many as RelayLeaseCap or PortLeaseCap allow.
const DropPoolCap DropReason = "pool-cap"

// defaultPortLeaseCap is PortLeaseCap's default: a switch port with a
// hypervisor behind it holds a few dozen VMs, not a pool.
const defaultPortLeaseCap = 64

// capKey names a group of clients that shares a cap: a relay (port "")
// or one port of a relay.
type capKey struct {
	relay netip.Addr
	port  string
}

// capGroup is who holds addresses in one group and until when.
type capGroup struct {
	held   map[string]time.Time // MAC → end of its offer or lease
	pruned time.Time
}

// poolCaps counts the addresses each relay and relay port holds. What it
// holds is bounded by the pools (an entry exists only while its client
// holds an offer or a lease this server gave), so invented MACs, relays
// or ports cannot grow it without bound. It counts what this server
// handed out since it started: a lease loaded from the store counts once
// its client renews it.
type poolCaps struct {
	relayCap, portCap int
	mu                sync.Mutex
	groups            map[capKey]*capGroup
	where             map[string][2]capKey // MAC → its relay and port groups
}

// newPoolCaps returns nil (no caps) when neither cap applies.
func newPoolCaps(relayCap, portCap int) *poolCaps {
	if portCap == 0 {
		portCap = defaultPortLeaseCap
	}
	relayCap, portCap = max(relayCap, 0), max(portCap, 0)
	if relayCap == 0 && portCap == 0 {
		return nil
	}
	return &poolCaps{relayCap: relayCap, portCap: portCap, groups: map[capKey]*capGroup{}, where: map[string][2]capKey{}}
}

// capKeys are the relay and port groups of a relayed request; ok is false
// for a direct one.
func capKeys(p *dhcpv4.DHCPv4, relay netip.Addr) (k [2]capKey, ok bool) {
	if !relay.IsValid() {
		return k, false
	}
	k[0] = capKey{relay: relay}
	if ri := p.RelayAgentInfo(); ri != nil {
		circuit := ri.Get(dhcpv4.AgentCircuitIDSubOption)
		remote := ri.Get(dhcpv4.AgentRemoteIDSubOption)
		if len(circuit)+len(remote) > 0 {
			// Length-prefixed so no two (circuit, remote) pairs collide.
			k[1] = capKey{relay: relay, port: string(rune(len(circuit))) + string(circuit) + string(remote)}
		}
	}
	return k, true
}

// take reports whether mac may hold an address behind keys at now (it
// already holds one there, or neither group is at its cap) and if so
// records it as holding one until the given time; one lock for both, so
// concurrent workers cannot overshoot a cap.
func (c *poolCaps) take(mac string, keys [2]capKey, now, until time.Time) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.where[mac]
	mine := ok && w == keys && c.groups[keys[0]].held[mac].After(now)
	if !mine && !(c.room(keys[0], c.relayCap, now) && (keys[1].port == "" || c.room(keys[1], c.portCap, now))) {
		return false
	}
	c.record(mac, keys, until)
	return true
}

// room reports whether group k has fewer than max holders, dropping the
// lapsed ones first when it looks full (at most once a second per group,
// so a flood against a full group costs a map lookup per packet).
func (c *poolCaps) room(k capKey, max int, now time.Time) bool {
	if max == 0 {
		return true
	}
	g := c.groups[k]
	if g == nil || len(g.held) < max {
		return true
	}
	if now.Sub(g.pruned) >= time.Second {
		g.pruned = now
		for mac, until := range g.held {
			if !until.After(now) {
				c.forget(mac)
			}
		}
	}
	return len(g.held) < max
}

// hold records that mac holds an address behind keys until the given
// time (its lease, once acknowledged).
func (c *poolCaps) hold(mac string, keys [2]capKey, until time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record(mac, keys, until)
}

func (c *poolCaps) record(mac string, keys [2]capKey, until time.Time) {
	if w, ok := c.where[mac]; ok && w != keys {
		c.forget(mac)
	}
	c.where[mac] = keys
	for i, k := range keys {
		if i == 1 && k.port == "" {
			continue
		}
		g := c.groups[k]
		if g == nil {
			g = &capGroup{held: map[string]time.Time{}}
			c.groups[k] = g
		}
		g.held[mac] = until
	}
}

// free forgets mac's hold (a RELEASE or DECLINE).
func (c *poolCaps) free(mac string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(mac)
}

func (c *poolCaps) forget(mac string) {
	w, ok := c.where[mac]
	if !ok {
		return
	}
	delete(c.where, mac)
	for _, k := range w {
		if g := c.groups[k]; g != nil {
			delete(g.held, mac)
			if len(g.held) == 0 {
				delete(c.groups, k)
			}
		}
	}
}

// holds reports how many addresses the group k holds (for tests and
// stats).
func (c *poolCaps) holds(k capKey) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[k]; g != nil {
		return len(g.held)
	}
	return 0
}
