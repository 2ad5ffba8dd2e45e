// Package harvester installs Harvester clusters over PXE, as Harvester's PXE
// boot install guide describes (nginx, ISC dhcpd, iPXE scripts, CREATE and
// JOIN configs): typed, validated installation configs, the release's boot
// files and kernel arguments, iPXE scripts for BIOS and UEFI (which needs
// initrd=<name> on the kernel line), and a cluster plan — the first node
// creates, the others join at the VIP — that becomes a pxe.StaticInventory. The
// boot server then serves each node's config, which holds the cluster token
// and a password, to that node alone (its DHCP lease must name the MAC) or
// through a signed, expiring URL; secrets never reach logs or events.
package harvester
