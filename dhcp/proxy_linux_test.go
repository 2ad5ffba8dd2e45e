package dhcp

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/internal/netnsrun"
)

// TestProxyDHCPBesideDnsmasq: dnsmasq owns the addresses of 192.0.2.0/24,
// our server runs in proxyDHCP mode on the same segment. A PXE client
// (dhclient sending the BIOS PXE vendor class and option 93) gets its
// address from dnsmasq, and its boot file from us — in the proxy offer on
// port 67 and again on port 4011, as PXE firmware asks after it is
// configured.
func TestProxyDHCPBesideDnsmasq(t *testing.T) {
	requireLab(t, [2]string{"dnsmasq", "dnsmasq-base"}, [2]string{"dhclient", "isc-dhcp-client"})
	hub, dns, prx := netns(t), netns(t), netns(t)
	// The client runs on the bridge in hub; dnsmasq and the proxy hang off
	// it on veths.
	br := labName("xb")
	sh(t, "ip", "-n", hub, "link", "add", br, "type", "bridge")
	sh(t, "ip", "-n", hub, "link", "set", br, "up")
	dif, dport, pif, pport := labName("xd"), labName("xe"), labName("xp"), labName("xq")
	veth(t, dns, dif, "192.0.2.2/24", hub, dport, "")
	veth(t, prx, pif, "192.0.2.1/24", hub, pport, "")
	sh(t, "ip", "-n", hub, "link", "set", dport, "master", br)
	sh(t, "ip", "-n", hub, "link", "set", pport, "master", br)

	dir := t.TempDir()
	dm := exec.Command("ip", "netns", "exec", dns, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--interface="+dif, "--bind-interfaces",
		"--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h", "--dhcp-option=3,192.0.2.2",
		"--dhcp-leasefile="+filepath.Join(dir, "dnsmasq.leases"), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--log-dhcp")
	var dmOut syncBuf
	dm.Stdout, dm.Stderr = &dmOut, &dmOut
	if err := dm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dm.Process.Kill(); dm.Wait() })

	var mu sync.Mutex
	var events []Event
	s := newTestServer(t, func(c *Config) {
		c.ProxyDHCP = true
		c.Subnets = nil
		c.ServerID = netip.Addr{} // learned from the interface: 192.0.2.1
		c.NetNS = "/var/run/netns/" + prx
		c.Interfaces = []string{pif}
		c.OnEvent = func(e Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	s.now = time.Now
	serve(t, s)

	log := filepath.Join(dir, "events")
	script := filepath.Join(dir, "hook")
	os.WriteFile(script, []byte(`#!/bin/sh
case $reason in
PREINIT) ip link set dev $interface up ;;
BOUND|REBOOT) ip addr add $new_ip_address/$new_subnet_mask dev $interface ;;
esac
echo "$reason ip=$new_ip_address sid=$new_dhcp_server_identifier file=$new_filename" >> `+log+`
exit 0
`), 0o755)
	conf := filepath.Join(dir, "dhclient.conf")
	// What BIOS PXE firmware sends. "require subnet-mask" makes dhclient
	// pass over the proxy's offer (no address, no mask), as firmware does
	// when it picks the address server's offer.
	os.WriteFile(conf, []byte(`option pxe-arch code 93 = unsigned integer 16;
send vendor-class-identifier "PXEClient:Arch:00000:UNDI:002001";
send pxe-arch 0;
require subnet-mask;
request subnet-mask, routers;
timeout 30;
`), 0o644)
	cmd := exec.Command("ip", "netns", "exec", hub, "dhclient", "-4", "-d", "-v", "-sf", script, "-lf", filepath.Join(dir, "leases"),
		"-pf", filepath.Join(dir, "pid"), "-cf", conf, br)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "dhclient BOUND", 40*time.Second, func() bool { return lineWith(scriptLog(log), "BOUND") != "" })
	bound := lineWith(scriptLog(log), "BOUND")
	t.Logf("dhclient: %s\n%s", bound, out.String())
	if !strings.Contains(bound, "sid=192.0.2.2") || !strings.Contains(bound, "ip=192.0.2.1") {
		t.Fatalf("address not from dnsmasq: %s", bound)
	}
	ip := netip.MustParseAddr(strings.TrimPrefix(strings.Fields(bound)[1], "ip="))
	if ip.Compare(mustAddr("192.0.2.100")) < 0 || ip.Compare(mustAddr("192.0.2.150")) > 0 {
		t.Fatalf("address %s not from dnsmasq's range", ip)
	}
	// dhclient saw our addressless proxy offer on the wire.
	if !strings.Contains(out.String(), "DHCPOFFER of 0.0.0.0 from 192.0.2.1") {
		t.Errorf("dhclient never saw the proxy offer")
	}

	// Our proxy offer went to the same machine.
	mu.Lock()
	var offered *Event
	for i := range events {
		if events[i].Kind == EventOffered && events[i].Proxy {
			offered = &events[i]
		}
	}
	mu.Unlock()
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
	err := netnsrun.Run("/var/run/netns/"+hub, func() error {
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
	if st := s.Stats(); st.ActiveLeases != 0 || st.Acks != 1 {
		t.Errorf("proxy stats %+v", st)
	}
	if !strings.Contains(dmOut.String(), "DHCPACK") {
		t.Errorf("dnsmasq did not ack:\n%s", dmOut.String())
	}
}
