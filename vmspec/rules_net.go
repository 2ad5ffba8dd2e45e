package vmspec

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The rules of KubeVirt v1.9.0's network admitter (pkg/network/admitter).

var ifaceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Interface models KubeVirt accepts.
var validModels = []string{"e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139", "virtio"}

// reservedMasqueradeMAC is the MAC of the bridge inside the virt-launcher
// pod that masquerade binding uses.
const reservedMasqueradeMAC = "02:00:00:00:00:00"

// discontinuedBindings refuses slirp, passt (the old binding) and macvtap,
// removed in v1.3.
func (v *validator) discontinuedBindings(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	ip := p.Child("domain", "devices", "interfaces")
	for i, ifc := range s.Domain.Devices.Interfaces {
		if ifc.DeprecatedSlirp != nil {
			v.err(field.Forbidden(ip.Index(i).Child("slirp"), "the slirp binding was removed in KubeVirt v1.3; use masquerade"))
		}
		if ifc.DeprecatedPasst != nil {
			v.err(field.Forbidden(ip.Index(i).Child("passt"), "the passt binding was removed in KubeVirt v1.3; use passtBinding or a binding plugin"))
		}
		if ifc.DeprecatedMacvtap != nil {
			v.err(field.Forbidden(ip.Index(i).Child("macvtap"), "the macvtap binding was removed in KubeVirt v1.3; use bridge or a binding plugin"))
		}
	}
}

// networks applies the network admitter's Validate in its order.
func (v *validator) networks(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	np := p.Child("networks")
	ip := p.Child("domain", "devices", "interfaces")
	ifaces := s.Domain.Devices.Interfaces
	byName := map[string]kubevirtv1.Network{}
	for _, n := range s.Networks {
		if _, dup := byName[n.Name]; !dup {
			byName[n.Name] = n
		}
	}
	pods, multusDefaults := 0, 0
	var defaultNet *kubevirtv1.Network
	for i := range s.Networks {
		n := &s.Networks[i]
		if n.Pod != nil {
			pods++
			if defaultNet == nil {
				defaultNet = n
			}
		}
		if n.Multus != nil && n.Multus.Default {
			multusDefaults++
			if defaultNet == nil {
				defaultNet = n
			}
		}
	}
	if pods > 1 {
		// Reported at spec.interfaces (sic).
		v.err(field.Duplicate(p.Child("interfaces"), "pod").WithOrigin("pod"))
		v.errs[len(v.errs)-1].Detail = "more than one network is the pod network; a VM has at most one"
	}
	if multusDefaults > 1 {
		v.err(field.Invalid(np, multusDefaults, "at most one multus network may be the default"))
	}
	if pods > 0 && multusDefaults > 0 {
		v.err(field.Invalid(np, "pod", "a pod network cannot be combined with a default multus network"))
	}
	for i, n := range s.Networks {
		switch k := btoi(n.Pod != nil) + btoi(n.Multus != nil) + btoi(n.ResourceClaim != nil); {
		case k == 0:
			v.err(field.Required(np.Index(i), "needs a network type: pod, multus or resourceClaim"))
		case k > 1:
			v.err(field.Invalid(np.Index(i), n.Name, "must have only one network type"))
		}
	}
	for i, n := range s.Networks {
		if n.Multus != nil && n.Multus.NetworkName == "" {
			// Only the first is reported.
			v.err(field.Required(np.Index(i), "a multus network needs networkName: the NetworkAttachmentDefinition, as name or namespace/name"))
			break
		}
	}
	for i, ifc := range ifaces {
		fp := ip.Index(i)
		if ifc.State != "" && ifc.State != kubevirtv1.InterfaceStateAbsent && ifc.State != kubevirtv1.InterfaceStateLinkDown && ifc.State != kubevirtv1.InterfaceStateLinkUp {
			v.err(field.NotSupported(fp.Child("state"), ifc.State, []kubevirtv1.InterfaceState{kubevirtv1.InterfaceStateAbsent, kubevirtv1.InterfaceStateLinkDown, kubevirtv1.InterfaceStateLinkUp}))
		}
		if ifc.SRIOV != nil && (ifc.State == kubevirtv1.InterfaceStateLinkDown || ifc.State == kubevirtv1.InterfaceStateLinkUp) {
			v.err(field.Invalid(fp.Child("state"), ifc.State, "SR-IOV interfaces do not take link state down or up"))
		}
		if ifc.State == kubevirtv1.InterfaceStateAbsent && ifc.Bridge == nil {
			v.err(field.Invalid(fp.Child("state"), ifc.State, "state absent is only supported with bridge binding"))
		}
		if ifc.State == kubevirtv1.InterfaceStateAbsent && defaultNet != nil && defaultNet.Name == ifc.Name {
			v.err(field.Invalid(fp.Child("state"), ifc.State, "state absent is not supported on the default network"))
		}
	}
	for i, ifc := range ifaces {
		fp := ip.Index(i)
		n := byName[ifc.Name] // the zero Network when none has this name
		bindings := btoi(ifc.Bridge != nil) + btoi(ifc.Masquerade != nil) + btoi(ifc.SRIOV != nil) + btoi(ifc.PasstBinding != nil) + btoi(ifc.Binding != nil)
		if bindings != 1 {
			v.err(field.Invalid(fp, ifc.Name, fmt.Sprintf("must have exactly one binding method or binding plugin, has %d", bindings)))
		}
		if ifc.Masquerade != nil && n.Pod == nil {
			v.err(field.Invalid(fp.Child("name"), ifc.Name, "masquerade binding is only implemented with the pod network; use bridge or sriov on a multus network"))
		}
		if ifc.Masquerade != nil && ifc.MacAddress == reservedMasqueradeMAC {
			v.err(field.Invalid(fp.Child("macAddress"), ifc.MacAddress, "is reserved for the in-pod bridge of masquerade binding; choose another one"))
		}
		// Bridge on the pod network is permitted by v1.9.0's default
		// configuration (permitBridgeInterfaceOnPodNetwork).
		if ifc.PasstBinding != nil && !v.gates.Enabled(GatePasstBinding) {
			v.err(gateOff(fp.Child("name"), GatePasstBinding))
		}
		if ifc.PasstBinding != nil && n.Pod == nil {
			v.err(field.Invalid(fp.Child("name"), ifc.Name, "passtBinding is only implemented with the pod network"))
		}
	}
	seen := map[string]bool{}
	for i, n := range s.Networks {
		if seen[n.Name] {
			v.err(field.Duplicate(np.Index(i).Child("name"), n.Name))
		}
		seen[n.Name] = true
	}
	v.draNetworks(s, p)
	ifaceNames := map[string]bool{}
	for _, ifc := range ifaces {
		ifaceNames[ifc.Name] = true
	}
	for i, n := range s.Networks {
		if !ifaceNames[n.Name] {
			v.err(field.Required(np.Index(i).Child("name"), fmt.Sprintf("no interface named %q in domain.devices.interfaces; every network needs one", n.Name)))
		}
	}
	seen = map[string]bool{}
	for i, ifc := range ifaces {
		if seen[ifc.Name] {
			v.err(field.Duplicate(ip.Index(i).Child("name"), ifc.Name))
		}
		seen[ifc.Name] = true
	}
	for i, ifc := range ifaces {
		if _, ok := byName[ifc.Name]; !ok {
			v.err(field.Invalid(ip.Index(i).Child("name"), ifc.Name, "no network of this name in spec.networks; every interface needs one"))
		}
	}
	for i := range ifaces {
		v.interfaceFields(&ifaces[i], byName[ifaces[i].Name], ip.Index(i), p)
	}
}

// draNetworks checks networks backed by a resource claim.
func (v *validator) draNetworks(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if !slices.ContainsFunc(s.Networks, func(n kubevirtv1.Network) bool { return n.ResourceClaim != nil }) {
		return
	}
	np := p.Child("networks")
	if !v.gates.Enabled(GateNetworkDevicesWithDRA) {
		v.err(gateOff(np, GateNetworkDevicesWithDRA))
		return
	}
	if slices.ContainsFunc(s.Networks, func(n kubevirtv1.Network) bool { return n.Multus != nil }) {
		v.err(field.Invalid(np, "", "multus and resourceClaim networks cannot be mixed in one VM"))
		return
	}
	first := map[string]int{}
	for i, n := range s.Networks {
		if c := n.ResourceClaim; c != nil && c.ClaimName != "" && c.RequestName != "" {
			if _, ok := first[c.ClaimName+"/"+c.RequestName]; !ok {
				first[c.ClaimName+"/"+c.RequestName] = i
			}
		}
	}
	for i, n := range s.Networks {
		c := n.ResourceClaim
		if c == nil {
			continue
		}
		for _, ifc := range s.Domain.Devices.Interfaces {
			if ifc.Name == n.Name {
				if ifc.SRIOV == nil && ifc.Binding == nil {
					v.err(field.Invalid(p.Child("domain", "devices", "interfaces"), n.Name, "a resourceClaim network needs an sriov or binding plugin interface"))
				}
				break
			}
		}
		cp := np.Index(i).Child("resourceClaim")
		if c.ClaimName == "" {
			v.err(field.Required(cp.Child("claimName"), ""))
		}
		if c.RequestName == "" {
			v.err(field.Required(cp.Child("requestName"), ""))
		}
		if c.ClaimName == "" || c.RequestName == "" {
			continue
		}
		if !slices.ContainsFunc(s.ResourceClaims, func(rc kubevirtv1.VirtualMachineInstanceResourceClaim) bool { return rc.Name == c.ClaimName }) {
			v.err(field.NotFound(cp.Child("claimName"), c.ClaimName))
		}
		if j := first[c.ClaimName+"/"+c.RequestName]; j != i {
			v.err(field.Duplicate(np.Index(i), c.ClaimName+"/"+c.RequestName))
		}
	}
}

// interfaceFields checks one interface's own fields: name, model, MAC,
// PCI address, ports (on the pod network only), port ranges, DHCP options.
// sp is the spec's path (DHCP private options are reported there).
func (v *validator) interfaceFields(ifc *kubevirtv1.Interface, n kubevirtv1.Network, fp, sp *field.Path) {
	if !ifaceNameRE.MatchString(ifc.Name) {
		v.err(field.Invalid(fp.Child("name"), ifc.Name, "may only contain letters, digits, '-' and '_'"))
	}
	if ifc.Model != "" && !slices.Contains(validModels, ifc.Model) {
		v.err(field.NotSupported(fp.Child("model"), ifc.Model, validModels))
	}
	if ifc.MacAddress != "" {
		mac, err := net.ParseMAC(ifc.MacAddress)
		switch {
		case err != nil:
			v.err(field.Invalid(fp.Child("macAddress"), ifc.MacAddress, "malformed MAC address; write six colon-separated hex bytes, e.g. de:00:00:00:00:de"))
		case len(mac) > 6:
			v.err(field.Invalid(fp.Child("macAddress"), ifc.MacAddress, fmt.Sprintf("MAC address has %d bytes; an Ethernet NIC needs 6", len(mac))))
		}
	}
	if ifc.PciAddress != "" && !pciAddressRE.MatchString(ifc.PciAddress) {
		v.err(field.Invalid(fp.Child("pciAddress"), ifc.PciAddress, "malformed PCI address; write domain:bus:slot.function, e.g. 0000:07:00.0"))
	}
	if n.Pod != nil && ifc.Ports != nil {
		names := map[string]bool{}
		for j, port := range ifc.Ports {
			pp := fp.Child("ports").Index(j)
			if port.Name != "" {
				if names[port.Name] {
					v.err(field.Duplicate(pp.Child("name"), port.Name))
				}
				if msgs := k8svalidation.IsValidPortName(port.Name); len(msgs) > 0 {
					v.err(field.Invalid(pp.Child("name"), port.Name, msgs[0]))
				}
				names[port.Name] = true
			}
		}
		for j, port := range ifc.Ports {
			pp := fp.Child("ports").Index(j)
			if port.Port == 0 {
				v.err(field.Required(pp.Child("port"), "port is mandatory"))
			}
			if port.Port < 0 || port.Port >= 65536 {
				v.err(field.Invalid(pp.Child("port"), port.Port, "must be in range 0 < port < 65536"))
			}
			if port.Protocol != "" && port.Protocol != "TCP" && port.Protocol != "UDP" {
				v.err(field.NotSupported(pp.Child("protocol"), port.Protocol, []string{"TCP", "UDP"}))
			}
		}
	}
	v.portRanges(ifc, n, fp)
	if o := ifc.DHCPOptions; o != nil {
		opts := map[int]bool{}
		for _, po := range o.PrivateOptions {
			opts[po.Option] = true
		}
		// Both are reported at the spec itself.
		if len(opts) < len(o.PrivateOptions) {
			v.err(field.Duplicate(sp, "dhcpOptions.privateOptions"))
			v.errs[len(v.errs)-1].Detail = "interface " + ifc.Name + " repeats a DHCP private option"
		}
		for _, po := range o.PrivateOptions {
			if po.Option < 224 || po.Option > 254 {
				v.err(field.Invalid(sp, po.Option, "DHCP private options of interface "+ifc.Name+" must be in 224-254"))
			}
		}
		for k, ntp := range o.NTPServers {
			if net.ParseIP(ntp).To4() == nil {
				v.err(field.Invalid(fp.Child("dhcpOptions", "ntpServers").Index(k), ntp, "must be an IPv4 address"))
			}
		}
	}
}

// portRanges checks interfaces[].portRanges (alpha: PortRangesSpec).
func (v *validator) portRanges(ifc *kubevirtv1.Interface, n kubevirtv1.Network, fp *field.Path) {
	if !v.gates.Enabled(GatePortRangesSpec) {
		if ifc.PortRanges != nil {
			v.err(gateOff(fp.Child("name"), GatePortRangesSpec))
		}
		return
	}
	if n.Pod == nil || ifc.PortRanges == nil {
		return
	}
	if ifc.Ports != nil {
		v.err(field.Invalid(fp.Child("name"), ifc.Name, "ports and portRanges are mutually exclusive"))
	}
	if ifc.Masquerade == nil {
		v.err(field.Invalid(fp.Child("name"), ifc.Name, "portRanges need masquerade binding"))
	}
	rp := fp.Child("portRanges")
	if len(ifc.PortRanges) > 10 {
		v.err(field.TooMany(rp, len(ifc.PortRanges), 10))
		return
	}
	type span struct{ start, end int32 }
	byProto := map[string][]span{}
	for j, r := range ifc.PortRanges {
		jp := rp.Index(j)
		switch {
		case r.Protocol != "TCP" && r.Protocol != "UDP":
			v.err(field.NotSupported(jp.Child("protocol"), r.Protocol, []string{"TCP", "UDP"}))
		case r.Start <= 0 || r.Start >= 65536:
			v.err(field.Invalid(jp.Child("start"), r.Start, "must be in range 0 < port < 65536"))
		case r.End <= 0 || r.End >= 65536:
			v.err(field.Invalid(jp.Child("end"), r.End, "must be in range 0 < port < 65536"))
		case r.Start > r.End:
			v.err(field.Invalid(jp.Child("start"), r.Start, "must not exceed end"))
		default:
			byProto[r.Protocol] = append(byProto[r.Protocol], span{r.Start, r.End})
		}
	}
	for proto, spans := range byProto {
		sort.Slice(spans, func(a, b int) bool {
			if spans[a].start == spans[b].start {
				return spans[a].end < spans[b].end
			}
			return spans[a].start < spans[b].start
		})
		for k := 1; k < len(spans); k++ {
			if spans[k].start <= spans[k-1].end {
				v.err(field.Invalid(rp, proto, fmt.Sprintf("%s port ranges %d-%d and %d-%d overlap", proto, spans[k-1].start, spans[k-1].end, spans[k].start, spans[k].end)))
			}
		}
	}
}
