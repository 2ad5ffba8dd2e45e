package pxetest

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// RelayClient speaks to a DHCP server as a relay agent on loopback does:
// each request goes out with giaddr set to the relay's address, RFC 3527
// link selection naming the client's link, and RFC 8357 relay source port,
// so the reply comes back to the relay's own port. It reaches a server
// listening on any loopback port (a handed-in Config.Conn) without root or
// a namespace, and picks the server's subnet by link, as relays behind
// several routed networks do.
type RelayClient struct {
	conn   net.PacketConn
	server net.Addr
	buf    []byte
}

// NewRelayClient opens the relay's socket on 127.0.0.1, closed when the
// test ends.
func NewRelayClient(tb testing.TB, server net.Addr) *RelayClient {
	tb.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &RelayClient{conn: c, server: server, buf: make([]byte, 1500)}
}

// Exchange relays req from a client on link and returns the server's
// reply to it (same transaction). It sends again after 2 s without one,
// as a client retransmits, four times in all.
func (c *RelayClient) Exchange(req *dhcpv4.DHCPv4, link netip.Addr) (*dhcpv4.DHCPv4, error) {
	if !link.Is4() {
		return nil, fmt.Errorf("link %s: want an IPv4 address", link)
	}
	l4 := link.As4()
	req.GatewayIPAddr = net.IPv4(127, 0, 0, 1)
	req.UpdateOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(5), l4[:]), // link selection
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(19), nil),  // relay source port
	))
	for range 4 {
		if _, err := c.conn.WriteTo(req.ToBytes(), c.server); err != nil {
			return nil, err
		}
		c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := c.conn.ReadFrom(c.buf)
			if err != nil {
				break // timed out: send again
			}
			r, err := dhcpv4.FromBytes(c.buf[:n])
			if err == nil && r.TransactionID == req.TransactionID {
				return r, nil
			}
		}
	}
	return nil, fmt.Errorf("no reply to the relayed %s from %s", req.MessageType(), link)
}

// DORA takes a lease for mac on link: DISCOVER, OFFER, REQUEST, ACK.
func (c *RelayClient) DORA(mac net.HardwareAddr, link netip.Addr) (offer, ack *dhcpv4.DHCPv4, err error) {
	d, err := dhcpv4.NewDiscovery(mac)
	if err != nil {
		return nil, nil, err
	}
	if offer, err = c.Exchange(d, link); err != nil {
		return nil, nil, err
	}
	if offer.MessageType() != dhcpv4.MessageTypeOffer {
		return nil, nil, fmt.Errorf("%s on %s: got %s to a DISCOVER", mac, link, offer.MessageType())
	}
	req, err := dhcpv4.NewRequestFromOffer(offer)
	if err != nil {
		return nil, nil, err
	}
	if ack, err = c.Exchange(req, link); err != nil {
		return nil, nil, err
	}
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		return nil, nil, fmt.Errorf("%s on %s: got %s to a REQUEST", mac, link, ack.MessageType())
	}
	return offer, ack, nil
}
