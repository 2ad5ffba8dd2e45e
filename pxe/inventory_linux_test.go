package pxe_test

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// A running server answers from the inventory as it is at each request:
// a machine added, changed or removed shows in the very next script
// fetched over the lab bridge, with no restart.
func TestInventoryChangesWithoutRestart(t *testing.T) {
	lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{})
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{Profiles: map[string]pxe.Profile{
		"install": {Kernel: "vmlinuz", Args: []string{"mode=install"}},
		"rescue":  {Kernel: "vmlinuz", Args: []string{"mode=rescue"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pxe.New(pxe.Config{
		Interface: lnet.Bridge,
		NetNS:     lnet.NS.Path(),
		Subnets: []dhcp.Subnet{{Pools: []dhcp.Range{{
			Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}}}},
		HTTPPort:  8080,
		IPXE:      fstest.MapFS{"undionly.kpxe": {Data: []byte("an iPXE build")}},
		Inventory: inv,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	pxetest.Serve(t, srv)
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	// script checks the answer: 403 for want "", else a kernel line that
	// ends with want.
	script := func(want string) {
		t.Helper()
		status, body, err := nsGet(lnet.NS, srv.BaseURL()+pxe.PathScript+"?mac="+mac.String())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == "" && !strings.HasPrefix(status, "403"):
			t.Fatalf("script for %s: %s\n%s\nwant 403 Forbidden", mac, status, body)
		case want != "" && (!strings.HasPrefix(status, "200") || !strings.Contains(body, " "+want+"\n")):
			t.Fatalf("script for %s: %s\n%s\nwant a kernel line ending in %q", mac, status, body, want)
		}
	}
	script("")
	if err := inv.SetMachine(pxe.Machine{MAC: mac, Hostname: "node1", Profile: "install"}); err != nil {
		t.Fatal(err)
	}
	script("mode=install")
	if err := inv.SetMachine(pxe.Machine{MAC: mac, Hostname: "node1", Profile: "rescue"}); err != nil {
		t.Fatal(err)
	}
	script("mode=rescue")
	if err := inv.SetProfile("rescue", pxe.Profile{Kernel: "vmlinuz", Args: []string{"mode=rescue2"}}); err != nil {
		t.Fatal(err)
	}
	script("mode=rescue2")
	if !inv.RemoveMachine(mac) {
		t.Fatal("RemoveMachine: not listed")
	}
	script("")
	if err := inv.SetDefault("install"); err != nil {
		t.Fatal(err)
	}
	script("mode=install")
}
