package dhcpload

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/dhcp"
)

// The load client's hand-built requests are DHCP as a real decoder reads
// them: relayed (giaddr, hops 1), with the MAC and xid; a selecting
// REQUEST with the offered address and the server that offered it, a
// rebinding one with ciaddr and neither.
func TestRequestDecodes(t *testing.T) {
	mac := [6]byte{0x02, 0x4c, 0x44, 0, 1, 2}
	relay, ip, srv := [4]byte{192, 0, 2, 2}, [4]byte{192, 0, 2, 77}, [4]byte{192, 0, 2, 1}
	b := make([]byte, bootpMin)
	for _, c := range []struct {
		name          string
		mt            byte
		req, sid, cia [4]byte
		want          dhcpv4.MessageType
	}{
		{"discover", 1, [4]byte{}, [4]byte{}, [4]byte{}, dhcpv4.MessageTypeDiscover},
		{"selecting", 3, ip, srv, [4]byte{}, dhcpv4.MessageTypeRequest},
		{"rebinding", 3, [4]byte{}, [4]byte{}, ip, dhcpv4.MessageTypeRequest},
	} {
		writeRequest(b, 0xdeadbeef, mac, relay, c.mt, c.req, c.sid, c.cia)
		p, err := dhcpv4.FromBytes(b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.MessageType() != c.want || p.TransactionID != [4]byte{0xde, 0xad, 0xbe, 0xef} || p.HopCount != 1 ||
			!p.GatewayIPAddr.Equal(net.IP(relay[:])) || p.ClientHWAddr.String() != "02:4c:44:00:01:02" || p.OpCode != dhcpv4.OpcodeBootRequest {
			t.Errorf("%s decodes as %s", c.name, p.Summary())
		}
		wantReq, wantSID, wantCI := net.IP(nil), net.IP(nil), net.IPv4zero.To4()
		switch c.name {
		case "selecting":
			wantReq, wantSID = net.IP(ip[:]), net.IP(srv[:])
		case "rebinding":
			wantCI = net.IP(ip[:])
		}
		if !p.RequestedIPAddress().Equal(wantReq) || !p.ServerIdentifier().Equal(wantSID) || !p.ClientIPAddr.Equal(wantCI) {
			t.Errorf("%s asks %v from %v with ciaddr %v", c.name, p.RequestedIPAddress(), p.ServerIdentifier(), p.ClientIPAddr)
		}
	}
	if got := MAC(0x0102).String(); got != "02:4c:44:00:01:02" {
		t.Errorf("MAC(0x0102) = %s", got)
	}
}

func TestReplyInfo(t *testing.T) {
	offer, err := dhcpv4.New(dhcpv4.WithReply(&dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest, TransactionID: [4]byte{1, 2, 3, 4}}),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer), dhcpv4.WithYourIP(net.IPv4(192, 0, 2, 77)),
		dhcpv4.WithServerIP(net.IPv4(192, 0, 2, 1)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 1))))
	if err != nil {
		t.Fatal(err)
	}
	xid, mt, yi, sid, ok := replyInfo(offer.ToBytes())
	if !ok || xid != 0x01020304 || mt != 2 || yi != [4]byte{192, 0, 2, 77} || sid != [4]byte{192, 0, 2, 1} {
		t.Errorf("replyInfo = %#x %d %v %v %v", xid, mt, yi, sid, ok)
	}
	// A request (op 1), a truncated reply and one without option 53 are
	// not replies.
	req := make([]byte, bootpMin)
	writeRequest(req, 1, [6]byte{}, [4]byte{}, 1, [4]byte{}, [4]byte{}, [4]byte{})
	noType := offer.ToBytes()
	noType[240] = 255 // the options end before they begin
	for name, b := range map[string][]byte{"request": req, "truncated": offer.ToBytes()[:243], "no type": noType} {
		if _, _, _, _, ok := replyInfo(b); ok {
			t.Errorf("%s taken for a reply", name)
		}
	}
}

// FuzzReplyInfo: whatever arrives on the relay port, the client never
// panics, and takes nothing without a message type for a reply.
func FuzzReplyInfo(f *testing.F) {
	offer, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 1))))
	offer.OpCode = dhcpv4.OpcodeBootReply
	f.Add(offer.ToBytes())
	f.Add(make([]byte, 244))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, mt, _, _, ok := replyInfo(b)
		if ok && (mt == 0 || len(b) < 244 || b[0] != 2) {
			t.Errorf("took %d bytes (op %d) with type %d for a reply", len(b), b[0], mt)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Servers: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Relay: netip.MustParseAddr("192.0.2.2"), Rate: 1, Secs: 1, Clients: 1}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Errorf("a good config: %v", errs)
	}
	// A verification run needs no length.
	ok.Secs, ok.Verify = 0, []Lease{{Client: 1, IP: netip.MustParseAddr("192.0.2.10")}}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Errorf("a verification run: %v", errs)
	}
	bad := Config{Servers: []netip.Addr{netip.MustParseAddr("2001:db8::1")}, Clients: 65536, Drop: -1, RebindRate: -1, Tries: -1,
		Verify: []Lease{{Client: 1}}}
	got := bad.Validate().ToAggregate().Error()
	for _, f := range []string{"servers[0]", "relay", "rate", "clients", "drop", "rebindRate", "tries", "verify[0].ip"} {
		if !strings.Contains(got, f+":") {
			t.Errorf("no error for %s in %s", f, got)
		}
	}
	if _, err := Run(context.Background(), bad); err == nil {
		t.Error("Run took a bad config")
	}
	if errs := (Config{Relay: ok.Relay, Rate: 1, Secs: 1, Clients: 1}).Validate(); len(errs) != 1 || errs[0].Field != "servers" {
		t.Errorf("no server: %v", errs)
	}
}

// A run against pxekit's DHCP server, relayed across the harness's veth:
// every DORA offered completes, and the server saw each of them.
func TestRunAgainstServer(t *testing.T) {
	h := harness.Setup(t)
	srv, err := dhcp.New(dhcp.Config{
		NetNS:      "/var/run/netns/" + h.Srv.Name(),
		Interfaces: []string{h.SrvIf},
		Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix(harness.Prefix), LeaseTime: time.Hour,
			Pools: []dhcp.Range{{Start: netip.MustParseAddr(harness.PoolStart), End: netip.MustParseAddr(harness.PoolEnd)}}}},
		ClientRate: -1, // 50 clients come back four times a second each
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	harness.Serve(t, srv.Serve)
	ctx := context.Background()
	cfg := Config{Servers: []netip.Addr{netip.MustParseAddr(harness.ServerIP)}, Relay: netip.MustParseAddr(harness.ClientIP),
		Rate: 200, Secs: 1, Clients: 50, Drop: 2 * time.Second}
	var rep *Report
	// The server's socket may not be bound yet: the first run is a probe.
	err = harness.WaitReady(ctx, func() error {
		return h.Cli.Do(func() error {
			r, err := Run(ctx, Config{Servers: cfg.Servers, Relay: cfg.Relay, Rate: 10, Secs: 1, Clients: 1, Drop: time.Second})
			if err == nil && r.Acks == 0 {
				err = errors.New("no ACK")
			}
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.Stats().Acks
	// The client's one socket is made in the clients' namespace.
	if err := h.Cli.Do(func() error { var err error; rep, err = Run(ctx, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	if rep.Discovers != 200 || rep.Offers != 200 || rep.Requests != 200 || rep.Acks != 200 || rep.Naks != 0 {
		t.Errorf("report %+v, want 200 DISCOVERs, OFFERs, REQUESTs and ACKs", *rep)
	}
	if rep.SendSecs <= 0 {
		t.Errorf("send time %v", rep.SendSecs)
	}
	if got := srv.Stats().Acks - before; got != 200 {
		t.Errorf("the server sent %d ACKs, the client counted %d", got, rep.Acks)
	}
}

// Relayed to two servers, one of which never answers: every request
// reaches both, each exchange is recorded with who answered what and
// when, rebinding clients get their own address again, and a verification
// run tells a renewable lease from one the server refuses (NAK) or
// ignores (resent, then none).
func TestRecordRebindVerify(t *testing.T) {
	h := harness.Setup(t)
	silentIP := netip.MustParseAddr("192.0.2.3")
	if err := h.Srv.AddAddr(h.SrvIf, netip.PrefixFrom(silentIP, 24)); err != nil {
		t.Fatal(err)
	}
	srv, err := dhcp.New(dhcp.Config{
		NetNS:      "/var/run/netns/" + h.Srv.Name(),
		Interfaces: []string{h.SrvIf},
		ListenAddr: netip.AddrPortFrom(netip.MustParseAddr(harness.ServerIP), 67),
		ServerID:   netip.MustParseAddr(harness.ServerIP),
		Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix(harness.Prefix), LeaseTime: time.Hour,
			Pools: []dhcp.Range{{Start: netip.MustParseAddr(harness.PoolStart), End: netip.MustParseAddr(harness.PoolEnd)}}}},
		ClientRate: -1,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	harness.Serve(t, srv.Serve)
	// The silent server counts what reaches it.
	silent, err := h.Srv.ListenPacket("udp4", netip.AddrPortFrom(silentIP, 67).String())
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	go func() {
		b := make([]byte, 1500)
		for {
			if _, _, err := silent.ReadFrom(b); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	t.Cleanup(func() { silent.Close() })
	waitGot := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); got.Load() < want && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if n := got.Load(); n != want {
			t.Errorf("the second server got %d requests, want %d", n, want)
		}
	}
	ctx := context.Background()
	servers := []netip.Addr{netip.MustParseAddr(harness.ServerIP), silentIP}
	relay := netip.MustParseAddr(harness.ClientIP)
	run := func(cfg Config) *Report {
		t.Helper()
		var rep *Report
		if err := h.Cli.Do(func() error { var err error; rep, err = Run(ctx, cfg); return err }); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	err = harness.WaitReady(ctx, func() error {
		if r := run(Config{Servers: servers[:1], Relay: relay, Rate: 10, Secs: 1, Clients: 1, Drop: time.Second}); r.Acks == 0 {
			return errors.New("no ACK")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	rep := run(Config{Servers: servers, Relay: relay, Rate: 100, Secs: 1, Clients: 20, Drop: time.Second, RebindRate: 50, Record: true})
	if rep.Discovers != 100 || rep.Acks != 100 || rep.Rebinds == 0 || rep.RebindAcks != rep.Rebinds || len(rep.Exchanges) != rep.Discovers+rep.Rebinds {
		t.Fatalf("report: %d DISCOVERs, %d ACKs, %d rebinds, %d ACKed, %d exchanges", rep.Discovers, rep.Acks, rep.Rebinds, rep.RebindAcks, len(rep.Exchanges))
	}
	waitGot(int64(2*rep.Discovers + rep.Rebinds))
	held := map[uint16]netip.Addr{}
	for _, e := range rep.Exchanges {
		if e.Result != ResultACK || e.Server != servers[0] || e.Done < e.Sent || e.Sent < rep.Start || !e.IP.IsValid() {
			t.Fatalf("exchange %+v", e)
		}
		if ip, ok := held[e.Client]; ok && ip != e.IP {
			t.Errorf("client %d ACKed %s, then %s (%s)", e.Client, ip, e.IP, e.Kind)
		}
		held[e.Client] = e.IP
	}
	if len(rep.Extra) != 0 {
		t.Errorf("answers from a server that never answers: %+v", rep.Extra)
	}

	// Every lease held is renewable; another client's address is refused;
	// one outside the pool is ignored and asked for three times.
	var verify []Lease
	for c, ip := range held {
		verify = append(verify, Lease{Client: c, IP: ip})
	}
	nak, ignored := Lease{Client: 1000, IP: verify[0].IP}, Lease{Client: 1001, IP: netip.MustParseAddr("192.0.2.5")}
	verify = append(verify, nak, ignored)
	before := got.Load()
	rep = run(Config{Servers: servers, Relay: relay, Rate: 1000, Clients: 20, Drop: 300 * time.Millisecond, Verify: verify})
	if rep.Discovers != 0 || rep.Rebinds != len(verify) || len(rep.Exchanges) != len(verify) {
		t.Fatalf("verification: %d DISCOVERs, %d rebinds, %d exchanges for %d leases", rep.Discovers, rep.Rebinds, len(rep.Exchanges), len(verify))
	}
	for i, e := range rep.Exchanges {
		want := ResultACK
		switch verify[i] {
		case nak:
			want = ResultNAK
		case ignored:
			want = ResultNone
		}
		if e.Client != verify[i].Client || e.Result != want || (want == ResultACK && e.IP != verify[i].IP) {
			t.Errorf("rebind of %+v: %+v, want %s", verify[i], e, want)
		}
	}
	waitGot(before + int64(len(verify)) + 2) // the ignored one, twice more

	// Retrying as firmware does, against the server that never answers:
	// each DISCOVER goes again 1 s later, and not a third time (due at
	// 3 s, past Retry).
	before = got.Load()
	rep = run(Config{Servers: servers[1:], Relay: relay, Rate: 10, Secs: 1, Clients: 5, Drop: 100 * time.Millisecond, Retry: 2 * time.Second, Record: true})
	if rep.Discovers != 10 || rep.Offers != 0 || len(rep.Exchanges) != 10 {
		t.Errorf("retried run: %d DISCOVERs, %d OFFERs, %d exchanges, want 10, 0, 10", rep.Discovers, rep.Offers, len(rep.Exchanges))
	}
	waitGot(before + 20)
}
