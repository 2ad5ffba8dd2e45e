package pxe

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxetest"
)

// ipv6Lab is a dual-stack boot server (192.0.2.1/24 and 2001:db8::1/64 on
// the lab bridge) with hosts on the bridge that take DHCPv6 leases with
// ISC dhclient -6.
type ipv6Lab struct {
	net    *pxetest.Network
	srv    *Server
	events pxetest.Recorder[Event]
	efi    []byte
}

func startIPv6Lab(t *testing.T, ctx context.Context, machines []Machine) *ipv6Lab {
	t.Helper()
	l := &ipv6Lab{efi: bytes.Repeat([]byte("iPXE EFI "), 20000)}
	l.net = pxetest.TempNetwork(t, pxetest.NetworkConfig{Server6: pxetest.DefaultServer6()})
	inv, err := NewStaticInventory(InventorySpec{Machines: machines, Profiles: map[string]Profile{
		"install": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0", "ip6={{.ClientAddr}}", "url={{.FileURL \"config.yaml\"}}"},
			Files: map[string]string{"config.yaml": "token: s3cret-{{.MAC}}\nserver: {{.BaseURL}}\n"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	l.srv, err = New(Config{
		Interface: l.net.Bridge,
		NetNS:     l.net.NS.Path(),
		Subnets:   []dhcp.Subnet{{Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}}}},
		Subnets6: []dhcp6.Subnet{{Pools: []dhcp6.Range{{Start: netip.MustParseAddr("2001:db8::100"), End: netip.MustParseAddr("2001:db8::1ff")}},
			DNS: []netip.Addr{netip.MustParseAddr("2001:db8::53")}}},
		LeaseFile:           filepath.Join(t.TempDir(), "leases.db"),
		RouterAdvertisement: true,
		HTTPPort:            8080,
		TFTPPort:            6969,
		IPXE:                fstest.MapFS{"ipxe.efi": {Data: l.efi}},
		Assets:              fstest.MapFS{"vmlinuz": {Data: []byte("kernel")}, "initrd.gz": {Data: []byte("initrd")}},
		Inventory:           inv,
		Logger:              pxetest.Logger(t, slog.LevelWarn),
	})
	if err != nil {
		t.Fatal(err)
	}
	go l.events.Record(l.srv.Subscribe(ctx))
	pxetest.Serve(t, l.srv)
	return l
}

// host is a machine on the lab bridge with a DHCPv6 lease.
type host6 struct {
	*pxetest.Host
	mac net.HardwareAddr
	ip  netip.Addr
}

func (l *ipv6Lab) addHost(t *testing.T, name string) *host6 {
	t.Helper()
	h, err := l.net.AddHost(name, netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	mac, err := h.NS.HardwareAddr(h.Link)
	if err != nil {
		t.Fatal(err)
	}
	return &host6{Host: h, mac: mac}
}

// lease runs dhclient -6 on the host until it is bound.
func (h *host6) lease(t *testing.T) {
	t.Helper()
	dc := pxetest.StartDhclient6(t, h.NS, h.Link, "timeout 30;\nalso request dhcp6.name-servers;\n")
	h.ip = dc.WaitEvent("BOUND6", 60*time.Second).IP
}

// curl fetches url from the host and returns the body and HTTP status.
func (h *host6) curl(t *testing.T, url string) (string, string) {
	t.Helper()
	bin := pxetest.RequireCmd(t, "curl", "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := pxetest.Run(t, h.NS, pxetest.CommandContext(ctx, bin, "-sS", "-g", "-w", "\n%{http_code}", url))
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", url, err, out)
	}
	i := strings.LastIndex(out, "\n")
	return out[:i], out[i+1:]
}

// The IPv6 boot path with real clients, beside IPv4 on one server: the
// router advertisement tells hosts to use DHCPv6 (M, O) and names the
// prefix on-link but not autonomous; dhclient -6 takes an address; over
// IPv6 the script names the server as http://[2001:db8::1]:8080, TFTP
// serves ipxe.efi to the DHCPv6 lease's MAC, a machine's per-machine file
// (a secret) is served to that machine and refused to another, and the
// phone-home is tied to the machine by its DHCPv6 lease; IPv4 clients
// still get IPv4 URLs. The boot events of the DHCPv6 exchange are the
// same kinds as DHCPv4's.
func TestIPv6RealClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l := startIPv6Lab(t, ctx, nil)
	a, b := l.addHost(t, "p6a"), l.addHost(t, "p6b")
	inv := l.srv.Inventory().(*StaticInventory)
	for name, h := range map[string]*host6{"a": a, "b": b} {
		if err := inv.SetMachine(Machine{MAC: h.mac, Hostname: name, Profile: "install"}); err != nil {
			t.Fatal(err)
		}
	}

	rdisc6 := pxetest.RequireCmd(t, "rdisc6", "ndisc6")
	if _, err := a.NS.WaitLinkLocal(a.Link, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	out, err := pxetest.Run(t, a.NS, pxetest.CommandContext(ctx, rdisc6, "-1", "-r", "5", "-w", "1000", a.Link))
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, out)
	}
	for _, re := range []string{`Stateful address conf\.\s*:\s*Yes`, `Prefix\s*:\s*2001:db8::/64`, `On-link\s*:\s*Yes`, `Autonomous address conf\.\s*:\s*No`, `Router lifetime\s*:\s*0 \(`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("rdisc6 output lacks %q:\n%s", re, out)
		}
	}

	// dhclient -6 adds its address as a /128: the route to the link
	// comes from the advertisement's on-link prefix, so b solicits one
	// too rather than count on the kernel's solicitations at link-up
	// having reached the server.
	if _, err := b.NS.WaitLinkLocal(b.Link, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if out, err := pxetest.Run(t, b.NS, pxetest.CommandContext(ctx, rdisc6, "-1", "-r", "5", "-w", "1000", b.Link)); err != nil {
		t.Fatalf("rdisc6 on b: %v\n%s", err, out)
	}
	a.lease(t)
	b.lease(t)
	for _, h := range []*host6{a, b} {
		if l6, ok := l.srv.DHCP6().LeaseByIP(h.ip); !ok || !macaddr.Equal(l6.MAC, h.mac) {
			t.Fatalf("DHCPv6 lease of %s (%s): %+v", h.ip, h.mac, l6)
		}
	}

	base6 := "http://[2001:db8::1]:8080"
	script, code := a.curl(t, base6+"/boot.ipxe?mac="+a.mac.String()+"&fw=efi")
	if code != "200" || !strings.Contains(script, "kernel "+base6+"/assets/vmlinuz") || !strings.Contains(script, "initrd "+base6+"/assets/initrd.gz") ||
		!strings.Contains(script, "ip6="+a.ip.String()) || !strings.Contains(script, "url="+base6+"/machines/"+a.mac.String()+"/config.yaml") {
		t.Errorf("script over IPv6 (%s):\n%s", code, script)
	}
	secret := base6 + "/machines/" + a.mac.String() + "/config.yaml"
	if body, code := a.curl(t, secret); code != "200" || body != "token: s3cret-"+a.mac.String()+"\nserver: "+base6+"\n" {
		t.Errorf("machine a's own file over IPv6: %s %q", code, body)
	}
	if body, code := b.curl(t, secret); code != "403" || strings.Contains(body, "s3cret") {
		t.Errorf("machine b got machine a's file: %s %q", code, body)
	}
	if _, code := a.curl(t, base6+"/phonehome?status=ok"); code != "200" {
		t.Errorf("phone-home: %s", code)
	}
	if got, _ := a.curl(t, "tftp://[2001:db8::1]:6969/ipxe.efi"); got != string(l.efi) {
		t.Errorf("TFTP over IPv6: %d bytes, want the %d of ipxe.efi", len(got), len(l.efi))
	}

	// IPv4 on the same server, from the server's own namespace: IPv4 URLs.
	curl := pxetest.RequireCmd(t, "curl", "curl")
	out4, err := pxetest.Run(t, l.net.NS, exec.Command(curl, "-sS", "http://192.0.2.1:8080/boot.ipxe?mac="+a.mac.String()))
	if err != nil || !strings.Contains(out4, "kernel http://192.0.2.1:8080/assets/vmlinuz") {
		t.Errorf("script over IPv4: %v\n%s", err, out4)
	}

	want := []EventKind{EventDiscovered, EventOffered, EventAcked, EventScriptServed, EventConfigServed, EventPhonedHome, EventTFTPSent}
	waitKinds(t, ctx, &l.events, a.mac, want)
	for _, e := range l.events.All() {
		if !macaddr.Equal(e.MAC, a.mac) {
			continue
		}
		switch e.Kind {
		case EventAcked:
			if !strings.HasPrefix(e.Detail, a.ip.String()+" ") || !strings.Contains(e.Detail, "(DHCPv6 ") {
				t.Errorf("acked event %q", e.Detail)
			}
		case EventPhonedHome:
			if !strings.Contains(e.Detail, "from "+a.ip.String()) {
				t.Errorf("phone-home %q, not from a's DHCPv6 address %s", e.Detail, a.ip)
			}
		}
	}
	denied := false
	for _, e := range l.events.All() {
		denied = denied || e.Kind == EventDenied && macaddr.Equal(e.MAC, a.mac) && strings.Contains(e.Detail, b.ip.String())
	}
	if !denied {
		t.Error("no denied event naming machine b's IPv6 address")
	}
	c := l.srv.Counters()
	if c.DHCP6 == nil || c.DHCP6.Binds < 2 || c.DHCP6.ActiveLeases != 2 {
		t.Errorf("DHCPv6 counters %+v", c.DHCP6)
	}
	if m := l.srv.DashboardState().Machines; len(m) < 1 {
		t.Errorf("dashboard machines %+v", m)
	}
}

// waitKinds waits until mac's events contain want as a subsequence.
func waitKinds(t *testing.T, ctx context.Context, r *pxetest.Recorder[Event], mac net.HardwareAddr, want []EventKind) {
	t.Helper()
	_, err := r.Wait(ctx, func(all []Event) bool {
		i := 0
		for _, e := range all {
			if i < len(want) && macaddr.Equal(e.MAC, mac) && e.Kind == want[i] {
				i++
			}
		}
		return i == len(want)
	})
	if err != nil {
		var got []EventKind
		for _, e := range r.All() {
			if macaddr.Equal(e.MAC, mac) {
				got = append(got, e.Kind)
			}
		}
		t.Fatalf("events for %s: %v\nwant in order: %v", mac, got, want)
	}
}
