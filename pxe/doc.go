// Package pxe is a network-boot server: DHCP (package dhcp), TFTP (package
// tftp), HTTP and, on request, IPv6 router advertisements (package ra) on
// one interface, answering each machine from an inventory.
//
// # The boot path
//
// A machine's firmware asks DHCP for an address; the boot policy
// (dhcp.DefaultPolicy unless Config.Boot replaces it) picks its boot file
// by firmware: BIOS gets undionly.kpxe and UEFI ipxe.efi over TFTP, UEFI
// HTTP boot gets http://ADDR/ipxe/ipxe.efi, and iPXE itself gets its
// script URL, PathScript?mac=…. The TFTP server and PathIPXE serve
// Config.IPXE (Debian's ipxe package by default). The script is rendered
// for the machine's profile: kernel and initrd from PathAssets (Config.Assets,
// with Range and ETag, large files sent with sendfile) and the profile's
// kernel arguments, each checked by package ipxe so that no inventory value
// can add an iPXE command or another argument. The booted system may report
// back at PathPhoneHome.
//
// # The inventory
//
// Config.Inventory says which machine a MAC is (Machine: hostname, profile,
// free-form Vars for templates) and how it boots (Profile: kernel, initrd,
// arguments, or a whole script template, and per-machine files). The server
// asks it on every DHCP and HTTP request, so a change shows on the next
// one; Inventory.Revision says when an answer may have changed.
// StaticInventory keeps one in memory, built from an InventorySpec and
// changed with SetMachine, RemoveMachine, SetProfile, SetDefault and
// Replace while the server runs. A machine the inventory does not list
// gets the default profile, or an address but nothing to boot and a 403
// for its script. Packages pxe/harvester and pxe/iscdhcp produce static
// inventories from a Harvester cluster plan and from an ISC dhcpd.conf;
// package pxe/kubevirt is an inventory that watches KubeVirt.
//
// An inventory that is also a PhoneHomeHandler hears every report to
// PathPhoneHome before the server answers it, and can record that a
// machine finished installing; from then on it answers that machine with
// the profile named LocalBootProfile (LocalBoot), so the machine boots
// the next device of its boot order, its disk.
//
// # Events
//
// Every step of a machine's boot is an Event keyed by its MAC: discovered,
// offered, acked, TFTP file sent, script served, asset sent, config served,
// phoned home, router advert, and denied for whatever was refused.
// Server.Subscribe delivers them in Go; PathEvents streams them as JSON
// lines, or as server-sent events with Accept: text/event-stream, and
// ?mac= keeps one machine's. A subscriber that falls behind loses events
// (Bus.Dropped counts them) rather than slowing the servers.
//
// # Per-machine files and signed URLs
//
// A profile's Files (installer configs, which carry tokens and passwords)
// are rendered per machine at /machines/<mac>/<name> and served only to the
// requester whose DHCP lease names that MAC. An installer that cannot be
// tied to its lease (behind NAT, fetching from another address) gets a
// signed URL instead: with Config.URLKey, {{.FileURL "name"}} in a template
// carries an HMAC and an expiry (Config.URLTTL), and such a URL is served to
// whoever holds it until then (SignPath, VerifySignedPath).
//
// # Secure Boot and HTTPS
//
// A profile of kind ProfileSecureBoot boots x86-64 UEFI machines through
// the chain Secure Boot admits (package grub): UEFI PXE gets shimx64.efi
// over TFTP, which loads grubx64.efi beside it, which reads PathGRUB
// grub.cfg and from there the machine's own <mac>.cfg, rendered from the
// same kernel, initrd and arguments as its boot.ipxe; GRUB reads the kernel
// and initrd over TFTP under assets/ and boots the kernel only if shim
// trusts its signature. UEFI HTTP boot gets a FAT disk image of the same
// chain (SecureBootDiskImage), which the firmware boots as a RAM disk, or
// shim itself (SecureBootShim). What GRUB reports (PathReport: a refused
// kernel) becomes EventDenied. Config.SecureBoot holds the loaders (Debian's
// signed packages by default).
//
// With a certificate (Config.TLSCertFile and TLSKeyFile, TLSCertificate, or
// a lab CA directory, TLSLabCA) the server also serves HTTPS on HTTPSPort,
// with TLS 1.2's RSA key exchange enabled for UEFI firmware.
// Config.HTTPSBoot hands UEFI HTTP boot https URLs; Config.FilesHTTPSOnly
// serves per-machine files over HTTPS only. A TLS handshake that does not
// complete (firmware that does not trust the certificate) is EventDenied.
//
// # Running as a service
//
// ConfigFile is the boot server's config file, one YAML document decoded
// strictly (ParseConfig, LoadConfig: every problem at once, with its line)
// and turned into a Config by ConfigFile.Config; its TLS and store sections
// are decoded for the program that serves to build on. Server.Reload
// applies a new Config while serving (subnets, pools, options,
// reservations, inventory, assets) without dropping a lease, a transfer or
// a download, and refuses one that does not validate or changes what needs
// a restart. Serve answers ServiceHandler: the boot routes beside a live
// dashboard at PathDashboard (go:embed page, events over SSE), PathHealthz,
// PathReadyz and Config.Metrics at PathMetrics (package pxe/metrics makes
// one for Prometheus). BootTracker times each boot's phases from the event
// stream. Sockets handed in (Config.DHCPConn, TFTPConn, HTTPListener) serve
// socket activation; Config.ShutdownGrace bounds a graceful stop.
//
// # Running in a network namespace
//
// With Config.NetNS (/var/run/netns/NAME) the interface is looked up and
// every socket is opened inside that namespace, while the process and its
// other goroutines stay where they are: a lab bridge or a pod's network can
// be served from the host. New resolves the interface's address there and
// builds the DHCP server and the responder; Serve opens the sockets and runs
// everything until its context is cancelled.
package pxe
