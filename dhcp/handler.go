package dhcp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

const (
	serverPort = 67
	clientPort = 68
	// Relay agent information sub-options the server acts on.
	subLinkSelection   = 5  // RFC 3527: the client's link, when giaddr is elsewhere
	subRelaySourcePort = 19 // RFC 8357: answer the relay on the port it sent from
	// optIPXEEncap is iPXE's encapsulated option space (175); its
	// sub-option 176 is "no-pxedhcp".
	optIPXEEncap = 175
)

// noPXEDHCP is option 175 carrying sub-option 176 (DHCP_EB_NO_PXEDHCP) = 1:
// iPXE then takes the offer at once instead of waiting seconds for a
// ProxyDHCP offer that no one on this network sends.
var noPXEDHCP = []byte{176, 1, 1}

// inbound is one received datagram and where it came from.
type inbound struct {
	data    []byte
	ifIndex int            // receiving link, 0 if unknown
	src     netip.AddrPort // UDP source
	proxy   bool           // arrived on the proxyDHCP (4011) socket
	l       *listener
	// screened: the reader's screen already charged the rate limits.
	screened bool
}

// outcome is what handling one request produced.
type outcome struct {
	reply   *dhcpv4.DHCPv4
	dst     netip.AddrPort
	ifIndex int
	ops     []Op // committed before the reply leaves
	events  []Event
	// lost, on a shared store, is the answer to send instead when the
	// claim on ops fails: the NAK of an ACK.
	lost *outcome
}

// link is what the server knows about one of its interfaces.
type link struct {
	name  string
	addrs []netip.Prefix
}

// handle decodes, classifies and decides one request. It never panics on
// input (the fuzz targets hold it to that) and reports why it drops.
func (s *Server) handle(in inbound, now time.Time) (outcome, DropReason) {
	p, err := dhcpv4.FromBytes(in.data)
	if err != nil {
		return outcome{}, DropMalformed
	}
	if p.OpCode != dhcpv4.OpcodeBootRequest {
		return outcome{}, DropNotRequest
	}
	if n := len(p.ClientHWAddr); n == 0 || n > 16 {
		return outcome{}, DropBadHWAddr
	}
	mt := p.MessageType()
	switch mt {
	case dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeDecline,
		dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeInform:
	default:
		return outcome{}, DropUnknownType
	}
	s.cnt.requests.Add(requestType(mt))
	c := ClientFromPacket(p)
	var lk link
	if in.ifIndex > 0 {
		lk = s.links[in.ifIndex]
		c.Interface = lk.name
	}
	if !in.screened && !s.clientLimit.allow(p.ClientHWAddr, now) {
		return outcome{}, DropClientRate
	}
	if !in.screened && c.Relay.IsValid() {
		k := c.Relay.As4()
		if !s.relayLimit.allow(k[:], now) {
			return outcome{}, DropRelayRate
		}
	}
	if s.cfg.ProxyDHCP {
		return s.handleProxy(p, mt, c, in, lk, now)
	}

	sub := s.subnetFor(p, c, lk)
	if sub < 0 {
		return outcome{}, DropNoSubnet
	}
	sid := s.serverID(sub, lk)
	if !sid.IsValid() {
		return outcome{}, DropNoServerID
	}
	mac := string(p.ClientHWAddr)
	ev := func(t EventKind, ip netip.Addr, b BootDecision) Event {
		return Event{Kind: t, MAC: c.MAC, IP: ip, Client: c, Boot: b, Time: now}
	}
	reqSID := addrOpt(p, dhcpv4.OptionServerIdentifier)

	if (mt == dhcpv4.MessageTypeDiscover || mt == dhcpv4.MessageTypeRequest) && !s.available() {
		s.unavailable(now)
		return outcome{}, DropStoreUnavailable
	}

	switch mt {
	case dhcpv4.MessageTypeDiscover:
		if s.cfg.Sharing != nil && !s.cfg.Sharing.Serves(c.MAC) {
			return outcome{}, DropPeerClient
		}
		evs := []Event{ev(EventDiscovered, netip.Addr{}, BootDecision{})}
		var boot BootDecision
		if s.cfg.Boot != nil {
			boot = s.cfg.Boot(c)
		}
		if boot.Ignore {
			s.emit(evs)
			return outcome{}, DropPolicy
		}
		if keys, ok := capKeys(p, c.Relay); ok && !s.caps.take(mac, keys, now, now.Add(s.cfg.OfferHold)) {
			s.emit(evs)
			return outcome{}, DropPoolCap
		}
		ip, err := s.table.offer(mac, sub, addrOpt(p, dhcpv4.OptionRequestedIPAddress), now, s.cfg.OfferHold)
		if err != nil {
			s.emit(evs)
			return outcome{}, DropPoolFull
		}
		r := s.reply(p, dhcpv4.MessageTypeOffer, sid)
		s.addAddressOptions(r, sub, ip, mac)
		s.addBoot(r, c, boot, sid, false)
		addNoPXEDHCP(r, p, c, boot)
		o := s.route(p, r, in, false)
		o.events = append(evs, ev(EventOffered, ip, boot))
		return o, ""

	case dhcpv4.MessageTypeRequest:
		ciaddr := addrOf(p.ClientIPAddr)
		req := addrOpt(p, dhcpv4.OptionRequestedIPAddress)
		var want netip.Addr
		allowNew := true
		switch {
		case reqSID.IsValid(): // SELECTING
			if reqSID != sid && reqSID != s.cfg.ServerID {
				// The client took another server's offer: free ours now
				// instead of waiting for the hold to lapse.
				s.table.dropOffer(mac)
				return outcome{}, DropNotForUs
			}
			want, allowNew = req, false
			if !want.IsValid() {
				want = ciaddr
			}
		case req.IsValid() && !ciaddr.IsValid(): // INIT-REBOOT
			want = req
			if s.cfg.Sharing != nil && !s.cfg.Sharing.Serves(c.MAC) {
				return outcome{}, DropPeerClient
			}
		case ciaddr.IsValid(): // RENEWING (unicast) or REBINDING (broadcast)
			want = ciaddr
		default:
			return outcome{}, DropMalformed
		}
		var boot BootDecision
		if s.cfg.Boot != nil {
			boot = s.cfg.Boot(c)
		}
		if !want.Is4() || !s.cfg.Subnets[sub].Prefix.Masked().Contains(want) {
			return s.nak(p, in, sid, c, "requested address is not on this network", now)
		}
		keys, capped := capKeys(p, c.Relay)
		if capped && allowNew && !s.caps.take(mac, keys, now, now.Add(s.cfg.OfferHold)) {
			return outcome{}, DropPoolCap
		}
		l, ok := s.table.ack(mac, want, sub, s.leaseTime(sub), c.ClientID, c.Hostname, now, allowNew)
		if !ok {
			if _, _, has := s.table.current(mac); !has && !reqSID.IsValid() && !s.table.inPool(want, sub) {
				// RFC 2131 4.3.2: a server with no record of the client
				// and no say over the address stays silent.
				return outcome{}, DropUnknownClient
			}
			return s.nak(p, in, sid, c, "address not available to this client", now)
		}
		if capped {
			s.caps.hold(mac, keys, l.Expiry)
		}
		r := s.reply(p, dhcpv4.MessageTypeAck, sid)
		s.addAddressOptions(r, sub, want, mac)
		s.addBoot(r, c, boot, sid, false)
		addNoPXEDHCP(r, p, c, boot)
		o := s.route(p, r, in, false)
		o.ops = []Op{{Lease: l}}
		o.events = []Event{ev(EventAcked, want, boot)}
		if s.shared != nil {
			n, _ := s.nak(p, in, sid, c, "address taken by another server", now)
			o.lost = &n
		}
		return o, ""

	case dhcpv4.MessageTypeDecline:
		if reqSID.IsValid() && reqSID != sid && reqSID != s.cfg.ServerID {
			return outcome{}, DropNotForUs
		}
		ip := addrOpt(p, dhcpv4.OptionRequestedIPAddress)
		l, ok := s.table.decline(mac, ip, now, s.cfg.DeclineHold)
		if !ok {
			return outcome{}, DropNoLease
		}
		s.caps.free(mac)
		return outcome{ops: []Op{{Lease: l}}, events: []Event{ev(EventDeclined, ip, BootDecision{})}}, ""

	case dhcpv4.MessageTypeRelease:
		if reqSID.IsValid() && reqSID != sid && reqSID != s.cfg.ServerID {
			return outcome{}, DropNotForUs
		}
		ip := addrOf(p.ClientIPAddr)
		l, ok := s.table.release(mac, ip, now)
		if !ok {
			return outcome{}, DropNoLease
		}
		s.caps.free(mac)
		return outcome{ops: []Op{{Lease: l}}, events: []Event{ev(EventReleased, ip, BootDecision{})}}, ""

	default: // INFORM: configuration only, no address (RFC 2131 3.4)
		var boot BootDecision
		if s.cfg.Boot != nil {
			boot = s.cfg.Boot(c)
		}
		r := s.reply(p, dhcpv4.MessageTypeAck, sid)
		s.addAddressOptions(r, sub, netip.Addr{}, mac)
		r.YourIPAddr = net.IPv4zero
		r.Options.Del(dhcpv4.OptionIPAddressLeaseTime)
		r.Options.Del(dhcpv4.OptionRenewTimeValue)
		r.Options.Del(dhcpv4.OptionRebindingTimeValue)
		s.addBoot(r, c, boot, sid, false)
		o := s.route(p, r, in, false)
		o.events = []Event{ev(EventInformed, addrOf(p.ClientIPAddr), boot)}
		return o, ""
	}
}

// handleProxy answers PXE clients with boot information only.
func (s *Server) handleProxy(p *dhcpv4.DHCPv4, mt dhcpv4.MessageType, c Client, in inbound, lk link, now time.Time) (outcome, DropReason) {
	if !c.IsPXE() {
		return outcome{}, DropNotPXE
	}
	sid := s.cfg.ServerID
	if !sid.IsValid() {
		sid = firstAddr(lk, netip.Prefix{})
	}
	if !sid.IsValid() {
		return outcome{}, DropNoServerID
	}
	boot := s.cfg.Boot(c)
	if boot.Ignore || boot.Filename == "" {
		return outcome{}, DropPolicy
	}
	var t dhcpv4.MessageType
	switch {
	case mt == dhcpv4.MessageTypeDiscover && !in.proxy:
		t = dhcpv4.MessageTypeOffer
	case mt == dhcpv4.MessageTypeRequest || mt == dhcpv4.MessageTypeInform:
		// On 67 a REQUEST normally selects the address server's offer:
		// only answer one that names us.
		if !in.proxy && addrOpt(p, dhcpv4.OptionServerIdentifier) != sid {
			return outcome{}, DropNotForUs
		}
		t = dhcpv4.MessageTypeAck
	default:
		return outcome{}, DropUnknownType
	}
	r := s.reply(p, t, sid)
	r.YourIPAddr = net.IPv4zero
	s.addBoot(r, c, boot, sid, true)
	o := s.route(p, r, in, false)
	et := EventOffered
	if t == dhcpv4.MessageTypeAck {
		et = EventAcked
	}
	o.events = []Event{{Kind: et, MAC: c.MAC, Client: c, Boot: boot, Proxy: true, Time: now}}
	return o, ""
}

func (s *Server) nak(p *dhcpv4.DHCPv4, in inbound, sid netip.Addr, c Client, why string, now time.Time) (outcome, DropReason) {
	r := s.reply(p, dhcpv4.MessageTypeNak, sid)
	r.UpdateOption(dhcpv4.OptMessage(why))
	o := s.route(p, r, in, true)
	o.events = []Event{{Kind: EventNAK, MAC: c.MAC, Client: c, Reason: why, Time: now}}
	return o, ""
}

// reply starts an answer: header from the request, options 53, 54, and the
// request's 61, 82 (RFC 6842, RFC 3046) and 97 (PXE) echoed.
func (s *Server) reply(p *dhcpv4.DHCPv4, t dhcpv4.MessageType, sid netip.Addr) *dhcpv4.DHCPv4 {
	r := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        p.HWType,
		TransactionID: p.TransactionID,
		Flags:         p.Flags,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: p.GatewayIPAddr,
		ClientHWAddr:  p.ClientHWAddr,
		Options:       dhcpv4.Options{},
	}
	if len(r.GatewayIPAddr) == 0 {
		r.GatewayIPAddr = net.IPv4zero
	}
	if t == dhcpv4.MessageTypeAck && p.MessageType() != dhcpv4.MessageTypeDiscover {
		r.ClientIPAddr = p.ClientIPAddr
	}
	r.UpdateOption(dhcpv4.OptMessageType(t))
	r.UpdateOption(dhcpv4.OptServerIdentifier(sid.AsSlice()))
	for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionClientIdentifier, dhcpv4.OptionRelayAgentInformation, dhcpv4.OptionClientMachineIdentifier} {
		if v := p.Options.Get(code); v != nil {
			r.Options[code.Code()] = v
		}
	}
	return r
}

func (s *Server) leaseTime(sub int) time.Duration { return leaseTimeOf(s.cfg.Subnets[sub]) }

// leaseTimeOf is sn's lease time, or the default.
func leaseTimeOf(sn Subnet) time.Duration {
	if sn.LeaseTime > 0 {
		return sn.LeaseTime
	}
	return time.Hour
}

// subnetOptions encodes a subnet's options once, at New: they are the
// same in every reply, and the encoded slices are only ever read.
func subnetOptions(sn Subnet, lt time.Duration) dhcpv4.Options {
	o := dhcpv4.Options{}
	pfx := sn.Prefix.Masked()
	o.Update(dhcpv4.OptSubnetMask(net.CIDRMask(pfx.Bits(), 32)))
	if len(sn.Routers) > 0 {
		o.Update(dhcpv4.OptRouter(ips(sn.Routers)...))
	}
	if len(sn.DNS) > 0 {
		o.Update(dhcpv4.OptDNS(ips(sn.DNS)...))
	}
	if sn.DomainName != "" {
		o.Update(dhcpv4.OptDomainName(sn.DomainName))
	}
	if sn.MTU != 0 {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], sn.MTU)
		o[dhcpv4.OptionInterfaceMTU.Code()] = b[:]
	}
	bc := u2ip4(ip4u(pfx.Addr()) | (1<<(32-pfx.Bits()) - 1))
	o.Update(dhcpv4.OptBroadcastAddress(bc.AsSlice()))
	o.Update(dhcpv4.OptIPAddressLeaseTime(lt))
	o.Update(dhcpv4.OptRenewTimeValue(lt / 2))
	o.Update(dhcpv4.OptRebindingTimeValue(lt * 7 / 8))
	return o
}

// addAddressOptions sets yiaddr and the subnet's options.
func (s *Server) addAddressOptions(r *dhcpv4.DHCPv4, sub int, ip netip.Addr, mac string) {
	if ip.IsValid() {
		r.YourIPAddr = ip.AsSlice()
	}
	for k, v := range s.subOpts[sub] {
		r.Options[k] = v
	}
	if res, ok := s.table.resMAC[mac]; ok && res.IP == ip && res.Hostname != "" {
		r.UpdateOption(dhcpv4.OptHostName(res.Hostname))
	}
}

// addBoot puts a boot decision in the reply. proxy adds what PXE firmware
// needs to recognise a proxyDHCP answer (option 60 "PXEClient" and option
// 43 discovery control "use the boot file in this packet").
func (s *Server) addBoot(r *dhcpv4.DHCPv4, c Client, b BootDecision, sid netip.Addr, proxy bool) {
	if b.Filename == "" {
		return
	}
	ns := b.NextServer
	if !ns.IsValid() {
		ns = sid
	}
	r.ServerIPAddr = ns.AsSlice()
	if len(b.Filename) < 128 {
		r.BootFileName = b.Filename
	}
	r.UpdateOption(dhcpv4.OptBootFileName(b.Filename))
	if b.ServerName != "" {
		r.UpdateOption(dhcpv4.OptTFTPServerName(b.ServerName))
		if len(b.ServerName) < 64 {
			r.ServerHostName = b.ServerName
		}
	}
	vc := b.VendorClass
	if vc == "" && proxy {
		vc = vendorPXEClient
		if c.IsHTTPClient() {
			vc = vendorHTTPClient
		}
	}
	if vc != "" {
		r.UpdateOption(dhcpv4.OptClassIdentifier(vc))
	}
	if proxy && !c.IsHTTPClient() {
		// PXE_DISCOVERY_CONTROL (sub-option 6) = 8: boot from the file
		// named here, skip boot-server discovery.
		r.Options[dhcpv4.OptionVendorSpecificInformation.Code()] = []byte{6, 1, 8, 255}
	}
}

// addNoPXEDHCP tells an iPXE client (user class "iPXE", or option 175 in its
// request: iPXE sends its feature list there) not to wait for ProxyDHCP,
// when this server, which is not a proxy, gave it a boot file. iPXE leaves
// DHCP discovery on an offer carrying 175.176, else waits up to
// DHCP_DISC_PROXY_TIMEOUT_SEC for a ProxyDHCPOFFER. Only called on the
// address-serving path: in proxyDHCP mode another server makes the offer
// and iPXE must wait for ours.
func addNoPXEDHCP(r, p *dhcpv4.DHCPv4, c Client, b BootDecision) {
	if b.Filename == "" || !(c.IsIPXE() || p.Options.Has(dhcpv4.GenericOptionCode(optIPXEEncap))) {
		return
	}
	r.Options[optIPXEEncap] = noPXEDHCP
}

// route decides where the reply goes (RFC 2131 4.1).
func (s *Server) route(p, r *dhcpv4.DHCPv4, in inbound, nak bool) outcome {
	o := outcome{reply: r}
	if gi := addrOf(p.GatewayIPAddr); gi.IsValid() {
		port := uint16(serverPort)
		if relaySub(p, subRelaySourcePort) != nil && in.src.IsValid() {
			port = in.src.Port()
		}
		if nak {
			r.SetBroadcast() // the relay must broadcast a NAK on the client's link
		}
		o.dst = netip.AddrPortFrom(gi, port)
		return o
	}
	o.ifIndex = in.ifIndex
	switch ci := addrOf(p.ClientIPAddr); {
	case in.proxy && in.src.IsValid():
		o.dst = in.src
	case nak:
		o.dst = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	case ci.IsValid():
		o.dst = netip.AddrPortFrom(ci, clientPort)
	}
	if !o.dst.IsValid() || o.dst.Addr().IsUnspecified() {
		o.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), clientPort)
	}
	return o
}

// subnetFor picks the client's subnet: the relay's link (RFC 3527 link
// selection, else giaddr), else the receiving interface's, else the only
// subnet when the link is unknown (an injected socket).
func (s *Server) subnetFor(p *dhcpv4.DHCPv4, c Client, lk link) int {
	if c.Relay.IsValid() {
		if ls := relaySub(p, subLinkSelection); len(ls) == 4 {
			return s.table.subnetOf(netip.AddrFrom4([4]byte(ls)))
		}
		return s.table.subnetOf(c.Relay)
	}
	for _, a := range lk.addrs {
		if i := s.table.subnetOf(a.Addr()); i >= 0 {
			return i
		}
	}
	if len(lk.addrs) == 0 && len(s.cfg.Subnets) == 1 {
		return 0
	}
	return -1
}

func (s *Server) serverID(sub int, lk link) netip.Addr {
	if a := s.cfg.Subnets[sub].ServerID; a.IsValid() {
		return a
	}
	if s.cfg.ServerID.IsValid() {
		return s.cfg.ServerID
	}
	return firstAddr(lk, s.cfg.Subnets[sub].Prefix.Masked())
}

// firstAddr is lk's address inside in (any IPv4 address if in is zero).
func firstAddr(lk link, in netip.Prefix) netip.Addr {
	for _, a := range lk.addrs {
		if a.Addr().Is4() && (!in.IsValid() || in.Contains(a.Addr())) {
			return a.Addr()
		}
	}
	return netip.Addr{}
}

func relaySub(p *dhcpv4.DHCPv4, code uint8) []byte {
	v := p.Options.Get(dhcpv4.OptionRelayAgentInformation)
	for i := 0; i+1 < len(v); {
		c, n := v[i], int(v[i+1])
		if i+2+n > len(v) {
			return nil
		}
		if c == code {
			return v[i+2 : i+2+n]
		}
		i += 2 + n
	}
	return nil
}

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

func addrOpt(p *dhcpv4.DHCPv4, code dhcpv4.OptionCode) netip.Addr {
	v := p.Options.Get(code)
	if len(v) != 4 {
		return netip.Addr{}
	}
	return addrOf(net.IP(v))
}

func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, len(as))
	for i, a := range as {
		out[i] = a.AsSlice()
	}
	return out
}
