package dhcp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/pxetest"
)

// TestProxyDHCPBesideDnsmasq: dnsmasq owns the addresses of 192.0.2.0/24,
// our server runs in proxyDHCP mode on the same segment. A PXE client
// (dhclient sending the BIOS PXE vendor class and option 93) gets its
// address from dnsmasq, and its boot file from us — in the proxy offer on
// port 67 and again on port 4011, as PXE firmware asks after it is
// configured.
func TestProxyDHCPBesideDnsmasq(t *testing.T) {
	hub, dns, prx := proxyLab(t, "dhx")
	dm := pxetest.StartDnsmasq(t, dns.NS, dns.Link, "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h", "--dhcp-option=3,192.0.2.2")

	s, rec := serveIn(t, prx.NS, prx.Link, func(c *Config) {
		c.ProxyDHCP = true
		c.Subnets = nil
		c.ServerID = netip.Addr{} // learned from the interface: 192.0.2.1
	})

	// What BIOS PXE firmware sends. "require subnet-mask" makes dhclient
	// pass over the proxy's offer (no address, no mask), as firmware does
	// when it picks the address server's offer.
	dc := pxetest.StartDhclient(t, hub.NS, hub.Bridge, `option pxe-arch code 93 = unsigned integer 16;
send vendor-class-identifier "PXEClient:Arch:00000:UNDI:002001";
send pxe-arch 0;
require subnet-mask;
request subnet-mask, routers;
timeout 30;
`)
	// Everything runs: TestProxyDHCPCleansUpOnFailure fails the test here.
	pxetest.FailPoint(t, "clients-started")
	ev := dc.WaitEvent("BOUND", 40*time.Second)
	bound := ev.String()
	t.Logf("dhclient: %s\n%s", bound, dc.Output())
	if !strings.Contains(bound, "sid=192.0.2.2") || !strings.Contains(bound, "ip=192.0.2.1") {
		t.Fatalf("address not from dnsmasq: %s", bound)
	}
	ip := ev.IP
	if ip.Compare(mustAddr("192.0.2.100")) < 0 || ip.Compare(mustAddr("192.0.2.150")) > 0 {
		t.Fatalf("address %s not from dnsmasq's range", ip)
	}
	// dhclient saw our addressless proxy offer on the wire.
	if !strings.Contains(dc.Output(), "DHCPOFFER of 0.0.0.0 from 192.0.2.1") {
		t.Errorf("dhclient never saw the proxy offer")
	}

	// Our proxy offer went to the same machine.
	events := rec.All()
	var offered *Event
	for i := range events {
		if events[i].Kind == EventOffered && events[i].Proxy {
			offered = &events[i]
		}
	}
	if offered == nil || offered.Boot.Filename != "undionly.kpxe" {
		t.Fatalf("no proxy offer with undionly.kpxe: %+v", events)
	}

	// Step two of PXE with a proxy: the configured client asks the proxy
	// on port 4011 for its boot file (unicast, ciaddr set).
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(offered.MAC), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(ip.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC)))
	var ack *dhcpv4.DHCPv4
	err := hub.NS.Do(func() error {
		c, err := net.ListenPacket("udp4", ip.String()+":0")
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.WriteTo(req.ToBytes(), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4011}); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1500)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		ack, err = dhcpv4.FromBytes(buf[:n])
		return err
	})
	if err != nil {
		t.Fatalf("port 4011: %v", err)
	}
	if ack.MessageType() != dhcpv4.MessageTypeAck || ack.BootFileName != "undionly.kpxe" || !ack.YourIPAddr.IsUnspecified() ||
		!ack.ServerIPAddr.Equal(net.IPv4(192, 0, 2, 1)) || ack.ClassIdentifier() != "PXEClient" {
		t.Fatalf("4011 answer: %v", ack)
	}
	// A reply is counted after it left, so the client can hold the ACK
	// before the counter moves.
	waitFor(t, "the proxy to count its ACK", 10*time.Second, func() bool { return s.Stats().Acks >= 1 })
	if st := s.Stats(); st.ActiveLeases != 0 || st.Acks != 1 {
		t.Errorf("proxy stats %+v", st)
	}
	if !strings.Contains(dm.Output(), "DHCPACK") {
		t.Errorf("dnsmasq did not ack:\n%s", dm.Output())
	}
}

// TestProxyDHCPCleansUpOnFailure: when TestProxyDHCPBesideDnsmasq fails
// with dnsmasq, the server and dhclient running in its namespaces,
// nothing it started is left: no process, no namespace.
func TestProxyDHCPCleansUpOnFailure(t *testing.T) {
	pxetest.RequireCmd(t, "dnsmasq", "dnsmasq-base")
	pxetest.RequireCmd(t, "dhclient", "isc-dhcp-client")
	pxetest.CheckCleanup(t, "TestProxyDHCPBesideDnsmasq", "clients-started")
}
