package dhcp

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/internal/netnsrun"
	"github.com/pxekit/pxekit/pxetest"
)

// firmwareLab is a namespace with a bridge (192.0.2.1/24, the server's
// link) and a tap for QEMU.
func firmwareLab(t *testing.T) (ns, br, tap string) {
	t.Helper()
	ns = netns(t)
	br, tap = labName("fb"), labName("ft")
	sh(t, "ip", "-n", ns, "link", "add", br, "type", "bridge")
	sh(t, "ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", br)
	sh(t, "ip", "-n", ns, "link", "set", br, "up")
	sh(t, "ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
	sh(t, "ip", "-n", ns, "link", "set", tap, "master", br)
	sh(t, "ip", "-n", ns, "link", "set", tap, "up")
	return ns, br, tap
}

// captureRequests copies every broadcast request on br (a second socket on
// port 67 gets its own copy) into dir as go-fuzz corpus files for
// FuzzHandle, when PXEKIT_DHCP_CAPTURE names that directory.
func captureRequests(t *testing.T, ns, br, prefix string) {
	dir := os.Getenv("PXEKIT_DHCP_CAPTURE")
	if dir == "" {
		return
	}
	var c net.PacketConn
	if err := netnsrun.Run("/var/run/netns/"+ns, func() (err error) {
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

func startQEMU(t *testing.T, ns, tap, mac string, args ...string) *syncBuf {
	t.Helper()
	serial := filepath.Join(t.TempDir(), "serial.log")
	all := append([]string{"netns", "exec", ns, "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "256",
		"-nographic", "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "file:" + serial,
		"-netdev", "tap,id=n0,ifname=" + tap + ",script=no,downscript=no"}, args...)
	cmd := exec.Command("ip", all...)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &out
}

// TestFirmwareSeaBIOSiPXE boots QEMU's SeaBIOS with its iPXE option ROM
// against the server: iPXE (user class iPXE, arch 0) takes our address and
// fetches the per-machine script URL we gave it over HTTP.
func TestFirmwareSeaBIOSiPXE(t *testing.T) {
	requireLab(t, [2]string{"qemu-system-x86_64", "qemu-system-x86"})
	pxetest.RequireFile(t, "/usr/lib/ipxe/qemu/efi-virtio.rom", "ipxe-qemu")
	ns, br, tap := firmwareLab(t)
	captureRequests(t, ns, br, "seabios-ipxe")
	const mac = "52:54:00:6b:13:e2"

	gets := scriptServer(t, ns)
	var mu sync.Mutex
	var acked []Event
	s := newTestServer(t, func(c *Config) {
		c.NetNS = "/var/run/netns/" + ns
		c.Interfaces = []string{br}
		c.ServerID = mustAddr("192.0.2.1")
		c.OnEvent = func(e Event) {
			if e.Type == EventAcked {
				mu.Lock()
				acked = append(acked, e)
				mu.Unlock()
			}
		}
	})
	s.now = time.Now
	serve(t, s)
	out := startQEMU(t, ns, tap, mac, "-boot", "n", "-device", "virtio-net-pci,netdev=n0,mac="+mac)

	select {
	case u := <-gets:
		if u != "/boot.ipxe mac="+mac {
			t.Errorf("iPXE fetched %q", u)
		}
	case <-time.After(240 * time.Second): // bounds a hung emulator under TCG
		t.Fatalf("iPXE never fetched the script; server %+v\n%s", s.Stats(), out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 || acked[0].MAC.String() != mac || !acked[0].Client.IsIPXE() || acked[0].Client.Arch() != ArchBIOS {
		t.Fatalf("acked events %+v", acked)
	}
	l, ok := s.LeaseByMAC(acked[0].MAC)
	if !ok || !s.cfg.Subnets[0].Pools[0].Contains(l.IP) {
		t.Fatalf("lease %+v", l)
	}
}

// TestFirmwareOVMF boots OVMF (UEFI, its own PXE stack, no iPXE ROM):
// arch 7, vendor class PXEClient:Arch:00007. The firmware must take our
// offer (it REQUESTs it) and be told ipxe.efi.
func TestFirmwareOVMF(t *testing.T) {
	requireLab(t, [2]string{"qemu-system-x86_64", "qemu-system-x86"})
	pxetest.RequireFile(t, "/usr/share/ovmf/OVMF.fd", "ovmf")
	ns, br, tap := firmwareLab(t)
	captureRequests(t, ns, br, "ovmf-pxe")
	const mac = "52:54:00:69:d5:92"
	ackc := make(chan Event, 4)
	s := newTestServer(t, func(c *Config) {
		c.NetNS = "/var/run/netns/" + ns
		c.Interfaces = []string{br}
		c.OnEvent = func(e Event) {
			if e.Type == EventAcked {
				select {
				case ackc <- e:
				default:
				}
			}
		}
	})
	s.now = time.Now
	serve(t, s)
	out := startQEMU(t, ns, tap, mac, "-bios", "/usr/share/ovmf/OVMF.fd", "-device", "virtio-net-pci,netdev=n0,romfile=,mac="+mac)
	select {
	case e := <-ackc:
		if e.MAC.String() != mac || e.Client.Arch() != ArchEFIx64 || !e.Client.IsUEFI() || e.Boot.Filename != "ipxe.efi" ||
			!strings.HasPrefix(e.Client.VendorClass, "PXEClient:Arch:00007") || len(e.Client.UUID) == 0 {
			t.Fatalf("OVMF ack %+v", e)
		}
	case <-time.After(300 * time.Second): // bounds a hung emulator under TCG
		t.Fatalf("OVMF never requested our offer; server %+v\n%s", s.Stats(), out.String())
	}
}

// TestFirmwareOVMFHTTPBoot lets OVMF fall through PXE to UEFI HTTP boot
// (vendor class HTTPClient:Arch:00016): the firmware must take our offer
// that names an http:// URL and echoes option 60 "HTTPClient". Slow under
// TCG (OVMF tries PXE over IPv4 and IPv6 first), so opt-in outside CI.
func TestFirmwareOVMFHTTPBoot(t *testing.T) {
	if !pxetest.InCI() && os.Getenv("PXEKIT_SLOW") == "" {
		t.Skip("slow firmware test: set PXEKIT_SLOW=1 (CI runs it)")
	}
	requireLab(t, [2]string{"qemu-system-x86_64", "qemu-system-x86"})
	pxetest.RequireFile(t, "/usr/share/ovmf/OVMF.fd", "ovmf")
	ns, br, tap := firmwareLab(t)
	captureRequests(t, ns, br, "ovmf-httpboot")
	const mac = "52:54:00:69:d5:93"
	ackc := make(chan Event, 4)
	s := newTestServer(t, func(c *Config) {
		c.NetNS = "/var/run/netns/" + ns
		c.Interfaces = []string{br}
		c.OnEvent = func(e Event) {
			if e.Type == EventAcked && e.Client.IsHTTPClient() {
				select {
				case ackc <- e:
				default:
				}
			}
		}
	})
	s.now = time.Now
	serve(t, s)
	out := startQEMU(t, ns, tap, mac, "-bios", "/usr/share/ovmf/OVMF.fd", "-device", "virtio-net-pci,netdev=n0,romfile=,mac="+mac)
	select {
	case e := <-ackc:
		if e.MAC.String() != mac || e.Boot.Filename != "http://192.0.2.1/ipxe.efi" || e.Boot.VendorClass != "HTTPClient" {
			t.Fatalf("HTTP boot ack %+v", e)
		}
	case <-time.After(400 * time.Second): // bounds a hung emulator under TCG
		t.Fatalf("OVMF never asked for HTTP boot; server %+v\n%s", s.Stats(), out.String())
	}
}

// scriptServer serves HTTP on 192.0.2.1:80 inside ns and reports each
// script request as "path mac=MAC".
func scriptServer(t *testing.T, ns string) <-chan string {
	t.Helper()
	gets := make(chan string, 4)
	var ln net.Listener
	if err := netnsrun.Run("/var/run/netns/"+ns, func() (err error) {
		ln, err = net.Listen("tcp4", "192.0.2.1:80")
		return err
	}); err != nil {
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
	requireLab(t, [2]string{"qemu-system-x86_64", "qemu-system-x86"}, [2]string{"dnsmasq", "dnsmasq-base"})
	pxetest.RequireFile(t, "/usr/lib/ipxe/qemu/efi-virtio.rom", "ipxe-qemu")
	hub, br, tap := firmwareLab(t)
	sh(t, "ip", "-n", hub, "addr", "flush", "dev", br) // the hub only switches
	dns, prx := netns(t), netns(t)
	dif, dport, pif, pport := labName("yd"), labName("ye"), labName("yp"), labName("yq")
	veth(t, dns, dif, "192.0.2.2/24", hub, dport, "")
	veth(t, prx, pif, "192.0.2.1/24", hub, pport, "")
	sh(t, "ip", "-n", hub, "link", "set", dport, "master", br)
	sh(t, "ip", "-n", hub, "link", "set", pport, "master", br)
	dir := t.TempDir()
	dm := exec.Command("ip", "netns", "exec", dns, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--interface="+dif, "--bind-interfaces", "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
		"--dhcp-leasefile="+filepath.Join(dir, "dnsmasq.leases"), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--log-dhcp")
	var dmOut syncBuf
	dm.Stdout, dm.Stderr = &dmOut, &dmOut
	if err := dm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dm.Process.Kill(); dm.Wait() })

	gets := scriptServer(t, prx)
	const mac = "52:54:00:6b:13:e4"
	var mu sync.Mutex
	var evs []Event
	s := newTestServer(t, func(c *Config) {
		c.ProxyDHCP = true
		c.Subnets = nil
		c.ServerID = mustAddr("192.0.2.1")
		c.NetNS = "/var/run/netns/" + prx
		c.Interfaces = []string{pif}
		c.OnEvent = func(e Event) {
			mu.Lock()
			evs = append(evs, e)
			mu.Unlock()
		}
	})
	s.now = time.Now
	serve(t, s)
	out := startQEMU(t, hub, tap, mac, "-boot", "n", "-device", "virtio-net-pci,netdev=n0,mac="+mac)
	select {
	case u := <-gets:
		if u != "/boot.ipxe mac="+mac {
			t.Errorf("iPXE fetched %q", u)
		}
	case <-time.After(240 * time.Second): // bounds a hung emulator under TCG
		t.Fatalf("iPXE never fetched the script; server %+v\n%s\n%s", s.Stats(), out.String(), dmOut.String())
	}
	if !strings.Contains(dmOut.String(), "DHCPACK") || !strings.Contains(dmOut.String(), mac) {
		t.Errorf("dnsmasq did not give the address:\n%s", dmOut.String())
	}
	mu.Lock()
	defer mu.Unlock()
	var offered, acked bool
	for _, e := range evs {
		if e.MAC.String() == mac && e.Proxy {
			offered = offered || e.Type == EventOffered
			acked = acked || e.Type == EventAcked
		}
	}
	if !offered {
		t.Errorf("no proxy offer to %s: %+v", mac, evs)
	}
	t.Logf("proxy events: offered %v, 4011 answered %v; server %+v", offered, acked, s.Stats())
}
