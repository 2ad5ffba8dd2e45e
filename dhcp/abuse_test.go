package dhcp

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestAbusiveDatagrams: on a live server (loopback, relay path), an
// oversized datagram is dropped and counted, a large but plausible one is
// answered, a packet that claims option overload (52) with option bytes in
// sname and file that point back at each other is answered without those
// fields being read as options (no loop), and a flood of DISCOVERs with
// random MACs through one relay is cut at that relay's rate with the drops
// counted, while a client behind another relay is still served.
func TestAbusiveDatagrams(t *testing.T) {
	s, addr, stop := serveLoopback(t, func(c *Config) { c.RelayRate, c.RelayBurst = 100, 50 })
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := &relayClient{conn: c, server: addr}

	padded := func(mac string, size int) []byte {
		d, _ := dhcpv4.NewDiscovery(mustMAC(mac))
		d.GatewayIPAddr = net.IPv4(127, 0, 0, 1)
		b := d.ToBytes()
		return append(b, make([]byte, size-len(b))...) // pad after the end option
	}
	if _, err := c.WriteTo(padded("52:54:00:00:90:01", 9000), addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the oversized datagram to be counted", 10*time.Second, func() bool {
		return s.Stats().Dropped[DropOversized] == 1
	})

	big, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:90:02"))
	big.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(224), make([]byte, 255)))
	big.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(225), make([]byte, 255)))
	if _, err := rc.exchange(big, dhcpv4.MessageTypeOffer); err != nil {
		t.Errorf("a %d-byte DISCOVER: %v", len(big.ToBytes()), err)
	}

	ov, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:90:03"))
	ov.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionOptionOverload, []byte{3}))
	ov.ServerHostName = string([]byte{52, 1, 3, 52, 1, 1, 255})
	ov.BootFileName = string([]byte{52, 1, 2, 52, 1, 3, 255})
	if _, err := rc.exchange(ov, dhcpv4.MessageTypeOffer); err != nil {
		t.Errorf("DISCOVER with option overload loops: %v", err)
	}

	// The flood: 3,000 DISCOVERs, each from a new random MAC, through the
	// relay 127.0.0.2.
	fl, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	const flood = 3000
	before := s.Stats()
	for range flood {
		mac := net.HardwareAddr{0x52, 0x54, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
		d, _ := dhcpv4.NewDiscovery(mac)
		d.GatewayIPAddr = net.IPv4(127, 0, 0, 2)
		d.UpdateOption(dhcpv4.OptRelayAgentInfo(
			dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subLinkSelection), []byte{192, 0, 2, 0}),
			dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subRelaySourcePort), nil)))
		fl.WriteTo(d.ToBytes(), addr)
	}
	// The well-behaved client, behind the other relay, during the flood.
	if _, err := rc.dora(mustMAC("52:54:00:00:90:04")); err != nil {
		t.Errorf("client behind another relay during the flood: %v", err)
	}
	// The socket's buffer may overflow (the kernel drops those): wait
	// until the server has read what reached it.
	last := uint64(0)
	waitFor(t, "the flood to be read", 20*time.Second, func() bool {
		time.Sleep(300 * time.Millisecond)
		n := s.Stats().Received
		settled := n == last
		last = n
		return settled
	})
	stop()
	st := s.Stats()
	offered := st.Offers - before.Offers
	limited := st.Dropped[DropRelayRate] - before.Dropped[DropRelayRate]
	if limited == 0 || offered >= flood/2 {
		t.Errorf("flood of %d through one relay: %d offers, %d dropped by the relay limit", flood, offered, limited)
	}
	if st.PoolFree == 0 {
		t.Error("the flood through one relay exhausted the pool")
	}
	t.Logf("flood of %d DISCOVERs through one relay (%d read): %d offered, %d dropped (relay-rate), pool free %d of %d", flood, st.Received-before.Received, offered, limited, st.PoolFree, st.PoolSize)
}

// TestScreenAllocatesNothing: the reader's per-source screen costs a flood
// no allocation per datagram, admitted or refused.
func TestScreenAllocatesNothing(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.ClientRate, c.ClientBurst, c.RelayRate, c.RelayBurst = 10, 10, 10, 10 })
	d, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:91:01"))
	d.GatewayIPAddr = net.IPv4(192, 0, 2, 254)
	pkt := d.ToBytes()
	src := netip.MustParseAddrPort("192.0.2.254:67")
	refused := 0
	if n := testing.AllocsPerRun(200, func() {
		if s.screen(pkt, src, t0) == DropClientRate {
			refused++
		}
	}); n != 0 {
		t.Errorf("screen: %v allocations per datagram", n)
	}
	if refused == 0 {
		t.Error("201 datagrams from one MAC at one instant, a burst of 10: none refused")
	}
	for _, c := range []struct {
		data []byte
		want DropReason
	}{{pkt[:43], DropMalformed}, {append([]byte{2}, pkt[1:]...), DropNotRequest}, {append(append([]byte{}, pkt[:2]...), append([]byte{17}, pkt[3:]...)...), DropBadHWAddr}} {
		if got := s.screen(c.data, src, t0); got != c.want {
			t.Errorf("screen of a bad header: %q, want %q", got, c.want)
		}
	}
}

// TestScreenFloodSparesSharedSlots: a random-MAC flood that its relay's
// limit stops takes nothing from the per-MAC table. The table has a
// fixed number of slots, so invented MACs land in the slots of every
// real one: were the flood charged there, no MAC behind any relay would
// keep a token.
func TestScreenFloodSparesSharedSlots(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.ClientRate, c.ClientBurst, c.RelayRate, c.RelayBurst = 20, 40, 1000, 100 })
	rng := rand.New(rand.NewPCG(3, 4))
	flood := netip.MustParseAddrPort("192.0.2.252:67")
	d, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:00:00"))
	d.GatewayIPAddr = net.IPv4(192, 0, 2, 252)
	pkt := d.ToBytes()
	admitted := 0
	for range 200_000 {
		for i := offCHAddr + 2; i < offCHAddr+6; i++ {
			pkt[i] = byte(rng.Uint32())
		}
		if s.screen(pkt, flood, t0) == "" {
			admitted++
		}
	}
	if admitted > 100 {
		t.Errorf("flood through one relay: %d admitted at one instant, want its burst of 100", admitted)
	}
	good := netip.MustParseAddrPort("192.0.2.253:67")
	for i := range 64 {
		g, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0x52, 0x54, 0, 0x0f, 0, byte(i)})
		g.GatewayIPAddr = net.IPv4(192, 0, 2, 253)
		if why := s.screen(g.ToBytes(), good, t0); why != "" {
			t.Errorf("MAC %d behind another relay during the flood: dropped (%s)", i, why)
		}
	}
}

// FuzzScreen: the screen reads fixed offsets of any datagram without
// panicking.
func FuzzScreen(f *testing.F) {
	d, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:91:02"))
	f.Add(d.ToBytes())
	f.Add([]byte{1, 1, 16})
	s := newTestServer(f, func(c *Config) { c.ClientRate, c.RelayRate = 1000, 1000 })
	src := netip.MustParseAddrPort("192.0.2.254:67")
	f.Fuzz(func(t *testing.T, data []byte) {
		s.screen(data, src, t0)
	})
}
