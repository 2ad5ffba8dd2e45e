package main

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The load client's hand-built requests are DHCP as a real decoder reads
// them: relayed (giaddr, hops 1), with the MAC, xid and, for a REQUEST,
// the offered address and the server that offered it.
func TestLoadPacketDecodes(t *testing.T) {
	mac := [6]byte{0x02, 0x4c, 0x44, 0, 1, 2}
	relay, ip, srv := [4]byte{192, 0, 2, 2}, [4]byte{192, 0, 2, 77}, [4]byte{192, 0, 2, 1}
	b := make([]byte, bootpMin)
	for _, c := range []struct {
		mt   byte
		want dhcpv4.MessageType
	}{{1, dhcpv4.MessageTypeDiscover}, {3, dhcpv4.MessageTypeRequest}} {
		loadPacket(b, 0xdeadbeef, mac, relay, c.mt, ip, srv)
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
	loadPacket(req, 1, [6]byte{}, [4]byte{}, 1, [4]byte{}, [4]byte{})
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
