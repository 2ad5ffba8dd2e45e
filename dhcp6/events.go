package dhcp6

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pxekit/pxekit/internal/dropcount"
)

// EventKind is a step of a client's DHCPv6 conversation.
type EventKind string

// Events, keyed by MAC when the server knows it (and by DUID always).
const (
	EventSolicited  EventKind = "solicited"  // a SOLICIT arrived
	EventAdvertised EventKind = "advertised" // an ADVERTISE was sent
	// EventBound: a REPLY bound the address (to a REQUEST, RENEW, REBIND,
	// or a rapid-commit SOLICIT); the lease was committed first.
	EventBound EventKind = "bound"
	// EventRefused: a REPLY or ADVERTISE carried a status that gives the
	// client no address (NoAddrsAvail, NoBinding, NotOnLink); Status
	// names it.
	EventRefused  EventKind = "refused"
	EventDeclined EventKind = "declined" // the client declined an address (its DAD failed)
	EventReleased EventKind = "released" // the client released its address
	EventInformed EventKind = "informed" // an INFORMATION-REQUEST or CONFIRM was answered
)

// Event is one step for one client.
type Event struct {
	// Time is when the request was handled.
	Time time.Time
	Kind EventKind
	// MAC is the client's link-layer address when the server knows it
	// (Client.MACFrom says how), nil otherwise.
	MAC net.HardwareAddr
	// DUID is the client's DUID.
	DUID []byte
	// Message is the request's type: "solicit", "request", "renew", ...
	Message string
	// IP is the address advertised, bound, declined or released.
	IP netip.Addr
	// Client is the request's classification.
	Client Client
	// Boot is what the boot policy decided (empty for clients that are not
	// network-boot firmware).
	Boot BootDecision
	// Status names a refusal's status code ("NoAddrsAvail", ...).
	Status string
}

// DropReason says why a packet got no answer.
type DropReason string

// Drop reasons counted in Stats.Dropped.
const (
	DropMalformed   DropReason = "malformed"     // not a decodable DHCPv6 message
	DropNotRequest  DropReason = "not-request"   // a server's message type (ADVERTISE, REPLY, RELAY-REPL, ...)
	DropUnknownType DropReason = "unknown-type"  // a message type this server does not answer
	DropNoClientID  DropReason = "no-client-id"  // a request without the Client Identifier it needs (RFC 8415 §16)
	DropServerID    DropReason = "server-id"     // a Server Identifier where none may be (SOLICIT, REBIND, CONFIRM)
	DropNotForUs    DropReason = "not-for-us"    // the Server Identifier names another server
	DropHopLimit    DropReason = "hop-limit"     // relayed through more than 32 agents
	DropQueueFull   DropReason = "queue-full"    // workers busy, queue full
	DropClientRate  DropReason = "client-rate"   // one client sent too much
	DropRelayRate   DropReason = "relay-rate"    // one relay agent sent too much
	DropNoSubnet    DropReason = "no-subnet"     // no subnet for the link or relay
	DropPolicy      DropReason = "policy-ignore" // the boot policy said ignore
	DropNoBinding   DropReason = "no-binding"    // REBIND or CONFIRM about addresses this server cannot judge (RFC 8415 §18.3.5, §18.3.3)
	DropStoreError  DropReason = "store-error"   // lease commit failed; the client retries
	DropSendError   DropReason = "send-error"    // the reply could not be sent
	DropOtherLink   DropReason = "other-link"    // arrived on a link this server does not serve
	DropClaimLost   DropReason = "claim-lost"    // another server holds the address in the shared store
)

// dropReasons lists every reason.
func dropReasons() []DropReason {
	return []DropReason{DropMalformed, DropNotRequest, DropUnknownType, DropNoClientID, DropServerID, DropNotForUs, DropHopLimit,
		DropQueueFull, DropClientRate, DropRelayRate, DropNoSubnet, DropPolicy, DropNoBinding, DropStoreError, DropSendError,
		DropOtherLink, DropClaimLost}
}

// requestTypes are the message types Stats.Requests counts.
func requestTypes() []string {
	return []string{"solicit", "request", "confirm", "renew", "rebind", "release", "decline", "information-request"}
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Received uint64 // packets read
	Replied  uint64 // replies sent (ADVERTISE, REPLY)
	// Requests counts decoded requests by message type ("solicit",
	// "request", "renew", "rebind", "release", "decline", "confirm",
	// "information-request"), before any was dropped for a rate or a
	// missing subnet.
	Requests map[string]uint64
	// Advertises, Binds, Refusals, Declines, Releases and Informs count
	// the events of those kinds; Relayed counts replies that went back
	// through a relay agent.
	Advertises, Binds, Refusals, Declines, Releases, Informs, Relayed uint64
	// Dropped counts packets that got no answer, by reason.
	Dropped map[DropReason]uint64
	// ActiveLeases are bound, unexpired leases; Subnets the address
	// counts of each subnet, in Config order.
	ActiveLeases int
	Subnets      []SubnetStats
	// Commits is the number of store commits, LeaseWrites the lease
	// records they carried.
	Commits, LeaseWrites uint64
}

type counters struct {
	received, replied, relayed                               atomic.Uint64
	advertises, binds, refusals, declines, releases, informs atomic.Uint64
	commits, leaseWrites                                     atomic.Uint64
	dropped                                                  *dropcount.Counts[DropReason]
	requests                                                 *dropcount.Counts[string]
}
