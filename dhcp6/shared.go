package dhcp6

import (
	"net/netip"

	"github.com/pxekit/pxekit/dhcp"
)

// Several DHCPv6 servers, one lease database: when Config.Store is a
// dhcp.SharedStore (package etcdstore keeps one in etcd), the server
// follows the DHCPv4 server's rules (see dhcp.SharedStore):
//
//   - A REPLY that binds or extends an address is a claim: the committer
//     writes the batch with SharedStore.Claim, and a reply leaves only if
//     every lease it carries was claimed. A lost claim puts the winner's
//     record in the table and the reply is dropped (DropClaimLost): the
//     client retransmits and is given another address.
//   - An ADVERTISE promises nothing (RFC 8415 §18.3.1: the REQUEST may still
//     be refused), so it stays in memory, as a DHCPv4 OFFER does.
//   - What other servers write reaches the table through SharedStore.Watch,
//     so the server never advertises an address another server holds and
//     answers a REBIND (or a RENEW sent to it) for a lease another server
//     granted.
//
// The servers are active-active: every server answers every client and
// the claims decide. dhcp.Sharing, which splits new clients by MAC, is not
// used: a DHCPv6 client the server knows only by DUID has no MAC to hash.

// commitShared claims the leases of one commit group and sends the replies
// whose every lease was claimed.
func (s *Server) commitShared(c *sock, group []outcome) {
	// One op per address (a transaction may not name a key twice), each
	// the address's current record (see table.persisted). A reply whose
	// address now has another holder (a record another server wrote,
	// arrived through the watch since the worker decided) is not sent.
	at := map[netip.Addr]int{}
	var uniq []dhcp.Op
	stale := make([]bool, len(group))
	for i, q := range group {
		for _, op := range q.ops {
			l, ok := s.table.persisted(op.Lease.IP)
			if !ok || holderOfLease(l).key != holderOfLease(op.Lease).key {
				stale[i] = true
				continue
			}
			if j, ok := at[l.IP]; ok {
				uniq[j] = dhcp.Op{Lease: l}
				continue
			}
			at[l.IP] = len(uniq)
			uniq = append(uniq, dhcp.Op{Lease: l})
		}
	}
	var conflicts []*dhcp.Lease
	if len(uniq) > 0 {
		var err error
		if conflicts, err = s.shared.Claim(uniq); err != nil {
			s.commitFailed(len(group), len(uniq), err)
			return
		}
		s.committed(len(uniq))
	}
	for i, cf := range conflicts {
		if cf == nil {
			continue
		}
		if cf.IP.IsValid() {
			s.table.remote(dhcp.Change{Lease: *cf})
		}
		s.log.Info("dhcp6: address claimed by another server first", "ip", uniq[i].Lease.IP, "duid", uniq[i].Lease.ClientID, "holder", cf.ClientID)
	}
	for i, q := range group {
		ok := !stale[i]
		for _, op := range q.ops {
			j, written := at[op.Lease.IP]
			ok = ok && written && (conflicts == nil || conflicts[j] == nil)
		}
		if !ok {
			s.cnt.dropped.Add(DropClaimLost)
			continue
		}
		s.finish(c, q)
	}
}

// remote installs a record another server wrote (or deleted) in the
// table, replacing what this server knew of that address.
func (t *table) remote(ch dhcp.Change) {
	l := ch.Lease
	if !l.IP.Is6() || l.IP.Is4In6() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.byIP[l.IP]; old != nil {
		if old.who.key != "" && t.byKey[old.who.key] == old {
			delete(t.byKey, old.who.key)
		}
		delete(t.byIP, l.IP)
	}
	if !ch.Deleted {
		t.put(l)
	}
}
