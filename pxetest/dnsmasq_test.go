package pxetest

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDnsmasqDHCPClients: dnsmasq on one host of a switch leases to
// udhcpc and dhclient on two others; each client's hook configured the
// address on its link, and dhclient's release reaches dnsmasq.
// TestCleanupOnFailure makes it fail once everything runs.
func TestDnsmasqDHCPClients(t *testing.T) {
	RequireRoot(t)
	ipBin := RequireCmd(t, "ip", "iproute2")
	lnet := TempNetwork(t, NetworkConfig{Name: "pxq", Switch: true})
	srv, err := lnet.AddHost("pxqs", netip.MustParsePrefix("192.0.2.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	dm := StartDnsmasq(t, srv.NS, srv.Link, "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h")
	var hosts []*Host
	for _, p := range []string{"pxqu", "pxqd"} {
		h, err := lnet.AddHost(p, netip.Prefix{})
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	udhcpc := StartUdhcpc(t, hosts[0].NS, hosts[0].Link, "-t", "10", "-T", "2")
	dhclient := StartDhclient(t, hosts[1].NS, hosts[1].Link, "timeout 30;\nrequest subnet-mask, routers;\n")
	FailPoint(t, "clients-started")

	for i, ev := range []LeaseEvent{udhcpc.WaitEvent("bound", 40*time.Second), dhclient.WaitEvent("BOUND", 40*time.Second)} {
		if !ev.IP.IsValid() || ev.IP.Compare(netip.MustParseAddr("192.0.2.100")) < 0 || ev.IP.Compare(netip.MustParseAddr("192.0.2.150")) > 0 ||
			ev.Mask != "255.255.255.0" || ev.ServerID != "192.0.2.1" {
			t.Errorf("lease %s: not from dnsmasq's range with its server id", ev)
		}
		out, err := Run(t, hosts[i].NS, exec.Command(ipBin, "-o", "-4", "addr", "show", "dev", hosts[i].Link))
		if err != nil || !strings.Contains(out, "inet "+ev.IP.String()+"/24") {
			t.Errorf("%s: the hook did not configure %s: %v %s", hosts[i].NS.Name(), ev.IP, err, out)
		}
	}
	if err := dhclient.Release(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(20 * time.Second); !strings.Contains(dm.Output(), "DHCPRELEASE"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("dnsmasq saw no DHCPRELEASE:\n%s", dm.Output())
		}
	}
	// dhclient -r stops the running client (SIGTERM by its pid file).
	for end := time.Now().Add(10 * time.Second); !dhclient.Exited(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("dhclient still running after dhclient -r")
		}
	}
	if err := udhcpc.Renew(); err != nil {
		t.Fatal(err)
	}
	if ev := udhcpc.WaitEvent("renew", 20*time.Second); ev.IP != udhcpc.Events()[1].IP {
		t.Errorf("renewal %s changed the address (events %v)", ev, udhcpc.Events())
	}
}

// TestCleanupOnFailure: when TestDnsmasqDHCPClients fails with dnsmasq,
// udhcpc and dhclient running in four namespaces, none of them outlives
// it.
func TestCleanupOnFailure(t *testing.T) {
	RequireCmd(t, "dnsmasq", "dnsmasq-base")
	RequireCmd(t, "udhcpc", "udhcpc")
	RequireCmd(t, "dhclient", "isc-dhcp-client")
	CheckCleanup(t, "TestDnsmasqDHCPClients", "clients-started")
}

// TestNetNSStartPlainCommand: NetNS.Start runs a plain exec.Cmd inside
// the namespace. It tears down by hand at its end, not in cleanups, so
// when it fails half-way it leaves the process and the namespace behind:
// TestCheckCleanupFindsLeaks uses it to see CheckCleanup catch that.
func TestNetNSStartPlainCommand(t *testing.T) {
	RequireRoot(t)
	ns, err := NewNetNS("pxl")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pxetest: netns %s", ns.Name())
	cmd := exec.Command("sleep", "300")
	if err := ns.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Logf("pxetest: started sleep (pid %d) without a cleanup", cmd.Process.Pid)
	in := sameNetNS(t, cmd.Process.Pid, ns)
	FailPoint(t, "started")
	cmd.Process.Kill()
	cmd.Wait()
	if err := ns.Close(); err != nil {
		t.Error(err)
	}
	if !in {
		t.Errorf("sleep (pid %d) did not run in netns %s", cmd.Process.Pid, ns.Name())
	}
}

// TestCheckCleanupFindsLeaks: CheckCleanup reports the process and the
// namespace a failing test left, and removes them.
func TestCheckCleanupFindsLeaks(t *testing.T) {
	RequireRoot(t)
	f := (&fakeTB{}).run(func(tb testing.TB) { CheckCleanup(tb, "TestNetNSStartPlainCommand", "started") })
	var proc, space bool
	for _, e := range f.errors {
		proc = proc || strings.Contains(e, "process left running") && strings.Contains(e, "sleep 300")
		space = space || strings.Contains(e, "network namespace left") && strings.Contains(e, "pxl-")
	}
	if !proc || !space || f.fatal != "" {
		t.Errorf("CheckCleanup on a leaking test reported %q (fatal %q); want the sleep and the namespace", f.errors, f.fatal)
	}
}
