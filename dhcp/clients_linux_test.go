package dhcp

import (
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

func TestDhclient(t *testing.T) {
	s, cli, cif := labServer(t, func(c *Config) { c.Subnets[0].LeaseTime = 10 * time.Second })
	// The client's hook script only records what dhclient learned and
	// configures the address inside the client namespace; it never touches
	// the host's resolv.conf.
	dc := pxetest.StartDhclient(t, cli, cif, "timeout 30;\nretry 2;\nrequest subnet-mask, broadcast-address, routers, domain-name-servers, domain-name, interface-mtu;\n")

	ev := dc.WaitEvent("BOUND", 30*time.Second)
	bound := ev.String()
	for _, want := range []string{"mask=255.255.255.0", "router=192.0.2.1", "dns=192.0.2.53", "domain=lab.example", "mtu=9000"} {
		if !strings.Contains(bound, want) {
			t.Errorf("dhclient BOUND %q lacks %s", bound, want)
		}
	}
	ip := ev.IP
	if !s.cfg.Subnets[0].Pools[0].Contains(ip) {
		t.Fatalf("dhclient got %s, outside the pool", ip)
	}
	if l, ok := s.LeaseByIP(ip); !ok || l.MAC == nil {
		t.Fatalf("server has no lease for %s", ip)
	}
	// T1 is half of the 10 s lease: dhclient renews by itself (unicast).
	if r := dc.WaitEvent("RENEW", 30*time.Second).String(); !strings.Contains(r, "ip="+ip.String()) {
		t.Errorf("renewal changed the address: %s", r)
	}
	// Release: dhclient -r stops the running client and sends DHCPRELEASE.
	if err := dc.Release(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to free the released address", 10*time.Second, func() bool {
		_, ok := s.LeaseByIP(ip)
		return !ok
	})
	st := s.Stats()
	if st.Releases != 1 || st.Acks < 2 || st.PoolFree != st.PoolSize {
		t.Errorf("stats after release: %+v", st)
	}
	t.Logf("dhclient:\n%s", dc.Output())
}

func TestUdhcpc(t *testing.T) {
	s, cli, cif := labServer(t, nil)
	// The hook logs an event after it configured the address: the test
	// acts on that.
	uc := pxetest.StartUdhcpc(t, cli, cif, "-t", "10", "-T", "2", "-O", "mtu", "-O", "domain")
	ev := uc.WaitEvent("bound", 30*time.Second)
	bound := ev.String()
	for _, want := range []string{"mask=255.255.255.0", "router=192.0.2.1", "dns=192.0.2.53", "domain=lab.example", "mtu=9000", "lease=3600"} {
		if !strings.Contains(bound, want) {
			t.Errorf("udhcpc bound %q lacks %s", bound, want)
		}
	}
	ip := ev.IP
	if l, ok := s.LeaseByIP(ip); !ok || l.MAC == nil {
		t.Fatalf("server has no lease for %s", ip)
	}
	// SIGUSR1: renew now (unicast to the server).
	acks := s.Stats().Acks
	if err := uc.Renew(); err != nil {
		t.Fatal(err)
	}
	if r := uc.WaitEvent("renew", 20*time.Second).String(); !strings.Contains(r, "ip="+ip.String()) {
		t.Errorf("renewal changed the address: %s", r)
	}
	// udhcpc sends the unicast renewal from a short-lived socket bound to
	// ciaddr:68 and connected to the server; an answer that arrives
	// before udhcpc closes it is delivered to that socket and lost (seen
	// here about half the time), and udhcpc then rebinds by broadcast. So
	// the test checks the renewal was acknowledged, not how many tries.
	// A reply is counted after it left: udhcpc can hold it first.
	waitFor(t, "the server to count the renewal's ACK", 10*time.Second, func() bool { return s.Stats().Acks > acks })
	if st := s.Stats(); st.Naks != 0 {
		t.Errorf("renewal: %+v\n%s", st, uc.Output())
	}
	// SIGUSR2: release.
	if err := uc.Release(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to free the released address", 10*time.Second, func() bool {
		_, ok := s.LeaseByIP(ip)
		return !ok
	})
	t.Logf("udhcpc:\n%s\nstats %+v", uc.Output(), s.Stats())
}
