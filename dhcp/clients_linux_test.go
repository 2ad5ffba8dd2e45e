package dhcp

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// labServer starts a server in a new namespace on a veth whose peer is in
// a second namespace for the client. It returns the client namespace and
// interface.
func labServer(t *testing.T, mutate func(*Config)) (*Server, string, string) {
	t.Helper()
	srv, cli := netns(t), netns(t)
	sif, cif := labName("ds"), labName("dc")
	veth(t, srv, sif, "192.0.2.1/24", cli, cif, "")
	s := newTestServer(t, func(c *Config) {
		c.NetNS = "/var/run/netns/" + srv
		c.Interfaces = []string{sif}
		if mutate != nil {
			mutate(c)
		}
	})
	s.now = time.Now
	serve(t, s)
	return s, cli, cif
}

// scriptLog reads the lines a client hook script appended.
func scriptLog(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func lineWith(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestDhclient(t *testing.T) {
	requireLab(t, [2]string{"dhclient", "isc-dhcp-client"})
	s, cli, cif := labServer(t, func(c *Config) { c.Subnets[0].LeaseTime = 10 * time.Second })
	dir := t.TempDir()
	log := filepath.Join(dir, "events")
	// The hook script only records what dhclient learned and configures
	// the address inside the client namespace; it never touches the
	// host's resolv.conf.
	script := filepath.Join(dir, "hook")
	os.WriteFile(script, []byte(`#!/bin/sh
case $reason in
PREINIT) ip link set dev $interface up ;;
BOUND|REBOOT) ip addr add $new_ip_address/$new_subnet_mask dev $interface ;;
esac
echo "$reason ip=$new_ip_address mask=$new_subnet_mask routers=$new_routers dns=$new_domain_name_servers domain=$new_domain_name mtu=$new_interface_mtu" >> `+log+`
exit 0
`), 0o755)
	conf := filepath.Join(dir, "dhclient.conf")
	os.WriteFile(conf, []byte("timeout 30;\nretry 2;\nrequest subnet-mask, broadcast-address, routers, domain-name-servers, domain-name, interface-mtu;\n"), 0o644)
	lf, pf := filepath.Join(dir, "leases"), filepath.Join(dir, "pid")
	base := []string{"netns", "exec", cli, "dhclient", "-4", "-v", "-sf", script, "-lf", lf, "-pf", pf, "-cf", conf}
	cmd := exec.Command("ip", append(base, "-d", cif)...)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	waitFor(t, "dhclient BOUND", 30*time.Second, func() bool { return lineWith(scriptLog(log), "BOUND") != "" })
	bound := lineWith(scriptLog(log), "BOUND")
	for _, want := range []string{"mask=255.255.255.0", "routers=192.0.2.1", "dns=192.0.2.53", "domain=lab.example", "mtu=9000"} {
		if !strings.Contains(bound, want) {
			t.Errorf("dhclient BOUND %q lacks %s", bound, want)
		}
	}
	f := strings.Fields(bound)
	ip := netip.MustParseAddr(strings.TrimPrefix(f[1], "ip="))
	if !s.cfg.Subnets[0].Pools[0].Contains(ip) {
		t.Fatalf("dhclient got %s, outside the pool", ip)
	}
	if l, ok := s.LeaseByIP(ip); !ok || l.MAC == nil {
		t.Fatalf("server has no lease for %s", ip)
	}
	// T1 is half of the 10 s lease: dhclient renews by itself (unicast).
	waitFor(t, "dhclient RENEW", 30*time.Second, func() bool { return lineWith(scriptLog(log), "RENEW") != "" })
	if r := lineWith(scriptLog(log), "RENEW"); !strings.Contains(r, "ip="+ip.String()) {
		t.Errorf("renewal changed the address: %s", r)
	}
	// Release: dhclient -r stops the running client and sends DHCPRELEASE.
	rel := exec.Command("ip", append(base, "-r", cif)...)
	if b, err := rel.CombinedOutput(); err != nil {
		t.Fatalf("dhclient -r: %v\n%s", err, b)
	}
	waitFor(t, "the server to free the released address", 10*time.Second, func() bool {
		_, ok := s.LeaseByIP(ip)
		return !ok
	})
	st := s.Stats()
	if st.Releases != 1 || st.Acks < 2 || st.PoolFree != st.PoolSize {
		t.Errorf("stats after release: %+v", st)
	}
	t.Logf("dhclient:\n%s", out.String())
}

func TestUdhcpc(t *testing.T) {
	requireLab(t, [2]string{"udhcpc", "udhcpc"})
	s, cli, cif := labServer(t, nil)
	dir := t.TempDir()
	log := filepath.Join(dir, "events")
	script := filepath.Join(dir, "hook")
	os.WriteFile(script, []byte(`#!/bin/sh
case $1 in
bound) ip addr add $ip/$subnet dev $interface ;;
deconfig) ip addr flush dev $interface ;;
esac
# Logged after the address is configured: the test acts on this line.
echo "$1 ip=$ip mask=$subnet router=$router dns=$dns domain=$domain mtu=$mtu lease=$lease" >> `+log+`
exit 0
`), 0o755)
	cmd := exec.Command("ip", "netns", "exec", cli, "udhcpc", "-f", "-i", cif, "-s", script, "-t", "10", "-T", "2", "-O", "mtu", "-O", "domain")
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "udhcpc bound", 30*time.Second, func() bool { return lineWith(scriptLog(log), "bound") != "" })
	bound := lineWith(scriptLog(log), "bound")
	for _, want := range []string{"mask=255.255.255.0", "router=192.0.2.1", "dns=192.0.2.53", "domain=lab.example", "mtu=9000", "lease=3600"} {
		if !strings.Contains(bound, want) {
			t.Errorf("udhcpc bound %q lacks %s", bound, want)
		}
	}
	ip := netip.MustParseAddr(strings.TrimPrefix(strings.Fields(bound)[1], "ip="))
	if l, ok := s.LeaseByIP(ip); !ok || l.MAC == nil {
		t.Fatalf("server has no lease for %s", ip)
	}
	// SIGUSR1: renew now (unicast to the server).
	acks := s.Stats().Acks
	cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, "udhcpc renew", 20*time.Second, func() bool { return lineWith(scriptLog(log), "renew") != "" })
	if r := lineWith(scriptLog(log), "renew"); !strings.Contains(r, "ip="+ip.String()) {
		t.Errorf("renewal changed the address: %s", r)
	}
	// udhcpc sends the unicast renewal from a short-lived socket bound to
	// ciaddr:68 and connected to the server; an answer that arrives
	// before udhcpc closes it is delivered to that socket and lost (seen
	// here about half the time), and udhcpc then rebinds by broadcast. So
	// the test checks the renewal was acknowledged, not how many tries.
	if st := s.Stats(); st.Acks <= acks || st.Naks != 0 {
		t.Errorf("renewal: %+v\n%s", st, out.String())
	}
	// SIGUSR2: release.
	cmd.Process.Signal(syscall.SIGUSR2)
	waitFor(t, "the server to free the released address", 10*time.Second, func() bool {
		_, ok := s.LeaseByIP(ip)
		return !ok
	})
	t.Logf("udhcpc:\n%s\nstats %+v", out.String(), s.Stats())
}
