package dhcp

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle drives decode → classify → decide with arbitrary bytes, both as
// a full server and in proxyDHCP mode. The corpus is the request shapes of
// real firmware (SeaBIOS+iPXE, OVMF PXE and HTTP, ARM64, iPXE on UEFI), a
// Linux client, renewals, releases, declines and relayed requests.
func FuzzHandle(f *testing.F) {
	corpus := []*dhcpv4.DHCPv4{}
	for i, m := range []dhcpv4.Modifier{seabiosIPXE, ovmfPXE, ovmfHTTP, arm64PXE, ipxeEFI, func(*dhcpv4.DHCPv4) {}} {
		d, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0x52, 0x54, 0, 0, 0x30, byte(i)}, m)
		corpus = append(corpus, d)
		r, _ := dhcpv4.New(dhcpv4.WithHwAddr(d.ClientHWAddr), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), m,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 100+byte(i)))))
		corpus = append(corpus, r)
	}
	relayed, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0x52, 0x54, 0, 0, 0x31, 1}, dhcpv4.WithRelay(net.IPv4(192, 0, 2, 254)),
		dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subLinkSelection), []byte{192, 0, 2, 0}))))
	renew, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{0x52, 0x54, 0, 0, 0x31, 2}), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 100)))
	rel, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{0x52, 0x54, 0, 0, 0x30, 0}), dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 100)))
	dec, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{0x52, 0x54, 0, 0, 0x30, 1}), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 101))))
	inf, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{0x52, 0x54, 0, 0, 0x31, 3}), dhcpv4.WithMessageType(dhcpv4.MessageTypeInform),
		dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 9)))
	corpus = append(corpus, relayed, renew, rel, dec, inf)
	for _, d := range corpus {
		f.Add(d.ToBytes(), false)
		f.Add(d.ToBytes(), true)
	}
	f.Add([]byte{1, 1, 6, 0}, false)
	f.Fuzz(func(t *testing.T, pkt []byte, proxyMode bool) {
		// A fresh server per input keeps every finding reproducible. It
		// already holds a lease for the corpus' first client, so renewals,
		// releases and declines reach the table.
		s := newTestServer(t, func(c *Config) {
			if proxyMode {
				c.ProxyDHCP, c.Subnets = true, nil
			}
			c.Reservations = []Reservation{{MAC: net.HardwareAddr{0x52, 0x54, 0, 0, 0x30, 5}, IP: mustAddr("192.0.2.20"), Hostname: "r"}}
		})
		if !proxyMode {
			s.table.ack(string(net.HardwareAddr{0x52, 0x54, 0, 0, 0x30, 0}), mustAddr("192.0.2.100"), 0, time.Hour, nil, "", t0, true)
		}
		o, why := s.handle(inbound{data: pkt, ifIndex: 2}, t0)
		if why != "" {
			if o.reply != nil || len(o.ops) > 0 {
				t.Fatalf("dropped (%s) but produced output", why)
			}
			return
		}
		if o.reply == nil {
			return
		}
		b := o.reply.ToBytes()
		r, err := dhcpv4.FromBytes(b)
		if err != nil {
			t.Fatalf("our reply does not decode: %v", err)
		}
		if r.OpCode != dhcpv4.OpcodeBootReply || !o.dst.IsValid() {
			t.Fatalf("bad reply op %v dst %v", r.OpCode, o.dst)
		}
		if proxyMode && !r.YourIPAddr.IsUnspecified() {
			t.Fatalf("proxyDHCP handed out %s", r.YourIPAddr)
		}
		if r.MessageType() == dhcpv4.MessageTypeAck && !r.YourIPAddr.IsUnspecified() {
			l, ok := s.table.byIPLease(addrOf(r.YourIPAddr), t0)
			if !ok || l.MAC.String() != r.ClientHWAddr.String() {
				t.Fatalf("ACK for %s without a matching lease (%+v)", r.YourIPAddr, l)
			}
		}
	})
}
