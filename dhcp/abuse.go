package dhcp

import (
	"net/netip"
	"time"

	"github.com/pxekit/pxekit/internal/ratelimit"
)

// DropOversized is a datagram that fills the whole read buffer
// (maxDatagram bytes): larger than any DHCP client sends, possibly cut off,
// so it is not parsed.
const DropOversized DropReason = "oversized"

// maxDatagram is the read buffer size. A packet of that size or more was
// truncated by the read (a plain ReadFrom reports no truncation), so
// admit drops it instead of parsing a prefix.
const maxDatagram = 4096

// oversized reports whether a read of n bytes may have been cut off.
func oversized(n int) bool { return n >= maxDatagram }

// Fixed BOOTP header offsets (RFC 2131 figure 1) the screen reads before
// any decoding.
const (
	offOp     = 0
	offHLen   = 2
	offGIAddr = 24
	offCHAddr = 28
	bootpMin  = offCHAddr + 16
)

// screen applies the per-MAC, per-relay and per-source limits to a raw
// datagram before it is decoded, so a flood costs the reader a few byte
// compares and a hash, not a parse and a worker. It reads only fixed
// offsets and allocates nothing. The keys are the ones handle would use
// (chaddr, giaddr) plus the UDP source address, which a relay cannot vary
// the way it can vary giaddr. A datagram takes a token from each limit
// only when all of them allow it: a random-MAC flood that its relay's
// limit stops spends nothing from the MAC table, whose slots the
// well-behaved clients' MACs share with the invented ones. "" admits
// the datagram.
func (s *Server) screen(data []byte, src netip.AddrPort, now time.Time) DropReason {
	if len(data) < bootpMin {
		return DropMalformed
	}
	if data[offOp] != 1 { // BOOTREQUEST
		return DropNotRequest
	}
	hl := int(data[offHLen])
	if hl == 0 || hl > 16 {
		return DropBadHWAddr
	}
	ct, ok := s.clientLimit.peek(data[offCHAddr:offCHAddr+hl], now)
	if !ok {
		return DropClientRate
	}
	var rt, st ratelimit.Token
	gi := data[offGIAddr : offGIAddr+4]
	if gi[0]|gi[1]|gi[2]|gi[3] != 0 {
		if rt, ok = s.relayLimit.peek(gi, now); !ok {
			return DropRelayRate
		}
	}
	// Direct clients send from 0.0.0.0 before they have an address: the
	// source says nothing about them, so it is not a key then.
	if a := src.Addr(); a.Is4() && !a.IsUnspecified() {
		k := a.As4()
		if st, ok = s.srcLimit.peek(k[:], now); !ok {
			return DropRelayRate
		}
	}
	ct.Take()
	rt.Take()
	st.Take()
	return ""
}
