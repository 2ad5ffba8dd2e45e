package ra

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"
)

// ICMPv6 message types (RFC 4861 §4).
const (
	typeRouterSolicitation  = 133
	typeRouterAdvertisement = 134
	optSourceLinkAddr       = 1 // source link-layer address option
)

// DropReason says why a received message was not answered.
type DropReason string

// Reasons a Router Solicitation is dropped, counted in Stats.Dropped.
const (
	DropNotSolicitation DropReason = "not-solicitation"   // ICMPv6 type is not 133
	DropHopLimit        DropReason = "hop-limit"          // IPv6 hop limit is not 255 (or unknown): it crossed a router
	DropBadCode         DropReason = "bad-code"           // ICMP code is not 0
	DropTooShort        DropReason = "too-short"          // fewer than 8 bytes
	DropBadOption       DropReason = "bad-option"         // an option of length 0 or running past the end
	DropUnspecifiedSLLA DropReason = "unspecified-slla"   // source :: with a source link-layer address option
	DropOtherInterface  DropReason = "other-interface"    // arrived on another link of the namespace
	DropRate            DropReason = "rate"               // the reply rate limit was reached
	DropNoLinkLocal     DropReason = "no-link-local"      // the interface has no usable link-local address yet
	DropSendError       DropReason = "send-error"         // the kernel refused the reply
	DropNoControl       DropReason = "no-control-message" // the kernel gave no hop limit or interface
)

// Solicitation is a valid Router Solicitation.
type Solicitation struct {
	// Source is the solicitor's IPv6 source address (:: before it has
	// one).
	Source netip.Addr
	// LinkAddr is the source link-layer address option, when present: the
	// solicitor's MAC.
	LinkAddr net.HardwareAddr
}

// ParseSolicitation validates an ICMPv6 message (without its IPv6 header)
// as a Router Solicitation the way RFC 4861 §6.1.1 asks a router to:
// hopLimit is the IPv6 hop limit it arrived with (-1 if unknown) and src
// its IPv6 source. It never panics; the reason says why a message is
// rejected.
func ParseSolicitation(msg []byte, src netip.Addr, hopLimit int) (Solicitation, DropReason) {
	if len(msg) < 8 {
		return Solicitation{}, DropTooShort
	}
	if msg[0] != typeRouterSolicitation {
		return Solicitation{}, DropNotSolicitation
	}
	if hopLimit != 255 {
		return Solicitation{}, DropHopLimit
	}
	if msg[1] != 0 {
		return Solicitation{}, DropBadCode
	}
	s := Solicitation{Source: src.WithZone("")}
	// Header: type, code, checksum (2), reserved (4); options follow.
	for opts := msg[8:]; len(opts) > 0; {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			return Solicitation{}, DropBadOption
		}
		n := int(opts[1]) * 8
		if opts[0] == optSourceLinkAddr {
			if !src.IsValid() || src.IsUnspecified() {
				return Solicitation{}, DropUnspecifiedSLLA
			}
			// Ethernet fills the 8-byte option exactly; other links'
			// addresses keep their padding.
			s.LinkAddr = append(net.HardwareAddr(nil), opts[2:n]...)
		}
		opts = opts[n:]
	}
	return s, ""
}

// Router Advertisement flags and Prefix Information (RFC 4861 §4.2,
// §4.6.2).
const (
	flagManaged     = 0x80
	flagOtherConfig = 0x40
	optPrefixInfo   = 3
	prefixOnLink    = 0x80
	prefixAuto      = 0x40
)

// advertisement encodes the Router Advertisement this package sends by
// default: cur hop limit 0 (unspecified), M=0, O=0, router lifetime 0,
// reachable time and retrans timer 0, one source link-layer address option
// with mac, no prefix. The checksum stays 0: the kernel fills it in for
// ICMPv6 sockets.
func advertisement(mac net.HardwareAddr) []byte { return advert{}.encode(mac) }

// encode is the advertisement with a's flags and router lifetime and,
// after the source link-layer address, one Prefix Information option per
// prefix: on-link, not autonomous, valid and preferred for PrefixLifetime.
func (a advert) encode(mac net.HardwareAddr) []byte {
	b := make([]byte, 16, 16+8+len(mac)+32*len(a.prefixes))
	b[0] = typeRouterAdvertisement
	if a.managed {
		b[5] |= flagManaged
	}
	if a.other {
		b[5] |= flagOtherConfig
	}
	binary.BigEndian.PutUint16(b[6:], a.lifetime)
	if len(mac) > 0 {
		n := (2 + len(mac) + 7) / 8 * 8
		opt := make([]byte, n)
		opt[0], opt[1] = optSourceLinkAddr, byte(n/8)
		copy(opt[2:], mac)
		b = append(b, opt...)
	}
	life := uint32(PrefixLifetime / time.Second)
	for _, p := range a.prefixes {
		opt := make([]byte, 32)
		opt[0], opt[1], opt[2], opt[3] = optPrefixInfo, 4, byte(p.Bits()), prefixOnLink
		binary.BigEndian.PutUint32(opt[4:], life)
		binary.BigEndian.PutUint32(opt[8:], life)
		pfx := p.Masked().Addr().As16()
		copy(opt[16:], pfx[:])
		b = append(b, opt...)
	}
	return b
}
