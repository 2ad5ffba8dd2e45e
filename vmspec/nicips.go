package vmspec

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/macaddr"
)

// NICAddress is what a VMI's status reports about one interface: the
// figures oc describe vmi shows.
type NICAddress struct {
	// Name is the VM interface (and network) name, e.g. default. Empty
	// for an interface only the guest agent knows about.
	Name string
	// InterfaceName is the name inside the guest, e.g. eth0.
	InterfaceName string
	// MAC is the interface's MAC address.
	MAC net.HardwareAddr
	// IPs are every address of the interface, the primary one first. An
	// address reported without a prefix length gets a full-length one
	// (/32, /128).
	IPs []netip.Prefix
}

// InterfaceAddresses returns the interfaces a VMI's status reports, in
// status order. Addresses or MACs that do not parse are errors at their
// path (status.interfaces[1].ipAddresses[0]); the rest is still returned.
func InterfaceAddresses(vmi *kubevirtv1.VirtualMachineInstance) ([]NICAddress, field.ErrorList) {
	if vmi == nil {
		return nil, field.ErrorList{field.Required(field.NewPath("status"), "no VirtualMachineInstance")}
	}
	var out []NICAddress
	var errs field.ErrorList
	p := field.NewPath("status", "interfaces")
	for i, s := range vmi.Status.Interfaces {
		ip := p.Index(i)
		n := NICAddress{Name: s.Name, InterfaceName: s.InterfaceName}
		if s.MAC != "" {
			mac, err := macaddr.Parse(s.MAC)
			if err != nil {
				errs = append(errs, field.Invalid(ip.Child("mac"), s.MAC, "not a MAC address"))
			} else {
				n.MAC = mac
			}
		}
		ips := s.IPs
		if len(ips) == 0 && s.IP != "" {
			ips = []string{s.IP}
		}
		for j, a := range ips {
			pfx, err := parseIPWithPrefix(a)
			if err != nil {
				errs = append(errs, field.Invalid(ip.Child("ipAddresses").Index(j), a, err.Error()))
				continue
			}
			n.IPs = append(n.IPs, pfx)
		}
		if s.IP != "" && len(s.IPs) > 0 && s.IPs[0] != s.IP {
			errs = append(errs, field.Invalid(ip.Child("ipAddress"), s.IP, "must be the first of ipAddresses"))
		}
		out = append(out, n)
	}
	return out, errs
}

func parseIPWithPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("not an IP address with prefix length")
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an IP address")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// InterfaceAddressesYAML reads a VirtualMachineInstance as oc get vmi -o
// yaml prints it and returns [InterfaceAddresses] of its status. The
// document is decoded strictly, as [Decode] does.
func InterfaceAddressesYAML(doc []byte) ([]NICAddress, field.ErrorList) {
	obj, errs := Decode(doc)
	if obj == nil {
		return nil, errs
	}
	vmi, ok := obj.(*kubevirtv1.VirtualMachineInstance)
	if !ok {
		return nil, append(errs, field.NotSupported(field.NewPath("kind"), KindVM, []string{KindVMI}))
	}
	nics, aerrs := InterfaceAddresses(vmi)
	return nics, append(errs, aerrs...)
}

// DescribeInterfaces renders interfaces the way oc describe vmi prints
// status.interfaces: per interface its Interface Name, Ip
// Address (the primary), Ip Addresses, Mac and Name, values aligned,
// empty ones left out.
func DescribeInterfaces(nics []NICAddress) string {
	var b strings.Builder
	b.WriteString("Interfaces:\n")
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "   %-17s%s\n", k+":", v)
		}
	}
	for _, n := range nics {
		line("Interface Name", n.InterfaceName)
		if len(n.IPs) > 0 {
			line("Ip Address", n.IPs[0].String())
			b.WriteString("   Ip Addresses:\n")
			for _, a := range n.IPs {
				fmt.Fprintf(&b, "     %s\n", a)
			}
		}
		if n.MAC != nil {
			line("Mac", n.MAC.String())
		}
		line("Name", n.Name)
	}
	return b.String()
}
