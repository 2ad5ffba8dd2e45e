// Package pxekit is an embeddable SDK for network-booting bare-metal machines
// and KubeVirt virtual machines. This package only documents; the work is in
// its subpackages.
//
// # Two halves, one model
//
// Declare: typed builders, pure Go with no I/O, that produce every object a
// network-booted VM needs and validate it before it reaches a cluster, with
// every problem reported at once under its field path (field.ErrorList), the
// way the API server would:
//
//   - vmspec: KubeVirt VirtualMachine and VirtualMachineInstance (PXE NIC,
//     global boot order, disks, SR-IOV NIC, dedicated CPUs, hugepages),
//     strict YAML decoding and offline validation that agrees with KubeVirt
//     v1.9.0's admission webhooks (defaults first, then every rule at the
//     webhook's field path).
//   - netattach: Multus NetworkAttachmentDefinitions (cnv-bridge/bridge with
//     cnv-tuning/tuning) parsed back with libcni, and the nmstate
//     NodeNetworkConfigurationPolicy for a Linux bridge.
//   - sriov: SriovNetworkNodePolicy and SriovNetwork with the operator's
//     webhook rules, and the NetworkAttachmentDefinition the operator renders.
//   - dpdk: PerformanceProfile, MachineConfigPool, CPU sets planned from NUMA
//     topology, DPDK VMs (a vmspec.Option) and guest tuning.
//   - hco: the HyperConverged CR's secondary DNS settings.
//   - validation: the Warning type and the object checks they all share;
//     strictyaml: the strict YAML decoding they all use.
//
// Serve and apply: Linux, real sockets and netlink.
//
//   - dhcp: a PXE-aware DHCPv4 server with pools, crash-safe leases,
//     reservations, relay support and proxyDHCP.
//   - tftp: a read-only TFTP server over an fs.FS.
//   - ra: an IPv6 router-advertisement responder for boot networks with no
//     IPv6 router.
//   - ipxe: iPXE script and kernel command-line builders whose values cannot
//     inject commands or arguments; script lint; iPXE binary locator.
//   - grub: the grub.cfg of the Secure Boot chain (shim, GRUB, a signed
//     kernel), quoted so that no value can inject a command; lint; a
//     locator for the distribution's signed shim and GRUB.
//   - pxe: the boot server composing dhcp, tftp and HTTP, with an Inventory
//     interface mapping machines to profiles and a stream of boot events.
//   - pxe/kubevirt: an Inventory that takes its machines from KubeVirt's
//     VirtualMachines, installs each once and then boots it from its disk,
//     with Kubernetes Events for the boot phases.
//   - netattach/host and sriov/host: the same bridge and SR-IOV policy values,
//     applied to a host or a network namespace.
//
// Where a concept exists on both halves, one value serves both: the bridge
// policy that renders an NNCP is what netattach/host applies; the SR-IOV node
// policy that renders a SriovNetworkNodePolicy is what sriov/host applies; the
// MAC a vmspec PXE NIC carries is what the boot server's inventory keys on.
//
// # The boot path
//
//	firmware ── DHCPDISCOVER (opt 93 arch, opt 60 PXEClient|HTTPClient, opt 77 "iPXE") ──▶ dhcp
//	   ◀── OFFER/ACK: an address and a boot file chosen by the boot policy
//	         BIOS (arch 0)                         → TFTP undionly.kpxe
//	         UEFI x86-64 (arch 7, 9)               → TFTP ipxe.efi
//	         UEFI HTTP (arch 16, class HTTPClient) → http://…/ipxe/ipxe.efi
//	         iPXE (user class "iPXE")              → http://…/boot.ipxe?mac=…
//	         Secure Boot profile, UEFI            → TFTP shimx64.efi → grubx64.efi → grub.cfg,
//	                                                or (HTTP boot) a disk image of that chain
//	iPXE ── HTTP GET script ──▶ pxe: machine (MAC) → profile → rendered script
//	iPXE ── HTTP GET kernel, initrd (Range) ──▶ pxe asset server
//	installer ── HTTP GET config ──▶ pxe, served to that machine only
//
// Every step is a boot event for the machine's MAC: discovered, offered,
// acked, TFTP file sent, script served, asset sent, config served, phoned
// home, denied.
//
// Every package follows one set of conventions (the README's Conventions
// section): New...(name) builders finished by Build; Validate() returning a
// field.ErrorList; servers built from a Config and run with Serve(ctx);
// Event{Time, Kind, MAC}; a nil Logger meaning slog.Default().
//
// pxetest is the lab a project embedding pxekit uses in its own go test to
// prove its server boots real firmware: network namespaces, QEMU with
// SeaBIOS+iPXE or OVMF, a guest built at run time, phone-home.
//
// The examples directory holds runnable binaries: pxelab (a lab boot server
// and a one-command QEMU network-boot demo), kubevirt-pxe, vmlint, hostnet,
// sriov-dpdk and harvester-pxe.
package pxekit
