package pxe

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/dhcp"
)

// loopServer is a boot server on loopback sockets handed in through
// Config (DHCPConn, TFTPConn, HTTPListener), as socket activation hands
// them: it needs no root and no namespace.
type loopServer struct {
	srv  *Server
	dhcp net.Addr
	http string
	tftp net.Addr
}

// The relayed lab: the on-link half of the lab subnet and a relayed half,
// each with its own pool and router.
func relayedSubnets() []dhcp.Subnet {
	return []dhcp.Subnet{
		{Prefix: netip.MustParsePrefix("192.0.2.0/25"), Routers: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
			Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.10"), End: netip.MustParseAddr("192.0.2.19")}}},
		{Prefix: netip.MustParsePrefix("192.0.2.128/25"), Routers: []netip.Addr{netip.MustParseAddr("192.0.2.129")},
			Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.140"), End: netip.MustParseAddr("192.0.2.149")}}},
	}
}

func startLoopServer(t *testing.T, cfg Config) *loopServer {
	t.Helper()
	dc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	must(t, err)
	tc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	must(t, err)
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	cfg.Interface = "lo"
	cfg.DHCPConn, cfg.TFTPConn, cfg.HTTPListener = dc, tc, hl
	cfg.HTTPPort = hl.Addr().(*net.TCPAddr).Port
	if cfg.IPXE == nil {
		cfg.IPXE = fstest.MapFS{"undionly.kpxe": {Data: []byte("an iPXE build")}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := New(cfg)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return &loopServer{srv: srv, dhcp: dc.LocalAddr(), http: "http://" + hl.Addr().String(), tftp: tc.LocalAddr()}
}

// relayClient is a DHCP relay agent on loopback: it forwards a client's
// request with giaddr set and RFC 3527 link selection naming the client's
// link, and asks for the reply on its own port (RFC 8357).
type relayClient struct {
	t    *testing.T
	conn net.PacketConn
	to   net.Addr
}

func newRelay(t *testing.T, to net.Addr) *relayClient {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return &relayClient{t: t, conn: c, to: to}
}

// exchange relays req from link and returns the server's reply.
func (r *relayClient) exchange(req *dhcpv4.DHCPv4, link netip.Addr) *dhcpv4.DHCPv4 {
	r.t.Helper()
	req.GatewayIPAddr = net.IPv4(127, 0, 0, 1)
	l4 := link.As4()
	req.UpdateOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(5), l4[:]),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(19), nil),
	))
	if _, err := r.conn.WriteTo(req.ToBytes(), r.to); err != nil {
		r.t.Fatal(err)
	}
	buf := make([]byte, 1500)
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := r.conn.ReadFrom(buf)
	if err != nil {
		r.t.Fatalf("no reply to the relayed %s from %s: %v", req.MessageType(), link, err)
	}
	p, err := dhcpv4.FromBytes(buf[:n])
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

// dora takes a lease for mac on link through the relay.
func (r *relayClient) dora(mac net.HardwareAddr, link netip.Addr) (offer, ack *dhcpv4.DHCPv4) {
	r.t.Helper()
	d, err := dhcpv4.NewDiscovery(mac)
	must(r.t, err)
	offer = r.exchange(d, link)
	if offer.MessageType() != dhcpv4.MessageTypeOffer {
		r.t.Fatalf("%s on %s: got %s, want an OFFER", mac, link, offer.MessageType())
	}
	req, err := dhcpv4.NewRequestFromOffer(offer)
	must(r.t, err)
	ack = r.exchange(req, link)
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		r.t.Fatalf("%s on %s: got %s, want an ACK", mac, link, ack.MessageType())
	}
	return offer, ack
}

func inRange(ip net.IP, r dhcp.Range) bool {
	a, ok := netip.AddrFromSlice(ip.To4())
	return ok && r.Contains(a)
}

// Clients behind relays on two links get addresses and routers of their
// own link's subnet from one boot server.
func TestSeveralSubnetsServeRelayedClients(t *testing.T) {
	nets := relayedSubnets()
	ls := startLoopServer(t, Config{Subnets: nets})
	relay := newRelay(t, ls.dhcp)
	for i, sn := range nets {
		mac := net.HardwareAddr{0x52, 0x54, 0, 0, 0x0a, byte(i)}
		_, ack := relay.dora(mac, sn.Prefix.Addr())
		if !inRange(ack.YourIPAddr, sn.Pools[0]) {
			t.Errorf("client on %s got %s, want its pool %v", sn.Prefix, ack.YourIPAddr, sn.Pools[0])
		}
		if r := ack.Router(); len(r) != 1 || r[0].String() != sn.Routers[0].String() {
			t.Errorf("client on %s got router %v, want %s", sn.Prefix, r, sn.Routers[0])
		}
	}
	st := ls.srv.DHCP().Stats()
	if len(st.Subnets) != 2 || st.Subnets[0].ActiveLeases != 1 || st.Subnets[1].ActiveLeases != 1 {
		t.Errorf("per-subnet counts %+v, want one lease in each", st.Subnets)
	}
}

func TestConfigValidateSubnets(t *testing.T) {
	errs := Config{Interface: "lo", Subnets: []dhcp.Subnet{{}, {}}}.Validate()
	if len(errs) != 1 || errs[0].Field != "subnets[1].prefix" {
		t.Errorf("two subnets without a prefix: %v, want subnets[1].prefix required", errs)
	}
	if !strings.Contains(errs.ToAggregate().Error(), "subnets[0]") {
		t.Errorf("the message does not say which subnet took the interface's network: %v", errs)
	}
}
