package main

import (
	"context"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// serve --pool6 without --pool is an IPv6-only boot server: on a lab
// bridge with 2001:db8::1/64 and no IPv4 address, dhclient -6 on a host
// takes an address from the pool (the advertisements say M), and over
// IPv6 the host's script names the server as http://[2001:db8::1]:8080.
func TestServePool6IPv6Only(t *testing.T) {
	pxetest.RequireRoot(t)
	curl := pxetest.RequireCmd(t, "curl", "curl")
	rdisc6 := pxetest.RequireCmd(t, "rdisc6", "ndisc6")
	pxetest.RequireFile(t, pxetest.IPXEEFI, "ipxe")
	lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{Server6: pxetest.DefaultServer6(), NoIPv4: true})
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("not really a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out pxetest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--netns", lnet.NS.Name(), "--interface", lnet.Bridge,
			"--pool6", "2001:db8::100-2001:db8::1ff", "--kernel", kernel, "--cmdline", "console=ttyS0 ip6={{.ClientAddr}}",
			"--http-port", "8080", "--state", filepath.Join(dir, "state")}, &out, io.Discard)
	}()
	h, err := lnet.AddHost("p6", netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	// dhclient -6 adds its address as a /128: the route to the link comes
	// from the advertisement's on-link prefix, so the host solicits one
	// (retrying until serve is up) rather than count on the kernel's
	// solicitations at link-up having reached the server.
	if _, err := h.NS.WaitLinkLocal(h.Link, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if out, err := pxetest.Run(t, h.NS, pxetest.CommandContext(ctx, rdisc6, "-1", "-r", "10", "-w", "1000", h.Link)); err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, out)
	}
	dc := pxetest.StartDhclient6(t, h.NS, h.Link, "timeout 30;\n")
	ip := dc.WaitEvent("BOUND6", 60*time.Second).IP
	if ip.Compare(netip.MustParseAddr("2001:db8::100")) < 0 || ip.Compare(netip.MustParseAddr("2001:db8::1ff")) > 0 {
		t.Fatalf("dhclient -6 bound %s, want an address of 2001:db8::100-2001:db8::1ff", ip)
	}
	mac, err := h.NS.HardwareAddr(h.Link)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://[2001:db8::1]:8080/boot.ipxe?mac=" + mac.String()
	cmd := exec.Command(curl, "-sS", "-g", "--fail", "--retry", "5", "--retry-connrefused", "--retry-delay", "1", url)
	body, err := pxetest.Run(t, h.NS, cmd)
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", url, err, body)
	}
	if want := "kernel http://[2001:db8::1]:8080/assets/vmlinuz console=ttyS0 ip6=" + ip.String(); !strings.Contains(body, want) {
		t.Errorf("script:\n%s\nwant a line with %q", body, want)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d after cancel", code)
	}
	var acked bool
	for _, e := range events(t, out.String()) {
		acked = acked || (e.Kind == pxe.EventAcked && e.MAC.String() == mac.String() && strings.Contains(e.Detail, ip.String()))
	}
	if !acked {
		t.Errorf("no acked event for %s %s on stdout:\n%s", mac, ip, out.String())
	}
}

// --pool6 alone is enough; it turns the advertisements on (iPXE asks
// DHCPv6 only when they say M); a --pool6 that is no IPv6 range is
// refused.
func TestServePool6Flag(t *testing.T) {
	o := serveOptions{iface: "lo", pool6: "2001:db8::100-2001:db8::1ff", kernel: "/etc/hostname"}
	cfg, err := o.config(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Subnets) != 0 || len(cfg.Subnets6) != 1 || cfg.Subnets6[0].Pools[0].Size() != 256 || !cfg.RouterAdvertisement {
		t.Errorf("--pool6 alone: subnets %v subnets6 %+v RA %v", cfg.Subnets, cfg.Subnets6, cfg.RouterAdvertisement)
	}
	o.pool = "192.0.2.100-192.0.2.199"
	if cfg, err = o.config(io.Discard); err != nil || len(cfg.Subnets) != 1 || len(cfg.Subnets6) != 1 {
		t.Errorf("--pool and --pool6: %v, subnets %v subnets6 %v", err, cfg.Subnets, cfg.Subnets6)
	}
	for _, bad := range []string{"2001:db8::1ff-2001:db8::100", "192.0.2.1-192.0.2.9", "2001:db8::100"} {
		o := serveOptions{iface: "lo", pool6: bad, kernel: "/etc/hostname"}
		if _, err := o.config(io.Discard); err == nil || !strings.Contains(err.Error(), "--pool6") {
			t.Errorf("--pool6 %s: %v, want an error naming --pool6", bad, err)
		}
	}
	f := &pxe.ConfigFile{}
	if err := o.override6(f); err != nil || len(f.Subnets6) != 1 || f.Subnets6[0].Pools[0].End != netip.MustParseAddr("2001:db8::1ff") || !f.RouterAdvertisement {
		t.Errorf("override6: %v %+v", err, f)
	}
}
