package netattach

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/version"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/validation"
)

// NAD object identity.
const (
	NADAPIVersion = "k8s.cni.cncf.io/v1"
	NADKind       = "NetworkAttachmentDefinition"
	// ResourceNameAnnotation asks Multus to add a device-plugin resource
	// request to the pod, so the VM only runs on nodes that have it.
	ResourceNameAnnotation = "k8s.v1.cni.cncf.io/resourceName"
	// BridgeResourcePrefix prefixes the bridge name in the resourceName
	// annotation (bridge-marker exposes each node bridge as a resource).
	BridgeResourcePrefix = "bridge.network.kubevirt.io/"
)

// nadType is what ValidateNAD checks apiVersion, kind and metadata against.
var nadType = validation.ObjectType{Kind: NADKind, APIVersions: []string{NADAPIVersion}}

// IPAMWarning is OpenShift Virtualization's warning about IPAM in a VM
// bridge NAD.
const IPAMWarning = "configuring IP address management (IPAM) in a virtual machine's network attachment definition is not supported"

// PluginValidator checks one plugin of a NAD config whose type pxekit does not
// know (the sriov package provides one for "sriov"). raw is the plugin's JSON
// and path its field path (spec.config or spec.config.plugins[i]).
type PluginValidator func(raw []byte, path *field.Path) (field.ErrorList, []validation.Warning)

// NADValidator validates NetworkAttachmentDefinitions. Plugins adds checks for
// plugin types beyond bridge and tuning, keyed by CNI type; plugins of other
// types are only checked for what every CNI config needs.
type NADValidator struct {
	// Plugins are the extra checks, keyed by CNI plugin type (e.g. "sriov").
	Plugins map[string]PluginValidator
}

// ValidateNAD validates nad with the bridge and tuning rules only. See
// NADValidator.Validate.
func ValidateNAD(nad *nadv1.NetworkAttachmentDefinition) (field.ErrorList, []validation.Warning) {
	return NADValidator{}.Validate(nad)
}

// Validate reports every problem of nad at once: object metadata, spec.config
// parsed as Multus parses it (libcni), and the bridge/tuning plugin rules of
// the upstream plugins, each with its field path inside the config
// (spec.config.plugins[0].vlan). IPAM in a bridge plugin is a warning (not
// supported for VMs), as are keys a plugin ignores.
func (v NADValidator) Validate(nad *nadv1.NetworkAttachmentDefinition) (field.ErrorList, []validation.Warning) {
	var errs field.ErrorList
	var warns []validation.Warning
	if nad == nil {
		return field.ErrorList{field.Required(nil, "NetworkAttachmentDefinition is nil")}, nil
	}
	errs = append(errs, nadType.Validate(nad.TypeMeta, &nad.ObjectMeta)...)
	md := field.NewPath("metadata")

	cfgPath := field.NewPath("spec", "config")
	if strings.TrimSpace(nad.Spec.Config) == "" {
		warns = append(warns, validation.Warnf(cfgPath, "empty: Multus then looks for a CNI config file named %q on each node", nad.Name))
		return errs, warns
	}
	nc, err := parseConfig(nad.Spec.Config, cfgPath)
	if err != nil {
		return append(errs, field.Invalid(cfgPath, field.OmitValueType{}, err.Error())), warns
	}
	if nc.Name == "" {
		errs = append(errs, field.Required(cfgPath.Child("name"), "the CNI network name"))
	} else if nad.Name != "" && nc.Name != nad.Name {
		warns = append(warns, validation.Warnf(cfgPath.Child("name"), "%q differs from metadata.name %q; keeping them equal is recommended", nc.Name, nad.Name))
	}
	switch {
	case nc.CNIVersion == "":
		warns = append(warns, validation.Warnf(cfgPath.Child("cniVersion"), "not set; the runtime assumes 0.1.0, which has no chained plugins"))
	default:
		if _, err := version.GreaterThanOrEqualTo(nc.CNIVersion, "0.1.0"); err != nil {
			errs = append(errs, field.Invalid(cfgPath.Child("cniVersion"), nc.CNIVersion, "must be a CNI spec version such as "+DefaultCNIVersion))
		}
	}

	var bridge *BridgeNetConf
	for i, p := range nc.Plugins {
		pp := cfgPath
		if nc.IsList {
			pp = cfgPath.Child("plugins").Index(i)
		}
		errs = append(errs, p.TypeErrors...)
		for _, k := range p.UnknownKeys {
			warns = append(warns, validation.Warnf(pp.Child(k), "unknown key: the %s plugin ignores it", p.Type))
		}
		switch {
		case p.Bridge != nil:
			e, w := validateBridge(p.Bridge, pp)
			errs, warns = append(errs, e...), append(warns, w...)
			if bridge == nil {
				bridge = p.Bridge
			}
		case p.Tuning != nil:
			if i == 0 {
				errs = append(errs, field.Invalid(pp.Child("type"), p.Type, "a tuning plugin changes the interface a previous plugin created: chain it after the bridge in a conflist (\"plugins\")"))
			}
			errs = append(errs, validateTuning(p.Tuning, pp)...)
			if p.Tuning.Mac != "" {
				warns = append(warns, validation.Warnf(pp.Child("mac"), "every pod and VM attached to this NAD gets this same MAC; give each VM its own in spec.domain.devices.interfaces[].macAddress (the tuning plugin applies it)"))
			}
		default:
			if check := v.Plugins[p.Type]; check != nil {
				e, w := check(p.Raw, pp)
				errs, warns = append(errs, e...), append(warns, w...)
			}
		}
	}

	if rn, ok := nad.Annotations[ResourceNameAnnotation]; ok {
		ap := md.Child("annotations").Key(ResourceNameAnnotation)
		switch {
		case rn == "":
			errs = append(errs, field.Required(ap, "a device-plugin resource name"))
		case bridge != nil && strings.HasPrefix(rn, BridgeResourcePrefix):
			if want := BridgeResourcePrefix + bridge.Bridge; rn != want {
				errs = append(errs, field.Invalid(ap, rn, fmt.Sprintf("must name the config's bridge, %q: the VM would be scheduled to nodes by another bridge", want)))
			}
		}
	}
	return errs, warns
}

func validateBridge(c *BridgeNetConf, p *field.Path) (field.ErrorList, []validation.Warning) {
	var errs field.ErrorList
	var warns []validation.Warning
	if c.Bridge == "" {
		warns = append(warns, validation.Warnf(p.Child("bridge"), "not set: the plugin creates and uses a bridge named cni0, not a node bridge"))
	} else {
		errs = append(errs, validateIfName(c.Bridge, p.Child("bridge"))...)
	}
	if c.VLAN < 0 || c.VLAN > 4094 {
		errs = append(errs, field.Invalid(p.Child("vlan"), c.VLAN, "must be between 0 and 4094 (0: untagged)"))
	}
	if c.VLAN > 0 && len(c.VLANTrunk) > 0 {
		errs = append(errs, field.Forbidden(p.Child("vlanTrunk"), "may not be set together with vlan: the port is either an access port (vlan) or a trunk (vlanTrunk)"))
	}
	for i, t := range c.VLANTrunk {
		tp := p.Child("vlanTrunk").Index(i)
		switch {
		case t.MinID == nil && t.MaxID == nil && t.ID == nil:
			errs = append(errs, field.Required(tp, "an id, or minID and maxID"))
		case t.MinID != nil && t.MaxID == nil:
			errs = append(errs, field.Required(tp.Child("maxID"), "minID and maxID go together"))
		case t.MinID == nil && t.MaxID != nil:
			errs = append(errs, field.Required(tp.Child("minID"), "minID and maxID go together"))
		case t.MinID != nil && t.MaxID != nil:
			okMin, okMax := validVLAN(*t.MinID), validVLAN(*t.MaxID)
			if !okMin {
				errs = append(errs, field.Invalid(tp.Child("minID"), *t.MinID, "must be between 1 and 4094"))
			}
			if !okMax {
				errs = append(errs, field.Invalid(tp.Child("maxID"), *t.MaxID, "must be between 1 and 4094"))
			}
			if okMin && okMax && *t.MinID > *t.MaxID {
				errs = append(errs, field.Invalid(tp.Child("maxID"), *t.MaxID, fmt.Sprintf("must not be less than minID (%d)", *t.MinID)))
			}
		}
		if t.ID != nil && !validVLAN(*t.ID) {
			errs = append(errs, field.Invalid(tp.Child("id"), *t.ID, "must be between 1 and 4094"))
		}
	}
	errs = append(errs, validateMTU(c.MTU, p.Child("mtu"), true)...)
	// The plugin only looks at preserveDefaultVlan when it sets a VLAN.
	if c.PreserveDefaultVLAN != nil && c.VLAN == 0 && len(c.VLANTrunk) == 0 {
		warns = append(warns, validation.Warnf(p.Child("preserveDefaultVlan"), "has no effect without vlan or vlanTrunk"))
	}
	if hasIPAM(c.IPAM) {
		warns = append(warns, validation.Warnf(p.Child("ipam"), "%s", IPAMWarning))
	}
	return errs, warns
}

// hasIPAM reports whether an ipam section asks for address management;
// "ipam": {} is the L2-only form and asks for none.
func hasIPAM(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return string(raw) != "null"
	}
	return len(m) > 0
}

func validateTuning(c *TuningNetConf, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Mac != "" {
		_, err := macaddr.ParseUnicast(c.Mac)
		switch {
		case errors.Is(err, macaddr.ErrMulticast):
			errs = append(errs, field.Invalid(p.Child("mac"), c.Mac, "must be a unicast address (the multicast bit of the first octet is set)"))
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("mac"), c.Mac, "must be a MAC address such as de:00:00:00:00:de"))
		}
	}
	errs = append(errs, validateMTU(c.MTU, p.Child("mtu"), true)...)
	for k := range c.SysCtl {
		// The plugin refuses sysctls outside the network subsystem.
		if !strings.HasPrefix(k, "net.") || strings.Contains(k, "..") || strings.Contains(k, "/") {
			errs = append(errs, field.Invalid(p.Child("sysctl").Key(k), k, "must be a net.* sysctl"))
		}
	}
	if c.TxQLen != nil && *c.TxQLen < 0 {
		errs = append(errs, field.Invalid(p.Child("txQLen"), *c.TxQLen, "must not be negative"))
	}
	return errs
}

func validVLAN(id int) bool { return id >= 1 && id <= 4094 }

// validateMTU checks an MTU: 68 (the IPv4 minimum) to 65535, or 0 if zeroOK.
func validateMTU(mtu int, p *field.Path, zeroOK bool) field.ErrorList {
	if mtu == 0 && zeroOK {
		return nil
	}
	if mtu < 68 || mtu > 65535 {
		return field.ErrorList{field.Invalid(p, mtu, "must be between 68 and 65535")}
	}
	return nil
}

// validateIfName checks a Linux interface name the way the kernel does
// (dev_valid_name): 1 to 15 bytes, not "." or "..", no '/', ':' or
// whitespace.
func validateIfName(name string, p *field.Path) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(p, "an interface name")}
	case len(name) > 15:
		return field.ErrorList{field.TooLong(p, name, 15)}
	case name == "." || name == "..":
		return field.ErrorList{field.Invalid(p, name, "must not be . or ..")}
	case strings.ContainsAny(name, "/: \t\n\r\v\f\x00"):
		return field.ErrorList{field.Invalid(p, name, "must not contain '/', ':' or whitespace")}
	}
	return nil
}
