package sriov

import (
	"encoding/json"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodePolicyBuilder builds a SriovNetworkNodePolicy; Build validates it.
type NodePolicyBuilder struct {
	p    SriovNetworkNodePolicy
	opts Options
}

// NewNodePolicy starts a policy named name, in the operator's namespace,
// for the device plugin resource resourceName.
func NewNodePolicy(name, resourceName string) *NodePolicyBuilder {
	b := &NodePolicyBuilder{}
	b.p.TypeMeta = metav1.TypeMeta{APIVersion: APIVersion, Kind: KindNodePolicy}
	b.p.Name = name
	b.p.Namespace = DefaultOperatorNamespace
	b.p.Spec.ResourceName = resourceName
	return b
}

// WithNamespace sets metadata.namespace, and takes it as the operator's
// namespace when Build validates (only policies there are used).
func (b *NodePolicyBuilder) WithNamespace(ns string) *NodePolicyBuilder {
	b.p.Namespace = ns
	b.opts.OperatorNamespace = ns
	return b
}

// WithOptions sets the validation options Build uses.
func (b *NodePolicyBuilder) WithOptions(o Options) *NodePolicyBuilder { b.opts = o; return b }

// WithNodeSelector adds labels to spec.nodeSelector: the policy configures
// the nodes that carry all of them.
func (b *NodePolicyBuilder) WithNodeSelector(sel map[string]string) *NodePolicyBuilder {
	if b.p.Spec.NodeSelector == nil {
		b.p.Spec.NodeSelector = map[string]string{}
	}
	maps.Copy(b.p.Spec.NodeSelector, sel)
	return b
}

// WithNumVFs sets spec.numVfs, the VFs created on each selected PF.
func (b *NodePolicyBuilder) WithNumVFs(n int) *NodePolicyBuilder { b.p.Spec.NumVfs = n; return b }

// WithMTU sets spec.mtu, the MTU of the VFs.
func (b *NodePolicyBuilder) WithMTU(mtu int) *NodePolicyBuilder { b.p.Spec.Mtu = mtu; return b }

// WithPriority sets spec.priority (0..99, lower wins).
func (b *NodePolicyBuilder) WithPriority(p int) *NodePolicyBuilder { b.p.Spec.Priority = p; return b }

// WithDeviceType sets spec.deviceType (netdevice or vfio-pci).
func (b *NodePolicyBuilder) WithDeviceType(t string) *NodePolicyBuilder {
	b.p.Spec.DeviceType = t
	return b
}

// WithRDMA sets spec.isRdma.
func (b *NodePolicyBuilder) WithRDMA(on bool) *NodePolicyBuilder { b.p.Spec.IsRdma = on; return b }

// WithNIC sets nicSelector.vendor and nicSelector.deviceID (hex).
func (b *NodePolicyBuilder) WithNIC(vendor, deviceID string) *NodePolicyBuilder {
	b.p.Spec.NicSelector.Vendor = vendor
	b.p.Spec.NicSelector.DeviceID = deviceID
	return b
}

// WithPFNames adds nicSelector.pfNames entries ("eno3" or "eno3#0-3").
func (b *NodePolicyBuilder) WithPFNames(names ...string) *NodePolicyBuilder {
	b.p.Spec.NicSelector.PfNames = append(b.p.Spec.NicSelector.PfNames, names...)
	return b
}

// WithRootDevices adds nicSelector.rootDevices PCI addresses.
func (b *NodePolicyBuilder) WithRootDevices(addrs ...string) *NodePolicyBuilder {
	b.p.Spec.NicSelector.RootDevices = append(b.p.Spec.NicSelector.RootDevices, addrs...)
	return b
}

// WithLinkType sets spec.linkType.
func (b *NodePolicyBuilder) WithLinkType(t string) *NodePolicyBuilder {
	b.p.Spec.LinkType = t
	return b
}

// WithESwitchMode sets spec.eSwitchMode.
func (b *NodePolicyBuilder) WithESwitchMode(m string) *NodePolicyBuilder {
	b.p.Spec.ESwitchMode = m
	return b
}

// Build returns the policy and one error listing every problem with its
// field path; the policy is returned even when there are problems. Warnings are available from ValidateNodePolicy. The policy is
// a copy: changing the builder afterwards does not change it.
func (b *NodePolicyBuilder) Build() (*SriovNetworkNodePolicy, error) {
	p := deepCopy(&b.p)
	errs, _ := ValidateNodePolicy(p, b.opts)
	return p, errs.ToAggregate()
}

// NetworkBuilder builds a SriovNetwork; Build validates it.
type NetworkBuilder struct {
	n    SriovNetwork
	opts Options
}

// NewNetwork starts a SriovNetwork named name, in the operator's namespace,
// on the VFs of resourceName.
func NewNetwork(name, resourceName string) *NetworkBuilder {
	b := &NetworkBuilder{}
	b.n.TypeMeta = metav1.TypeMeta{APIVersion: APIVersion, Kind: KindNetwork}
	b.n.Name = name
	b.n.Namespace = DefaultOperatorNamespace
	b.n.Spec.ResourceName = resourceName
	return b
}

// WithNamespace sets metadata.namespace, and takes it as the operator's
// namespace when Build validates (only a network there may name another
// networkNamespace).
func (b *NetworkBuilder) WithNamespace(ns string) *NetworkBuilder {
	b.n.Namespace = ns
	b.opts.OperatorNamespace = ns
	return b
}

// WithOptions sets the validation options Build uses.
func (b *NetworkBuilder) WithOptions(o Options) *NetworkBuilder { b.opts = o; return b }

// WithNetworkNamespace sets spec.networkNamespace, where the NAD goes.
func (b *NetworkBuilder) WithNetworkNamespace(ns string) *NetworkBuilder {
	b.n.Spec.NetworkNamespace = ns
	return b
}

// WithVLAN sets spec.vlan, the VF's VLAN (0..4094; 0 leaves it untagged).
func (b *NetworkBuilder) WithVLAN(id int) *NetworkBuilder { b.n.Spec.Vlan = id; return b }

// WithVLANQoS sets spec.vlanQoS, the 802.1p priority (0..7) of a VLAN.
func (b *NetworkBuilder) WithVLANQoS(qos int) *NetworkBuilder { b.n.Spec.VlanQoS = qos; return b }

// WithVLANProto sets spec.vlanProto (802.1q or 802.1ad).
func (b *NetworkBuilder) WithVLANProto(p string) *NetworkBuilder { b.n.Spec.VlanProto = p; return b }

// WithMACSpoofCheck sets spec.spoofChk to "on" or "off": whether only the
// VF's own MAC may leave it.
func (b *NetworkBuilder) WithMACSpoofCheck(on bool) *NetworkBuilder {
	b.n.Spec.SpoofChk = onOff(on)
	return b
}

// WithTrust sets spec.trust to "on" or "off".
func (b *NetworkBuilder) WithTrust(on bool) *NetworkBuilder { b.n.Spec.Trust = onOff(on); return b }

// WithLinkState sets spec.linkState (enable, disable, auto).
func (b *NetworkBuilder) WithLinkState(s string) *NetworkBuilder { b.n.Spec.LinkState = s; return b }

// WithTxRates sets spec.minTxRate and spec.maxTxRate in Mbps; a negative
// value leaves that one unset.
func (b *NetworkBuilder) WithTxRates(minMbps, maxMbps int) *NetworkBuilder {
	if minMbps >= 0 {
		b.n.Spec.MinTxRate = &minMbps
	}
	if maxMbps >= 0 {
		b.n.Spec.MaxTxRate = &maxMbps
	}
	return b
}

// WithCapabilities sets spec.capabilities, a JSON object of booleans such
// as {"mac": true}.
func (b *NetworkBuilder) WithCapabilities(raw json.RawMessage) *NetworkBuilder {
	b.n.Spec.Capabilities = string(raw)
	return b
}

// WithIPAM sets spec.ipam, the CNI ipam section (e.g. host-local). The CRD
// keeps it as a string; the operator copies it into the NAD's config.
func (b *NetworkBuilder) WithIPAM(raw json.RawMessage) *NetworkBuilder {
	b.n.Spec.IPAM = string(raw)
	return b
}

// Build returns the network and one error listing every problem with its
// field path; the network is returned even when there are problems. Warnings are available from ValidateNetwork. The network is a
// copy: changing the builder afterwards does not change it.
func (b *NetworkBuilder) Build() (*SriovNetwork, error) {
	n := deepCopy(&b.n)
	// The builder refuses also what would only fail later (ValidateNetwork
	// warns about it): it does not make a network that cannot work.
	errs, later, _ := validateNetwork(n, b.opts)
	errs = append(errs, later...)
	return n, errs.ToAggregate()
}

func onOff(on bool) string {
	if on {
		return On
	}
	return Off
}

// deepCopy copies one of this package's objects, nested maps and slices
// included. They are plain data that marshals and back, so it cannot fail.
func deepCopy[T any](v *T) *T {
	b, _ := json.Marshal(v)
	out := new(T)
	_ = json.Unmarshal(b, out)
	return out
}
