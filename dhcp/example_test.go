package dhcp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/dhcp"
)

// The Harvester CREATE/JOIN groups of an ISC dhcpd.conf as a pxekit
// server: one subnet, and two groups (CREATE for node1, JOIN for node2)
// that pick the boot file by user class iPXE, vendor class HTTPClient and
// option 93.
func Example_harvesterGroups() {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	group := func(mode string) dhcp.DefaultPolicy {
		return dhcp.DefaultPolicy{
			ScriptURL:    "http://10.100.0.10/harvester/ipxe-" + mode,
			ScriptURLEFI: "http://10.100.0.10/harvester/ipxe-" + mode + "-efi",
			HTTPBootURL:  "http://10.100.0.10/harvester/ipxe.efi",
		}
	}
	groups := map[string]dhcp.DefaultPolicy{
		"52:54:00:6b:13:e2": group("create"), // host node1
		"52:54:00:69:d5:92": group("join"),   // host node2
	}
	cfg := dhcp.Config{
		Subnets: []dhcp.Subnet{{
			Prefix:  netip.MustParsePrefix("10.100.0.0/24"),
			Pools:   []dhcp.Range{{Start: netip.MustParseAddr("10.100.0.100"), End: netip.MustParseAddr("10.100.0.253")}},
			Routers: []netip.Addr{netip.MustParseAddr("10.100.0.10")},
			DNS:     []netip.Addr{netip.MustParseAddr("192.168.2.1")},
		}},
		Boot: func(c dhcp.Client) dhcp.BootDecision {
			if p, ok := groups[c.MAC.String()]; ok {
				return p.Decide(c)
			}
			return dhcp.BootDecision{}
		},
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		fmt.Println(errs.ToAggregate())
		return
	}
	requests := []struct {
		mac  string
		what string
		mods []dhcpv4.Modifier
	}{
		{"52:54:00:6b:13:e2", "BIOS PXE", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC))}},
		{"52:54:00:6b:13:e2", "UEFI PXE", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003010")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64))}},
		{"52:54:00:6b:13:e2", "UEFI HTTP", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("HTTPClient:Arch:00016")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64_HTTP))}},
		{"52:54:00:6b:13:e2", "iPXE UEFI", []dhcpv4.Modifier{
			dhcpv4.WithUserClass("iPXE", false),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64))}},
		{"52:54:00:69:d5:92", "iPXE BIOS", []dhcpv4.Modifier{
			dhcpv4.WithUserClass("iPXE", false),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC))}},
	}
	for _, r := range requests {
		d, _ := dhcpv4.NewDiscovery(mac(r.mac), r.mods...)
		b := cfg.Boot(dhcp.ClientFromPacket(d))
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %-9s → %s %s", r.mac, r.what, b.Filename, b.VendorClass)))
	}
	// Output:
	// 52:54:00:6b:13:e2 BIOS PXE  → undionly.kpxe
	// 52:54:00:6b:13:e2 UEFI PXE  → ipxe.efi
	// 52:54:00:6b:13:e2 UEFI HTTP → http://10.100.0.10/harvester/ipxe.efi HTTPClient
	// 52:54:00:6b:13:e2 iPXE UEFI → http://10.100.0.10/harvester/ipxe-create-efi
	// 52:54:00:69:d5:92 iPXE BIOS → http://10.100.0.10/harvester/ipxe-join
}

// Jumbo frames: guests whose DHCP client reads option 26 take the MTU from
// the server; a value below the IPv4 minimum is refused.
func ExampleSubnet_mtu() {
	cfg := dhcp.Config{
		ServerID: netip.MustParseAddr("192.0.2.1"),
		Subnets: []dhcp.Subnet{{
			Prefix:    netip.MustParsePrefix("192.0.2.0/24"),
			Pools:     []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}},
			MTU:       9000,
			LeaseTime: 12 * time.Hour,
		}},
	}
	fmt.Println("valid:", len(cfg.Validate()) == 0)
	cfg.Subnets[0].MTU = 40
	fmt.Println(cfg.Validate().ToAggregate())
	// Output:
	// valid: true
	// subnets[0].mtu: Invalid value: 40: must be at least 68 (RFC 2132 §5.1)
}

// proxyDHCP beside an existing DHCP server: no subnets, no addresses, boot
// information for PXE clients only.
func ExampleConfig_proxyDHCP() {
	cfg := dhcp.Config{
		ProxyDHCP: true,
		ServerID:  netip.MustParseAddr("192.0.2.1"),
		Boot:      dhcp.DefaultPolicy{ScriptURL: "http://192.0.2.1/boot.ipxe?mac=${net0/mac}"}.Decide,
	}
	s, err := dhcp.New(cfg)
	fmt.Println(err, s.Stats().PoolSize)
	// Output: <nil> 0
}

// A DHCP server on an unprivileged loopback port (Config.Conn), so it needs
// no root, answering a DISCOVER the way a relay agent forwards one: giaddr
// set, link selection (RFC 3527) naming the subnet, and relay source port
// (RFC 8357) so the OFFER comes back to the port it was sent from. The
// client is iPXE, so the boot policy hands it its script URL.
func ExampleServer_Serve() {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Events come from the server's workers, beside the reply: collect
	// them to print in order.
	events := make(chan dhcp.Event, 8)
	s, err := dhcp.New(dhcp.Config{
		Conn:     conn,
		ServerID: netip.MustParseAddr("192.0.2.1"),
		Subnets: []dhcp.Subnet{{
			Prefix: netip.MustParsePrefix("192.0.2.0/24"),
			Pools:  []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}},
		}},
		Boot:    dhcp.DefaultPolicy{ScriptURL: "http://192.0.2.1/boot.ipxe?mac={mac}"}.Decide,
		OnEvent: func(e dhcp.Event) { events <- e },
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	<-s.Ready()

	relay, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer relay.Close()
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	d, _ := dhcpv4.NewDiscovery(mac, dhcpv4.WithUserClass("iPXE", false))
	d.GatewayIPAddr = net.IPv4(127, 0, 0, 1)
	d.UpdateOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(5), []byte{192, 0, 2, 0}), // link selection
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(19), nil),                 // relay source port
	))
	if _, err := relay.WriteTo(d.ToBytes(), conn.LocalAddr()); err != nil {
		fmt.Println(err)
		return
	}
	relay.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := relay.ReadFrom(buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	offer, err := dhcpv4.FromBytes(buf[:n])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(offer.MessageType(), offer.YourIPAddr, offer.BootFileName)
	for range 2 {
		e := <-events
		fmt.Println("event:", e.Kind, e.MAC, e.IP)
	}
	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// OFFER 192.0.2.100 http://192.0.2.1/boot.ipxe?mac=52:54:00:12:34:56
	// event: discovered 52:54:00:12:34:56 invalid IP
	// event: offered 52:54:00:12:34:56 192.0.2.100
	// stopped: <nil>
}
