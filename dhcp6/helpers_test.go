package dhcp6

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/dhcp"
)

// t0 is the tests' clock.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// serverDUID is the test servers' DUID-LL.
var serverDUID = []byte{0, 3, 0, 1, 0x02, 0, 0, 0, 0, 1}

func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// labSubnet is 2001:db8::/64 with a pool of 256 addresses.
func labSubnet() Subnet {
	return Subnet{Prefix: mustPrefix("2001:db8::/64"), Pools: []Range{{mustAddr("2001:db8::100"), mustAddr("2001:db8::1ff")}},
		DNS: []netip.Addr{mustAddr("2001:db8::53")}, DomainSearch: []string{"lab.example"}}
}

// newTestServer is a server with the lab subnet, a memory store and the
// test clock, for calling handle directly.
func newTestServer(t testing.TB, mutate func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Subnets:    []Subnet{labSubnet()},
		ServerDUID: serverDUID,
		Preference: 255,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		ClientRate: -1,
		Boot: DefaultPolicy{
			UEFIURL:      "tftp://[2001:db8::1]/ipxe.efi",
			HTTPBootURL:  "http://[2001:db8::1]/ipxe/ipxe.efi",
			ScriptURL:    "http://[2001:db8::1]/boot.ipxe?mac={mac}",
			ScriptURLEFI: "http://[2001:db8::1]/boot.ipxe?mac={mac}&fw=efi",
		}.Decide,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0 }
	t.Cleanup(func() { s.Close() })
	return s
}

// linkLocal is the modified EUI-64 link-local address firmware forms from
// mac.
func linkLocal(mac net.HardwareAddr) netip.Addr {
	b := [16]byte{0xfe, 0x80}
	b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15] = mac[0]^2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

// from is a direct request's origin: the client's link-local address on
// port 546.
func from(mac net.HardwareAddr) inbound {
	return inbound{src: netip.AddrPortFrom(linkLocal(mac), clientPort), ifIndex: 0}
}

func duidLLT(mac net.HardwareAddr) dhcpv6.DUID {
	return &dhcpv6.DUIDLLT{HWType: iana.HWTypeEthernet, Time: 0x2f000000, LinkLayerAddr: mac}
}

// solicit is a SOLICIT as the clients of the captured table send it.
func solicit(duid dhcpv6.DUID, iaid uint32, mods ...dhcpv6.Modifier) *dhcpv6.Message {
	m, _ := dhcpv6.NewMessage()
	m.MessageType = dhcpv6.MessageTypeSolicit
	m.AddOption(dhcpv6.OptClientID(duid))
	m.AddOption(dhcpv6.OptElapsedTime(0))
	var id [4]byte
	binary.BigEndian.PutUint32(id[:], iaid)
	m.AddOption(&dhcpv6.OptIANA{IaId: id})
	for _, mod := range mods {
		mod(m)
	}
	return m
}

// Firmware's request shapes, from captures (OVMF 2022.11, iPXE 1.0.0+git-20190125).
func ovmfPXE(d dhcpv6.DHCPv6) {
	d.AddOption(dhcpv6.OptRequestedOption(59, 60, 23, 16))
	d.AddOption(dhcpv6.OptClientArchType(iana.EFI_X86_64))
	d.AddOption(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionNII, OptionData: []byte{1, 3, 0}})
	d.AddOption(&dhcpv6.OptVendorClass{EnterpriseNumber: 343, Data: [][]byte{[]byte("PXEClient:Arch:00007:UNDI:003000")}})
}

func ovmfHTTP(d dhcpv6.DHCPv6) {
	d.AddOption(dhcpv6.OptRequestedOption(59, 60, 23, 16))
	d.AddOption(dhcpv6.OptClientArchType(iana.EFI_X86_64_HTTP))
	d.AddOption(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionNII, OptionData: []byte{1, 3, 0}})
	d.AddOption(&dhcpv6.OptVendorClass{EnterpriseNumber: 343, Data: [][]byte{[]byte("HTTPClient:Arch:00016:UNDI:003000")}})
}

// ovmfStack is the second DHCPv6 client OVMF runs: its IPv6 stack's, for
// DNS only.
func ovmfStack(d dhcpv6.DHCPv6) { d.AddOption(dhcpv6.OptRequestedOption(23)) }

func ipxeEFI(d dhcpv6.DHCPv6) {
	d.AddOption(dhcpv6.OptRequestedOption(23, 24, 59, 60))
	d.AddOption(dhcpv6.OptClientArchType(iana.EFI_X86_64))
	d.AddOption(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionNII, OptionData: []byte{1, 3, 10}})
	d.AddOption(&dhcpv6.OptVendorClass{EnterpriseNumber: 343, Data: [][]byte{[]byte("PXEClient:Arch:00007:UNDI:003010")}})
	d.AddOption(&dhcpv6.OptUserClass{UserClasses: [][]byte{[]byte("iPXE")}})
}

// ipxeDUID is iPXE's DUID-UUID from an all-zero SMBIOS UUID, as under
// QEMU without -uuid.
func ipxeDUID() dhcpv6.DUID { return &dhcpv6.DUIDUUID{} }

// exchange runs one message through handle and decodes the reply (nil
// when there is none).
func exchange(t testing.TB, s *Server, m dhcpv6.DHCPv6, in inbound, now time.Time) (*dhcpv6.Message, outcome, DropReason) {
	t.Helper()
	in.data = m.ToBytes()
	o, why := s.handle(in, now)
	if why != "" {
		return nil, o, why
	}
	if len(o.ops) > 0 {
		if err := s.store.Apply(o.ops); err != nil {
			t.Fatal(err)
		}
	}
	p, err := dhcpv6.FromBytes(o.reply)
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	inner, err := p.GetInnerMessage()
	if err != nil {
		t.Fatal(err)
	}
	return inner, o, ""
}

// requestFor is the REQUEST a client sends for adv.
func requestFor(t testing.TB, sol, adv *dhcpv6.Message) *dhcpv6.Message {
	t.Helper()
	r, _ := dhcpv6.NewMessage()
	r.MessageType = dhcpv6.MessageTypeRequest
	r.TransactionID = adv.TransactionID
	for _, o := range sol.Options.Options {
		if o.Code() != dhcpv6.OptionIANA {
			r.AddOption(o)
		}
	}
	r.AddOption(adv.GetOneOption(dhcpv6.OptionServerID))
	r.AddOption(adv.Options.OneIANA())
	return r
}

// sarr runs SOLICIT, ADVERTISE, REQUEST, REPLY and returns the address
// bound and the REPLY.
func sarr(t testing.TB, s *Server, sol *dhcpv6.Message, in inbound) (netip.Addr, *dhcpv6.Message) {
	t.Helper()
	adv, _, why := exchange(t, s, sol, in, t0)
	if why != "" {
		t.Fatalf("solicit dropped: %s", why)
	}
	if adv.MessageType != dhcpv6.MessageTypeAdvertise {
		t.Fatalf("answer to SOLICIT is %s", adv.MessageType)
	}
	rep, _, why := exchange(t, s, requestFor(t, sol, adv), in, t0)
	if why != "" {
		t.Fatalf("request dropped: %s", why)
	}
	return iaAddr(t, rep), rep
}

// iaAddr is the address of m's IA_NA with a non-zero lifetime.
func iaAddr(t testing.TB, m *dhcpv6.Message) netip.Addr {
	t.Helper()
	ia := m.Options.OneIANA()
	if ia == nil {
		t.Fatalf("%s without IA_NA: %s", m.MessageType, m.Summary())
	}
	for _, a := range ia.Options.Addresses() {
		if a.ValidLifetime > 0 {
			ip, _ := netip.AddrFromSlice(a.IPv6Addr)
			return ip
		}
	}
	t.Fatalf("%s IA_NA without a live address: %s", m.MessageType, m.Summary())
	return netip.Addr{}
}

// bootURL is m's option 59.
func bootURL(m *dhcpv6.Message) string { return m.Options.BootFileURL() }

// leaseOf is the stored lease on ip.
func leaseOf(t testing.TB, s *Server, ip netip.Addr) (dhcp.Lease, bool) {
	t.Helper()
	ls, err := s.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.IP == ip {
			return l, true
		}
	}
	return dhcp.Lease{}, false
}
