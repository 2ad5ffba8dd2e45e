package ra

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/pxetest"
)

// link is a veth pair between a server and a client namespace, both ends
// with a usable link-local address.
type link struct {
	srv, cli       *pxetest.NetNS
	srvIf, cliIf   string
	srvMAC, cliMAC net.HardwareAddr
	srvLL, cliLL   netip.Addr
	cliIndex       int
}

func newLink(t *testing.T) *link {
	t.Helper()
	l := &link{srv: pxetest.TempNetNS(t, "ras"), cli: pxetest.TempNetNS(t, "rac"), srvIf: "ras0", cliIf: "rac0"}
	if err := l.srv.AddVeth(pxetest.Veth{Name: l.srvIf, Peer: l.cliIf, PeerNS: l.cli}); err != nil {
		t.Fatal(err)
	}
	// Duplicate address detection takes a second or two after link up.
	var err error
	if l.srvLL, err = l.srv.WaitLinkLocal(l.srvIf, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if l.cliLL, err = l.cli.WaitLinkLocal(l.cliIf, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if l.srvMAC, err = l.srv.HardwareAddr(l.srvIf); err != nil {
		t.Fatal(err)
	}
	if l.cliMAC, err = l.cli.HardwareAddr(l.cliIf); err != nil {
		t.Fatal(err)
	}
	l.cliIndex = linkIndex(t, l.cli, l.cliIf)
	return l
}

// linkIndex is the interface index of name in ns.
func linkIndex(t *testing.T, ns *pxetest.NetNS, name string) int {
	t.Helper()
	var index int
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err == nil {
			index = ifi.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return index
}

// serve runs a responder on the server end until the test ends.
func serve(t *testing.T, l *link, cfg Config) (*Responder, *pxetest.Recorder[Event]) {
	t.Helper()
	ev := &pxetest.Recorder[Event]{}
	cfg.Interface, cfg.NetNS, cfg.OnEvent = l.srvIf, l.srv.Path(), ev.Add
	cfg.Logger = slog.New(slog.DiscardHandler)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pxetest.Serve(t, r)
	return r, ev
}

// waitStats polls until cond holds on the counters.
func waitStats(t *testing.T, r *Responder, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := r.Stats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRdisc6 is the real peer: rdisc6 (ndisc6) solicits from the client
// namespace and must see an advertisement that configures nothing and comes
// from the server's link-local address and MAC.
func TestRdisc6(t *testing.T) {
	rdisc6 := pxetest.RequireCmd(t, "rdisc6", "ndisc6")
	l := newLink(t)
	r, ev := serve(t, l, Config{Interval: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := pxetest.Run(t, l.cli, pxetest.CommandContext(ctx, rdisc6, "-1", "-r", "3", "-w", "2000", l.cliIf))
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, got)
	}
	t.Logf("rdisc6:\n%s", got)
	for _, re := range []string{
		`Stateful address conf\.\s*:\s*No`,
		`Stateful other conf\.\s*:\s*No`,
		`Router lifetime\s*:\s*0 \(`,
		`Hop limit\s*:\s*undefined`,
		`Source link-layer address:\s*` + regexp.QuoteMeta(strings.ToUpper(l.srvMAC.String())),
		`from ` + regexp.QuoteMeta(l.srvLL.String()),
	} {
		if !regexp.MustCompile(`(?i)` + re).MatchString(got) {
			t.Errorf("rdisc6 output lacks %q", re)
		}
	}
	if strings.Contains(got, "Prefix") {
		t.Error("the advertisement carries a prefix")
	}
	s := waitStats(t, r, "answered", func(s Stats) bool { return s.Answered >= 1 })
	if s.Solicitations < 1 || s.Advertisements < s.Answered {
		t.Errorf("stats %+v", s)
	}
	var seen bool
	for _, e := range ev.All() {
		// rdisc6 sends no source link-layer option (iPXE does).
		if e.Kind == EventAdvertised && e.Source == l.cliLL && e.Dest == l.cliLL && e.MAC == nil {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no answered solicitation from %s in events %+v", l.cliLL, ev.All())
	}
}

// TestRdisc6Managed: with a DHCPv6 server on the link the advertisement
// says so (M and O), and names the prefix on-link without autonomous
// configuration; a responder reconfigured while it serves advertises the
// new settings at once.
func TestRdisc6Managed(t *testing.T) {
	rdisc6 := pxetest.RequireCmd(t, "rdisc6", "ndisc6")
	l := newLink(t)
	r, _ := serve(t, l, Config{Interval: time.Hour})
	if err := r.Reconfigure(true, true, []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := pxetest.Run(t, l.cli, pxetest.CommandContext(ctx, rdisc6, "-1", "-r", "3", "-w", "2000", l.cliIf))
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, got)
	}
	t.Logf("rdisc6:\n%s", got)
	for _, re := range []string{
		`Stateful address conf\.\s*:\s*Yes`,
		`Stateful other conf\.\s*:\s*Yes`,
		`Router lifetime\s*:\s*0 \(`,
		`Prefix\s*:\s*2001:db8::/64`,
		`On-link\s*:\s*Yes`,
		`Autonomous address conf\.\s*:\s*No`,
		`Valid time\s*:\s*86400 \(`,
	} {
		if !regexp.MustCompile(`(?i)` + re).MatchString(got) {
			t.Errorf("rdisc6 output lacks %q", re)
		}
	}
}

// rawSender sends hand-built IPv6 packets (any source, any hop limit) from
// the client namespace: IPPROTO_RAW sockets take the whole IPv6 header.
type rawSender struct {
	fd    int
	index int
	dst   netip.Addr
}

func newRawSender(t *testing.T, l *link) *rawSender {
	t.Helper()
	return newRawSenderIn(t, l.cli, l.cliIndex, allRouters)
}

// newRawSenderIn sends to dst out of link index in ns.
func newRawSenderIn(t *testing.T, ns *pxetest.NetNS, index int, dst netip.Addr) *rawSender {
	t.Helper()
	s := &rawSender{index: index, dst: dst}
	err := ns.Do(func() error {
		var err error
		s.fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	return s
}

// send sends icmp (checksum computed here) from src.
func (s *rawSender) send(t *testing.T, src netip.Addr, hop byte, icmp []byte) {
	t.Helper()
	dst := s.dst
	msg := append([]byte(nil), icmp...)
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:], checksum(src, dst, msg))
	hdr := make([]byte, 40)
	hdr[0] = 6 << 4
	binary.BigEndian.PutUint16(hdr[4:], uint16(len(msg)))
	hdr[6], hdr[7] = unix.IPPROTO_ICMPV6, hop
	s16, d16 := src.As16(), dst.As16()
	copy(hdr[8:], s16[:])
	copy(hdr[24:], d16[:])
	if err := unix.Sendto(s.fd, append(hdr, msg...), 0, &unix.SockaddrInet6{Addr: d16, ZoneId: uint32(s.index)}); err != nil {
		t.Fatalf("sendto: %v", err)
	}
}

func checksum(src, dst netip.Addr, msg []byte) uint16 {
	s16, d16 := src.As16(), dst.As16()
	ph := append(append(append([]byte{}, s16[:]...), d16[:]...), 0, 0, byte(len(msg)>>8), byte(len(msg)), 0, 0, 0, unix.IPPROTO_ICMPV6)
	var sum uint32
	b := append(ph, msg...)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	for i := 0; i < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestMalformedSolicitations: what RFC 4861 §6.1.1 says a router must
// ignore is dropped and counted by reason; valid ones are still answered,
// including one from :: (to ff02::1).
func TestMalformedSolicitations(t *testing.T) {
	l := newLink(t)
	r, ev := serve(t, l, Config{Interval: time.Hour})
	snd := newRawSender(t, l)
	slla := append([]byte{1, 1}, l.cliMAC...)
	snd.send(t, l.cliLL, 64, rs(0, slla...))                  // crossed a router
	snd.send(t, l.cliLL, 255, rs(3, slla...))                 // code 3
	snd.send(t, l.cliLL, 255, rs(0, 1, 0, 0, 0, 0, 0, 0, 0))  // option length 0
	snd.send(t, l.cliLL, 255, rs(0, 1, 2, 0, 0, 0, 0, 0, 0))  // option past the end
	snd.send(t, netip.IPv6Unspecified(), 255, rs(0, slla...)) // :: with SLLA
	snd.send(t, netip.IPv6Unspecified(), 255, rs(0))          // valid, from ::
	snd.send(t, l.cliLL, 255, rs(0, slla...))                 // valid
	s := waitStats(t, r, "two answers", func(s Stats) bool { return s.Answered == 2 })
	want := map[DropReason]uint64{DropHopLimit: 1, DropBadCode: 1, DropBadOption: 2, DropUnspecifiedSLLA: 1}
	for why, n := range want {
		if s.Dropped[why] != n {
			t.Errorf("dropped %s = %d, want %d (all: %v)", why, s.Dropped[why], n, s.Dropped)
		}
	}
	if s.Solicitations != 2 {
		t.Errorf("valid solicitations = %d, want 2", s.Solicitations)
	}
	dests := map[netip.Addr]bool{}
	for _, e := range ev.All() {
		dests[e.Dest] = e.Kind == EventAdvertised
		if e.Source == l.cliLL && !bytes.Equal(e.MAC, l.cliMAC) {
			t.Errorf("solicitation from %s: MAC %s, want its link-layer option's %s", l.cliLL, e.MAC, l.cliMAC)
		}
	}
	if !dests[allNodes] || !dests[l.cliLL] {
		t.Errorf("answers went to %v, want ff02::1 (for ::) and %s", dests, l.cliLL)
	}
}

// TestFlood: hundreds of solicitations get at most the burst of
// advertisements; the client receives exactly what the server says it
// answered, and every other solicitation is counted as rate-dropped.
func TestFlood(t *testing.T) {
	l := newLink(t)
	const burst = 5
	// One token per hour after the burst: the test cannot earn another.
	r, ev := serve(t, l, Config{Interval: time.Hour, ReplyRate: 1.0 / 3600, ReplyBurst: burst})

	// The client listens for advertisements unicast to it.
	var pc *ipv6.PacketConn
	err := l.cli.Do(func() error {
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		pc = ipv6.NewPacketConn(c)
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeRouterAdvertisement)
		if err := pc.SetICMPFilter(&f); err != nil {
			return err
		}
		return pc.SetControlMessage(ipv6.FlagDst, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var unicast int
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		buf := make([]byte, 1500)
		for {
			_, cm, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if cm != nil && cm.Dst.Equal(l.cliLL.AsSlice()) {
				unicast++
			}
		}
	}()

	snd := newRawSender(t, l)
	msg := rs(0, append([]byte{1, 1}, l.cliMAC...)...)
	const n = 300
	for i := 0; i < n; i++ {
		snd.send(t, l.cliLL, 255, msg)
	}
	// Most arrive (a socket buffer may overflow; those are never seen).
	s := waitStats(t, r, "flood received", func(s Stats) bool { return s.Solicitations >= n/2 && s.Answered == burst })
	// Let the last of them be processed, then read the final counters.
	prev := uint64(0)
	for s.Solicitations != prev {
		prev = s.Solicitations
		time.Sleep(300 * time.Millisecond)
		s = r.Stats()
	}
	if s.Answered != burst {
		t.Errorf("answered %d of %d solicitations, want the burst %d", s.Answered, s.Solicitations, burst)
	}
	if s.Dropped[DropRate] != s.Solicitations-s.Answered {
		t.Errorf("rate-dropped %d, want %d", s.Dropped[DropRate], s.Solicitations-s.Answered)
	}
	// Replies are on the wire once counted; give the last one a moment
	// to cross the veth before closing the client socket.
	pc.SetReadDeadline(time.Now().Add(time.Second))
	<-recvDone
	if uint64(unicast) != s.Answered {
		t.Errorf("client received %d unicast advertisements, server answered %d", unicast, s.Answered)
	}
	t.Logf("%d solicitations sent, %d received, %d answered, %d rate-dropped", n, s.Solicitations, s.Answered, s.Dropped[DropRate])
	// Every valid solicitation is one event: advertised, or dropped with
	// the rate limit as its reason.
	var advertised, rateDropped uint64
	for _, e := range ev.All() {
		switch {
		case e.Kind == EventAdvertised:
			advertised++
		case e.Kind == EventDropped && e.Reason == DropRate:
			rateDropped++
		default:
			t.Errorf("unexpected event %+v", e)
		}
	}
	if advertised != s.Answered || rateDropped != s.Dropped[DropRate] {
		t.Errorf("events: %d advertised, %d rate-dropped; stats say %d and %d", advertised, rateDropped, s.Answered, s.Dropped[DropRate])
	}
}

// TestOtherInterface: a solicitation that reaches the namespace on another
// link is not answered, only counted.
func TestOtherInterface(t *testing.T) {
	l := newLink(t)
	r, _ := serve(t, l, Config{Interval: time.Hour})
	other, peer := "rax0", "ray0"
	if err := l.srv.AddVeth(pxetest.Veth{Name: other, Peer: peer}); err != nil {
		t.Fatal(err)
	}
	// The kernel sends on a link only once it has left duplicate address
	// detection.
	src, err := l.srv.WaitLinkLocal(peer, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// To all-nodes, which every link has joined (all-routers only the
	// responder's): so it reaches the socket, from the wrong link.
	snd := newRawSenderIn(t, l.srv, linkIndex(t, l.srv, peer), allNodes)
	snd.send(t, src, 255, rs(0))
	s := waitStats(t, r, "other-interface drop", func(s Stats) bool { return s.Dropped[DropOtherInterface] >= 1 })
	if s.Solicitations != 0 || s.Answered != 0 {
		t.Errorf("a solicitation from another link was taken: %+v", s)
	}
}

// TestConn: a responder on an ICMPv6 socket the caller opened in the
// server namespace answers rdisc6, and Serve closes that socket when it
// returns.
func TestConn(t *testing.T) {
	rdisc6 := pxetest.RequireCmd(t, "rdisc6", "ndisc6")
	l := newLink(t)
	var conn net.PacketConn
	if err := l.srv.Do(func() error {
		var err error
		conn, err = net.ListenPacket("ip6:ipv6-icmp", "::")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, err := New(Config{Interface: l.srvIf, NetNS: l.srv.Path(), Conn: conn, Interval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	<-r.Ready()
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	if out, err := pxetest.Run(t, l.cli, pxetest.CommandContext(rctx, rdisc6, "-1", "-r", "3", "-w", "2000", l.cliIf)); err != nil {
		t.Fatalf("rdisc6 got no advertisement on Config.Conn: %v\n%s", err, out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := conn.WriteTo([]byte{128, 0, 0, 0}, &net.IPAddr{IP: net.IPv6loopback}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write on Config.Conn after Serve returned: %v, want net.ErrClosed", err)
	}
}

// TestRdisc6RouterLifetime: with RouterLifetime set the advertisement
// names this host a default router for that long, and a reconfigured
// responder keeps it.
func TestRdisc6RouterLifetime(t *testing.T) {
	rdisc6 := pxetest.RequireCmd(t, "rdisc6", "ndisc6")
	l := newLink(t)
	r, _ := serve(t, l, Config{Interval: time.Hour, RouterLifetime: 1800 * time.Second})
	if err := r.Reconfigure(true, true, []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := pxetest.Run(t, l.cli, pxetest.CommandContext(ctx, rdisc6, "-1", "-r", "3", "-w", "2000", l.cliIf))
	if err != nil {
		t.Fatalf("rdisc6: %v\n%s", err, got)
	}
	for _, re := range []string{`Router lifetime\s*:\s*1800 \(`, `Stateful address conf\.\s*:\s*Yes`} {
		if !regexp.MustCompile(`(?i)` + re).MatchString(got) {
			t.Errorf("rdisc6 output lacks %q:\n%s", re, got)
		}
	}
}
