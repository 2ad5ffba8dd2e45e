package dhcp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var bcast68 = netip.MustParseAddrPort("255.255.255.255:68")

func TestDORAGivesPoolAddressAndOptions(t *testing.T) {
	s := newTestServer(t, nil)
	offer, ack := dora(t, s, "52:54:00:00:00:01", inbound{}, t0)
	for _, r := range []*dhcpv4.DHCPv4{offer, ack} {
		ip := addrOf(r.YourIPAddr)
		if !(Range{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.199")}).Contains(ip) {
			t.Fatalf("%s yiaddr %s outside the pool", r.MessageType(), ip)
		}
		if got := r.Router(); len(got) != 1 || !got[0].Equal(net.ParseIP("192.0.2.1")) {
			t.Errorf("%s router = %v", r.MessageType(), got)
		}
		if got := r.DNS(); len(got) != 1 || !got[0].Equal(net.ParseIP("192.0.2.53")) {
			t.Errorf("%s dns = %v", r.MessageType(), got)
		}
		if got := r.DomainName(); got != "lab.example" {
			t.Errorf("%s domain = %q", r.MessageType(), got)
		}
		if mtu := r.GetOneOption(dhcpv4.OptionInterfaceMTU); len(mtu) != 2 || binary.BigEndian.Uint16(mtu) != 9000 {
			t.Errorf("%s option 26 = %v, want 9000", r.MessageType(), mtu)
		}
		if lt := r.IPAddressLeaseTime(0); lt != time.Hour {
			t.Errorf("%s lease time %v", r.MessageType(), lt)
		}
		if sid := r.ServerIdentifier(); !sid.Equal(net.ParseIP("192.0.2.1")) {
			t.Errorf("%s server id %v", r.MessageType(), sid)
		}
		if m := net.IP(r.SubnetMask()).String(); m != "255.255.255.0" {
			t.Errorf("%s mask %s", r.MessageType(), m)
		}
		if r.BootFileName != "" {
			t.Errorf("non-PXE client got boot file %q", r.BootFileName)
		}
	}
	if !offer.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("ack %s differs from offer %s", ack.YourIPAddr, offer.YourIPAddr)
	}
	l, ok := s.LeaseByIP(addrOf(ack.YourIPAddr))
	if !ok || l.MAC.String() != "52:54:00:00:00:01" {
		t.Fatalf("LeaseByIP = %+v %v", l, ok)
	}
	st := s.Stats()
	if st.ActiveLeases != 1 || st.PoolFree != 99 || st.PoolSize != 100 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReplyDestinations(t *testing.T) {
	s := newTestServer(t, nil)
	in := inbound{ifIndex: 7, src: netip.MustParseAddrPort("0.0.0.0:68")}
	_, o, _ := exchange(t, s, discover(t, "52:54:00:00:00:02"), in, t0)
	if o.dst != bcast68 || o.ifIndex != 7 {
		t.Errorf("offer to a client without an address: dst %s if %d, want broadcast on 7", o.dst, o.ifIndex)
	}
	_, ack := dora(t, s, "52:54:00:00:00:02", in, t0)
	renew, _ := dhcpv4.NewRenewFromAck(ack)
	r, o, _ := exchange(t, s, renew, inbound{ifIndex: 7, src: netip.AddrPortFrom(addrOf(ack.YourIPAddr), 68)}, t0.Add(30*time.Minute))
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renew: %v", r)
	}
	if o.dst != netip.AddrPortFrom(addrOf(ack.YourIPAddr), 68) {
		t.Errorf("renew reply to %s, want unicast to ciaddr", o.dst)
	}
	if l, _ := s.LeaseByMAC(mustMAC("52:54:00:00:00:02")); !l.Expiry.Equal(t0.Add(90 * time.Minute)) {
		t.Errorf("renew did not extend: expiry %s", l.Expiry)
	}
	// Relayed: unicast to giaddr on port 67.
	relay := netip.MustParseAddr("192.0.2.254")
	d := discover(t, "52:54:00:00:00:03", dhcpv4.WithRelay(relay.AsSlice()))
	r, o, _ = exchange(t, s, d, inbound{src: netip.AddrPortFrom(relay, 67)}, t0)
	if o.dst != netip.AddrPortFrom(relay, 67) || !r.GatewayIPAddr.Equal(relay.AsSlice()) {
		t.Errorf("relayed offer to %s giaddr %s", o.dst, r.GatewayIPAddr)
	}
}

func TestRelayLinkSelectionAndSourcePort(t *testing.T) {
	s := newTestServer(t, nil)
	// A relay on loopback serving the 192.0.2.0/24 link (RFC 3527) and
	// asking for answers on its own port (RFC 8357).
	ri := dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subLinkSelection), []byte{192, 0, 2, 0}),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subRelaySourcePort), nil),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port-7")),
	)
	d := discover(t, "52:54:00:00:00:04", dhcpv4.WithRelay(net.IPv4(127, 0, 0, 1)), dhcpv4.WithOption(ri))
	r, o, why := exchange(t, s, d, inbound{src: netip.MustParseAddrPort("127.0.0.1:40000")}, t0)
	if r == nil {
		t.Fatalf("no offer: %s", why)
	}
	if o.dst.String() != "127.0.0.1:40000" {
		t.Errorf("dst %s", o.dst)
	}
	if !strings.HasPrefix(addrOf(r.YourIPAddr).String(), "192.0.2.") {
		t.Errorf("yiaddr %s not on the selected link", r.YourIPAddr)
	}
	if got := r.Options.Get(dhcpv4.OptionRelayAgentInformation); string(got) != string(ri.Value.ToBytes()) {
		t.Errorf("option 82 not echoed: %x", got)
	}
	// giaddr on no configured network and no link selection → dropped.
	d = discover(t, "52:54:00:00:00:05", dhcpv4.WithRelay(net.IPv4(198, 51, 100, 1)))
	if _, _, why := exchange(t, s, d, inbound{}, t0); why != DropNoSubnet {
		t.Errorf("unknown relay network: %q", why)
	}
}

func TestConcurrentDiscoversNeverShareAnAddress(t *testing.T) {
	s := newTestServer(t, nil)
	var mu sync.Mutex
	seen := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mac := fmt.Sprintf("52:54:00:00:01:%02x", i)
			o, why := s.handle(inbound{data: discover(t, mac).ToBytes()}, t0)
			if why != "" {
				t.Errorf("%s: %s", mac, why)
				return
			}
			ip := addrOf(o.reply.YourIPAddr)
			mu.Lock()
			defer mu.Unlock()
			if other, dup := seen[ip]; dup {
				t.Errorf("%s offered to %s and %s", ip, other, mac)
			}
			seen[ip] = mac
		}()
	}
	wg.Wait()
	// The pool (100) is now held by offers: the 101st client gets nothing.
	if _, _, why := exchange(t, s, discover(t, "52:54:00:00:02:00"), inbound{}, t0.Add(time.Second)); why != DropPoolFull {
		t.Fatalf("101st client: %q, want pool-full", why)
	}
	if s.Stats().Dropped[DropPoolFull] != 1 {
		t.Errorf("pool-full not counted: %+v", s.Stats().Dropped)
	}
	// Offers are held only briefly: after the hold a new client fits.
	if r, _, why := exchange(t, s, discover(t, "52:54:00:00:02:00"), inbound{}, t0.Add(31*time.Second)); r == nil {
		t.Fatalf("after the offer hold: %s", why)
	}
}

func TestReservations(t *testing.T) {
	resMAC := mustMAC("52:54:00:6b:13:e2")
	resIP := netip.MustParseAddr("192.0.2.150") // inside the pool on purpose
	s := newTestServer(t, func(c *Config) {
		c.Reservations = []Reservation{{MAC: resMAC, IP: resIP, Hostname: "node1"}}
	})
	_, ack := dora(t, s, resMAC.String(), inbound{}, t0)
	if addrOf(ack.YourIPAddr) != resIP || ack.HostName() != "node1" {
		t.Fatalf("reserved client got %s host %q", ack.YourIPAddr, ack.HostName())
	}
	// Nobody else gets it, even when the whole pool is taken.
	for i := range 99 {
		_, a := dora(t, s, fmt.Sprintf("52:54:00:00:03:%02x", i), inbound{}, t0)
		if addrOf(a.YourIPAddr) == resIP {
			t.Fatalf("reserved %s given to another client", resIP)
		}
	}
	if _, _, why := exchange(t, s, discover(t, "52:54:00:00:04:00"), inbound{}, t0); why != DropPoolFull {
		t.Fatalf("pool should be full: %q", why)
	}
	// Asking for it directly is refused.
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC("52:54:00:00:04:01")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(resIP.AsSlice())))
	r, _, _ := exchange(t, s, req, inbound{}, t0)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("request for a reserved address: %v", r)
	}
}

func TestRequestStates(t *testing.T) {
	s := newTestServer(t, nil)
	mac := "52:54:00:00:05:01"
	offer, _, _ := exchange(t, s, discover(t, mac), inbound{}, t0)
	// SELECTING another server: our offer is withdrawn, no answer.
	req, _ := dhcpv4.NewRequestFromOffer(offer)
	req.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 2)))
	if r, _, why := exchange(t, s, req, inbound{}, t0); r != nil || why != DropNotForUs {
		t.Fatalf("request for another server: %v %q", r, why)
	}
	if _, _, ok := s.table.current(mac); ok {
		t.Error("offer not withdrawn after the client chose another server")
	}
	// INIT-REBOOT on the wrong network: NAK, broadcast.
	ir, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC(mac)), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 1, 2, 3))))
	r, o, _ := exchange(t, s, ir, inbound{ifIndex: 3}, t0)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeNak || o.dst != bcast68 {
		t.Fatalf("init-reboot elsewhere: %v to %s", r, o.dst)
	}
	// INIT-REBOOT with a free pool address (server lost its state): ACK.
	ir.UpdateOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 120)))
	if r, _, _ := exchange(t, s, ir, inbound{}, t0); r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("init-reboot with a free address: %v", r)
	}
	// Another client asking for that address now: NAK.
	ir2, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC("52:54:00:00:05:02")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 120))))
	if r, _, _ := exchange(t, s, ir2, inbound{}, t0); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("init-reboot for a taken address: %v", r)
	}
	// REBINDING (broadcast, ciaddr set) for an address we know: ACK unicast.
	rb, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC(mac)), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 120)), dhcpv4.WithBroadcast(true))
	r, o, _ = exchange(t, s, rb, inbound{}, t0)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || o.dst.Addr() != netip.MustParseAddr("192.0.2.120") {
		t.Fatalf("rebinding: %v to %s", r, o.dst)
	}
	if s.Stats().ActiveLeases != 1 {
		t.Errorf("active leases %d", s.Stats().ActiveLeases)
	}
}

func TestReleaseAndDecline(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Subnets[0].Pools = []Range{{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")}}
	})
	a := "52:54:00:00:06:01"
	_, ack := dora(t, s, a, inbound{}, t0)
	ip := addrOf(ack.YourIPAddr)
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	if r, o, why := exchange(t, s, rel, inbound{}, t0); r != nil || why != "" || len(o.ops) != 1 {
		t.Fatalf("release: reply %v, drop %q, ops %v", r, why, o.ops)
	}
	if _, ok := s.LeaseByIP(ip); ok {
		t.Fatal("released lease still active")
	}
	if st := s.Stats(); st.PoolFree != 2 {
		t.Fatalf("pool free after release %d", st.PoolFree)
	}
	// The same client comes back to its old address.
	if _, ack2 := dora(t, s, a, inbound{}, t0); addrOf(ack2.YourIPAddr) != ip {
		t.Errorf("returning client got %s, had %s", ack2.YourIPAddr, ip)
	}
	// It declines it (ARP conflict): quarantined for everyone.
	dec, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC(a)), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice())), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 1))))
	if _, o, why := exchange(t, s, dec, inbound{}, t0); why != "" || len(o.ops) != 1 || o.ops[0].Lease.State != Declined {
		t.Fatalf("decline: %q %+v", why, o.ops)
	}
	for i, mac := range []string{a, "52:54:00:00:06:02"} {
		r, _, _ := exchange(t, s, discover(t, mac), inbound{}, t0.Add(time.Minute))
		if r == nil || addrOf(r.YourIPAddr) == ip {
			t.Fatalf("client %d got the quarantined address (%v)", i, r)
		}
		if i == 1 {
			break
		}
		// The declining client now holds the other address; free it.
		s.table.dropOffer(string(mustMAC(mac)))
	}
	// After the quarantine the address is usable again.
	r, _, _ := exchange(t, s, discover(t, "52:54:00:00:06:03"), inbound{}, t0.Add(11*time.Minute))
	if r == nil || addrOf(r.YourIPAddr) != ip {
		t.Fatalf("after quarantine: %v", r)
	}
}

func TestExpiredLeasesAreReused(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Subnets[0].Pools = []Range{{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.10")}}
		c.Subnets[0].LeaseTime = time.Minute
	})
	_, ack := dora(t, s, "52:54:00:00:07:01", inbound{}, t0)
	if _, _, why := exchange(t, s, discover(t, "52:54:00:00:07:02"), inbound{}, t0.Add(30*time.Second)); why != DropPoolFull {
		t.Fatalf("active lease was handed out again: %q", why)
	}
	_, ack2 := dora(t, s, "52:54:00:00:07:02", inbound{}, t0.Add(2*time.Minute))
	if !ack2.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("expired address not reused")
	}
	if l, ok := s.LeaseByMAC(mustMAC("52:54:00:00:07:01")); ok {
		t.Fatalf("old client still holds %v", l)
	}
}

func TestBadInputIsDroppedAndCounted(t *testing.T) {
	s := newTestServer(t, nil)
	good := discover(t, "52:54:00:00:08:01").ToBytes()
	reply := discover(t, "52:54:00:00:08:01")
	reply.OpCode = dhcpv4.OpcodeBootReply
	noType := discover(t, "52:54:00:00:08:01")
	noType.Options.Del(dhcpv4.OptionDHCPMessageType)
	odd := discover(t, "52:54:00:00:08:01")
	odd.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageType(99)))
	lying := append([]byte(nil), good[:240]...)
	lying = append(lying, 53, 1, 1, 60, 200, 'P', 'X', 'E', 255) // option 60 claims 200 bytes
	noHW := discover(t, "52:54:00:00:08:01")
	noHW.ClientHWAddr = nil
	cases := []struct {
		name string
		pkt  []byte
		want DropReason
	}{
		{"empty", nil, DropMalformed},
		{"truncated header", good[:100], DropMalformed},
		{"no magic cookie", good[:236], DropMalformed},
		{"lying option length", lying, DropMalformed},
		{"BOOTREPLY", reply.ToBytes(), DropNotRequest},
		{"no message type (BOOTP)", noType.ToBytes(), DropUnknownType},
		{"unknown message type", odd.ToBytes(), DropUnknownType},
		{"no hardware address", noHW.ToBytes(), DropBadHWAddr},
	}
	for _, c := range cases {
		o, why := s.safeHandle(inbound{data: c.pkt})
		if why != c.want || o.reply != nil {
			t.Errorf("%s: got %q (reply %v), want %q", c.name, why, o.reply != nil, c.want)
		}
	}
	if st := s.Stats(); st.ActiveLeases != 0 || st.PoolFree != 100 {
		t.Errorf("bad input changed leases: %+v", st)
	}
}

func TestFloodFromOneMACIsLimited(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.ClientRate, c.ClientBurst = 5, 10 })
	pkt := discover(t, "52:54:00:00:09:01").ToBytes()
	answered := 0
	for range 1000 {
		if _, why := s.handle(inbound{data: pkt}, t0); why == "" {
			answered++
		} else if why != DropClientRate {
			t.Fatalf("unexpected drop %q", why)
		}
	}
	if answered != 10 {
		t.Fatalf("answered %d of a 1000-packet burst, want the burst of 10", answered)
	}
	// Another MAC is not starved by the flood.
	if _, why := s.handle(inbound{data: discover(t, "52:54:00:00:09:02").ToBytes()}, t0); why != "" {
		t.Fatalf("other client: %q", why)
	}
	// Tokens come back with time.
	if _, why := s.handle(inbound{data: pkt}, t0.Add(time.Second)); why != "" {
		t.Fatalf("after a second: %q", why)
	}
}

func TestFloodFromOneRelayIsLimited(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.RelayRate, c.RelayBurst = 100, 50 })
	relay := dhcpv4.WithRelay(net.IPv4(192, 0, 2, 254))
	dropped := 0
	for i := range 200 {
		d := discover(t, fmt.Sprintf("52:54:00:0a:%02x:%02x", i/256, i%256), relay)
		if _, why := s.handle(inbound{data: d.ToBytes()}, t0); why == DropRelayRate {
			dropped++
		}
	}
	if dropped != 150 {
		t.Fatalf("relay flood: %d dropped, want 150", dropped)
	}
}

func TestInform(t *testing.T) {
	s := newTestServer(t, nil)
	inf, _ := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC("52:54:00:00:0b:01")), dhcpv4.WithMessageType(dhcpv4.MessageTypeInform),
		dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 77)))
	r, o, _ := exchange(t, s, inf, inbound{}, t0)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.IsUnspecified() || r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
		t.Fatalf("inform answer %v", r)
	}
	if o.dst.String() != "192.0.2.77:68" || len(r.Router()) != 1 {
		t.Fatalf("inform to %s routers %v", o.dst, r.Router())
	}
	if s.Stats().ActiveLeases != 0 {
		t.Fatal("INFORM created a lease")
	}
}
