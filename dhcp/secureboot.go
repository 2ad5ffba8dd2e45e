package dhcp

import (
	"net/netip"
	"strings"
)

// SecureBootPolicy hands x86-64 UEFI firmware the first stage of the
// Secure Boot chain: shim (signed by Microsoft's UEFI CA, which the
// firmware trusts), which loads GRUB from beside it, which loads a signed
// kernel. iPXE as distributions build it is unsigned, so under Secure Boot
// the firmware would refuse it.
type SecureBootPolicy struct {
	// TFTPServer is siaddr for UEFI PXE (zero: the server identifier).
	TFTPServer netip.Addr
	// ShimFile is shim's TFTP path for UEFI PXE, arch 7 and 9 (default
	// "shimx64.efi"); GRUB must be beside it, named grubx64.efi.
	ShimFile string
	// HTTPBootURL is what UEFI HTTP boot (arch 16) downloads: shim, or a
	// disk image holding the chain. {mac} becomes the client's MAC. Empty:
	// HTTP boot clients are left to the other policy.
	HTTPBootURL string
}

// Decide returns the boot decision for x86-64 UEFI firmware and true; for
// every other client (BIOS, which has no Secure Boot, ARM64, iPXE, not PXE)
// it returns false, for another policy to answer.
func (p SecureBootPolicy) Decide(c Client) (BootDecision, bool) {
	if !c.IsPXE() || c.IsIPXE() {
		return BootDecision{}, false
	}
	switch c.Arch() {
	case ArchEFIx64, ArchEFIBC:
		return BootDecision{Filename: orDefault(p.ShimFile, "shimx64.efi"), NextServer: p.TFTPServer}, true
	case ArchEFIx64HTTP:
		if p.HTTPBootURL == "" {
			return BootDecision{}, false
		}
		return BootDecision{Filename: strings.ReplaceAll(p.HTTPBootURL, "{mac}", c.MAC.String()), VendorClass: vendorHTTPClient}, true
	}
	return BootDecision{}, false
}
