package dhcp

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestPoolCapPerRelayAndPort: DISCOVERs from invented MACs through one
// relay port take at most PortLeaseCap addresses, through many ports of
// one relay at most RelayLeaseCap, the rest refused and counted as
// pool-cap; clients on another port or behind another relay, and a client
// that already holds an address, are still served; once the flood's
// offers lapse, the room comes back.
func TestPoolCapPerRelayAndPort(t *testing.T) {
	const portCap, relayCap = 10, 40
	s := newTestServer(t, func(c *Config) { c.PortLeaseCap, c.RelayLeaseCap = portCap, relayCap })
	relayA := net.IPv4(192, 0, 2, 254)
	relayB := net.IPv4(192, 0, 2, 253)
	via := func(relay net.IP, port string) dhcpv4.Modifier {
		return func(d *dhcpv4.DHCPv4) {
			d.GatewayIPAddr = relay
			if port != "" {
				d.UpdateOption(dhcpv4.OptRelayAgentInfo(
					dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte(port)),
					dhcpv4.OptGeneric(dhcpv4.AgentRemoteIDSubOption, []byte("switch-1"))))
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	randomMAC := func() string {
		return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256))
	}
	offer := func(mac string, m dhcpv4.Modifier, at time.Time) (*dhcpv4.DHCPv4, DropReason) {
		o, why := s.handle(inbound{data: discover(t, mac, m).ToBytes()}, at)
		if why != "" {
			return nil, why
		}
		s.account(o)
		return o.reply, ""
	}
	flood := func(n int, port func(i int) string, at time.Time) (offered int, first string) {
		for i := range n {
			mac := randomMAC()
			_, why := offer(mac, via(relayA, port(i)), at)
			switch why {
			case "":
				if offered == 0 {
					first = mac
				}
				offered++
			case DropPoolCap:
			default:
				t.Fatalf("flood DISCOVER %d: dropped as %q", i, why)
			}
		}
		return offered, first
	}

	got, holder := flood(500, func(int) string { return "eth1/1" }, t0)
	if got != portCap {
		t.Fatalf("500 invented MACs on one port got %d offers, want the port cap %d", got, portCap)
	}
	// The port's first client completes its DORA and comes back: it holds
	// an address, so the full port does not refuse it.
	o, why := offer(holder, via(relayA, "eth1/1"), t0)
	if why != "" {
		t.Fatalf("a client holding an address on the full port: %q", why)
	}
	req, _ := dhcpv4.NewRequestFromOffer(o, via(relayA, "eth1/1"))
	if _, why := s.handle(inbound{data: req.ToBytes()}, t0); why != "" {
		t.Fatalf("REQUEST of the held offer: %q", why)
	}
	if _, why := offer(randomMAC(), via(relayA, "eth1/2"), t0); why != "" {
		t.Fatalf("a client on another port of the same relay: %q", why)
	}

	// Many ports of relay A, a few MACs each: the relay's total is capped.
	got, _ = flood(400, func(i int) string { return fmt.Sprintf("eth2/%d", i/4) }, t0)
	if held := s.caps.holds(capKey{relay: addrOf(relayA)}); held != relayCap || got != relayCap-portCap-1 {
		t.Fatalf("relay A holds %d (flood over many ports got %d), want the relay cap %d", held, got, relayCap)
	}
	if _, why := offer(randomMAC(), via(relayB, "eth1/1"), t0); why != "" {
		t.Fatalf("a client behind another relay during the flood: %q", why)
	}
	if _, why := offer(randomMAC(), via(relayA, "eth9/9"), t0); why != DropPoolCap {
		t.Fatalf("a new client behind the full relay: %q, want pool-cap", why)
	}

	// After the offer hold the flood's offers lapse and the relay has room
	// again; the acknowledged lease still counts.
	later := t0.Add(s.cfg.OfferHold + 2*time.Second)
	if _, why := offer(randomMAC(), via(relayA, "eth9/9"), later); why != "" {
		t.Fatalf("after the flood's offers lapsed: %q", why)
	}
	if held := s.caps.holds(capKey{relay: addrOf(relayA)}); held != 2 {
		t.Fatalf("relay A holds %d after the offers lapsed, want 2 (the lease and the new offer)", held)
	}
}
