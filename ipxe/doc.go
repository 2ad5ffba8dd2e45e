// Package ipxe builds and checks iPXE scripts for network boots.
//
// Script renders iPXE commands (kernel, initrd, boot, chain, echo, dhcp
// with retries, menu/item/choose/goto, isset, sleep, set); Cmdline builds
// the kernel command line. Values are checked as they are added so that
// none can inject an iPXE command (a newline), an iPXE expansion ("${"),
// or an extra kernel argument (whitespace, quotes): such values are
// refused with an error naming the line and argument, never quoted in a
// way the firmware might read differently. For EFI clients, Script.Linux
// names every initrd on the kernel command line (initrd=<name>), which
// UEFI's Linux stub requires (Harvester's PXE install guide says so for
// its UEFI script).
//
// Lint checks a script from elsewhere the way a machine would fail on it,
// and Locate finds iPXE builds (undionly.kpxe, ipxe.efi, snponly.efi)
// installed by the distribution; BinaryFS serves them under those names.
package ipxe
