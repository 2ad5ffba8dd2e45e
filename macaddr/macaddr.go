// Package macaddr parses the Ethernet MAC addresses that machines, NICs,
// leases and inventories are keyed on, with the messages every package of
// pxekit reports for a bad one.
//
// net.ParseMAC also accepts 8- and 20-byte addresses (EUI-64, InfiniBand);
// a boot server, a DHCP lease or a KubeVirt NIC needs the 6-byte form, so
// Parse refuses the others with an error that says so.
package macaddr

import (
	"errors"
	"fmt"
	"net"
)

// Errors Parse and ParseUnicast wrap, for errors.Is.
var (
	// ErrSyntax: the text is not a MAC address in any form net.ParseMAC reads.
	ErrSyntax = errors.New("malformed MAC address; write six colon-separated hex bytes, e.g. 52:54:00:12:34:56")
	// ErrLength: a well-formed hardware address that is not 6 bytes long.
	ErrLength = errors.New("not a 6-byte Ethernet address")
	// ErrMulticast: the group bit of the first byte is set; a NIC needs a
	// unicast address.
	ErrMulticast = errors.New("multicast MAC address; a NIC needs a unicast one (first byte even)")
)

// Parse reads a 6-byte Ethernet address in any form net.ParseMAC accepts:
// 52:54:00:12:34:56, 52-54-00-12-34-56 (iPXE's ${net0/mac:hexhyp}) or
// 5254.0012.3456. Hex digits may be upper or lower case.
func Parse(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("%q has %d bytes: %w", s, len(mac), ErrLength)
	}
	return mac, nil
}

// ParseUnicast is Parse for an address a NIC will carry: it also refuses a
// multicast (group) address.
func ParseUnicast(s string) (net.HardwareAddr, error) {
	mac, err := Parse(s)
	if err != nil {
		return nil, err
	}
	if !IsUnicast(mac) {
		return nil, fmt.Errorf("%q: %w", s, ErrMulticast)
	}
	return mac, nil
}

// IsUnicast reports whether mac is an individual (not group) address.
func IsUnicast(mac net.HardwareAddr) bool { return len(mac) > 0 && mac[0]&1 == 0 }

// IsLocal reports whether mac is locally administered (the U/L bit of the
// first byte is set), as generated MACs such as 02:xx:… and QEMU's
// 52:54:00:… are.
func IsLocal(mac net.HardwareAddr) bool { return len(mac) > 0 && mac[0]&2 != 0 }

// Equal reports whether a and b are the same address.
func Equal(a, b net.HardwareAddr) bool { return string(a) == string(b) }
