package sriov

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/validation"
)

// Options tune validation to a cluster. The zero value is OpenShift's
// defaults.
type Options struct {
	// OperatorNamespace is where the operator runs
	// (DefaultOperatorNamespace when empty).
	OperatorNamespace string
	// SupportedNICs replaces DefaultSupportedNICs (the supported-nic-ids
	// ConfigMap) when non-nil.
	SupportedNICs []NIC
	// DevMode admits unsupported vendor and device ids, like the
	// operator's DEV_MODE=TRUE.
	DevMode bool
}

func (o Options) namespace() string {
	if o.OperatorNamespace == "" {
		return DefaultOperatorNamespace
	}
	return o.OperatorNamespace
}

func (o Options) nics() nicTable {
	if o.SupportedNICs == nil {
		return DefaultSupportedNICs()
	}
	return o.SupportedNICs
}

var (
	resourceNameRE = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	pciAddrRE      = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$`)
	netFilterRE    = regexp.MustCompile(`^(openstack/NetworkID:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|aws/NetworkID:\S+)$`)
)

// IsPCIAddress reports whether s is a full PCI address, "0000:19:00.2".
func IsPCIAddress(s string) bool { return pciAddrRE.MatchString(s) }

// The apiVersion, kind and metadata the validators check.
var (
	nodePolicyType = validation.ObjectType{Kind: KindNodePolicy, APIVersions: []string{APIVersion}}
	networkType    = validation.ObjectType{Kind: KindNetwork, APIVersions: []string{APIVersion}}
)

// ValidateNodePolicy checks a SriovNetworkNodePolicy with the operator's
// admission rules that need no cluster state, the CRD's schema, and the notes of
// OpenShift's documentation. It returns every error with its field path, and
// warnings for what the operator admits but will not do what the author likely
// meant. Rules that need the node's NICs (Intel numVfs ≤ sriov_totalvfs, the
// selector matching a NIC) are checked by sriov/host when the policy is applied.
func ValidateNodePolicy(p *SriovNetworkNodePolicy, opts Options) (field.ErrorList, []validation.Warning) {
	var warns []validation.Warning
	if p == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "no policy")}, nil
	}
	errs := nodePolicyType.Validate(p.TypeMeta, &p.ObjectMeta)
	if p.Namespace != "" && p.Namespace != opts.namespace() {
		warns = append(warns, validation.Warnf(field.NewPath("metadata", "namespace"), "%s is created but not used: only policies in %s are respected", p.Name, opts.namespace()))
	}

	s := &p.Spec
	sp := field.NewPath("spec")
	// The API server checks the CRD's schema first; a policy it refuses
	// never reaches the operator's webhook.
	var schema field.ErrorList
	if s.NodeSelector == nil {
		schema = append(schema, field.Required(sp.Child("nodeSelector"), "select the nodes to configure (e.g. feature.node.kubernetes.io/network-sriov.capable: \"true\")"))
	}
	if s.Priority < 0 || s.Priority > 99 {
		schema = append(schema, field.Invalid(sp.Child("priority"), s.Priority, "must be between 0 and 99 (lower is higher priority)"))
	}
	if s.Mtu < 0 {
		schema = append(schema, field.Invalid(sp.Child("mtu"), s.Mtu, "must be at least 1"))
	}
	if s.NumVfs < 0 {
		schema = append(schema, field.Invalid(sp.Child("numVfs"), s.NumVfs, "must be at least 0"))
	}
	for _, e := range []struct {
		name, v string
		valid   []string
	}{
		{"deviceType", s.DeviceType, []string{DeviceTypeNetdevice, DeviceTypeVfioPCI}},
		{"linkType", s.LinkType, []string{"eth", "ETH", "ib", "IB"}},
		{"eSwitchMode", s.ESwitchMode, []string{ESwitchModeLegacy, ESwitchModeSwitchdev}},
		{"vdpaType", s.VdpaType, []string{"virtio", "vhost"}},
	} {
		if e.v != "" && !slices.Contains(e.valid, e.v) {
			schema = append(schema, field.NotSupported(sp.Child(e.name), e.v, e.valid))
		}
	}
	if len(schema) > 0 {
		return append(errs, schema...), warns
	}
	// The webhook's static rules, then the rules it applies with the
	// node's NICs, which refuse whatever can select no NIC.
	if !resourceNameRE.MatchString(s.ResourceName) {
		errs = append(errs, field.Invalid(sp.Child("resourceName"), s.ResourceName, `contains invalid characters: must match ^[a-zA-Z0-9_]+$`))
	}
	for k, v := range s.NodeSelector {
		for _, m := range k8svalidation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(sp.Child("nodeSelector").Key(k), k, m))
		}
		for _, m := range k8svalidation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(sp.Child("nodeSelector").Key(k), v, m))
		}
	}
	if s.NumVfs == 0 {
		// The webhook refuses numVfs 0 for any policy that selects a NIC.
		errs = append(errs, field.Invalid(sp.Child("numVfs"), s.NumVfs, "numVfs 0 is not allowed"))
	}

	errs, warns = validateNicSelector(s, sp.Child("nicSelector"), opts, errs, warns)

	if s.DeviceType == DeviceTypeVfioPCI && s.IsRdma {
		errs = append(errs, field.Invalid(sp.Child("isRdma"), true, "'deviceType: vfio-pci' conflicts with 'isRdma: true': set deviceType to netdevice or isRdma to false"))
	}
	switchdev := s.ESwitchMode == ESwitchModeSwitchdev
	if s.LinkType != "" && !strings.EqualFold(s.LinkType, LinkTypeETH) && switchdev {
		errs = append(errs, field.Invalid(sp.Child("eSwitchMode"), s.ESwitchMode, "'eSwitchMode: switchdev' can be used only with ethernet links"))
	}
	if s.VdpaType != "" {
		if s.DeviceType != DeviceTypeNetdevice {
			errs = append(errs, field.Invalid(sp.Child("vdpaType"), s.VdpaType, fmt.Sprintf("'deviceType: %s' conflicts with vdpaType: set deviceType to netdevice or remove vdpaType", s.DeviceType)))
		}
		if !switchdev {
			errs = append(errs, field.Invalid(sp.Child("vdpaType"), s.VdpaType, "vdpa requires eSwitchMode switchdev"))
		}
	}
	if len(s.Bridge) > 0 && string(s.Bridge) != "null" && string(s.Bridge) != "{}" {
		if !switchdev {
			errs = append(errs, field.Invalid(sp.Child("bridge"), string(s.Bridge), "software bridge management requires eSwitchMode switchdev"))
		}
		if s.ExternallyManaged {
			errs = append(errs, field.Invalid(sp.Child("bridge"), string(s.Bridge), "software bridge management can't be used when the device is externally managed"))
		}
	}
	return errs, warns
}

func validateNicSelector(s *SriovNetworkNodePolicySpec, np *field.Path, opts Options, errs field.ErrorList, warns []validation.Warning) (field.ErrorList, []validation.Warning) {
	n := &s.NicSelector
	if n.Vendor == "" && n.DeviceID == "" && len(n.PfNames) == 0 && len(n.RootDevices) == 0 && n.NetFilter == "" {
		errs = append(errs, field.Required(np, "at least one of vendor, deviceID, pfNames, rootDevices or netFilter has to be defined"))
	}
	nics := opts.nics()
	if !opts.DevMode {
		if n.Vendor != "" {
			if !nics.vendor(n.Vendor) {
				errs = append(errs, field.NotSupported(np.Child("vendor"), n.Vendor, []string{VendorIntel, VendorMellanox}))
			} else if n.DeviceID != "" && !nics.model(n.Vendor, n.DeviceID) {
				errs = append(errs, field.Invalid(np.Child("deviceID"), n.DeviceID, fmt.Sprintf("vendor/device %s/%s is not supported", n.Vendor, n.DeviceID)))
			}
		} else if n.DeviceID != "" && !nics.device(n.DeviceID) {
			errs = append(errs, field.Invalid(np.Child("deviceID"), n.DeviceID, "device is not supported"))
		}
	}
	// A Mellanox NIC takes at most 127 VFs. Known statically when
	// the vendor is given or the device id is Mellanox's only.
	mellanox := strings.EqualFold(n.Vendor, VendorMellanox)
	if n.Vendor == "" && n.DeviceID != "" {
		v := nics.vendorsOfDevice(n.DeviceID)
		mellanox = len(v) == 1 && v[VendorMellanox]
	}
	if mellanox && s.NumVfs > MellanoxMaxVFs {
		errs = append(errs, field.Invalid(field.NewPath("spec", "numVfs"), s.NumVfs, fmt.Sprintf("a Mellanox NIC supports at most %d VFs", MellanoxMaxVFs)))
	}
	seen := map[string]int{}
	for i, pf := range n.PfNames {
		pp := np.Child("pfNames").Index(i)
		parsed, err := ParsePFName(pf, s.NumVfs)
		if err != nil {
			errs = append(errs, field.Invalid(pp, pf, err.Error()))
			continue
		}
		if len(parsed.Name) > 15 || strings.ContainsAny(parsed.Name, "/ \t\n") {
			errs = append(errs, field.Invalid(pp, pf, "the PF name is not a Linux interface name (at most 15 bytes, no '/' or whitespace): it can never match"))
		}
		if j, dup := seen[parsed.Name]; dup {
			errs = append(errs, field.Duplicate(pp, fmt.Sprintf("%s (also pfNames[%d])", pf, j)))
		}
		seen[parsed.Name] = i
	}
	for i, rd := range n.RootDevices {
		if !IsPCIAddress(rd) {
			errs = append(errs, field.Invalid(np.Child("rootDevices").Index(i), rd, "must be a PCI address like 0000:02:00.1"))
		}
	}
	if n.NetFilter != "" && !netFilterRE.MatchString(n.NetFilter) {
		errs = append(errs, field.Invalid(np.Child("netFilter"), n.NetFilter, `must be "openstack/NetworkID:<uuid>" or "aws/NetworkID:<id>"`))
	}
	if len(n.RootDevices) > 0 && n.Vendor == "" && n.DeviceID == "" && len(n.PfNames) == 0 {
		// With rootDevices, give vendor, deviceID or pfNames as well.
		warns = append(warns, validation.Warnf(np, "rootDevices is given without vendor, deviceID or pfNames; also give one of them so the operator selects exactly the NIC you mean"))
	}
	if len(n.RootDevices) > 0 && len(n.PfNames) > 0 {
		// All selectors must match the same PF, or nothing is selected;
		// only the node can tell (sriov/host checks it when applying).
		warns = append(warns, validation.Warnf(np, "pfNames and rootDevices are both given: they must name the same devices, or the policy selects nothing"))
	}
	return errs, warns
}

// ValidateNodePolicies checks policies against each other, as the webhook
// does for policies that select the same node: overlapping VF ranges of
// the same PF, the same root device in two policies, externallyManaged
// mixed on one PF, and excludeTopology disagreeing within one resource.
// Errors are reported on the later policy, at items[i].spec..., as in a List.
func ValidateNodePolicies(ps []SriovNetworkNodePolicy) field.ErrorList {
	var errs field.ErrorList
	for i := range ps {
		cur := &ps[i]
		base := field.NewPath("items").Index(i).Child("spec")
		for j := 0; j < i; j++ {
			prev := &ps[j]
			if cur.Name == prev.Name {
				continue
			}
			if !selectorsIntersect(cur.Spec.NodeSelector, prev.Spec.NodeSelector) {
				continue
			}
			for k, c := range cur.Spec.NicSelector.PfNames {
				cp, err := ParsePFName(c, 0)
				if err != nil {
					continue
				}
				for _, pv := range prev.Spec.NicSelector.PfNames {
					pp, err := ParsePFName(pv, 0)
					if err != nil || pp.Name != cp.Name {
						continue
					}
					path := base.Child("nicSelector", "pfNames").Index(k)
					if cur.Spec.ExternallyManaged != prev.Spec.ExternallyManaged {
						errs = append(errs, field.Invalid(path, c, "externallyManaged is inconsistent with policy "+prev.Name))
					}
					cf, cl := vfSpan(cp)
					pf, pl := vfSpan(pp)
					if !(cl < pf || cf > pl) {
						errs = append(errs, field.Invalid(path, c, "VF index range overlaps policy "+prev.Name))
					}
				}
			}
			for k, c := range cur.Spec.NicSelector.RootDevices {
				for _, pv := range prev.Spec.NicSelector.RootDevices {
					if c == pv {
						errs = append(errs, field.Invalid(base.Child("nicSelector", "rootDevices").Index(k), c, "root device overlaps policy "+prev.Name))
					}
				}
			}
			if cur.Spec.ResourceName == prev.Spec.ResourceName && cur.Spec.ExcludeTopology != prev.Spec.ExcludeTopology {
				errs = append(errs, field.Invalid(base.Child("excludeTopology"), cur.Spec.ExcludeTopology,
					fmt.Sprintf("conflicts with policy %s (excludeTopology %t) for the same resource %s", prev.Name, prev.Spec.ExcludeTopology, cur.Spec.ResourceName)))
			}
		}
	}
	return errs
}

// vfSpan is the VF index span of an entry; no range means all VFs.
func vfSpan(p PFName) (int, int) {
	if !p.HasRange {
		return 0, int(^uint(0) >> 1)
	}
	return p.First, p.Last
}

// selectorsIntersect: two equality selectors can select one node unless
// they require different values for the same key.
func selectorsIntersect(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return false
		}
	}
	return true
}

// ValidateNetwork checks a SriovNetwork. The operator's webhook does not
// validate SriovNetworks, so the errors are the CRD schema's (the VLAN and
// QoS ranges, the enumerations, rates not negative), which the API server
// checks; what the operator or the sriov CNI refuses later (a resource name
// no policy can have, a network namespace outside the operator's namespace,
// vlanQoS or 802.1ad without a VLAN, min above max rate, JSON that does not
// parse) is a warning, as are the notes of OpenShift's documentation
// (minTxRate on Intel NICs).
func ValidateNetwork(n *SriovNetwork, opts Options) (field.ErrorList, []validation.Warning) {
	errs, later, warns := validateNetwork(n, opts)
	for _, e := range later {
		warns = append(warns, validation.Warning{Field: e.Field, Message: e.Detail})
	}
	return errs, warns
}

// validateNetwork returns what the API server refuses (errs), what makes
// the operator's rendering or the sriov CNI fail later (later: warnings of
// ValidateNetwork, errors of the builder and of RenderNAD), and warnings.
func validateNetwork(n *SriovNetwork, opts Options) (errs, later field.ErrorList, warns []validation.Warning) {
	if n == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "no network")}, nil, nil
	}
	errs = networkType.Validate(n.TypeMeta, &n.ObjectMeta)
	s := &n.Spec
	sp := field.NewPath("spec")
	warn := func(p *field.Path, format string, args ...any) {
		later = append(later, field.Invalid(p, field.OmitValueType{}, fmt.Sprintf(format, args...)))
	}
	if !resourceNameRE.MatchString(s.ResourceName) {
		warn(sp.Child("resourceName"), "%q: no SriovNetworkNodePolicy can have this resource name (^[a-zA-Z0-9_]+$), so no VF is ever allocated", s.ResourceName)
	}
	if s.NetworkNamespace != "" {
		if n.Namespace != opts.namespace() {
			warn(sp.Child("networkNamespace"), "is ignored unless the SriovNetwork is in the %s namespace", opts.namespace())
		}
		if msgs := k8svalidation.IsDNS1123Label(s.NetworkNamespace); len(msgs) > 0 {
			warn(sp.Child("networkNamespace"), "%q cannot name a namespace (%s): the operator cannot create the NetworkAttachmentDefinition", s.NetworkNamespace, strings.Join(msgs, "; "))
		}
	}
	if s.Vlan < 0 || s.Vlan > 4094 {
		errs = append(errs, field.Invalid(sp.Child("vlan"), s.Vlan, "must be between 0 and 4094"))
	}
	if s.VlanQoS < 0 || s.VlanQoS > 7 {
		errs = append(errs, field.Invalid(sp.Child("vlanQoS"), s.VlanQoS, "must be between 0 and 7"))
	} else if s.VlanQoS != 0 && s.Vlan == 0 {
		warn(sp.Child("vlanQoS"), "needs a non-zero vlan: the sriov CNI refuses it when the pod starts")
	}
	switch s.VlanProto {
	case "":
	case "802.1q", "802.1Q", "802.1ad", "802.1AD":
		if s.Vlan == 0 && !strings.EqualFold(s.VlanProto, "802.1q") {
			warn(sp.Child("vlanProto"), "802.1ad needs a non-zero vlan: the sriov CNI refuses it when the pod starts")
		}
	default:
		errs = append(errs, field.NotSupported(sp.Child("vlanProto"), s.VlanProto, []string{"802.1q", "802.1Q", "802.1ad", "802.1AD"}))
	}
	for _, f := range []struct{ name, v string }{{"spoofChk", s.SpoofChk}, {"trust", s.Trust}} {
		if f.v != "" && f.v != On && f.v != Off {
			errs = append(errs, field.NotSupported(sp.Child(f.name), f.v, []string{On, Off}))
		}
	}
	switch s.LinkState {
	case "", LinkStateEnable, LinkStateDisable, LinkStateAuto:
	default:
		errs = append(errs, field.NotSupported(sp.Child("linkState"), s.LinkState, []string{LinkStateAuto, LinkStateEnable, LinkStateDisable}))
	}
	if s.MinTxRate != nil {
		if *s.MinTxRate < 0 {
			errs = append(errs, field.Invalid(sp.Child("minTxRate"), *s.MinTxRate, "must be at least 0"))
		}
		warns = append(warns, validation.Warnf(sp.Child("minTxRate"), "Intel NICs do not support minTxRate (BZ#1772847); the VF setup fails on them"))
	}
	if s.MaxTxRate != nil && *s.MaxTxRate < 0 {
		errs = append(errs, field.Invalid(sp.Child("maxTxRate"), *s.MaxTxRate, "must be at least 0"))
	}
	if s.MinTxRate != nil && s.MaxTxRate != nil && *s.MaxTxRate > 0 && *s.MinTxRate > *s.MaxTxRate {
		warn(sp.Child("minTxRate"), "%d is above maxTxRate (%d): the VF setup fails", *s.MinTxRate, *s.MaxTxRate)
	}
	if s.Capabilities != "" {
		var caps map[string]bool
		if err := json.Unmarshal([]byte(s.Capabilities), &caps); err != nil {
			warn(sp.Child("capabilities"), `is not a JSON object with boolean values (e.g. '{"mac": true}'): %v; the operator cannot render the NetworkAttachmentDefinition`, err)
		}
	}
	if s.IPAM != "" {
		for _, e := range validateIPAM(s.IPAM, sp.Child("ipam"), nil) {
			e.Detail += "; the operator cannot render a working NetworkAttachmentDefinition"
			later = append(later, e)
		}
	}
	if s.MetaPluginsConfig != "" {
		var plugins []map[string]any
		mp := sp.Child("metaPlugins")
		if err := json.Unmarshal([]byte("["+s.MetaPluginsConfig+"]"), &plugins); err != nil {
			warn(mp, "is not one or more JSON plugin objects: %v; the operator cannot render the NetworkAttachmentDefinition", err)
		} else {
			for i, pl := range plugins {
				if t, ok := pl["type"].(string); !ok || strings.TrimSpace(t) == "" {
					warn(mp, "metaPlugins[%d] has no non-empty string \"type\": the CNI chain fails", i)
				}
			}
		}
	}
	switch s.LogLevel {
	case "", "panic", "error", "warning", "info", "debug":
	default:
		errs = append(errs, field.NotSupported(sp.Child("logLevel"), s.LogLevel, []string{"panic", "error", "warning", "info", "debug"}))
	}
	if strings.ContainsAny(s.LogFile, "\"\\") {
		warn(sp.Child("logFile"), "contains quotes or backslashes: the rendered CNI config breaks")
	} else if strings.ContainsFunc(s.LogFile, unicode.IsControl) {
		warn(sp.Child("logFile"), "contains control characters: the rendered CNI config breaks")
	}
	return errs, later, warns
}

func validateIPAM(ipam string, p *field.Path, errs field.ErrorList) field.ErrorList {
	var obj map[string]any
	if err := json.Unmarshal([]byte(ipam), &obj); err != nil {
		return append(errs, field.Invalid(p, ipam, "must be a JSON object: "+err.Error()))
	}
	t, ok := obj["type"]
	if !ok {
		return append(errs, field.Required(p.Key("type"), `ipam must contain a "type" field`))
	}
	if s, ok := t.(string); !ok || s == "" {
		return append(errs, field.Invalid(p.Key("type"), t, "must be a non-empty string"))
	}
	return errs
}
