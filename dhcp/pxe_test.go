package dhcp

import (
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestClassifyFirmwareRequests(t *testing.T) {
	cases := []struct {
		name                  string
		mod                   dhcpv4.Modifier
		arch                  Arch
		pxe, ipxe, http, uefi bool
	}{
		{"SeaBIOS + iPXE ROM", seabiosIPXE, ArchBIOS, true, true, false, false},
		{"OVMF PXE", ovmfPXE, ArchEFIx64, true, false, false, true},
		{"OVMF HTTP boot", ovmfHTTP, ArchEFIx64HTTP, true, false, true, true},
		{"ARM64 UEFI PXE", arm64PXE, ArchEFIARM64, true, false, false, true},
		{"iPXE on UEFI", ipxeEFI, ArchEFIx64, true, true, false, true},
		{"vendor class only, arch in it", func(d *dhcpv4.DHCPv4) {
			d.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00009:UNDI:003016"))
		}, ArchEFIBC, true, false, false, true},
		{"RFC 3004 user class list", func(d *dhcpv4.DHCPv4) {
			d.UpdateOption(dhcpv4.OptRFC3004UserClass([]string{"site-a", "iPXE"}))
		}, ArchUnknown, true, true, false, false},
		{"Linux dhclient", func(*dhcpv4.DHCPv4) {}, ArchUnknown, false, false, false, false},
	}
	for _, c := range cases {
		p := discover(t, "52:54:00:6b:13:e2", c.mod)
		p, err := dhcpv4.FromBytes(p.ToBytes())
		if err != nil {
			t.Fatal(err)
		}
		cl := ClientFromPacket(p)
		if cl.Arch() != c.arch || cl.IsPXE() != c.pxe || cl.IsIPXE() != c.ipxe || cl.IsHTTPClient() != c.http || cl.IsUEFI() != c.uefi {
			t.Errorf("%s: arch %d pxe %v ipxe %v http %v uefi %v; want %d %v %v %v %v", c.name,
				cl.Arch(), cl.IsPXE(), cl.IsIPXE(), cl.IsHTTPClient(), cl.IsUEFI(), c.arch, c.pxe, c.ipxe, c.http, c.uefi)
		}
	}
}

func TestDefaultPolicyFollowsTheBootTable(t *testing.T) {
	s := newTestServer(t, nil)
	cases := []struct {
		name, mac string
		mod       dhcpv4.Modifier
		file      string
		vendor    string // option 60 in the reply
	}{
		{"BIOS PXE (arch 0)", "52:54:00:00:10:01", func(d *dhcpv4.DHCPv4) {
			d.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
			d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 0}))
		}, "undionly.kpxe", ""},
		{"OVMF PXE (arch 7)", "52:54:00:00:10:02", ovmfPXE, "ipxe.efi", ""},
		{"EFI BC (arch 9)", "52:54:00:00:10:03", func(d *dhcpv4.DHCPv4) {
			d.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00009:UNDI:003016"))
			d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 9}))
		}, "ipxe.efi", ""},
		{"ARM64 (arch 11)", "52:54:00:00:10:04", arm64PXE, "arm64/ipxe.efi", ""},
		{"UEFI HTTP (arch 16)", "52:54:00:00:10:05", ovmfHTTP, "http://192.0.2.1/ipxe.efi", "HTTPClient"},
		{"iPXE (SeaBIOS ROM)", "52:54:00:00:10:06", seabiosIPXE, "http://192.0.2.1/boot.ipxe?mac=52:54:00:00:10:06", ""},
		{"iPXE (UEFI)", "52:54:00:00:10:07", ipxeEFI, "http://192.0.2.1/boot.ipxe?mac=52:54:00:00:10:07", ""},
		{"not PXE", "52:54:00:00:10:08", func(*dhcpv4.DHCPv4) {}, "", ""},
	}
	for _, c := range cases {
		offer, ack := dora(t, s, c.mac, inbound{}, t0, c.mod)
		for _, r := range []*dhcpv4.DHCPv4{offer, ack} {
			if r.BootFileName != c.file || r.BootFileNameOption() != c.file {
				t.Errorf("%s %s: file %q option 67 %q, want %q", c.name, r.MessageType(), r.BootFileName, r.BootFileNameOption(), c.file)
			}
			if got := r.ClassIdentifier(); got != c.vendor {
				t.Errorf("%s %s: option 60 %q, want %q", c.name, r.MessageType(), got, c.vendor)
			}
			if c.file != "" && !r.ServerIPAddr.Equal(net.IPv4(192, 0, 2, 1)) {
				t.Errorf("%s: siaddr %s", c.name, r.ServerIPAddr)
			}
			if r.YourIPAddr.IsUnspecified() {
				t.Errorf("%s: PXE client got no address", c.name)
			}
		}
	}
	// The PXE spec: option 97 comes back as sent.
	offer, _ := dora(t, s, "52:54:00:00:10:09", inbound{}, t0, ovmfPXE)
	req := discover(t, "52:54:00:00:10:09", ovmfPXE)
	if got, want := offer.GetOneOption(dhcpv4.OptionClientMachineIdentifier), req.GetOneOption(dhcpv4.OptionClientMachineIdentifier); string(got) != string(want) {
		t.Errorf("option 97: got %x want %x", got, want)
	}
}

// The Harvester CREATE group serves ipxe-create-efi to UEFI iPXE and
// ipxe-create otherwise; firmware gets ipxe.efi or undionly.kpxe.
func TestHarvesterCreateScriptPerArch(t *testing.T) {
	p := DefaultPolicy{
		ScriptURL:    "http://10.100.0.10/harvester/ipxe-create",
		ScriptURLEFI: "http://10.100.0.10/harvester/ipxe-create-efi",
		HTTPBootURL:  "http://10.100.0.10/harvester/ipxe.efi",
	}
	get := func(mod dhcpv4.Modifier) BootDecision {
		return p.Decide(ClientFromPacket(discover(t, "52:54:00:6b:13:e2", mod)))
	}
	for _, c := range []struct {
		mod  dhcpv4.Modifier
		want string
	}{
		{ipxeEFI, "http://10.100.0.10/harvester/ipxe-create-efi"},
		{seabiosIPXE, "http://10.100.0.10/harvester/ipxe-create"},
		{ovmfPXE, "ipxe.efi"},
		{ovmfHTTP, "http://10.100.0.10/harvester/ipxe.efi"},
	} {
		if got := get(c.mod).Filename; got != c.want {
			t.Errorf("got %q want %q", got, c.want)
		}
	}
}

func TestProxyDHCPAnswersOnlyPXEWithoutAddresses(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.ProxyDHCP = true
		c.Subnets = nil
	})
	if _, _, why := exchange(t, s, discover(t, "52:54:00:00:11:01"), inbound{}, t0); why != DropNotPXE {
		t.Fatalf("non-PXE client in proxy mode: %q", why)
	}
	r, o, _ := exchange(t, s, discover(t, "52:54:00:00:11:02", ovmfPXE), inbound{ifIndex: 4}, t0)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("proxy offer: %v", r)
	}
	if !r.YourIPAddr.IsUnspecified() || r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || r.Options.Has(dhcpv4.OptionSubnetMask) {
		t.Errorf("proxy offer carries an address: %v", r)
	}
	if r.BootFileName != "ipxe.efi" || r.ClassIdentifier() != "PXEClient" || o.dst != bcast68 {
		t.Errorf("proxy offer file %q vendor %q dst %s", r.BootFileName, r.ClassIdentifier(), o.dst)
	}
	// Port 4011: the firmware asks again with its new address; unicast back.
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC("52:54:00:00:11:02")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 150)), ipxeEFI)
	src := netip.MustParseAddrPort("192.0.2.150:4011")
	r, o, _ = exchange(t, s, req, inbound{proxy: true, src: src}, t0)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || o.dst != src {
		t.Fatalf("4011 answer %v to %s", r, o.dst)
	}
	if r.BootFileName != "http://192.0.2.1/boot.ipxe?mac=52:54:00:00:11:02" {
		t.Errorf("iPXE via proxy got %q", r.BootFileName)
	}
	// A REQUEST on 67 for the address server is not ours to answer.
	req.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 2)))
	if _, _, why := exchange(t, s, req, inbound{}, t0); why != DropNotForUs {
		t.Errorf("request for the address server: %q", why)
	}
	if st := s.Stats(); st.ActiveLeases != 0 || st.PoolSize != 0 {
		t.Errorf("proxy made leases: %+v", st)
	}
}

func TestPolicyIgnore(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Boot = func(cl Client) BootDecision { return BootDecision{Ignore: cl.MAC.String() == "52:54:00:00:12:01"} }
	})
	if _, _, why := exchange(t, s, discover(t, "52:54:00:00:12:01"), inbound{}, t0); why != DropPolicy {
		t.Fatalf("ignored client: %q", why)
	}
}

func TestEventsKeyedByMAC(t *testing.T) {
	var got []EventKind
	s := newTestServer(t, func(c *Config) {
		c.OnEvent = func(e Event) {
			if e.MAC.String() == "52:54:00:00:13:01" {
				got = append(got, e.Kind)
			}
		}
	})
	for _, step := range []func() *dhcpv4.DHCPv4{
		func() *dhcpv4.DHCPv4 { return discover(t, "52:54:00:00:13:01", ovmfPXE) },
	} {
		o, _ := s.handle(inbound{data: step().ToBytes()}, t0)
		s.finish(o, &listener{conn: discardConn{}})
	}
	if len(got) != 2 || got[0] != EventDiscovered || got[1] != EventOffered {
		t.Fatalf("events %v", got)
	}
}

// discardConn is a net.PacketConn that drops writes: only for tests of
// event bookkeeping, where what matters is not the wire.
type discardConn struct{ net.PacketConn }

func (discardConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
