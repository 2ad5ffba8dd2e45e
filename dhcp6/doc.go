// Package dhcp6 is a DHCPv6 server (RFC 8415) for booting machines on an
// IPv6 network: stateful addresses (IA_NA) from pools and reservations,
// and the boot file URL of network-boot firmware (option 59, RFC 5970).
//
// A client gets one address from the pools of its subnet: the subnet of
// the link the request came in on (the interface's global prefix), or,
// for relayed requests (RELAY-FORW, nested to any depth), of the
// link-address of the relay closest to the client. Replies go back the
// way the request came: to the client on its link, or wrapped in one
// RELAY-REPL per relay, each echoing that relay's Interface-ID, to the
// relay that sent it (on its source port when it asks, RFC 8357).
// SOLICIT, REQUEST, RENEW, REBIND, RELEASE, DECLINE, CONFIRM and
// INFORMATION-REQUEST are answered; a SOLICIT with Rapid Commit gets a
// REPLY at once when Config.RapidCommit allows it.
//
// Clients are told apart by MAC when the server knows it and by DUID
// otherwise, so a machine keeps one address through a PXE chain whose
// every stage (firmware, iPXE, the installed OS) has a DUID of its own.
// The MAC comes from the relay's Client Link-Layer Address option (79,
// RFC 6939), else from the modified EUI-64 of the client's link-local
// source, else from a DUID-LLT or DUID-LL. Reservations name a client by
// DUID or by MAC.
//
// The boot policy sees the client's architecture (option 61), vendor
// class (option 16: "PXEClient:Arch:00007:…", "HTTPClient:Arch:00016:…")
// and user class (option 15: "iPXE"); DefaultPolicy hands UEFI PXE a
// tftp://[…]/ipxe.efi URL, UEFI HTTP boot an http:// URL with option 16
// "HTTPClient" echoed (edk2 takes the offer only then) and iPXE its
// script URL.
//
// Leases live in the dhcp.Store the DHCPv4 server uses (dhcp.Lease with
// the IPv6 address, the DUID as ClientID and the MAC when known), bbolt or
// any other, so both servers can share one store. Like the DHCPv4 server,
// a reply that binds an address leaves only once the store has committed
// the lease, with the writes of every reply that queued up meanwhile in
// one commit. On a dhcp.SharedStore (etcdstore) several servers share the
// leases: a binding REPLY leaves only once its claim committed, and what
// the other servers write reaches each server's view (active-active: every
// server answers every client, the claims decide).
//
// Bad input — undecodable packets, a server's message types, missing or
// misplaced identifiers, forged relay nesting, floods from one client or
// relay — is dropped and counted by reason in Stats, never a panic (a
// fuzz target holds the handler to that).
package dhcp6
