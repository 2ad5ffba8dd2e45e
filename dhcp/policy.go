package dhcp

import (
	"net/netip"
	"strings"
)

// BootDecision is what a boot policy tells one client.
type BootDecision struct {
	// Filename is the boot file: a TFTP path or an http:// URL (file field
	// and option 67). Empty means no boot information.
	Filename string
	// NextServer is the TFTP server (siaddr). Zero means the server
	// identifier.
	NextServer netip.Addr
	// ServerName is option 66 / sname, when a name is wanted.
	ServerName string
	// VendorClass is sent back as option 60, e.g. "HTTPClient" for UEFI
	// HTTP boot (the firmware ignores offers without it).
	VendorClass string
	// Ignore makes the server send nothing to this client (e.g. an unknown
	// machine in a closed lab). In proxyDHCP mode it is implied for non-PXE
	// clients.
	Ignore bool
}

// BootPolicy chooses boot information for a client.
type BootPolicy func(Client) BootDecision

// DefaultPolicy implements the boot-path table of the design: BIOS →
// undionly.kpxe, x86-64 UEFI → ipxe.efi, ARM64 UEFI → the arm64 ipxe.efi,
// UEFI HTTP boot → an http:// URL with option 60 "HTTPClient", iPXE → the
// per-machine script URL (which breaks the chain-load loop). Non-PXE clients
// get no boot file.
type DefaultPolicy struct {
	// TFTPServer is siaddr for the TFTP paths (zero: the server identifier).
	TFTPServer netip.Addr
	// BIOSFile (default "undionly.kpxe"), UEFIFile (default "ipxe.efi"),
	// ARM64File (default "arm64/ipxe.efi") are TFTP paths.
	BIOSFile, UEFIFile, ARM64File string
	// HTTPBootURL is the iPXE binary for UEFI HTTP boot clients, e.g.
	// "http://192.0.2.1/ipxe.efi". Empty: HTTP boot clients get nothing.
	HTTPBootURL string
	// ScriptURL is what iPXE gets, e.g.
	// "http://192.0.2.1/boot.ipxe?mac=${net0/mac}". The placeholder {mac}
	// is replaced by the client's MAC (aa:bb:...). Empty: iPXE clients get
	// the binary again, which loops, so set it.
	ScriptURL string
	// ScriptURLEFI, when set, is used instead of ScriptURL for UEFI iPXE
	// (a Harvester install serves ipxe-create-efi vs ipxe-create: UEFI
	// kernels need initrd= on the command line).
	ScriptURLEFI string
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
			return BootDecision{Filename: strings.ReplaceAll(u, "{mac}", c.MAC.String())}
		}
	}
	if c.IsHTTPClient() {
		if p.HTTPBootURL == "" {
			return BootDecision{}
		}
		return BootDecision{Filename: p.HTTPBootURL, VendorClass: vendorHTTPClient}
	}
	d := BootDecision{NextServer: p.TFTPServer}
	switch {
	case c.IsARM64():
		d.Filename = orDefault(p.ARM64File, "arm64/ipxe.efi")
	case c.IsUEFI():
		d.Filename = orDefault(p.UEFIFile, "ipxe.efi")
	default:
		// Arch 0 and firmware that does not say: BIOS is the safe guess
		// (the "else undionly.kpxe" of a typical ISC dhcpd.conf).
		d.Filename = orDefault(p.BIOSFile, "undionly.kpxe")
	}
	return d
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
