package dhcp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// A reload that moves the pool, changes the options and adds a subnet
// keeps the lease a client holds (it renews the same address, now outside
// any pool), and the next client gets the new pool and options.
func TestReconfigureKeepsLeasesAndAppliesNewPoolsAndOptions(t *testing.T) {
	s := newTestServer(t, nil)
	// With two subnets the receiving link picks the client's.
	s.links = map[int]link{7: {name: "lab0", addrs: []netip.Prefix{mustPrefix("192.0.2.1/24")}}}
	lab := inbound{ifIndex: 7}
	_, ack := dora(t, s, "52:54:00:00:01:01", lab, t0)
	held := addrOf(ack.YourIPAddr)

	next := labConfig().Subnets
	next[0].Pools = []Range{{mustAddr("192.0.2.200"), mustAddr("192.0.2.209")}}
	next[0].DNS = []netip.Addr{mustAddr("192.0.2.54")}
	next[0].LeaseTime = 2 * time.Hour
	next = append(next, Subnet{Prefix: mustPrefix("198.51.100.0/24"),
		Pools: []Range{{mustAddr("198.51.100.10"), mustAddr("198.51.100.19")}}})
	if err := s.Reconfigure(next, []Reservation{{MAC: mustMAC("52:54:00:00:01:03"), IP: mustAddr("192.0.2.250")}}); err != nil {
		t.Fatal(err)
	}

	renew, _ := dhcpv4.NewRenewFromAck(ack)
	r, _, why := exchange(t, s, renew, inbound{ifIndex: 7, src: netip.AddrPortFrom(held, 68)}, t0.Add(30*time.Minute))
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || addrOf(r.YourIPAddr) != held {
		t.Fatalf("renewal of %s after the reload: %v (%s), want an ACK of the same address", held, r, why)
	}
	if lt := r.IPAddressLeaseTime(0); lt != 2*time.Hour {
		t.Errorf("renewal lease time %v, want the new 2h", lt)
	}
	offer, _ := dora(t, s, "52:54:00:00:01:02", lab, t0)
	if ip := addrOf(offer.YourIPAddr); !next[0].Pools[0].Contains(ip) {
		t.Errorf("a new client got %s, want the new pool %v", ip, next[0].Pools[0])
	}
	if dns := offer.DNS(); len(dns) != 1 || !dns[0].Equal(net.ParseIP("192.0.2.54")) {
		t.Errorf("new client's DNS %v, want the new 192.0.2.54", dns)
	}
	offer, _ = dora(t, s, "52:54:00:00:01:03", lab, t0)
	if ip := addrOf(offer.YourIPAddr); ip != mustAddr("192.0.2.250") {
		t.Errorf("the newly reserved machine got %s, want 192.0.2.250", ip)
	}
	st := s.Stats()
	if len(st.Subnets) != 2 || st.Subnets[0].PoolSize != 10 || st.Subnets[0].PoolFree != 9 || st.Subnets[0].ActiveLeases != 3 ||
		st.Subnets[1].PoolSize != 10 || st.Subnets[1].PoolFree != 10 {
		t.Errorf("per-subnet counts %+v, want 10/9 free with 3 leases (one outside the pool, one reserved), and 10/10", st.Subnets)
	}
	if st.Requests["discover"] != 3 || st.Requests["request"] != 4 {
		t.Errorf("requests by type %v, want 3 discovers and 4 requests", st.Requests)
	}
}

// A reload with errors is refused whole, with every error under its path,
// and the server keeps the old settings.
func TestReconfigureRefusesInvalidAndKeepsOld(t *testing.T) {
	s := newTestServer(t, nil)
	bad := []Subnet{{Prefix: mustPrefix("192.0.2.0/24"), Pools: []Range{{mustAddr("192.0.3.1"), mustAddr("192.0.3.9")}}, LeaseTime: -time.Second}}
	err := s.Reconfigure(bad, []Reservation{{MAC: mustMAC("52:54:00:00:01:05"), IP: mustAddr("198.51.100.5")}})
	if err == nil {
		t.Fatal("an invalid reload was taken")
	}
	for _, want := range []string{"subnets[0].pools[0]", "subnets[0].leaseTime", "reservations[0].ip"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	offer, _ := dora(t, s, "52:54:00:00:01:04", inbound{}, t0)
	if ip := addrOf(offer.YourIPAddr); !labConfig().Subnets[0].Pools[0].Contains(ip) {
		t.Errorf("after a refused reload a client got %s, want the old pool", ip)
	}
}

func TestCommitLatencyIsRecorded(t *testing.T) {
	h := newHistogram(CommitBuckets())
	h.observe(30 * time.Microsecond)
	h.observe(3 * time.Millisecond)
	h.observe(2 * time.Second)
	got := h.snapshot()
	if got.Count != 3 || got.Counts[0] != 1 || got.Counts[6] != 1 || got.Counts[len(CommitBuckets())] != 1 {
		t.Errorf("histogram %+v, want one in the first bucket, one in (2.5ms,5ms], one above every bound", got)
	}
	if got.Sum != 30*time.Microsecond+3*time.Millisecond+2*time.Second {
		t.Errorf("sum %v", got.Sum)
	}
}
