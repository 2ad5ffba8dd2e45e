package dhcp6

import (
	"net"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pxekit/pxekit/dhcp"
)

// Client is what a request says about the machine that sent it: the input
// of a boot policy. The embedded dhcp.Client carries what DHCPv4 and
// DHCPv6 share — MAC (when known), Archs (option 61, the same registry as
// DHCPv4's option 93), VendorClass (the first string of option 16),
// UserClasses (option 15), Hostname (option 39) and Interface — so its
// methods (IsPXE, IsIPXE, IsHTTPClient, Arch, IsUEFI, IsARM64) classify a
// DHCPv6 client as they do a DHCPv4 one. Its DHCPv4-only fields (ClientID,
// UUID, RelayAgentInfo, Relay) stay empty.
type Client struct {
	dhcp.Client
	// DUID is option 1, the client's DUID, raw.
	DUID []byte
	// MACFrom says where MAC came from (empty when it is not known).
	MACFrom MACSource
	// Enterprise is option 16's enterprise number (343, Intel, for PXE and
	// UEFI firmware).
	Enterprise uint32
	// Source is the client's own address: the IPv6 source of a direct
	// request, or the peer-address of the relay closest to the client.
	Source netip.Addr
	// Hops counts the relay agents the request came through (0: direct).
	// RelayAddr is the address of the relay agent that sent it to this
	// server, LinkAddr the link-address of the relay closest to the client
	// (the client's link), InterfaceID and RemoteID that relay's options
	// 18 and 37.
	Hops        int
	RelayAddr   netip.Addr
	LinkAddr    netip.Addr
	InterfaceID []byte
	RemoteID    []byte
}

// MACSource says how a DHCPv6 server learnt a client's MAC.
type MACSource string

// Where a client's MAC comes from, in the order the server trusts them.
const (
	// MACFromRelay: the Client Link-Layer Address option (79, RFC 6939) of
	// the relay closest to the client, which saw the client's frame.
	MACFromRelay MACSource = "relay"
	// MACFromLinkLocal: the modified EUI-64 interface identifier of the
	// client's link-local source address (RFC 4291 appendix A), which
	// firmware (OVMF, iPXE) forms from its MAC.
	MACFromLinkLocal MACSource = "link-local"
	// MACFromDUID: a DUID-LLT or DUID-LL of Ethernet type.
	MACFromDUID MACSource = "duid"
)

// relayHop is one RELAY-FORW layer, outermost first.
type relayHop struct {
	hops        uint8
	link, peer  net.IP
	interfaceID []byte // option 18, echoed in the RELAY-REPL
	relayPort   bool   // option 135 (RFC 8357): answer on the relay's source port
}

// clientFrom classifies msg, which came through relays (outermost first)
// from src.
func clientFrom(msg *dhcpv6.Message, relays []relayHop, innermost *dhcpv6.RelayMessage, src netip.Addr) Client {
	var c Client
	if d := msg.Options.ClientID(); d != nil {
		c.DUID = d.ToBytes()
	}
	for _, a := range msg.Options.ArchTypes() {
		c.Archs = append(c.Archs, dhcp.Arch(a))
	}
	for _, vc := range msg.Options.VendorClasses() {
		if len(vc.Data) > 0 {
			c.Enterprise, c.VendorClass = vc.EnterpriseNumber, string(vc.Data[0])
			break
		}
	}
	for _, uc := range msg.Options.UserClasses() {
		c.UserClasses = append(c.UserClasses, string(uc))
	}
	if f := msg.Options.FQDN(); f != nil && f.DomainName != nil && len(f.DomainName.Labels) > 0 {
		c.Hostname = strings.Join(f.DomainName.Labels, ".")
	}
	c.Source = src
	if len(relays) > 0 {
		c.Hops = len(relays)
		c.RelayAddr = src
		in := relays[len(relays)-1]
		c.Source, _ = netip.AddrFromSlice(in.peer)
		c.InterfaceID = in.interfaceID
		// The link is that of the relay closest to the client whose
		// link-address is set (a relay on an unnumbered link leaves it ::,
		// RFC 8415 §19.1.1).
		for i := len(relays) - 1; i >= 0; i-- {
			if a, ok := netip.AddrFromSlice(relays[i].link); ok && !a.IsUnspecified() {
				c.LinkAddr = a
				break
			}
		}
		if rid := innermost.Options.RemoteID(); rid != nil {
			c.RemoteID = rid.RemoteID
		}
		if ht, lla := innermost.Options.ClientLinkLayerAddress(); ht == iana.HWTypeEthernet && len(lla) == 6 {
			c.MAC, c.MACFrom = lla, MACFromRelay
		}
	}
	c.Source = c.Source.Unmap().WithZone("")
	if c.MAC == nil {
		if mac := eui64MAC(c.Source); mac != nil {
			c.MAC, c.MACFrom = mac, MACFromLinkLocal
		}
	}
	if c.MAC == nil {
		if mac := duidMAC(c.DUID); mac != nil {
			c.MAC, c.MACFrom = mac, MACFromDUID
		}
	}
	return c
}

// eui64MAC is the MAC a link-local address was formed from by modified
// EUI-64 (xx:xx:xx:ff:fe:xx:xx:xx with the universal/local bit flipped),
// nil for any other address.
func eui64MAC(a netip.Addr) net.HardwareAddr {
	if !a.Is6() || !a.IsLinkLocalUnicast() {
		return nil
	}
	b := a.As16()
	if b[11] != 0xff || b[12] != 0xfe {
		return nil
	}
	mac := net.HardwareAddr{b[8] ^ 0x02, b[9], b[10], b[13], b[14], b[15]}
	if mac[0]&1 != 0 {
		return nil // a group address is no NIC's
	}
	return mac
}

// duidMAC is the Ethernet address in a DUID-LLT or DUID-LL, nil for other
// DUIDs.
func duidMAC(duid []byte) net.HardwareAddr {
	var mac []byte
	switch {
	case len(duid) == 14 && duid[0] == 0 && duid[1] == 1 && duid[2] == 0 && duid[3] == 1: // DUID-LLT, Ethernet
		mac = duid[8:]
	case len(duid) == 10 && duid[0] == 0 && duid[1] == 3 && duid[2] == 0 && duid[3] == 1: // DUID-LL, Ethernet
		mac = duid[4:]
	default:
		return nil
	}
	if mac[0]&1 != 0 {
		return nil
	}
	return net.HardwareAddr(append([]byte(nil), mac...))
}
