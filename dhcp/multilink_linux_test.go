package dhcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// One server, two links, two subnets: each client gets an address of the
// subnet on its own link, from the server address on that link — the
// reply left by the interface the request came in on.
func TestTwoLinks(t *testing.T) {
	srv, c1, c2 := pxetest.TempNetNS(t, "dhm"), pxetest.TempNetNS(t, "dhm1"), pxetest.TempNetNS(t, "dhm2")
	s1, s2, i1, i2 := "srv1", "srv2", "cli1", "cli2"
	if err := srv.AddVeth(pxetest.Veth{Name: s1, Addr: mustPrefix("192.0.2.1/25"), Peer: i1, PeerNS: c1}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddVeth(pxetest.Veth{Name: s2, Addr: mustPrefix("192.0.2.129/25"), Peer: i2, PeerNS: c2}); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, func(c *Config) {
		c.ServerID = netip.Addr{} // per link
		c.NetNS = srv.Path()
		c.Interfaces = []string{s1, s2}
		c.Subnets = []Subnet{
			{Prefix: mustPrefix("192.0.2.0/25"), Pools: []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.100")}}, Routers: []netip.Addr{mustAddr("192.0.2.1")}},
			{Prefix: mustPrefix("192.0.2.128/25"), Pools: []Range{{mustAddr("192.0.2.140"), mustAddr("192.0.2.200")}}, Routers: []netip.Addr{mustAddr("192.0.2.129")}},
		}
	})
	s.now = time.Now
	pxetest.Serve(t, s)
	for _, c := range []struct {
		ns          *pxetest.NetNS
		ifc, prefix string
		sid         string
	}{
		{c1, i1, "192.0.2.0/25", "192.0.2.1"},
		{c2, i2, "192.0.2.128/25", "192.0.2.129"},
	} {
		uc := pxetest.StartUdhcpc(t, c.ns, c.ifc, "-q", "-n", "-t", "5", "-T", "2")
		if err := uc.Wait(); err != nil {
			t.Fatalf("udhcpc on %s: %v\n%s", c.ifc, err, uc.Output())
		}
		ev, ok := uc.Event("bound")
		if !ok {
			t.Fatalf("udhcpc on %s: no lease %v\n%s", c.ifc, uc.Events(), uc.Output())
		}
		if !mustPrefix(c.prefix).Contains(ev.IP) || ev.Routers != c.sid || ev.ServerID != c.sid {
			t.Errorf("client on %s got %s", c.ifc, ev)
		}
	}
	if st := s.Stats(); st.ActiveLeases != 2 || len(st.Dropped) != 0 {
		t.Errorf("stats %+v", st)
	}
}
