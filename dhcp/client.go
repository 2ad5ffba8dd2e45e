package dhcp

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Arch is a client system architecture (option 93, RFC 4578 and the IANA
// "Processor Architecture Types" registry).
type Arch uint16

// Architectures the default boot policy knows.
const (
	ArchBIOS         Arch = 0  // x86 BIOS (SeaBIOS, legacy PXE ROMs)
	ArchEFIIA32      Arch = 6  // 32-bit x86 UEFI
	ArchEFIx64       Arch = 7  // x86-64 UEFI (OVMF PXE)
	ArchEFIBC        Arch = 9  // EFI byte code; in practice x86-64 UEFI
	ArchEFIARM32     Arch = 10 // 32-bit ARM UEFI
	ArchEFIARM64     Arch = 11 // 64-bit ARM UEFI
	ArchEFIx64HTTP   Arch = 16 // x86-64 UEFI HTTP boot
	ArchEFIARM64HTTP Arch = 19 // 64-bit ARM UEFI HTTP boot
	ArchUnknown      Arch = 0xffff
	vendorPXEClient       = "PXEClient"
	vendorHTTPClient      = "HTTPClient"
)

// Client is what a request says about the machine that sent it: the input
// of a boot policy.
type Client struct {
	// MAC is the client hardware address (chaddr).
	MAC net.HardwareAddr
	// ClientID is option 61, raw.
	ClientID []byte
	// Archs is option 93, in the client's order. Empty when absent.
	Archs []Arch
	// VendorClass is option 60, e.g. "PXEClient:Arch:00007:UNDI:003010".
	VendorClass string
	// UserClasses is option 77: iPXE sends the raw string "iPXE", RFC 3004
	// clients a list; both end up here.
	UserClasses []string
	// UUID is option 97 (client machine identifier), raw; replies copy it
	// back as the PXE specification asks.
	UUID []byte
	// RelayAgentInfo is option 82, raw (circuit ID, remote ID, ...).
	RelayAgentInfo []byte
	// Relay is giaddr, zero when the request was not relayed.
	Relay netip.Addr
	// Hostname is option 12.
	Hostname string
	// Interface is the name of the link the request arrived on, when
	// known.
	Interface string
}

// ClientFromPacket classifies a decoded request. It never fails: options it
// cannot read are left empty.
func ClientFromPacket(p *dhcpv4.DHCPv4) Client {
	c := Client{
		MAC:         p.ClientHWAddr,
		VendorClass: string(p.GetOneOption(dhcpv4.OptionClassIdentifier)),
		Hostname:    string(p.GetOneOption(dhcpv4.OptionHostName)),
	}
	if v := p.GetOneOption(dhcpv4.OptionClientIdentifier); len(v) > 0 {
		c.ClientID = v
	}
	if v := p.GetOneOption(dhcpv4.OptionClientSystemArchitectureType); len(v) >= 2 {
		for i := 0; i+1 < len(v); i += 2 {
			c.Archs = append(c.Archs, Arch(uint16(v[i])<<8|uint16(v[i+1])))
		}
	}
	c.UserClasses = parseUserClass(p.GetOneOption(dhcpv4.OptionUserClassInformation))
	if v := p.GetOneOption(dhcpv4.OptionClientMachineIdentifier); len(v) > 0 {
		c.UUID = v
	}
	if v := p.GetOneOption(dhcpv4.OptionRelayAgentInformation); len(v) > 0 {
		c.RelayAgentInfo = v
	}
	if gi, ok := netip.AddrFromSlice(p.GatewayIPAddr.To4()); ok && gi.Is4() && !gi.IsUnspecified() {
		c.Relay = gi
	}
	return c
}

// parseUserClass reads option 77. iPXE sends the bare bytes "iPXE" (not
// RFC 3004 framed), which would mis-parse as a 105-byte RFC 3004 entry; so a
// payload that is not a clean RFC 3004 list is taken as one raw string.
func parseUserClass(v []byte) []string {
	if len(v) == 0 {
		return nil
	}
	var out []string
	for i := 0; i < len(v); {
		n := int(v[i])
		if n == 0 || i+1+n > len(v) {
			return []string{string(v)}
		}
		out = append(out, string(v[i+1:i+1+n]))
		i += 1 + n
	}
	return out
}

// IsIPXE reports whether the client is iPXE (user class "iPXE"): it has
// already been chain-loaded and must get a script URL, not iPXE again.
func (c Client) IsIPXE() bool {
	for _, u := range c.UserClasses {
		if u == "iPXE" {
			return true
		}
	}
	return false
}

// IsHTTPClient reports whether the client is UEFI HTTP boot firmware
// (vendor class starting "HTTPClient").
func (c Client) IsHTTPClient() bool {
	return strings.HasPrefix(c.VendorClass, vendorHTTPClient)
}

// IsPXE reports whether the client is network-boot firmware or iPXE: a
// PXEClient or HTTPClient vendor class, option 93, or user class iPXE.
func (c Client) IsPXE() bool {
	return strings.HasPrefix(c.VendorClass, vendorPXEClient) || c.IsHTTPClient() || len(c.Archs) > 0 || c.IsIPXE()
}

// Arch is the client's architecture: the first option 93 entry, else the
// "Arch:NNNNN" field of the vendor class, else ArchUnknown.
func (c Client) Arch() Arch {
	if len(c.Archs) > 0 {
		return c.Archs[0]
	}
	// "PXEClient:Arch:00007:UNDI:003010" — fields are colon separated.
	parts := strings.Split(c.VendorClass, ":")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "Arch" {
			if n, err := strconv.ParseUint(parts[i+1], 10, 16); err == nil {
				return Arch(n)
			}
		}
	}
	return ArchUnknown
}

// IsUEFI reports whether the client's architecture is a UEFI one.
func (c Client) IsUEFI() bool { return c.Arch().IsUEFI() }

// IsARM64 reports whether the client's architecture is 64-bit ARM.
func (c Client) IsARM64() bool { return c.Arch().IsARM64() }

// IsUEFI reports whether a is a UEFI architecture. DHCPv6 clients name
// theirs with the same registry (option 61, RFC 5970), so package dhcp6
// asks this too.
func (a Arch) IsUEFI() bool {
	switch a {
	case ArchEFIIA32, ArchEFIx64, ArchEFIBC, ArchEFIARM32, ArchEFIARM64, 15, ArchEFIx64HTTP, 17, 18, ArchEFIARM64HTTP, 25, 26, 27, 28, 29:
		return true
	}
	return false
}

// IsARM64 reports whether a is 64-bit ARM.
func (a Arch) IsARM64() bool { return a == ArchEFIARM64 || a == ArchEFIARM64HTTP }
