// Package dhcp is a PXE-aware DHCPv4 server to embed in provisioning tools.
//
// It hands out addresses from pools (netip ranges) and static reservations,
// with the options a network-booted machine needs (router, DNS, domain,
// lease time, interface MTU for jumbo frames), and chooses boot information
// per client through a BootPolicy: the default follows the boot path of
// pxekit (BIOS → undionly.kpxe, UEFI → ipxe.efi, UEFI HTTP boot → an http://
// URL with option 60 "HTTPClient", iPXE → the per-machine script URL). In
// proxyDHCP mode it hands out no addresses and answers only PXE clients, on
// port 67 and 4011, beside a DHCP server that owns the addresses. When it
// owns the addresses and gives iPXE a boot file, the OFFER and ACK carry
// iPXE's option 175.176 ("no-pxedhcp"), because otherwise iPXE waits
// seconds for a ProxyDHCP offer that no server on the network will send.
//
// Packets are encoded and decoded with github.com/insomniacslk/dhcp; the
// serving loop is this package's own: one socket per port with IP_PKTINFO
// (replies leave the link the request came in on), a bounded worker pool,
// and a group-commit writer that persists every ACKed lease before the ACK
// leaves, batching all leases that queue up during one commit into one
// transaction of the Store (a bbolt file by default). Leases therefore
// survive a crash (kill -9) without capping throughput.
//
// Replies follow RFC 2131 §4.1: to the relay (giaddr) on port 67, unicast to
// ciaddr, otherwise broadcast on the receiving link. Relays may select the
// link (RFC 3527) and ask for replies on their source port (RFC 8357).
//
// Bad input — truncated packets, lying option lengths, BOOTREPLYs, unknown
// message types, floods from one MAC or relay, a full pool — is dropped and
// counted in Stats, never a panic. Boot events (discovered, offered, acked,
// nak, declined, released) are reported per MAC through Config.OnEvent, and
// LeaseByIP maps a client's address back to its MAC for per-machine
// content.
package dhcp
