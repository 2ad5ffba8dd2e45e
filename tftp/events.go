package tftp

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pxekit/pxekit/internal/dropcount"
)

// EventKind says what happened to a request.
type EventKind string

// Event kinds.
const (
	EventSent    EventKind = "sent"    // the whole file was acknowledged
	EventFailed  EventKind = "failed"  // a transfer started and did not finish
	EventRefused EventKind = "refused" // the request got an ERROR packet; Reason says why
	EventBusy    EventKind = "busy"    // dropped: MaxTransfers reached
	// EventAborted: the client ended the transfer with an ERROR packet.
	// UEFI firmware does so after the OACK when it only wanted the size
	// (tsize), before asking again for the file.
	EventAborted EventKind = "aborted"
)

// Event describes one request: a finished or failed transfer, or a refusal.
type Event struct {
	Time time.Time
	Kind EventKind
	// MAC is the client's, from Config.MACForIP; nil when unknown.
	MAC       net.HardwareAddr
	Peer      netip.AddrPort
	File      string // the cleaned path, or the name as sent when refused before cleaning
	Size      int64  // file size
	Bytes     int64  // bytes sent (on the wire: more than Size in netascii)
	BlockSize int    // negotiated block size
	// WindowSize is the RFC 7440 window granted; 0 for a lock-step transfer.
	WindowSize int
	Duration   time.Duration
	// FinalACKLost marks an EventSent whose last ACK never came: the
	// client closed its port (ICMP port unreachable) once the final block
	// had been sent. TFTP cannot tell this from a client that vanished
	// at that very moment; a client only closes early after an error it
	// reports with an ERROR packet, so it is counted as sent.
	FinalACKLost bool
	Code         ErrorCode  // the code of the ERROR packet sent (EventRefused)
	Reason       DropReason // why the request was refused or dropped (EventRefused, EventBusy)
	Err          error      // why it failed or was refused
}

// DropReason says why a request started no transfer.
type DropReason string

// Reasons a packet on the listening socket starts no transfer, counted in
// Stats.Dropped. The first four get an ERROR packet and spend the
// client's refusal budget; the others get no answer.
const (
	DropMalformed    DropReason = "malformed"     // the request does not parse (ERROR 4)
	DropWriteRequest DropReason = "write-request" // a WRQ: the server is read-only (ERROR 2)
	DropPathRefused  DropReason = "path-refused"  // traversal, control characters, a symlink out of the root, no permission (ERROR 2)
	DropNotFound     DropReason = "not-found"     // no such file, or not a regular file (ERROR 1)
	DropBusy         DropReason = "busy"          // MaxTransfers reached or shutting down: the client asks again
	DropDuplicate    DropReason = "duplicate"     // a retransmitted request for a transfer already running
	DropStray        DropReason = "stray"         // not a request
	// DropRefusalRate: the client's address spent its refusal budget
	// (Config.RefusalRate); its requests are dropped unread until the
	// budget refills.
	DropRefusalRate DropReason = "refusal-rate"
)

// dropReasons lists every reason (a function, not a package variable: no
// global mutable state).
func dropReasons() []DropReason {
	return []DropReason{DropMalformed, DropWriteRequest, DropPathRefused, DropNotFound, DropBusy, DropDuplicate, DropStray, DropRefusalRate}
}

// Stats are counters since the Server was created.
type Stats struct {
	Requests uint64 // RRQ and WRQ packets seen on the listening socket
	Sent     uint64 // transfers completed
	// FinalACKLost counts the transfers in Sent whose final ACK was lost
	// (see Event.FinalACKLost).
	FinalACKLost uint64
	Failed       uint64 // transfers started but not completed
	Aborted      uint64 // transfers the client ended with an ERROR packet
	BytesSent    uint64
	Active       int64 // transfers running now
	// Dropped counts packets on the listening socket that started no
	// transfer, by reason.
	Dropped map[DropReason]uint64
	// Retransmitted counts packets sent again after their ACK timed out
	// (DATA blocks and OACKs): how lossy the boot network is.
	Retransmitted uint64
	// ErrorsSent counts the ERROR packets the server sent, by code.
	ErrorsSent map[ErrorCode]uint64
}

type counters struct {
	requests, sent, failed, aborted, bytes, retransmitted, finalACKLost atomic.Uint64
	active                                                              atomic.Int64
	dropped                                                             *dropcount.Counts[DropReason]
	// errors counts ERROR packets by code; a code the RFCs do not define
	// is counted as 0 (undefined).
	errors [ErrOptionRefused + 1]atomic.Uint64
}

func (c *counters) drop(r DropReason) { c.dropped.Add(r) }

// sentError counts an ERROR packet with code.
func (c *counters) sentError(code ErrorCode) {
	if int(code) >= len(c.errors) {
		code = ErrUndefined
	}
	c.errors[code].Add(1)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.c
	st := Stats{
		Requests: c.requests.Load(), Sent: c.sent.Load(), FinalACKLost: c.finalACKLost.Load(), Failed: c.failed.Load(), Aborted: c.aborted.Load(),
		BytesSent: c.bytes.Load(), Active: c.active.Load(), Dropped: c.dropped.Snapshot(),
		Retransmitted: c.retransmitted.Load(), ErrorsSent: map[ErrorCode]uint64{},
	}
	for code := range c.errors {
		if n := c.errors[code].Load(); n > 0 {
			st.ErrorsSent[ErrorCode(code)] = n
		}
	}
	return st
}
