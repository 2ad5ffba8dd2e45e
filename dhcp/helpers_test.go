package dhcp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func labConfig() Config {
	return Config{
		ServerID: netip.MustParseAddr("192.0.2.1"),
		Subnets: []Subnet{{
			Prefix:     netip.MustParsePrefix("192.0.2.0/24"),
			Pools:      []Range{{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.199")}},
			Routers:    []netip.Addr{netip.MustParseAddr("192.0.2.1")},
			DNS:        []netip.Addr{netip.MustParseAddr("192.0.2.53")},
			DomainName: "lab.example",
			LeaseTime:  time.Hour,
			MTU:        9000,
		}},
		Boot: DefaultPolicy{
			HTTPBootURL: "http://192.0.2.1/ipxe.efi",
			ScriptURL:   "http://192.0.2.1/boot.ipxe?mac={mac}",
		}.Decide,
		ClientRate: -1,
		RelayRate:  -1,
	}
}

func newTestServer(t testing.TB, mutate func(*Config)) *Server {
	t.Helper()
	cfg := labConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0 }
	return s
}

// Request shapes of real firmware (from the PXE spec, RFC 4578 and what
// OVMF/SeaBIOS/iPXE put on the wire).
func seabiosIPXE(d *dhcpv4.DHCPv4) {
	d.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
	d.UpdateOption(dhcpv4.OptClientArch(iana.INTEL_X86PC))
	d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")))
	d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, append([]byte{0}, make([]byte, 16)...)))
}

func ovmfPXE(d *dhcpv4.DHCPv4) {
	d.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003010"))
	d.UpdateOption(dhcpv4.OptClientArch(iana.EFI_X86_64))
	d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, []byte{0, 0x8f, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7, 0xe8, 0xf9}))
	d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 3, 16}))
}

func ovmfHTTP(d *dhcpv4.DHCPv4) {
	d.UpdateOption(dhcpv4.OptClassIdentifier("HTTPClient:Arch:00016"))
	d.UpdateOption(dhcpv4.OptClientArch(iana.EFI_X86_64_HTTP))
}

func arm64PXE(d *dhcpv4.DHCPv4) {
	d.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00011:UNDI:003000"))
	d.UpdateOption(dhcpv4.OptClientArch(iana.EFI_ARM64))
}

func ipxeEFI(d *dhcpv4.DHCPv4) {
	ovmfPXE(d)
	d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")))
}

func discover(t testing.TB, mac string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	d, err := dhcpv4.NewDiscovery(mustMAC(mac), mods...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// exchange runs one request through the server's decision path and, like
// the serving loop, commits the lease writes before returning the reply.
func exchange(t testing.TB, s *Server, req *dhcpv4.DHCPv4, in inbound, now time.Time) (*dhcpv4.DHCPv4, outcome, DropReason) {
	t.Helper()
	in.data = req.ToBytes()
	o, why := s.handle(in, now)
	if why != "" {
		s.cnt.drop(why)
		return nil, o, why
	}
	if len(o.ops) > 0 {
		if err := s.store.Apply(o.ops); err != nil {
			t.Fatal(err)
		}
	}
	if o.reply == nil {
		return nil, o, ""
	}
	// Decode what would go on the wire, as a client would.
	r, err := dhcpv4.FromBytes(o.reply.ToBytes())
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return r, o, ""
}

// dora does DISCOVER → OFFER → REQUEST → ACK for mac.
func dora(t testing.TB, s *Server, mac string, in inbound, now time.Time, mods ...dhcpv4.Modifier) (offer, ack *dhcpv4.DHCPv4) {
	t.Helper()
	offer, _, why := exchange(t, s, discover(t, mac, mods...), in, now)
	if offer == nil {
		t.Fatalf("%s: no offer (%s)", mac, why)
	}
	req, err := dhcpv4.NewRequestFromOffer(offer, mods...)
	if err != nil {
		t.Fatal(err)
	}
	ack, _, why = exchange(t, s, req, in, now)
	if ack == nil {
		t.Fatalf("%s: no ack (%s)", mac, why)
	}
	return offer, ack
}

func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
