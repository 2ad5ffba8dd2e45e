package dhcp6

import "strings"

// BootDecision is what a boot policy tells one client.
type BootDecision struct {
	// URL is option 59, boot-file-url (RFC 5970): tftp://[2001:db8::1]/ipxe.efi
	// for UEFI PXE, an http:// URL for UEFI HTTP boot and iPXE. Empty means
	// no boot information.
	URL string
	// Params is option 60, boot-file-parameters, when any.
	Params []string
	// VendorClass is sent back in option 16 (enterprise 343), e.g.
	// "HTTPClient": edk2 takes a DHCPv6 offer for HTTP boot only when its
	// option 16 carries that string; without it the offer counts as
	// address-only.
	VendorClass string
	// Ignore makes the server send nothing to this client.
	Ignore bool
}

// BootPolicy chooses boot information for a client.
type BootPolicy func(Client) BootDecision

// DefaultPolicy is the boot path of pxekit over IPv6: UEFI PXE (arch 7, 9,
// and 11 for ARM64) gets a tftp:// URL of iPXE, UEFI HTTP boot (vendor
// class HTTPClient) an http:// URL with option 16 "HTTPClient" echoed,
// iPXE (user class "iPXE") the per-machine script URL. Clients that are not
// network-boot firmware, such as the DHCPv6 client OVMF's IPv6 stack runs
// beside its PXE client (it asks for DNS servers only), get no boot file.
// BIOS PXE has no IPv6 path.
type DefaultPolicy struct {
	// UEFIURL (x86-64) and ARM64URL are the TFTP URLs of iPXE, e.g.
	// "tftp://[2001:db8::1]/ipxe.efi". Empty: those clients get nothing.
	UEFIURL, ARM64URL string
	// HTTPBootURL is the iPXE binary for UEFI HTTP boot clients, e.g.
	// "http://[2001:db8::1]/ipxe/ipxe.efi".
	HTTPBootURL string
	// ScriptURL is what iPXE gets, e.g.
	// "http://[2001:db8::1]/boot.ipxe?mac={mac}"; ScriptURLEFI, when set,
	// is what UEFI iPXE gets instead. {mac} becomes the client's MAC, or
	// iPXE's own ${net0/mac} when the server does not know it (iPXE
	// expands settings in the boot file name).
	ScriptURL, ScriptURLEFI string
}

// Decide implements BootPolicy.
func (p DefaultPolicy) Decide(c Client) BootDecision {
	if !c.IsPXE() {
		return BootDecision{}
	}
	if c.IsIPXE() {
		u := p.ScriptURL
		if c.IsUEFI() && p.ScriptURLEFI != "" {
			u = p.ScriptURLEFI
		}
		if u != "" {
			return BootDecision{URL: ExpandMAC(u, c)}
		}
	}
	switch {
	case c.IsHTTPClient():
		if p.HTTPBootURL == "" {
			return BootDecision{}
		}
		return BootDecision{URL: p.HTTPBootURL, VendorClass: vendorHTTPClient}
	case c.IsARM64():
		return BootDecision{URL: p.ARM64URL}
	case c.IsUEFI():
		return BootDecision{URL: p.UEFIURL}
	}
	return BootDecision{}
}

// vendorHTTPClient is the vendor class of UEFI HTTP boot.
const vendorHTTPClient = "HTTPClient"

// ExpandMAC replaces {mac} in u with the client's MAC (aa:bb:...), or with
// iPXE's ${net0/mac} when the MAC is not known.
func ExpandMAC(u string, c Client) string {
	mac := "${net0/mac}"
	if c.MAC != nil {
		mac = c.MAC.String()
	}
	return strings.ReplaceAll(u, "{mac}", mac)
}
