package dhcp

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// One server, two links, two subnets: each client gets an address of the
// subnet on its own link, from the server address on that link — the
// reply left by the interface the request came in on.
func TestTwoLinks(t *testing.T) {
	requireLab(t, [2]string{"udhcpc", "udhcpc"})
	srv, c1, c2 := netns(t), netns(t), netns(t)
	s1, s2, i1, i2 := labName("ma"), labName("mb"), labName("mc"), labName("md")
	veth(t, srv, s1, "192.0.2.1/25", c1, i1, "")
	veth(t, srv, s2, "192.0.2.129/25", c2, i2, "")
	s := newTestServer(t, func(c *Config) {
		c.ServerID = netip.Addr{} // per link
		c.NetNS = "/var/run/netns/" + srv
		c.Interfaces = []string{s1, s2}
		c.Subnets = []Subnet{
			{Prefix: mustPrefix("192.0.2.0/25"), Pools: []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.100")}}, Routers: []netip.Addr{mustAddr("192.0.2.1")}},
			{Prefix: mustPrefix("192.0.2.128/25"), Pools: []Range{{mustAddr("192.0.2.140"), mustAddr("192.0.2.200")}}, Routers: []netip.Addr{mustAddr("192.0.2.129")}},
		}
	})
	s.now = time.Now
	serve(t, s)
	dir := t.TempDir()
	script := filepath.Join(dir, "hook")
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip router=$router sid=$serverid\" > "+dir+"/$interface\nexit 0\n"), 0o755)
	for _, c := range []struct{ ns, ifc, prefix, sid string }{
		{c1, i1, "192.0.2.0/25", "192.0.2.1"},
		{c2, i2, "192.0.2.128/25", "192.0.2.129"},
	} {
		out, err := exec.Command("ip", "netns", "exec", c.ns, "udhcpc", "-f", "-q", "-n", "-i", c.ifc, "-s", script, "-t", "5", "-T", "2").CombinedOutput()
		if err != nil {
			t.Fatalf("udhcpc on %s: %v\n%s", c.ifc, err, out)
		}
		b, _ := os.ReadFile(filepath.Join(dir, c.ifc))
		f := strings.Fields(string(b))
		if len(f) != 3 {
			t.Fatalf("udhcpc on %s: %q\n%s", c.ifc, b, out)
		}
		ip := netip.MustParseAddr(strings.TrimPrefix(f[0], "ip="))
		if !mustPrefix(c.prefix).Contains(ip) || f[1] != "router="+c.sid || f[2] != "sid="+c.sid {
			t.Errorf("client on %s got %s", c.ifc, b)
		}
	}
	if st := s.Stats(); st.ActiveLeases != 2 || len(st.Dropped) != 0 {
		t.Errorf("stats %+v", st)
	}
}
