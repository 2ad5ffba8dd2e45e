package netattach

import (
	"encoding/json"
	"maps"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BridgeNADBuilder builds a NetworkAttachmentDefinition that attaches VMs to
// a Linux bridge on the node: a bridge (cnv-bridge) plugin, optionally
// followed by a tuning (cnv-tuning) plugin in a conflist.
type BridgeNADBuilder struct {
	name, namespace string
	cniVersion      string
	bridge          BridgeNetConf
	tuning          *TuningNetConf
	list            bool
	resourceName    bool
	annotations     map[string]string
	labels          map[string]string
}

// NewBridgeNAD starts a NAD named name for node bridge bridge, with the
// cnv-bridge plugin type of OpenShift Virtualization and cniVersion 0.3.1. The
// config carries no IPAM section unless WithIPAM or WithL2IPAM adds one.
func NewBridgeNAD(name, bridge string) *BridgeNADBuilder {
	return &BridgeNADBuilder{
		name:       name,
		cniVersion: DefaultCNIVersion,
		bridge:     BridgeNetConf{Type: PluginCNVBridge, Bridge: bridge},
	}
}

// WithNamespace sets metadata.namespace (the NAD must be in the VM's namespace).
func (b *BridgeNADBuilder) WithNamespace(ns string) *BridgeNADBuilder { b.namespace = ns; return b }

// WithPluginType sets the bridge plugin type: PluginCNVBridge (default, as
// OpenShift Virtualization names it) or PluginBridge (upstream). A tuning
// plugin added without a type follows: cnv-tuning or tuning.
func (b *BridgeNADBuilder) WithPluginType(t string) *BridgeNADBuilder { b.bridge.Type = t; return b }

// WithCNIVersion sets the config's cniVersion.
func (b *BridgeNADBuilder) WithCNIVersion(v string) *BridgeNADBuilder { b.cniVersion = v; return b }

// WithVLAN makes the VM's bridge port an access port of VLAN id (1..4094).
func (b *BridgeNADBuilder) WithVLAN(id int) *BridgeNADBuilder { b.bridge.VLAN = id; return b }

// WithVLANTrunk makes the VM's bridge port a trunk of the given ids and
// ranges (see TrunkID, TrunkRange); exclusive with WithVLAN.
func (b *BridgeNADBuilder) WithVLANTrunk(t ...VLANTrunk) *BridgeNADBuilder {
	b.bridge.VLANTrunk = append(b.bridge.VLANTrunk, t...)
	return b
}

// WithMACSpoofCheck sets macspoofchk: only the VM interface's own MAC may
// leave (needs nftables on the node).
func (b *BridgeNADBuilder) WithMACSpoofCheck(on bool) *BridgeNADBuilder {
	b.bridge.MACSpoofChk = &on
	return b
}

// WithPreserveDefaultVLAN sets preserveDefaultVlan (plugin default true):
// whether the port also stays in the bridge's default VLAN.
func (b *BridgeNADBuilder) WithPreserveDefaultVLAN(on bool) *BridgeNADBuilder {
	b.bridge.PreserveDefaultVLAN = &on
	return b
}

// WithMTU sets the bridge plugin's mtu for the VM's veth pair.
func (b *BridgeNADBuilder) WithMTU(mtu int) *BridgeNADBuilder { b.bridge.MTU = mtu; return b }

// WithL2IPAM adds an empty "ipam": {} section: L2 only, no
// address management (the form VMs support).
func (b *BridgeNADBuilder) WithL2IPAM() *BridgeNADBuilder {
	b.bridge.IPAM = json.RawMessage(`{}`)
	return b
}

// WithIPAM sets a free-form IPAM section (e.g. host-local). ValidateNAD warns
// about it: IPAM in a VM's NAD is not supported.
func (b *BridgeNADBuilder) WithIPAM(raw json.RawMessage) *BridgeNADBuilder {
	b.bridge.IPAM = raw
	return b
}

// WithTuning chains a tuning plugin after the bridge (cnv-tuning applies a
// VM's custom MAC), which turns the config into a conflist. An
// empty t.Type becomes cnv-tuning or tuning to match the bridge type.
func (b *BridgeNADBuilder) WithTuning(t TuningNetConf) *BridgeNADBuilder { b.tuning = &t; return b }

// WithConfList emits a conflist ("plugins") even without a tuning plugin.
func (b *BridgeNADBuilder) WithConfList() *BridgeNADBuilder { b.list = true; return b }

// WithResourceNameAnnotation adds k8s.v1.cni.cncf.io/resourceName:
// bridge.network.kubevirt.io/<bridge>, so VMs only run on nodes that have
// the bridge.
func (b *BridgeNADBuilder) WithResourceNameAnnotation() *BridgeNADBuilder {
	b.resourceName = true
	return b
}

// WithAnnotations adds metadata annotations.
func (b *BridgeNADBuilder) WithAnnotations(a map[string]string) *BridgeNADBuilder {
	if b.annotations == nil {
		b.annotations = map[string]string{}
	}
	maps.Copy(b.annotations, a)
	return b
}

// WithLabels adds metadata labels.
func (b *BridgeNADBuilder) WithLabels(l map[string]string) *BridgeNADBuilder {
	if b.labels == nil {
		b.labels = map[string]string{}
	}
	maps.Copy(b.labels, l)
	return b
}

// config returns the CNI config JSON (spec.config), indented for reading.
func (b *BridgeNADBuilder) config() string {
	br := b.bridge
	if !b.list && b.tuning == nil {
		br.CNIVersion, br.Name = b.cniVersion, b.name
		out, _ := json.MarshalIndent(br, "", "  ") // plain structs always marshal
		return string(out)
	}
	plugins := []any{br}
	if b.tuning != nil {
		t := *b.tuning
		if t.Type == "" {
			t.Type = PluginTuning
			if br.Type == PluginCNVBridge {
				t.Type = PluginCNVTuning
			}
		}
		plugins = append(plugins, t)
	}
	out, _ := json.MarshalIndent(struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []any  `json:"plugins"`
	}{b.cniVersion, b.name, plugins}, "", "  ")
	return string(out)
}

// Build returns the NAD and one error (a field.ErrorList aggregate) listing
// every problem ValidateNAD finds; the NAD is returned even when there are
// problems. Warnings do not fail Build; call ValidateNAD on the result to
// see them.
func (b *BridgeNADBuilder) Build() (*nadv1.NetworkAttachmentDefinition, error) {
	nad := &nadv1.NetworkAttachmentDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: NADAPIVersion, Kind: NADKind},
		ObjectMeta: metav1.ObjectMeta{
			Name:      b.name,
			Namespace: b.namespace,
			Labels:    maps.Clone(b.labels),
		},
		Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: b.config()},
	}
	if len(b.annotations) > 0 || b.resourceName {
		nad.Annotations = maps.Clone(b.annotations)
		if nad.Annotations == nil {
			nad.Annotations = map[string]string{}
		}
		if b.resourceName {
			nad.Annotations[ResourceNameAnnotation] = BridgeResourcePrefix + b.bridge.Bridge
		}
	}
	errs, _ := ValidateNAD(nad)
	return nad, errs.ToAggregate()
}
