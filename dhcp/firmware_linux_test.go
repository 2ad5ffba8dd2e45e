package dhcp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/pxetest"
)

// firmwareLab is a lab network (a namespace with a bridge carrying
// 192.0.2.1/24, the server's link) for QEMU VMs, QEMU and the firmware
// images there.
func firmwareLab(t *testing.T, fw pxetest.Firmware) *pxetest.Network {
	t.Helper()
	pxetest.RequireFirmware(t, fw)
	return pxetest.TempNetwork(t, pxetest.NetworkConfig{Name: "dhf"})
}

// startVM powers on a VM on lnet that network-boots with fw.
func startVM(t *testing.T, lnet *pxetest.Network, fw pxetest.Firmware, mac string) *pxetest.VM {
	t.Helper()
	return lnet.StartVM(t, t.Context(), pxetest.VMConfig{MAC: mustMAC(mac), Firmware: fw, MemoryMB: 256})
}

// captureRequests copies every broadcast request on br (a second socket on
// port 67 gets its own copy) into dir as go-fuzz corpus files for
// FuzzHandle, when PXEKIT_DHCP_CAPTURE names that directory.
func captureRequests(t *testing.T, ns *pxetest.NetNS, br, prefix string) {
	dir := os.Getenv("PXEKIT_DHCP_CAPTURE")
	if dir == "" {
		return
	}
	var c net.PacketConn
	if err := ns.Do(func() (err error) {
		c, err = listenUDP(mustAddrPort("0.0.0.0:67"), br)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for i := 0; ; i++ {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := dhcpv4.FromBytes(buf[:n])
			if err != nil || p.OpCode != dhcpv4.OpcodeBootRequest {
				continue
			}
			name := filepath.Join(dir, fmt.Sprintf("%s-%d-%s", prefix, i, strings.ToLower(p.MessageType().String())))
			os.WriteFile(name, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(false)\n", buf[:n])), 0o644)
		}
	}()
}

// TestFirmwareSeaBIOSiPXE boots QEMU's SeaBIOS with its iPXE option ROM
// against the server: iPXE (user class iPXE, arch 0) takes our address and
// fetches the per-machine script URL we gave it over HTTP.
func TestFirmwareSeaBIOSiPXE(t *testing.T) {
	lnet := firmwareLab(t, pxetest.BIOS)
	captureRequests(t, lnet.NS, lnet.Bridge, "seabios-ipxe")
	const mac = "52:54:00:6b:13:e2"

	gets := scriptServer(t, lnet.NS)
	s, events := serveIn(t, lnet.NS, lnet.Bridge, func(c *Config) { c.ServerID = mustAddr("192.0.2.1") })
	vm := startVM(t, lnet, pxetest.BIOS, mac)
	waitScriptGet(t, gets, mac, func() string { return fmt.Sprintf("server %+v\n%s", s.Stats(), vm.Console()) })
	var acked []Event
	for _, e := range events.All() {
		if e.Kind == EventAcked {
			acked = append(acked, e)
		}
	}
	if len(acked) == 0 || acked[0].MAC.String() != mac || !acked[0].Client.IsIPXE() || acked[0].Client.Arch() != ArchBIOS {
		t.Fatalf("acked events %+v", acked)
	}
	l, ok := s.LeaseByMAC(acked[0].MAC)
	if !ok || !s.cfg.Subnets[0].Pools[0].Contains(l.IP) {
		t.Fatalf("lease %+v", l)
	}
}

// waitScriptGet waits for iPXE's script request and checks it is the one
// for mac; state describes the lab when none comes.
func waitScriptGet(t *testing.T, gets <-chan string, mac string, state func() string) {
	t.Helper()
	select {
	case u := <-gets:
		if u != "/boot.ipxe mac="+mac {
			t.Errorf("iPXE fetched %q", u)
		}
	case <-time.After(240 * time.Second): // bounds a hung emulator under TCG
		t.Fatalf("iPXE never fetched the script; %s", state())
	}
}

// firstAck waits up to d (a bound for a hung emulator under TCG, not a
// timing check) for the first DHCPACK event that match accepts.
func firstAck(t *testing.T, events *pxetest.Recorder[Event], d time.Duration, match func(Event) bool) (Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return events.First(ctx, func(e Event) bool { return e.Kind == EventAcked && match(e) })
}

// TestFirmwareOVMF boots OVMF (UEFI, its own PXE stack, no iPXE ROM):
// arch 7, vendor class PXEClient:Arch:00007. The firmware must take our
// offer (it REQUESTs it) and be told ipxe.efi.
func TestFirmwareOVMF(t *testing.T) {
	lnet := firmwareLab(t, pxetest.UEFIPXE)
	captureRequests(t, lnet.NS, lnet.Bridge, "ovmf-pxe")
	const mac = "52:54:00:69:d5:92"
	s, events := serveIn(t, lnet.NS, lnet.Bridge, nil)
	vm := startVM(t, lnet, pxetest.UEFIPXE, mac)
	e, err := firstAck(t, events, 300*time.Second, func(Event) bool { return true })
	if err != nil {
		t.Fatalf("OVMF never requested our offer (%v); server %+v\n%s", err, s.Stats(), vm.Console())
	}
	if e.MAC.String() != mac || e.Client.Arch() != ArchEFIx64 || !e.Client.IsUEFI() || e.Boot.Filename != "ipxe.efi" ||
		!strings.HasPrefix(e.Client.VendorClass, "PXEClient:Arch:00007") || len(e.Client.UUID) == 0 {
		t.Fatalf("OVMF ack %+v", e)
	}
}

// TestFirmwareOVMFHTTPBoot lets OVMF fall through PXE to UEFI HTTP boot
// (vendor class HTTPClient:Arch:00016): the firmware must take our offer
// that names an http:// URL and echoes option 60 "HTTPClient". Slow under
// TCG (OVMF tries PXE over IPv4 first; the lab VM has PXE over IPv6 off),
// so opt-in outside CI.
func TestFirmwareOVMFHTTPBoot(t *testing.T) {
	if !pxetest.InCI() && os.Getenv("PXEKIT_SLOW") == "" {
		t.Skip("slow firmware test: set PXEKIT_SLOW=1 (CI runs it)")
	}
	lnet := firmwareLab(t, pxetest.UEFIPXE)
	captureRequests(t, lnet.NS, lnet.Bridge, "ovmf-httpboot")
	const mac = "52:54:00:69:d5:93"
	s, events := serveIn(t, lnet.NS, lnet.Bridge, nil)
	vm := startVM(t, lnet, pxetest.UEFIPXE, mac)
	e, err := firstAck(t, events, 400*time.Second, func(e Event) bool { return e.Client.IsHTTPClient() })
	if err != nil {
		t.Fatalf("OVMF never asked for HTTP boot (%v); server %+v\n%s", err, s.Stats(), vm.Console())
	}
	if e.MAC.String() != mac || e.Boot.Filename != "http://192.0.2.1/ipxe.efi" || e.Boot.VendorClass != "HTTPClient" {
		t.Fatalf("HTTP boot ack %+v", e)
	}
}

// scriptServer serves HTTP on 192.0.2.1:80 inside ns and reports each
// script request as "path mac=MAC".
func scriptServer(t *testing.T, ns *pxetest.NetNS) <-chan string {
	t.Helper()
	gets := make(chan string, 4)
	ln, err := ns.Listen("tcp4", "192.0.2.1:80")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case gets <- r.URL.Path + " mac=" + r.URL.Query().Get("mac"):
		default:
		}
		// Stop here: these tests are about DHCP, not what iPXE boots.
		fmt.Fprint(w, "#!ipxe\nshell\n")
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return gets
}

// TestFirmwareProxyDHCP: dnsmasq owns the addresses, our server runs in
// proxyDHCP mode beside it, and QEMU's iPXE takes its address from dnsmasq
// and its script URL from us (proxy offer, then its ProxyDHCP request to
// port 4011), and fetches the script.
func TestFirmwareProxyDHCP(t *testing.T) {
	pxetest.RequireFirmware(t, pxetest.BIOS)
	hub, dns, prx := proxyLab(t, "dhy")
	dm := pxetest.StartDnsmasq(t, dns.NS, dns.Link, "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h")

	gets := scriptServer(t, prx.NS)
	const mac = "52:54:00:6b:13:e4"
	s, events := serveIn(t, prx.NS, prx.Link, func(c *Config) {
		c.ProxyDHCP = true
		c.Subnets = nil
		c.ServerID = mustAddr("192.0.2.1")
	})
	vm := startVM(t, hub, pxetest.BIOS, mac)
	waitScriptGet(t, gets, mac, func() string { return fmt.Sprintf("server %+v\n%s\n%s", s.Stats(), vm.Console(), dm.Output()) })
	if !strings.Contains(dm.Output(), "DHCPACK") || !strings.Contains(dm.Output(), mac) {
		t.Errorf("dnsmasq did not give the address:\n%s", dm.Output())
	}
	evs := events.All()
	var offered, acked bool
	for _, e := range evs {
		if e.MAC.String() == mac && e.Proxy {
			offered = offered || e.Kind == EventOffered
			acked = acked || e.Kind == EventAcked
		}
	}
	if !offered {
		t.Errorf("no proxy offer to %s: %+v", mac, evs)
	}
	t.Logf("proxy events: offered %v, 4011 answered %v; server %+v", offered, acked, s.Stats())
}
