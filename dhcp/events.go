package dhcp

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/internal/dropcount"
)

// EventKind is a step of a machine's DHCP conversation.
type EventKind string

// Boot events, keyed by MAC.
const (
	EventDiscovered EventKind = "discovered" // a DISCOVER arrived
	EventOffered    EventKind = "offered"    // an OFFER was sent
	EventAcked      EventKind = "acked"      // an ACK was sent (lease committed first)
	EventNAK        EventKind = "nak"        // a NAK was sent
	EventDeclined   EventKind = "declined"   // the client declined an address
	EventReleased   EventKind = "released"   // the client released its address
	EventInformed   EventKind = "informed"   // an INFORM was answered
)

// Event is one boot event for one machine.
type Event struct {
	// Time is when the request was handled.
	Time time.Time
	Kind EventKind
	// MAC is the client's hardware address (chaddr).
	MAC net.HardwareAddr
	// IP is the address offered, acknowledged, declined or released.
	IP netip.Addr
	// Client is the request's classification.
	Client Client
	// Boot is what the boot policy decided (empty for non-PXE clients).
	Boot BootDecision
	// Reason explains a NAK.
	Reason string
	// Proxy is true for proxyDHCP answers.
	Proxy bool
}

// DropReason says why a packet got no answer.
type DropReason string

// Drop reasons counted in Stats.Dropped.
const (
	DropMalformed     DropReason = "malformed"      // not a decodable DHCP packet
	DropNotRequest    DropReason = "not-request"    // op code is not BOOTREQUEST
	DropBadHWAddr     DropReason = "bad-hwaddr"     // chaddr length 0 or over 16
	DropUnknownType   DropReason = "unknown-type"   // no or unsupported message type
	DropQueueFull     DropReason = "queue-full"     // workers busy, queue full
	DropClientRate    DropReason = "client-rate"    // one MAC sent too much
	DropRelayRate     DropReason = "relay-rate"     // one relay sent too much
	DropNoSubnet      DropReason = "no-subnet"      // no subnet for the link or relay
	DropNoServerID    DropReason = "no-server-id"   // no address to answer from
	DropPoolFull      DropReason = "pool-full"      // no free address
	DropNotForUs      DropReason = "not-for-us"     // REQUEST for another server
	DropNotPXE        DropReason = "not-pxe"        // proxyDHCP: not a PXE client
	DropPolicy        DropReason = "policy-ignore"  // the boot policy said ignore
	DropNoLease       DropReason = "no-lease"       // RELEASE/DECLINE of a lease not held
	DropStoreError    DropReason = "store-error"    // lease commit failed; client retries
	DropSendError     DropReason = "send-error"     // the reply could not be sent
	DropUnknownClient DropReason = "unknown-client" // a REQUEST from a client we have no record of

	// Servers sharing a store (SharedStore, Sharing).
	DropStoreUnavailable DropReason = "store-unavailable" // the shared store cannot commit: nothing handed out or renewed
	DropPeerClient       DropReason = "peer-client"       // another server of the cluster answers this new client
	DropClaimLost        DropReason = "claim-lost"        // another server committed the address first and answered the client
	DropSuperseded       DropReason = "superseded"        // a later decision for the address replaced this one before it was written
)

// dropReasons lists every reason (a function, not a package variable: no
// global mutable state).
func dropReasons() []DropReason {
	return []DropReason{DropMalformed, DropNotRequest, DropBadHWAddr, DropUnknownType, DropQueueFull, DropClientRate, DropRelayRate, DropNoSubnet, DropNoServerID, DropPoolFull, DropNotForUs, DropNotPXE, DropPolicy, DropNoLease, DropStoreError, DropSendError, DropUnknownClient, DropStoreUnavailable, DropPeerClient, DropClaimLost, DropSuperseded, DropOversized, DropPoolCap}
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Received uint64 // packets read
	Replied  uint64 // replies sent
	// Offers, Acks, Naks, Declines, Releases and Informs count messages
	// by type (proxyDHCP answers included).
	Offers, Acks, Naks, Declines, Releases, Informs uint64
	// Dropped counts packets that got no answer, by reason.
	Dropped map[DropReason]uint64
	// ActiveLeases are bound, unexpired leases; PoolFree and PoolSize
	// count dynamic pool addresses (reserved and quarantined ones are not
	// free).
	ActiveLeases int
	PoolFree     int
	PoolSize     int
	// Commits is the number of store commits; LeaseWrites the lease
	// records they carried (LeaseWrites/Commits is the group-commit batch).
	Commits     uint64
	LeaseWrites uint64
	// Conflicts counts ACKs whose claim on a shared store lost to another
	// server (answered with a NAK, or not at all when that server had
	// answered the same client).
	Conflicts uint64

	// Requests counts the requests decoded, by message type ("discover",
	// "request", "decline", "release", "inform"), before any was dropped
	// for a rate or a missing subnet.
	Requests map[string]uint64
	// Subnets are the address counts of each subnet, in Config order.
	Subnets []SubnetStats
	// CommitLatency is how long each store commit took (CommitBuckets).
	CommitLatency Histogram

	// CommitErrors counts store commits that failed (a full disk, an I/O
	// error); their replies were withheld and counted as DropStoreError.
	CommitErrors uint64
}

type counters struct {
	received, replied, offers, acks, naks, declines, releases, informs atomic.Uint64
	commits, leaseWrites                                               atomic.Uint64
	dropped                                                            *dropcount.Counts[DropReason]
	requests                                                           *dropcount.Counts[string]
	commitLatency                                                      *histogram
	// conflicts counts lost claims; refusedSince and refusedLog pace the
	// store-unavailable log line (refusals since the store went away, and
	// when it was last logged, in Unix nanoseconds).
	conflicts                atomic.Uint64
	refusedSince, refusedLog atomic.Int64
	// commitErrors counts failed store commits.
	commitErrors atomic.Uint64
}

// requestTypes are the message types Stats.Requests counts.
var requestTypes = []string{"discover", "request", "decline", "release", "inform"}

// requestType names a request's message type as Stats.Requests does.
func requestType(mt dhcpv4.MessageType) string {
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		return "discover"
	case dhcpv4.MessageTypeRequest:
		return "request"
	case dhcpv4.MessageTypeDecline:
		return "decline"
	case dhcpv4.MessageTypeRelease:
		return "release"
	case dhcpv4.MessageTypeInform:
		return "inform"
	}
	return ""
}

func (c *counters) drop(r DropReason) { c.dropped.Add(r) }
