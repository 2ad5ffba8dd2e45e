package dhcp

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/pxetest"
)

// TestFragmentingLink: on a veth with a 576-byte MTU (the least a DHCP
// host must accept), a legal 1,000-byte DISCOVER leaves the relay in IP
// fragments and is answered; a 5,000-byte datagram arrives in fragments,
// is reassembled by the kernel and dropped and counted as oversized; and
// 20,000 first fragments whose datagrams never complete reach no socket
// (the kernel holds at most ipfrag_high_thresh bytes of them, each for
// ipfrag_time) while an unfragmented client is still answered.
func TestFragmentingLink(t *testing.T) {
	srv, cli := pxetest.TempNetNS(t, "dhfs"), pxetest.TempNetNS(t, "dhfc")
	if err := srv.AddVeth(pxetest.Veth{Name: "srv0", Addr: mustPrefix("192.0.2.1/24"), Peer: "cli0", PeerNS: cli, PeerAddr: mustPrefix("192.0.2.2/24")}); err != nil {
		t.Fatal(err)
	}
	ip := pxetest.RequireCmd(t, "ip", "iproute2")
	for ns, link := range map[*pxetest.NetNS]string{srv: "srv0", cli: "cli0"} {
		if out, err := exec.Command(ip, "-n", ns.Name(), "link", "set", "dev", link, "mtu", "576").CombinedOutput(); err != nil {
			t.Fatalf("mtu of %s: %v %s", link, err, out)
		}
	}
	s := newTestServer(t, func(c *Config) {
		c.NetNS = srv.Path()
		c.Interfaces = []string{"srv0"}
	})
	s.now = time.Now
	pxetest.Serve(t, s)

	conn, err := cli.ListenPacket("udp4", "192.0.2.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	server := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 67}
	rc := &linkRelay{conn: conn, server: server}

	snmp := func(ns *pxetest.NetNS, field string) int {
		t.Helper()
		var v int
		if err := ns.Do(func() error {
			var err error
			v, err = ipCounter(field)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	frags0, reasm0 := snmp(cli, "FragCreates"), snmp(srv, "ReasmOKs")
	legal, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:92:01"))
	legal.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(224), make([]byte, 255)))
	legal.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(225), make([]byte, 255)))
	legal.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(226), make([]byte, 200)))
	if _, err := rc.exchange(legal, dhcpv4.MessageTypeOffer); err != nil {
		t.Fatalf("a %d-byte DISCOVER in fragments: %v", len(legal.ToBytes()), err)
	}
	if f, r := snmp(cli, "FragCreates")-frags0, snmp(srv, "ReasmOKs")-reasm0; f < 2 || r < 1 {
		t.Fatalf("the legal DISCOVER was not fragmented on the link: %d fragments made, %d datagrams reassembled", f, r)
	}

	big, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:92:02"))
	rc.relay(big)
	b := append(big.ToBytes(), make([]byte, 5000)...)
	if _, err := conn.WriteTo(b, server); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reassembled oversized datagram to be counted", 10*time.Second, func() bool {
		return s.Stats().Dropped[DropOversized] == 1
	})

	// The incomplete-fragment flood, from a raw socket: first fragments
	// (offset 0, more fragments) of 1,000-byte UDP datagrams to port 67,
	// every one with a new IP ID, none ever completed.
	received := s.Stats().Received
	fails0 := snmp(srv, "ReasmFails")
	const flood = 20000
	if err := cli.Do(func() error { return sendFirstFragments(flood) }); err != nil {
		t.Fatal(err)
	}
	held, limit := 0, 0
	if err := srv.Do(func() error {
		var err error
		if held, err = fragMemory(); err != nil {
			return err
		}
		limit, err = readInt("/proc/sys/net/ipv4/ipfrag_high_thresh")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The kernel checks the threshold before it adds a fragment, so the
	// last one may go over by its own size.
	if held > limit+64<<10 {
		t.Errorf("reassembly holds %d bytes of incomplete fragments, over ipfrag_high_thresh %d", held, limit)
	}
	t.Logf("after %d first fragments: %d bytes held for reassembly (ipfrag_high_thresh %d), %d reassembly failures", flood, held, limit, snmp(srv, "ReasmFails")-fails0)
	small, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:92:03"))
	if _, err := rc.exchange(small, dhcpv4.MessageTypeOffer); err != nil {
		t.Fatalf("an unfragmented DISCOVER during the fragment flood: %v", err)
	}
	if got := s.Stats().Received - received; got != 1 {
		t.Errorf("the server read %d datagrams during the fragment flood, want 1 (the client's)", got)
	}
}

// linkRelay is a relay agent at 192.0.2.2 on the lab link that asks to
// be answered on the port it sends from (RFC 8357).
type linkRelay struct {
	conn   net.PacketConn
	server net.Addr
}

func (r *linkRelay) relay(d *dhcpv4.DHCPv4) {
	d.GatewayIPAddr = net.IPv4(192, 0, 2, 2)
	d.UpdateOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subRelaySourcePort), nil)))
}

func (r *linkRelay) exchange(req *dhcpv4.DHCPv4, want dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	r.relay(req)
	buf := make([]byte, 4096)
	for range 3 {
		if _, err := r.conn.WriteTo(req.ToBytes(), r.server); err != nil {
			return nil, err
		}
		r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := r.conn.ReadFrom(buf)
			if err != nil {
				break // timeout: resend
			}
			if p, err := dhcpv4.FromBytes(buf[:n]); err == nil && p.TransactionID == req.TransactionID && p.MessageType() == want {
				return p, nil
			}
		}
	}
	return nil, fmt.Errorf("no %s", want)
}

// sendFirstFragments sends n first fragments of 1,000-byte UDP datagrams
// from 192.0.2.2 to 192.0.2.1:67 on a raw socket (the kernel fills in
// the IP checksum).
func sendFirstFragments(n int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	const payload = 480 // a multiple of 8, under the MTU with the headers
	pkt := make([]byte, 20+8+payload)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	binary.BigEndian.PutUint16(pkt[6:], 0x2000) // more fragments, offset 0
	copy(pkt[12:16], []byte{192, 0, 2, 2})
	copy(pkt[16:20], []byte{192, 0, 2, 1})
	binary.BigEndian.PutUint16(pkt[20:], 68)
	binary.BigEndian.PutUint16(pkt[22:], 67)
	binary.BigEndian.PutUint16(pkt[24:], 1000)
	to := &unix.SockaddrInet4{Addr: [4]byte{192, 0, 2, 1}}
	rng := rand.New(rand.NewPCG(9, 10))
	for range n {
		binary.BigEndian.PutUint16(pkt[4:], uint16(rng.Uint32()|1)) // a new datagram each time (0 would be replaced)
		if err := unix.Sendto(fd, pkt, 0, to); err != nil && err != unix.ENOBUFS {
			return err
		}
	}
	return nil
}

// ipCounter reads one Ip: counter of the calling thread's namespace.
func ipCounter(field string) (int, error) {
	b, err := os.ReadFile("/proc/thread-self/net/snmp")
	if err != nil {
		return 0, err
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "Ip: ") || !strings.HasPrefix(lines[i+1], "Ip: ") {
			continue
		}
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j, n := range names {
			if n == field && j < len(vals) {
				return strconv.Atoi(vals[j])
			}
		}
	}
	return 0, fmt.Errorf("no Ip: %s in snmp", field)
}

// fragMemory is the bytes the calling thread's namespace holds for IPv4
// reassembly (sockstat's FRAG line).
func fragMemory() (int, error) {
	b, err := os.ReadFile("/proc/thread-self/net/sockstat")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 5 && f[0] == "FRAG:" && f[3] == "memory" {
			return strconv.Atoi(f[4])
		}
	}
	return 0, fmt.Errorf("no FRAG line in sockstat")
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
