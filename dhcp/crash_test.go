package dhcp

import (
	"bufio"
	"context"
	"fmt"
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
)

const crashChildEnv = "PXEKIT_DHCP_CRASH_CHILD" // "leasefile,listenaddr"

// TestCrashChild is the server process of TestCrashSafety, run by the test
// binary re-executing itself. Without the variable it does nothing.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		return
	}
	file, addr, _ := strings.Cut(spec, ",")
	conn, err := net.ListenPacket("udp4", addr)
	if err != nil {
		fmt.Println("LISTEN-ERROR", err)
		os.Exit(2)
	}
	cfg := labConfig()
	cfg.Subnets[0].Pools = []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.250")}}
	cfg.LeaseFile = file
	cfg.Conn = conn
	s, err := New(cfg)
	if err != nil {
		fmt.Println("NEW-ERROR", err)
		os.Exit(2)
	}
	go func() {
		<-s.Ready()
		fmt.Println("READY")
	}()
	s.Serve(context.Background()) // until killed
}

// relayClient plays a relay agent on loopback: giaddr 127.0.0.1, link
// selection 192.0.2.0 (RFC 3527) and "answer my source port" (RFC 8357),
// so the test needs no root and no port 67.
type relayClient struct {
	conn   net.PacketConn
	server net.Addr
}

func (r *relayClient) exchange(req *dhcpv4.DHCPv4, want dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	req.GatewayIPAddr = net.IPv4(127, 0, 0, 1)
	req.UpdateOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subLinkSelection), []byte{192, 0, 2, 0}),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subRelaySourcePort), nil)))
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := r.conn.WriteTo(req.ToBytes(), r.server); err != nil {
			return nil, err
		}
		r.conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := r.conn.ReadFrom(buf)
			if err != nil {
				break // timeout: resend
			}
			p, err := dhcpv4.FromBytes(buf[:n])
			if err != nil || p.TransactionID != req.TransactionID {
				continue
			}
			if p.MessageType() != want {
				return nil, fmt.Errorf("got %s, want %s", p.MessageType(), want)
			}
			return p, nil
		}
	}
	return nil, fmt.Errorf("no %s", want)
}

func (r *relayClient) dora(mac net.HardwareAddr) (netip.Addr, error) {
	d, _ := dhcpv4.NewDiscovery(mac)
	o, err := r.exchange(d, dhcpv4.MessageTypeOffer)
	if err != nil {
		return netip.Addr{}, err
	}
	req, _ := dhcpv4.NewRequestFromOffer(o)
	a, err := r.exchange(req, dhcpv4.MessageTypeAck)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrOf(a.YourIPAddr), nil
}

func startChild(t *testing.T, file, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+file+","+addr)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); l == "READY" || strings.Contains(l, "ERROR") {
				ready <- l
			}
		}
		close(ready)
	}()
	select {
	case l := <-ready:
		if l != "READY" {
			t.Fatalf("child: %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child server did not start")
	}
	return cmd
}

// TestCrashSafety: a server process is killed with SIGKILL in the middle
// of a load of DORAs and restarted on the same lease file. Every client
// that got an ACK before the kill gets the same address back, and no
// address is ever leased to two clients.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts child processes")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "leases.db")
	// Find a free loopback port for both lives of the server.
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().String()
	probe.Close()
	server, _ := net.ResolveUDPAddr("udp4", addr)

	child := startChild(t, file, addr)
	const clients = 200
	macs := make([]net.HardwareAddr, clients)
	for i := range macs {
		macs[i] = net.HardwareAddr{0x52, 0x54, 0, 0, 0x40 + byte(i>>8), byte(i)}
	}
	var mu sync.Mutex
	acked := map[string]netip.Addr{}
	killAt := clients / 2
	killed := make(chan struct{})
	var killOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			rc := &relayClient{conn: c, server: server}
			for i := w; i < clients; i += 8 {
				select {
				case <-killed:
					return
				default:
				}
				ip, err := rc.dora(macs[i])
				if err != nil {
					continue // the server died under us: expected
				}
				mu.Lock()
				acked[macs[i].String()] = ip
				n := len(acked)
				mu.Unlock()
				if n >= killAt {
					killOnce.Do(func() {
						child.Process.Kill() // SIGKILL, mid-load: the other workers are in flight
						close(killed)
					})
				}
			}
		}()
	}
	wg.Wait()
	child.Wait()
	mu.Lock()
	before := map[string]netip.Addr{}
	for k, v := range acked {
		before[k] = v
	}
	mu.Unlock()
	if len(before) < killAt {
		t.Fatalf("only %d DORAs completed before the kill", len(before))
	}
	t.Logf("%d clients acknowledged before SIGKILL", len(before))

	// Second life, same lease file.
	child2 := startChild(t, file, addr)
	c, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer c.Close()
	rc := &relayClient{conn: c, server: server}
	after := map[string]netip.Addr{}
	for _, mac := range macs {
		ip, err := rc.dora(mac)
		if err != nil {
			t.Fatalf("%s after restart: %v", mac, err)
		}
		after[mac.String()] = ip
		if old, ok := before[mac.String()]; ok && old != ip {
			t.Errorf("%s had %s before the crash, got %s after", mac, old, ip)
		}
	}
	owners := map[netip.Addr]string{}
	for mac, ip := range after {
		if other, dup := owners[ip]; dup {
			t.Errorf("%s leased to %s and %s", ip, other, mac)
		}
		owners[ip] = mac
	}
	child2.Process.Kill()
	child2.Wait()
	// The file itself: one record per address, every client in it.
	inFile := leasesInFile(t, file)
	for mac, ip := range after {
		if inFile[mac] != ip {
			t.Errorf("%s: file says %s, client was told %s", mac, inFile[mac], ip)
		}
	}
}

// leasesInFile reads the bbolt lease file back as each MAC's address,
// failing t on a MAC with two records.
func leasesInFile(t *testing.T, file string) map[string]netip.Addr {
	t.Helper()
	bs, err := OpenBoltStore(file)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	ls, err := bs.Load()
	if err != nil {
		t.Fatal(err)
	}
	inFile := map[string]netip.Addr{}
	for _, l := range ls {
		if prev, dup := inFile[l.MAC.String()]; dup {
			t.Errorf("%s has two records: %s and %s", l.MAC, prev, l.IP)
		}
		inFile[l.MAC.String()] = l.IP
	}
	return inFile
}
