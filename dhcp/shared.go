package dhcp

import (
	"context"
	"errors"
	"net"
)

// Several servers, one lease database. A SharedStore is written by every
// server of a cluster at once (package etcdstore keeps one in etcd). The
// rules that keep an address from being acknowledged to two clients:
//
//   - An ACK is a claim: the store writes the lease only if no other
//     server changed that address since this server last saw it (a
//     compare on the record's revision, create-if-absent for a new one),
//     and the ACK leaves only once the claim committed. A lost claim is a
//     NAK (the address went to another client) or silence (another server
//     already answered this client).
//   - An OFFER promises nothing (RFC 2131 §4.3.1: the client may still be
//     refused), so it stays in memory: claiming it too would double the
//     writes and put a round trip before every OFFER. Servers take new
//     addresses from different parts of the pools (Sharing.Share), so two
//     of them rarely offer one free address at once; when they do, the
//     second ACK's claim fails.
//   - What other servers write reaches this server's view through the
//     store's watch, so it never offers an address another server holds
//     and answers renewals of leases another server granted.
//   - When the store cannot commit (SharedStore.Available false: no
//     quorum, or this server cut off from it), no address is handed out
//     and no lease renewed: DISCOVERs and REQUESTs are dropped and counted
//     as DropStoreUnavailable. A renewal is refused rather than answered
//     from memory because an ACK would promise time the store does not
//     record; the client keeps its address until the lease ends and
//     rebinds, at T2, to a server that can commit. Nothing is promised
//     that the store does not hold, so nothing can conflict.

// SharedStore is a Store several servers write. Apply must fail (nothing
// written, or ErrClaimConflict) rather than overwrite what another server
// wrote since this store last saw the address.
type SharedStore interface {
	Store
	// Claim writes ops, each on its own: an op is written only if its
	// address is as this store last saw it. conflicts[i] is nil when ops[i]
	// was written; otherwise it is what the store holds now for that
	// address (Lease.IP zero when nothing). err means the outcome of every
	// op is unknown (store unreachable): the caller answers none of them.
	Claim(ops []Op) (conflicts []*Lease, err error)
	// Watch calls fn, in order, with every record other servers write or
	// delete from the revision Load read on, until ctx is done. It returns
	// once the watch is established; fn runs on the store's goroutine.
	Watch(ctx context.Context, fn func(Change)) error
	// Available reports whether a claim can commit now.
	Available() bool
}

// Change is one record another server wrote (or deleted).
type Change struct {
	Lease   Lease
	Deleted bool
}

// ErrClaimConflict is returned by a SharedStore's Apply when another
// server wrote one of the addresses first.
var ErrClaimConflict = errors.New("dhcp: another server wrote the address first")

// Sharing splits the clients between the servers of a cluster (Config.Sharing).
// Each new client is answered by one server, chosen by a hash of its MAC
// over the servers alive now (Kea's load-balancing mode, RFC 3074); when a
// server dies, the others take its share as soon as they learn of it.
type Sharing interface {
	// Serves reports whether this server answers a new client with this
	// MAC (a DISCOVER, an INIT-REBOOT REQUEST). Renewals and rebinding
	// clients are answered by any server whose view holds their lease.
	Serves(mac net.HardwareAddr) bool
	// Share is this server's place among the n servers answering now
	// (0 ≤ i < n): it takes new addresses from the i-th of n parts of
	// each pool first.
	Share() (i, n int)
}
