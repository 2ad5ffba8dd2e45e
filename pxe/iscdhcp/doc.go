// Package iscdhcp imports an ISC dhcpd.conf — the subset Harvester's PXE
// install guide uses to PXE-boot Harvester — into a pxe boot policy, a DHCP subnet and an
// inventory, so operators keep the configuration they have while ISC dhcpd
// (end of life) goes.
//
// The subset: option definitions (option NAME code N = TYPE;), subnet with
// netmask, range, option routers / domain-name-servers / domain-name /
// vendor-class-identifier / ..., default- and max-lease-time, next-server,
// filename, group, host with hardware ethernet and fixed-address, and
// if / elsif / else if / else over exists, =, !=, and, or, not,
// substring(...), option NAME, strings and colon-separated hex. Anything
// else is reported with its line number and nothing is imported: a
// statement dropped silently would change which machine boots what.
//
// Evaluation follows ISC dhcpd: global, subnet, the host's groups from the
// outside in, then the host, later scopes overriding earlier ones; a
// condition over a missing option is false (and "!=" against a missing
// option true, as ISC's tree.c does).
package iscdhcp
