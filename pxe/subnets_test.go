package pxe

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxetest"
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

// relayClient is pxetest.RelayClient failing the test on an error.
type relayClient struct {
	t *testing.T
	*pxetest.RelayClient
}

func newRelay(t *testing.T, to net.Addr) *relayClient {
	return &relayClient{t, pxetest.NewRelayClient(t, to)}
}

func (r *relayClient) exchange(req *dhcpv4.DHCPv4, link netip.Addr) *dhcpv4.DHCPv4 {
	r.t.Helper()
	p, err := r.Exchange(req, link)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *relayClient) dora(mac net.HardwareAddr, link netip.Addr) (offer, ack *dhcpv4.DHCPv4) {
	r.t.Helper()
	offer, ack, err := r.DORA(mac, link)
	if err != nil {
		r.t.Fatal(err)
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
