package dhcp6

import (
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/insomniacslk/dhcp/rfc1035label"

	"github.com/pxekit/pxekit/dhcp"
)

const (
	serverPort = 547
	clientPort = 546
	// maxRelays bounds the RELAY-FORW nesting accepted. Relays refuse to
	// add a layer past HOP_COUNT_LIMIT (8, RFC 8415 §7.6); deeper nesting
	// is a forged packet.
	maxRelays = 32
)

// inbound is one received datagram and where it came from.
type inbound struct {
	data    []byte
	ifIndex int            // receiving link, 0 if unknown
	src     netip.AddrPort // UDP source
}

// outcome is what handling one request produced.
type outcome struct {
	reply   []byte // encoded ADVERTISE or REPLY (in RELAY-REPLs when relayed)
	dst     netip.AddrPort
	ifIndex int
	relayed bool
	ops     []dhcp.Op // committed before the reply leaves
	events  []Event
}

// link is what the server knows about one of its interfaces.
type link struct {
	name     string
	prefixes []netip.Prefix // global and unique local addresses
}

// request is one decoded request with what the reply needs.
type request struct {
	msg     *dhcpv6.Message
	relays  []relayHop
	c       Client
	who     holder
	sub     int
	boot    BootDecision
	reply   *dhcpv6.Message
	events  []Event
	ops     []dhcp.Op
	now     time.Time
	msgType string
}

// handle decodes, classifies and decides one request. It never panics on
// input (the fuzz target holds it to that) and says why it drops.
func (s *Server) handle(in inbound, now time.Time) (outcome, DropReason) {
	p, err := dhcpv6.FromBytes(in.data)
	if err != nil {
		return outcome{}, DropMalformed
	}
	var relays []relayHop
	var innermost *dhcpv6.RelayMessage
	for p.IsRelay() {
		rm := p.(*dhcpv6.RelayMessage)
		if rm.MessageType != dhcpv6.MessageTypeRelayForward {
			return outcome{}, DropNotRequest
		}
		if len(relays) == maxRelays {
			return outcome{}, DropHopLimit
		}
		relays = append(relays, relayHop{hops: rm.HopCount, link: rm.LinkAddr, peer: rm.PeerAddr,
			interfaceID: rm.Options.InterfaceID(), relayPort: rm.Options.GetOne(dhcpv6.OptionRelayPort) != nil})
		innermost = rm
		if p = rm.Options.RelayMessage(); p == nil {
			return outcome{}, DropMalformed
		}
	}
	msg := p.(*dhcpv6.Message)
	mt := msg.MessageType
	name := messageName(mt)
	switch mt {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeConfirm, dhcpv6.MessageTypeRenew,
		dhcpv6.MessageTypeRebind, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline, dhcpv6.MessageTypeInformationRequest:
	case dhcpv6.MessageTypeAdvertise, dhcpv6.MessageTypeReply, dhcpv6.MessageTypeReconfigure:
		return outcome{}, DropNotRequest
	default:
		return outcome{}, DropUnknownType
	}
	s.cnt.requests.Add(name)

	// RFC 8415 §16: which messages need a Client Identifier, and which
	// must carry (or must not carry) the Server Identifier.
	sid := msg.Options.ServerID()
	if msg.Options.ClientID() == nil && mt != dhcpv6.MessageTypeInformationRequest {
		return outcome{}, DropNoClientID
	}
	switch mt {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRebind, dhcpv6.MessageTypeConfirm:
		if sid != nil {
			return outcome{}, DropServerID
		}
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline:
		if sid == nil {
			return outcome{}, DropServerID
		}
	}
	if sid != nil && string(sid.ToBytes()) != string(s.duid.ToBytes()) {
		return outcome{}, DropNotForUs
	}

	r := &request{msg: msg, relays: relays, now: now, msgType: name}
	r.c = clientFrom(msg, relays, innermost, in.src.Addr())
	var lk link
	if in.ifIndex > 0 {
		lk = s.links[in.ifIndex]
		r.c.Interface = lk.name
	}
	r.who = holderOf(r.c)
	// A message takes a token from each limit only when both allow it:
	// a flood of invented DUIDs its relay's limit stops spends nothing
	// from the DUID table, whose slots real clients share with them.
	ct, ok := s.clientLimit.Peek(r.c.DUID, now)
	if !ok {
		return outcome{}, DropClientRate
	}
	if r.c.RelayAddr.IsValid() {
		k := r.c.RelayAddr.As16()
		if !s.relayLimit.Allow(k[:], now) {
			return outcome{}, DropRelayRate
		}
	}
	ct.Take()
	if r.sub = s.subnetFor(r.c, lk); r.sub < 0 {
		return outcome{}, DropNoSubnet
	}
	switch mt {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind,
		dhcpv6.MessageTypeInformationRequest:
		if s.cfg.Boot != nil {
			r.boot = s.cfg.Boot(r.c)
		}
		if r.boot.Ignore {
			return outcome{}, DropPolicy
		}
	}

	replyType := dhcpv6.MessageTypeReply
	var why DropReason
	switch mt {
	case dhcpv6.MessageTypeSolicit:
		r.events = append(r.events, r.event(EventSolicited, netip.Addr{}))
		if s.cfg.RapidCommit && msg.GetOneOption(dhcpv6.OptionRapidCommit) != nil {
			r.start(s, replyType)
			r.reply.AddOption(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionRapidCommit})
			s.assign(r, true)
		} else {
			replyType = dhcpv6.MessageTypeAdvertise
			r.start(s, replyType)
			if s.cfg.Preference > 0 {
				r.reply.AddOption(dhcpv6.OptPreference(s.cfg.Preference))
			}
			s.assign(r, false)
		}
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind:
		r.start(s, replyType)
		s.assign(r, true)
	case dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline:
		r.start(s, replyType)
		s.giveBack(r, mt == dhcpv6.MessageTypeDecline)
	case dhcpv6.MessageTypeConfirm:
		why = s.confirm(r)
	default: // INFORMATION-REQUEST: configuration only (RFC 8415 §18.3.6)
		r.start(s, replyType)
		r.events = append(r.events, r.event(EventInformed, netip.Addr{}))
	}
	if why != "" {
		return outcome{}, why
	}
	if mt != dhcpv6.MessageTypeRelease && mt != dhcpv6.MessageTypeDecline && mt != dhcpv6.MessageTypeConfirm {
		s.addOptions(r)
	}
	o := outcome{ops: r.ops, events: r.events, ifIndex: in.ifIndex, dst: in.src, relayed: len(relays) > 0}
	o.reply = wrap(r.reply, relays).ToBytes()
	if len(relays) == 0 || !relays[0].relayPort {
		// A relay listens on 547 unless it asked for its source port
		// (RFC 8357); a client on the port it sent from, normally 546.
		port := uint16(serverPort)
		if len(relays) == 0 {
			port = in.src.Port()
			if port == 0 {
				port = clientPort
			}
		}
		o.dst = netip.AddrPortFrom(in.src.Addr(), port)
	}
	return o, ""
}

// start begins the reply: the transaction ID and both identifiers.
func (r *request) start(s *Server, t dhcpv6.MessageType) {
	r.reply = &dhcpv6.Message{MessageType: t, TransactionID: r.msg.TransactionID}
	r.reply.AddOption(dhcpv6.OptServerID(s.duid))
	if cid := r.msg.Options.ClientID(); cid != nil {
		r.reply.AddOption(dhcpv6.OptClientID(cid))
	}
}

func (r *request) event(k EventKind, ip netip.Addr) Event {
	return Event{Time: r.now, Kind: k, MAC: r.c.MAC, DUID: r.c.DUID, Message: r.msgType, IP: ip, Client: r.c, Boot: r.boot}
}

func (r *request) refuse(code iana.StatusCode) {
	e := r.event(EventRefused, netip.Addr{})
	e.Status = code.String()
	r.events = append(r.events, e)
}

// assign answers the IA_NAs of a SOLICIT, REQUEST, RENEW or REBIND: the
// first gets the client's address, bound when bind is set (committed
// before the REPLY leaves) or set aside for an ADVERTISE; every other IA
// gets NoAddrsAvail. Addresses the client named that it may not keep come
// back with lifetimes 0, so it drops them (RFC 8415 §18.3.4, §18.3.5).
func (s *Server) assign(r *request, bind bool) {
	sn := s.cfg.Subnets[r.sub]
	valid, preferred := validLifetime(sn), preferredLifetime(sn)
	for i, ia := range r.msg.Options.IANA() {
		out := &dhcpv6.OptIANA{IaId: ia.IaId}
		if i > 0 {
			out.Options.Add(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail, StatusMessage: "one address per client"})
			r.reply.AddOption(out)
			continue
		}
		var hint netip.Addr
		if a := ia.Options.OneAddress(); a != nil {
			hint, _ = netip.AddrFromSlice(a.IPv6Addr)
		}
		ip, err := s.table.offer(r.who, r.sub, hint, r.now, s.cfg.OfferHold)
		ok := err == nil
		if ok && bind {
			var l dhcp.Lease
			l, ok = s.table.bind(r.who, ip, r.sub, valid, r.c.Hostname, r.now, true, iaKey(r.who.duid, ia.IaId))
			if ok {
				r.ops = append(r.ops, dhcp.Op{Lease: l})
			}
		}
		if !ok {
			out.Options.Add(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail, StatusMessage: "no free address"})
			r.refuse(iana.StatusNoAddrsAvail)
		} else {
			out.T1, out.T2 = preferred/2, preferred*4/5
			out.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: ip.AsSlice(), PreferredLifetime: preferred, ValidLifetime: valid})
			kind := EventAdvertised
			if bind {
				kind = EventBound
			}
			r.events = append(r.events, r.event(kind, ip))
		}
		for _, a := range ia.Options.Addresses() {
			if old, _ := netip.AddrFromSlice(a.IPv6Addr); old != ip && old.IsValid() {
				out.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: a.IPv6Addr})
			}
		}
		r.reply.AddOption(out)
	}
}

// giveBack answers a RELEASE or DECLINE (RFC 8415 §18.3.7, §18.3.8): the
// client's addresses go back (or into quarantine); an IA naming none of
// them gets NoBinding.
func (s *Server) giveBack(r *request, decline bool) {
	for _, ia := range r.msg.Options.IANA() {
		done := false
		for _, a := range ia.Options.Addresses() {
			ip, _ := netip.AddrFromSlice(a.IPv6Addr)
			by := iaKey(r.who.duid, ia.IaId)
			kind, act := EventReleased, func(who holder, ip netip.Addr, now time.Time) (dhcp.Lease, bool) {
				return s.table.release(who, ip, by, now)
			}
			if decline {
				kind = EventDeclined
				act = func(who holder, ip netip.Addr, now time.Time) (dhcp.Lease, bool) {
					return s.table.decline(who, ip, now, s.cfg.DeclineHold)
				}
			}
			l, ok := act(r.who, ip, r.now)
			if ok {
				done = true
				r.ops = append(r.ops, dhcp.Op{Lease: l})
				r.events = append(r.events, r.event(kind, ip))
			}
		}
		if !done {
			out := &dhcpv6.OptIANA{IaId: ia.IaId}
			out.Options.Add(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoBinding, StatusMessage: "no binding for this IA"})
			r.reply.AddOption(out)
		}
	}
	r.reply.AddOption(&dhcpv6.OptStatusCode{StatusCode: iana.StatusSuccess})
}

// confirm answers a CONFIRM (RFC 8415 §18.3.3): Success when every address
// the client names is on its link, NotOnLink otherwise; nothing when it
// names none.
func (s *Server) confirm(r *request) DropReason {
	pfx := s.cfg.Subnets[r.sub].Prefix.Masked()
	n, on := 0, true
	for _, ia := range r.msg.Options.IANA() {
		for _, a := range ia.Options.Addresses() {
			ip, _ := netip.AddrFromSlice(a.IPv6Addr)
			n++
			on = on && pfx.Contains(ip)
		}
	}
	if n == 0 {
		return DropNoBinding
	}
	r.start(s, dhcpv6.MessageTypeReply)
	code := iana.StatusSuccess
	if !on {
		code = iana.StatusNotOnLink
		r.refuse(code)
	} else {
		r.events = append(r.events, r.event(EventInformed, netip.Addr{}))
	}
	r.reply.AddOption(&dhcpv6.OptStatusCode{StatusCode: code})
	return ""
}

// addOptions puts the subnet's options and the boot decision in the
// reply.
func (s *Server) addOptions(r *request) {
	sn := s.cfg.Subnets[r.sub]
	if len(sn.DNS) > 0 {
		dns := make([]net.IP, len(sn.DNS))
		for i, a := range sn.DNS {
			dns[i] = a.AsSlice()
		}
		r.reply.AddOption(dhcpv6.OptDNS(dns...))
	}
	if len(sn.DomainSearch) > 0 {
		r.reply.AddOption(dhcpv6.OptDomainSearchList(&rfc1035label.Labels{Labels: sn.DomainSearch}))
	}
	if b := r.boot; b.URL != "" {
		r.reply.AddOption(dhcpv6.OptBootFileURL(b.URL))
		if len(b.Params) > 0 {
			r.reply.AddOption(dhcpv6.OptBootFileParam(b.Params...))
		}
		if b.VendorClass != "" {
			r.reply.AddOption(&dhcpv6.OptVendorClass{EnterpriseNumber: enterpriseIntel, Data: [][]byte{[]byte(b.VendorClass)}})
		}
	}
}

// enterpriseIntel is the enterprise number of PXE's vendor class (343).
const enterpriseIntel = 343

// wrap puts the reply in one RELAY-REPL per relay the request came
// through, each echoing its hop count, addresses and Interface-ID.
func wrap(reply *dhcpv6.Message, relays []relayHop) dhcpv6.DHCPv6 {
	var out dhcpv6.DHCPv6 = reply
	for i := len(relays) - 1; i >= 0; i-- {
		h := relays[i]
		rr := &dhcpv6.RelayMessage{MessageType: dhcpv6.MessageTypeRelayReply, HopCount: h.hops, LinkAddr: h.link, PeerAddr: h.peer}
		if h.interfaceID != nil {
			rr.Options.Add(dhcpv6.OptInterfaceID(h.interfaceID))
		}
		rr.Options.Add(dhcpv6.OptRelayMessage(out))
		out = rr
	}
	return out
}

// subnetFor picks the client's subnet: the relay's link-address, else the
// receiving interface's prefixes, else the only subnet when the link is
// unknown (a handed-in socket).
func (s *Server) subnetFor(c Client, lk link) int {
	if c.Hops > 0 {
		if !c.LinkAddr.IsValid() {
			return -1
		}
		return s.table.subnetOf(c.LinkAddr)
	}
	for _, p := range lk.prefixes {
		if i := s.table.subnetOf(p.Addr()); i >= 0 {
			return i
		}
	}
	if len(lk.prefixes) == 0 && len(s.cfg.Subnets) == 1 {
		return 0
	}
	return -1
}

// messageName names a message type as Stats.Requests and Event.Message do.
func messageName(t dhcpv6.MessageType) string {
	switch t {
	case dhcpv6.MessageTypeSolicit:
		return "solicit"
	case dhcpv6.MessageTypeRequest:
		return "request"
	case dhcpv6.MessageTypeConfirm:
		return "confirm"
	case dhcpv6.MessageTypeRenew:
		return "renew"
	case dhcpv6.MessageTypeRebind:
		return "rebind"
	case dhcpv6.MessageTypeRelease:
		return "release"
	case dhcpv6.MessageTypeDecline:
		return "decline"
	case dhcpv6.MessageTypeInformationRequest:
		return "information-request"
	}
	return ""
}
