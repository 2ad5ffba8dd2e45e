package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/internal/etcdlab"
	"github.com/pxekit/pxekit/pxetest"
)

// v6Server is one DHCPv6 server of the cluster, serving on the loopback
// of the etcd namespace.
type v6Server struct {
	srv  *dhcp6.Server
	addr net.Addr
	stop context.CancelFunc
	done chan error
}

func startDHCP6(t *testing.T, ns *pxetest.NetNS, store dhcp.Store, duid byte) *v6Server {
	t.Helper()
	conn, err := ns.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dhcp6.New(dhcp6.Config{
		Conn:  conn,
		Store: store,
		Subnets: []dhcp6.Subnet{{Prefix: netip.MustParsePrefix("2001:db8::/64"),
			Pools: []dhcp6.Range{{Start: netip.MustParseAddr("2001:db8::100"), End: netip.MustParseAddr("2001:db8::1ff")}}}},
		ServerDUID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, duid},
		Preference: 255,
		ClientRate: -1,
		Logger:     pxetest.Logger(t, slog.LevelInfo),
	})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &v6Server{srv: srv, addr: conn.LocalAddr(), stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx) }()
	t.Cleanup(func() { s.kill(t) })
	select {
	case <-srv.Ready():
	case err := <-s.done:
		t.Fatalf("Serve: %v", err)
	}
	return s
}

// kill cancels Serve and waits for it.
func (s *v6Server) kill(t *testing.T) {
	s.stop()
	if s.done == nil {
		return
	}
	if err := <-s.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	s.done = nil
}

// v6Client is a DHCPv6 client behind a relay on 2001:db8::1, as a relay
// agent forwards it (RELAY-FORW to the servers' unicast address).
type v6Client struct {
	duid dhcpv6.DUID
	conn net.PacketConn
	ns   *pxetest.NetNS
}

func newV6Client(t *testing.T, ns *pxetest.NetNS, i int) *v6Client {
	t.Helper()
	conn, err := ns.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	mac := net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
	return &v6Client{duid: &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: mac}, conn: conn, ns: ns}
}

// ask relays m to the server at to and returns the inner answer, nil
// when none came within a second.
func (c *v6Client) ask(to net.Addr, m *dhcpv6.Message) (*dhcpv6.Message, error) {
	fw, err := dhcpv6.EncapsulateRelay(m, dhcpv6.MessageTypeRelayForward, net.ParseIP("2001:db8::1"), net.ParseIP("fe80::1"))
	if err != nil {
		return nil, err
	}
	// Relay Source Port (RFC 8357): answer on the port this relay sent from.
	fw.AddOption(dhcpv6.OptRelayPort(uint16(c.conn.LocalAddr().(*net.UDPAddr).Port)))
	if _, err := c.conn.WriteTo(fw.ToBytes(), to); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	c.conn.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, _, err := c.conn.ReadFrom(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		p, err := dhcpv6.FromBytes(buf[:n])
		if err != nil {
			return nil, err
		}
		in, err := p.GetInnerMessage()
		if err != nil {
			return nil, err
		}
		if in.TransactionID == m.TransactionID {
			return in, nil
		}
	}
}

func (c *v6Client) message(t dhcpv6.MessageType) *dhcpv6.Message {
	m, _ := dhcpv6.NewMessage()
	m.MessageType = t
	m.AddOption(dhcpv6.OptClientID(c.duid))
	m.AddOption(dhcpv6.OptElapsedTime(0))
	return m
}

// bind runs SOLICIT to every server at once, REQUEST to the first in
// servers that advertised, as a client on a link with several servers does, until a
// REPLY binds an address (a lost claim leaves the REQUEST unanswered and
// the client starts over).
func (c *v6Client) bind(servers ...net.Addr) (netip.Addr, error) {
	for range 10 {
		sol := c.message(dhcpv6.MessageTypeSolicit)
		sol.AddOption(&dhcpv6.OptIANA{IaId: [4]byte{0, 0, 0, 1}})
		advs := make([]*dhcpv6.Message, len(servers))
		var wg sync.WaitGroup
		for i, s := range servers {
			wg.Go(func() {
				m := *sol
				advs[i], _ = c.askOwn(s, &m)
			})
		}
		wg.Wait()
		var adv *dhcpv6.Message
		var to net.Addr
		for i, a := range advs {
			if a != nil && a.MessageType == dhcpv6.MessageTypeAdvertise && adv == nil {
				adv, to = a, servers[i]
			}
		}
		if adv == nil {
			continue
		}
		req := c.message(dhcpv6.MessageTypeRequest)
		req.AddOption(adv.GetOneOption(dhcpv6.OptionServerID))
		req.AddOption(adv.Options.OneIANA())
		rep, err := c.ask(to, req)
		if err != nil {
			return netip.Addr{}, err
		}
		if ip := liveAddr(rep); ip.IsValid() {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("no address after 10 exchanges")
}

// askOwn is ask on a socket of its own, so answers from several servers
// to one SOLICIT are not read by the wrong asker.
func (c *v6Client) askOwn(to net.Addr, m *dhcpv6.Message) (*dhcpv6.Message, error) {
	conn, err := c.ns.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return (&v6Client{duid: c.duid, conn: conn}).ask(to, m)
}

// rebind asks the server at to to extend ip (REBIND: to any server).
func (c *v6Client) rebind(to net.Addr, ip netip.Addr) (netip.Addr, error) {
	m := c.message(dhcpv6.MessageTypeRebind)
	ia := &dhcpv6.OptIANA{IaId: [4]byte{0, 0, 0, 1}}
	ia.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: ip.AsSlice(), PreferredLifetime: time.Hour, ValidLifetime: time.Hour})
	m.AddOption(ia)
	rep, err := c.ask(to, m)
	if err != nil {
		return netip.Addr{}, err
	}
	return liveAddr(rep), nil
}

// liveAddr is the address of m's IA_NA with a non-zero lifetime.
func liveAddr(m *dhcpv6.Message) netip.Addr {
	if m == nil || m.MessageType != dhcpv6.MessageTypeReply || m.Options.OneIANA() == nil {
		return netip.Addr{}
	}
	for _, a := range m.Options.OneIANA().Options.Addresses() {
		if a.ValidLifetime > 0 {
			ip, _ := netip.AddrFromSlice(a.IPv6Addr)
			return ip
		}
	}
	return netip.Addr{}
}

// Two DHCPv6 servers on one etcd, active-active, clients soliciting both:
// no address is bound to two DUIDs (the claims decide the races of two
// servers advertising one free address), a lease server A granted is
// extended by server B, and once A's Serve is cancelled B binds new
// clients and every lease is still in etcd.
func TestDHCP6SharedLeases(t *testing.T) {
	lab, ns := startEtcd(t, false)
	sa := join(t, open(t, lab, ns, Config{}), "a").LeaseStore()
	sb := join(t, open(t, lab, ns, Config{}), "b").LeaseStore()
	a, b := startDHCP6(t, ns, sa, 1), startDHCP6(t, ns, sb, 2)

	const n = 24
	clients := make([]*v6Client, n)
	got := make([]netip.Addr, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = newV6Client(t, ns, i)
		// Half the clients take A's ADVERTISE, half B's: both servers
		// advertise the same free addresses at once, and the claims decide.
		order := []net.Addr{a.addr, b.addr}
		if i%2 == 1 {
			order = []net.Addr{b.addr, a.addr}
		}
		wg.Go(func() { got[i], errs[i] = clients[i].bind(order...) })
	}
	wg.Wait()
	holder := map[netip.Addr]int{}
	for i, ip := range got {
		if errs[i] != nil {
			t.Fatalf("client %d: %v; A %+v; B %+v", i, errs[i], a.srv.Stats(), b.srv.Stats())
		}
		if j, ok := holder[ip]; ok {
			t.Fatalf("%s bound to client %d and client %d", ip, j, i)
		}
		holder[ip] = i
	}
	checkStored(t, lab, ns, clients, got)
	lost := a.srv.Stats().Dropped[dhcp6.DropClaimLost] + b.srv.Stats().Dropped[dhcp6.DropClaimLost]
	t.Logf("%d clients bound; claims lost: %d; binds A %d, B %d", n, lost, a.srv.Stats().Binds, b.srv.Stats().Binds)

	// A client bound by A only, then extended by B.
	c := newV6Client(t, ns, n)
	ipA, err := c.bind(a.addr)
	if err != nil {
		t.Fatal(err)
	}
	waitLease(t, b.srv, ipA)
	if ip, err := c.rebind(b.addr, ipA); err != nil || ip != ipA {
		t.Fatalf("B's answer to a REBIND of A's lease %s: %s %v", ipA, ip, err)
	}

	// A stops; B binds new clients, never an address A granted.
	a.kill(t)
	for i := range 4 {
		nc := newV6Client(t, ns, n+1+i)
		ip, err := nc.bind(b.addr)
		if err != nil {
			t.Fatalf("new client after A stopped: %v", err)
		}
		if j, ok := holder[ip]; ok || ip == ipA {
			t.Fatalf("B bound %s, held by client %d", ip, j)
		}
		holder[ip] = n + 1 + i
	}
	for i, cl := range clients {
		waitLease(t, b.srv, got[i])
		if ip, err := cl.rebind(b.addr, got[i]); err != nil || ip != got[i] {
			t.Fatalf("client %d rebinding %s at B after A stopped: %s %v", i, got[i], ip, err)
		}
	}
	checkStored(t, lab, ns, clients, got)
}

// waitLease waits until s's view holds a lease on ip (through the watch).
func waitLease(t *testing.T, s *dhcp6.Server, ip netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := s.LeaseByIP(ip); ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the watch never brought %s", ip)
}

// checkStored reads etcd afresh: every client's address is recorded with
// its DUID.
func checkStored(t *testing.T, lab *etcdlab.Cluster, ns *pxetest.NetNS, clients []*v6Client, got []netip.Addr) {
	t.Helper()
	ls, err := join(t, open(t, lab, ns, Config{}), fmt.Sprintf("check-%d", time.Now().UnixNano())).LeaseStore().Load()
	if err != nil {
		t.Fatal(err)
	}
	byIP := map[netip.Addr]dhcp.Lease{}
	for _, l := range ls {
		byIP[l.IP] = l
	}
	for i, c := range clients {
		l, ok := byIP[got[i]]
		if !ok || string(l.ClientID) != string(c.duid.ToBytes()) || !l.Active(time.Now()) {
			t.Fatalf("etcd's record of %s: %+v (found %v), want client %d's DUID %x", got[i], l, ok, i, c.duid.ToBytes())
		}
	}
}
