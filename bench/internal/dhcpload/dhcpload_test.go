package dhcpload

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/dhcp"
)

// The load client's hand-built requests are DHCP as a real decoder reads
// them: relayed (giaddr, hops 1), with the MAC, xid and, for a REQUEST,
// the offered address and the server that offered it.
func TestRequestDecodes(t *testing.T) {
	mac := [6]byte{0x02, 0x4c, 0x44, 0, 1, 2}
	relay, ip, srv := [4]byte{192, 0, 2, 2}, [4]byte{192, 0, 2, 77}, [4]byte{192, 0, 2, 1}
	b := make([]byte, bootpMin)
	for _, c := range []struct {
		mt   byte
		want dhcpv4.MessageType
	}{{1, dhcpv4.MessageTypeDiscover}, {3, dhcpv4.MessageTypeRequest}} {
		writeRequest(b, 0xdeadbeef, mac, relay, c.mt, ip, srv)
		p, err := dhcpv4.FromBytes(b)
		if err != nil {
			t.Fatalf("%s: %v", c.want, err)
		}
		if p.MessageType() != c.want || p.TransactionID != [4]byte{0xde, 0xad, 0xbe, 0xef} || p.HopCount != 1 ||
			!p.GatewayIPAddr.Equal(net.IP(relay[:])) || p.ClientHWAddr.String() != "02:4c:44:00:01:02" || p.OpCode != dhcpv4.OpcodeBootRequest {
			t.Errorf("%s decodes as %s", c.want, p.Summary())
		}
		if c.want == dhcpv4.MessageTypeRequest && (!p.RequestedIPAddress().Equal(net.IP(ip[:])) || !p.ServerIdentifier().Equal(net.IP(srv[:]))) {
			t.Errorf("REQUEST asks %v from %v", p.RequestedIPAddress(), p.ServerIdentifier())
		}
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
	writeRequest(req, 1, [6]byte{}, [4]byte{}, 1, [4]byte{}, [4]byte{})
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
	ok := Config{Server: netip.MustParseAddr("192.0.2.1"), Relay: netip.MustParseAddr("192.0.2.2"), Rate: 1, Secs: 1, Clients: 1}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Errorf("a good config: %v", errs)
	}
	bad := Config{Server: netip.MustParseAddr("2001:db8::1"), Clients: 65536, Drop: -1}
	got := bad.Validate().ToAggregate().Error()
	for _, f := range []string{"server", "relay", "rate", "secs", "clients", "drop"} {
		if !strings.Contains(got, f+":") {
			t.Errorf("no error for %s in %s", f, got)
		}
	}
	if _, err := Run(context.Background(), bad); err == nil {
		t.Error("Run took a bad config")
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
	cfg := Config{Server: netip.MustParseAddr(harness.ServerIP), Relay: netip.MustParseAddr(harness.ClientIP),
		Rate: 200, Secs: 1, Clients: 50, Drop: 2 * time.Second}
	var rep *Report
	// The server's socket may not be bound yet: the first run is a probe.
	err = harness.WaitReady(ctx, func() error {
		return h.Cli.Do(func() error {
			r, err := Run(ctx, Config{Server: cfg.Server, Relay: cfg.Relay, Rate: 10, Secs: 1, Clients: 1, Drop: time.Second})
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
