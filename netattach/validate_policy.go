package netattach

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/validation"
)

// ValidatePolicy reports every problem of a NodeNetworkConfigurationPolicy at
// once, with field paths: object identity, interface names (kernel rules,
// ≤ 15 bytes, unique), types and states, MTU 68..65535, IP addresses, bridge
// ports (not the bridge itself, not listed twice, not in two bridges) and
// their VLAN settings (access needs a tag, trunk needs trunk-tags, ids
// 1..4094, ranges min ≤ max), and VLAN interfaces (base and id 1..4094).
func ValidatePolicy(p *NodeNetworkConfigurationPolicy) field.ErrorList {
	if p == nil {
		return field.ErrorList{field.Required(nil, "NodeNetworkConfigurationPolicy is nil")}
	}
	errs := policyType.Validate(p.TypeMeta, &p.ObjectMeta)
	spec := field.NewPath("spec")
	errs = append(errs, metav1validation.ValidateLabels(p.Spec.NodeSelector, spec.Child("nodeSelector"))...)
	if mu := p.Spec.MaxUnavailable; mu != "" && !validMaxUnavailable(mu) {
		errs = append(errs, field.Invalid(spec.Child("maxUnavailable"), mu, "must be a positive count or a percentage from 1% to 100%"))
	}
	return append(errs, ValidateState(&p.Spec.DesiredState, spec.Child("desiredState"))...)
}

// policyType is what ValidatePolicy checks apiVersion, kind and metadata
// against.
var policyType = validation.ObjectType{Kind: NNCPKind, APIVersions: []string{NMStateAPIVersion}, ClusterScoped: true}

func validMaxUnavailable(s string) bool {
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(pct)
		return err == nil && n >= 1 && n <= 100
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1
}

// Validate checks the desired state with ValidatePolicy's rules, paths
// relative to it (interfaces[0].bridge.port[1].vlan.tag).
func (s State) Validate() field.ErrorList { return ValidateState(&s, nil) }

// ValidateState checks an nmstate desired state at path (the same rules as
// ValidatePolicy, for a State built or decoded on its own, as netattach/host
// applies it).
func ValidateState(s *State, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	ip := path.Child("interfaces")
	if len(s.Interfaces) == 0 {
		return field.ErrorList{field.Required(ip, "at least one interface")}
	}
	seen := map[string]int{}
	for i, in := range s.Interfaces {
		if in.Name == "" {
			continue
		}
		if j, dup := seen[in.Name]; dup {
			errs = append(errs, field.Duplicate(ip.Index(i).Child("name"), fmt.Sprintf("%s (also interfaces[%d])", in.Name, j)))
			continue
		}
		seen[in.Name] = i
	}
	// portOf maps a port name to the bridge interface that enslaves it first.
	portOf := map[string]string{}
	for i := range s.Interfaces {
		errs = append(errs, validateInterface(&s.Interfaces[i], ip.Index(i), portOf)...)
	}
	return append(errs, validateMTUs(s, ip)...)
}

// validateMTUs checks jumbo-frame settings across interfaces of one state: a
// Linux bridge takes the smallest MTU of its ports, and a VLAN interface
// cannot exceed its base, so a smaller MTU set on a port or base silently
// caps the bridge or VLAN below what the policy asks for.
func validateMTUs(s *State, ip *field.Path) field.ErrorList {
	mtu := map[string]int{}
	for _, in := range s.Interfaces {
		if in.MTU > 0 && in.State != StateAbsent {
			mtu[in.Name] = in.MTU
		}
	}
	var errs field.ErrorList
	for i, in := range s.Interfaces {
		if in.MTU == 0 || in.State == StateAbsent {
			continue
		}
		if in.Bridge != nil {
			for j, port := range in.Bridge.Port {
				if m := mtu[port.Name]; m > 0 && m < in.MTU {
					errs = append(errs, field.Invalid(ip.Index(i).Child("mtu"), in.MTU,
						fmt.Sprintf("port[%d] %s has mtu %d: a bridge takes the smallest MTU of its ports", j, port.Name, m)))
				}
			}
		}
		if in.VLAN != nil {
			if m := mtu[in.VLAN.BaseIface]; m > 0 && m < in.MTU {
				errs = append(errs, field.Invalid(ip.Index(i).Child("mtu"), in.MTU,
					fmt.Sprintf("base-iface %s has mtu %d: a VLAN interface cannot exceed its base", in.VLAN.BaseIface, m)))
			}
		}
	}
	return errs
}

func validateInterface(in *Interface, p *field.Path, portOf map[string]string) field.ErrorList {
	errs := validateIfName(in.Name, p.Child("name"))
	switch in.Type {
	case TypeLinuxBridge, TypeVLAN, TypeEthernet:
	case "":
		errs = append(errs, field.Required(p.Child("type"), "linux-bridge, vlan or ethernet"))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), in.Type, []string{TypeLinuxBridge, TypeVLAN, TypeEthernet}))
	}
	switch in.State {
	case "", StateUp, StateDown, StateAbsent:
	default:
		errs = append(errs, field.NotSupported(p.Child("state"), in.State, []string{StateUp, StateDown, StateAbsent}))
	}
	errs = append(errs, validateMTU(in.MTU, p.Child("mtu"), true)...)
	errs = append(errs, validateIPConfig(in.IPv4, p.Child("ipv4"), false)...)
	errs = append(errs, validateIPConfig(in.IPv6, p.Child("ipv6"), true)...)

	// Only against a known other type: an unknown type is reported above.
	if in.Bridge != nil && (in.Type == TypeVLAN || in.Type == TypeEthernet) {
		errs = append(errs, field.Forbidden(p.Child("bridge"), "only for type linux-bridge"))
	}
	if in.VLAN != nil && (in.Type == TypeLinuxBridge || in.Type == TypeEthernet) {
		errs = append(errs, field.Forbidden(p.Child("vlan"), "only for type vlan"))
	}
	if in.Type == TypeVLAN && in.State != StateAbsent {
		if in.VLAN == nil {
			errs = append(errs, field.Required(p.Child("vlan"), "base-iface and id of the VLAN interface"))
		} else {
			vp := p.Child("vlan")
			errs = append(errs, validateIfName(in.VLAN.BaseIface, vp.Child("base-iface"))...)
			if in.VLAN.BaseIface == in.Name && in.Name != "" {
				errs = append(errs, field.Invalid(vp.Child("base-iface"), in.VLAN.BaseIface, "must not be the VLAN interface itself"))
			}
			if !validVLAN(in.VLAN.ID) {
				errs = append(errs, field.Invalid(vp.Child("id"), in.VLAN.ID, "must be between 1 and 4094"))
			}
		}
	}
	if in.Bridge != nil {
		errs = append(errs, validateBridgeConfig(in, p.Child("bridge"), portOf)...)
	}
	return errs
}

func validateIPConfig(c *IPConfig, p *field.Path, v6 bool) field.ErrorList {
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	if !c.Enabled && (c.DHCP || len(c.Address) > 0) {
		errs = append(errs, field.Invalid(p.Child("enabled"), false, "must be true when dhcp or address is set"))
	}
	maxBits, family := 32, "IPv4"
	if v6 {
		maxBits, family = 128, "IPv6"
	}
	for i, a := range c.Address {
		ap := p.Child("address").Index(i)
		addr, err := netip.ParseAddr(a.IP)
		switch {
		case err != nil || addr.Zone() != "":
			errs = append(errs, field.Invalid(ap.Child("ip"), a.IP, "must be an "+family+" address"))
		case addr.Is4() == v6 || addr.Is4In6():
			errs = append(errs, field.Invalid(ap.Child("ip"), a.IP, "must be an "+family+" address"))
		case addr.IsUnspecified() || addr.IsMulticast():
			errs = append(errs, field.Invalid(ap.Child("ip"), a.IP, "must be a unicast address"))
		}
		if a.PrefixLength < 0 || a.PrefixLength > maxBits {
			errs = append(errs, field.Invalid(ap.Child("prefix-length"), a.PrefixLength, fmt.Sprintf("must be between 0 and %d", maxBits)))
		}
	}
	return errs
}

func validateBridgeConfig(in *Interface, p *field.Path, portOf map[string]string) field.ErrorList {
	var errs field.ErrorList
	pp := p.Child("port")
	local := map[string]int{}
	for i, port := range in.Bridge.Port {
		ip := pp.Index(i)
		errs = append(errs, validateIfName(port.Name, ip.Child("name"))...)
		if port.Name != "" {
			switch {
			case port.Name == in.Name:
				errs = append(errs, field.Invalid(ip.Child("name"), port.Name, "a bridge cannot be its own port"))
			case local[port.Name] > 0:
				errs = append(errs, field.Duplicate(ip.Child("name"), fmt.Sprintf("%s (also port[%d])", port.Name, local[port.Name]-1)))
			case portOf[port.Name] != "" && portOf[port.Name] != in.Name:
				errs = append(errs, field.Invalid(ip.Child("name"), port.Name, fmt.Sprintf("is already a port of bridge %q: an interface has one master", portOf[port.Name])))
			default:
				local[port.Name] = i + 1
				portOf[port.Name] = in.Name
			}
		}
		if port.VLAN != nil {
			errs = append(errs, validatePortVLAN(port.VLAN, ip.Child("vlan"))...)
		}
	}
	return errs
}

func validatePortVLAN(v *BridgePortVLAN, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch v.Mode {
	case VLANModeAccess:
		if v.Tag == 0 {
			errs = append(errs, field.Required(p.Child("tag"), "an access port carries one VLAN: set its tag"))
		}
		if len(v.TrunkTags) > 0 {
			errs = append(errs, field.Forbidden(p.Child("trunk-tags"), "only for mode trunk"))
		}
		if v.EnableNative {
			errs = append(errs, field.Forbidden(p.Child("enable-native"), "only for mode trunk"))
		}
	case VLANModeTrunk:
		if len(v.TrunkTags) == 0 {
			errs = append(errs, field.Required(p.Child("trunk-tags"), "a trunk port needs the VLANs it carries"))
		}
		if v.EnableNative && v.Tag == 0 {
			errs = append(errs, field.Required(p.Child("tag"), "enable-native needs the native VLAN's tag"))
		}
		if !v.EnableNative && v.Tag != 0 {
			errs = append(errs, field.Invalid(p.Child("tag"), v.Tag, "a trunk's tag is its native VLAN: set enable-native: true as well"))
		}
	case "":
		errs = append(errs, field.Required(p.Child("mode"), "access or trunk"))
	default:
		errs = append(errs, field.NotSupported(p.Child("mode"), v.Mode, []string{VLANModeAccess, VLANModeTrunk}))
	}
	if v.Tag != 0 && !validVLAN(v.Tag) {
		errs = append(errs, field.Invalid(p.Child("tag"), v.Tag, "must be between 1 and 4094"))
	}
	for i, t := range v.TrunkTags {
		tp := p.Child("trunk-tags").Index(i)
		switch {
		case t.ID != 0 && t.IDRange != nil:
			errs = append(errs, field.Invalid(tp, "id and id-range", "set either id or id-range, not both"))
		case t.ID == 0 && t.IDRange == nil:
			errs = append(errs, field.Required(tp, "id or id-range"))
		case t.ID != 0:
			if !validVLAN(t.ID) {
				errs = append(errs, field.Invalid(tp.Child("id"), t.ID, "must be between 1 and 4094"))
			}
		default:
			r := tp.Child("id-range")
			okMin, okMax := validVLAN(t.IDRange.Min), validVLAN(t.IDRange.Max)
			if !okMin {
				errs = append(errs, field.Invalid(r.Child("min"), t.IDRange.Min, "must be between 1 and 4094"))
			}
			if !okMax {
				errs = append(errs, field.Invalid(r.Child("max"), t.IDRange.Max, "must be between 1 and 4094"))
			}
			if okMin && okMax && t.IDRange.Min > t.IDRange.Max {
				errs = append(errs, field.Invalid(r.Child("max"), t.IDRange.Max, fmt.Sprintf("must not be less than min (%d)", t.IDRange.Min)))
			}
		}
	}
	return errs
}
