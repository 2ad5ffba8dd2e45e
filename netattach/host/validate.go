package host

import (
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/netattach"
)

// MaxIfNameLen is the longest interface name Linux accepts (IFNAMSIZ 16
// including the terminating NUL).
const MaxIfNameLen = 15

// Validate checks, without touching any kernel, what applying policy needs:
// interface names Linux accepts, types and states this package implements,
// VLAN ids, MTUs, port VLAN modes and static addresses. Every problem is
// reported under its field path (interfaces[0].bridge.port[1].vlan.tag).
func Validate(policy netattach.State) field.ErrorList {
	var errs field.ErrorList
	root := field.NewPath("interfaces")
	seen := map[string]int{}
	portOf := map[string]string{}
	for i, in := range policy.Interfaces {
		p := root.Index(i)
		errs = append(errs, validateIfName(p.Child("name"), in.Name)...)
		if j, dup := seen[in.Name]; dup && in.Name != "" {
			errs = append(errs, field.Duplicate(p.Child("name"), fmt.Sprintf("%s (also interfaces[%d])", in.Name, j)))
		} else {
			seen[in.Name] = i
		}
		switch in.State {
		case "", netattach.StateUp, netattach.StateDown, netattach.StateAbsent:
		default:
			errs = append(errs, field.NotSupported(p.Child("state"), in.State,
				[]string{netattach.StateUp, netattach.StateDown, netattach.StateAbsent}))
		}
		if in.MTU != 0 && (in.MTU < 68 || in.MTU > 65535) {
			errs = append(errs, field.Invalid(p.Child("mtu"), in.MTU, "must be between 68 and 65535"))
		}
		switch in.Type {
		case netattach.TypeLinuxBridge:
			if in.VLAN != nil {
				errs = append(errs, field.Forbidden(p.Child("vlan"), "only for type vlan"))
			}
			if in.Bridge != nil {
				for j, port := range in.Bridge.Port {
					pp := p.Child("bridge", "port").Index(j)
					errs = append(errs, validateIfName(pp.Child("name"), port.Name)...)
					if port.Name == in.Name && in.Name != "" {
						errs = append(errs, field.Invalid(pp.Child("name"), port.Name, "a bridge cannot be its own port"))
					}
					if other, ok := portOf[port.Name]; ok && port.Name != "" {
						errs = append(errs, field.Duplicate(pp.Child("name"), fmt.Sprintf("%s (already a port of %s)", port.Name, other)))
					} else {
						portOf[port.Name] = in.Name
					}
					if port.VLAN != nil {
						errs = append(errs, validatePortVLAN(pp.Child("vlan"), port.VLAN)...)
					}
				}
			}
		case netattach.TypeVLAN:
			if in.Bridge != nil {
				errs = append(errs, field.Forbidden(p.Child("bridge"), "only for type linux-bridge"))
			}
			if in.State == netattach.StateAbsent {
				break // nmstate deletes by name; the rest does not matter
			}
			if in.VLAN == nil {
				errs = append(errs, field.Required(p.Child("vlan"), "a vlan interface needs base-iface and id"))
				break
			}
			errs = append(errs, validateIfName(p.Child("vlan", "base-iface"), in.VLAN.BaseIface)...)
			if in.VLAN.BaseIface == in.Name && in.Name != "" {
				errs = append(errs, field.Invalid(p.Child("vlan", "base-iface"), in.VLAN.BaseIface, "a VLAN link cannot be its own base"))
			}
			errs = append(errs, validateVID(p.Child("vlan", "id"), in.VLAN.ID)...)
		case netattach.TypeEthernet:
			if in.Bridge != nil {
				errs = append(errs, field.Forbidden(p.Child("bridge"), "only for type linux-bridge"))
			}
			if in.VLAN != nil {
				errs = append(errs, field.Forbidden(p.Child("vlan"), "only for type vlan"))
			}
		case "":
			errs = append(errs, field.Required(p.Child("type"), "linux-bridge, vlan or ethernet"))
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), in.Type,
				[]string{netattach.TypeLinuxBridge, netattach.TypeVLAN, netattach.TypeEthernet}))
		}
		errs = append(errs, validateIP(p.Child("ipv4"), in.IPv4, false)...)
		errs = append(errs, validateIP(p.Child("ipv6"), in.IPv6, true)...)
	}
	return errs
}

func validateIfName(p *field.Path, name string) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(p, "an interface name")}
	case len(name) > MaxIfNameLen:
		return field.ErrorList{field.TooLong(p, name, MaxIfNameLen)}
	case name == "." || name == "..":
		return field.ErrorList{field.Invalid(p, name, "not a valid interface name")}
	case strings.ContainsAny(name, "/: \t\n\r\x00"):
		return field.ErrorList{field.Invalid(p, name, "an interface name cannot contain '/', ':', NUL or whitespace")}
	}
	return nil
}

func validateVID(p *field.Path, id int) field.ErrorList {
	if id < 1 || id > 4094 {
		return field.ErrorList{field.Invalid(p, id, "VLAN id must be between 1 and 4094")}
	}
	return nil
}

func validatePortVLAN(p *field.Path, v *netattach.BridgePortVLAN) field.ErrorList {
	var errs field.ErrorList
	switch v.Mode {
	case netattach.VLANModeAccess:
		errs = append(errs, validateVID(p.Child("tag"), v.Tag)...)
		if len(v.TrunkTags) > 0 {
			errs = append(errs, field.Forbidden(p.Child("trunk-tags"), "only for mode trunk"))
		}
		if v.EnableNative {
			errs = append(errs, field.Forbidden(p.Child("enable-native"), "only for mode trunk"))
		}
	case netattach.VLANModeTrunk:
		if len(v.TrunkTags) == 0 {
			errs = append(errs, field.Required(p.Child("trunk-tags"), "a trunk port carries at least one VLAN"))
		}
		for i, t := range v.TrunkTags {
			tp := p.Child("trunk-tags").Index(i)
			switch {
			case t.ID != 0 && t.IDRange != nil:
				errs = append(errs, field.Invalid(tp, t.ID, "set id or id-range, not both"))
			case t.IDRange != nil:
				errs = append(errs, validateVID(tp.Child("id-range", "min"), t.IDRange.Min)...)
				errs = append(errs, validateVID(tp.Child("id-range", "max"), t.IDRange.Max)...)
				if t.IDRange.Min > t.IDRange.Max {
					errs = append(errs, field.Invalid(tp.Child("id-range"), fmt.Sprintf("%d-%d", t.IDRange.Min, t.IDRange.Max), "min must not exceed max"))
				}
			default:
				errs = append(errs, validateVID(tp.Child("id"), t.ID)...)
			}
		}
		if v.EnableNative {
			errs = append(errs, validateVID(p.Child("tag"), v.Tag)...)
		} else if v.Tag != 0 {
			errs = append(errs, field.Forbidden(p.Child("tag"), "a trunk's tag is its native VLAN: set enable-native"))
		}
	case "":
		errs = append(errs, field.Required(p.Child("mode"), "access or trunk"))
	default:
		errs = append(errs, field.NotSupported(p.Child("mode"), v.Mode, []string{netattach.VLANModeAccess, netattach.VLANModeTrunk}))
	}
	return errs
}

func validateIP(p *field.Path, c *netattach.IPConfig, v6 bool) field.ErrorList {
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	if c.DHCP {
		errs = append(errs, field.NotSupported(p.Child("dhcp"), true, []string{"false (netattach/host sets static addresses; run a DHCP client for dhcp)"}))
	}
	if !c.Enabled && len(c.Address) > 0 {
		errs = append(errs, field.Forbidden(p.Child("address"), "addresses need enabled: true"))
	}
	for i, a := range c.Address {
		ap := p.Child("address").Index(i)
		ip, err := netip.ParseAddr(a.IP)
		if err != nil || ip.Zone() != "" {
			errs = append(errs, field.Invalid(ap.Child("ip"), a.IP, "not an IP address"))
			continue
		}
		if ip.Is4In6() {
			ip = ip.Unmap()
		}
		if ip.Is6() != v6 {
			want := "IPv4"
			if v6 {
				want = "IPv6"
			}
			errs = append(errs, field.Invalid(ap.Child("ip"), a.IP, "must be an "+want+" address"))
			continue
		}
		if a.PrefixLength < 0 || a.PrefixLength > ip.BitLen() {
			errs = append(errs, field.Invalid(ap.Child("prefix-length"), a.PrefixLength, fmt.Sprintf("must be between 0 and %d", ip.BitLen())))
		}
	}
	return errs
}

// portVLANSet is the set of VLANs a bridge port should carry, with flags.
type vlanFlags struct{ PVID, Untagged bool }

// desiredPortVLANs turns nmstate's port VLAN config into the exact VLAN set
// the port must carry: an access port has only its tag (PVID, untagged); a
// trunk has its trunk tags (tagged) plus, with enable-native, its tag as PVID
// untagged. VLAN 1, the kernel's default, is therefore gone, as with nmstate.
func desiredPortVLANs(v *netattach.BridgePortVLAN) map[uint16]vlanFlags {
	want := map[uint16]vlanFlags{}
	switch v.Mode {
	case netattach.VLANModeAccess:
		want[uint16(v.Tag)] = vlanFlags{PVID: true, Untagged: true}
	case netattach.VLANModeTrunk:
		for _, t := range v.TrunkTags {
			if t.IDRange != nil {
				for id := t.IDRange.Min; id <= t.IDRange.Max; id++ {
					want[uint16(id)] = vlanFlags{}
				}
			} else {
				want[uint16(t.ID)] = vlanFlags{}
			}
		}
		if v.EnableNative {
			want[uint16(v.Tag)] = vlanFlags{PVID: true, Untagged: true}
		}
	}
	return want
}
