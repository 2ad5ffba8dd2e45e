// Package etcdstore keeps what the boot servers of a rack room share in
// etcd (v3 API): the DHCP leases (LeaseStore, a dhcp.SharedStore), which
// server answers which client (Member, a dhcp.Sharing, through etcd
// leases with a TTL), the inventory of machines, profiles and per-machine
// files (Inventory, a pxe.Inventory), and the key that signs file URLs
// (Cluster.URLKey).
//
// Several pxekit servers on one segment then share one state: every
// address is claimed in etcd with a transaction that fails when another
// server holds it, so no address is acknowledged to two clients; clients
// are split between the servers alive now by a hash of their MAC, as Kea's
// load-balancing mode (RFC 3074) splits them, and a server that dies
// loses its share as soon as its etcd lease ends (Member's TTL, 2 s by
// default), well inside one firmware retransmit (4 s); when etcd cannot
// be reached or has lost quorum, no address is handed out.
//
// Why split rather than have every server answer every client: each
// DISCOVER then costs one server one offer and each DORA one etcd write,
// the pools are split too so two servers rarely pick one free address at
// once, and failover needs no timer of its own (Kea HA waits
// max-response-delay, 60 s by default, before it takes over): membership
// is etcd's lease expiry. Renewing and rebinding clients are answered by
// any server, since every server's view holds every lease.
//
// Keys, under Config.Prefix (default /pxekit):
//
//	/leases/<address>            one lease record (JSON; address as netip writes it, so IPv4 and IPv6 alike)
//	/members/<id>                a live server, attached to its etcd lease
//	/inventory/machines/<mac>    a machine (JSON)
//	/inventory/profiles/<name>   a profile without its files (JSON)
//	/inventory/files/<profile>/<name>  one file of a profile, raw
//	/inventory/default           the default profile's name, raw
//	/urlkey                      the URL signing key, raw bytes
//
// The package is the only one that imports the etcd client: dhcp and pxe
// depend on no etcd code.
package etcdstore
