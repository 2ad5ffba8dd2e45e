package netattach

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NNCPKind is the kind of a NodeNetworkConfigurationPolicy.
const NNCPKind = "NodeNetworkConfigurationPolicy"

// BridgePolicyBuilder builds a NodeNetworkConfigurationPolicy that creates a
// Linux bridge on the selected nodes (OpenShift Virtualization's
// br1-eth1-policy). The bridge is up, without IPv4 and without STP unless told
// otherwise: a bridge that carries VM traffic usually has no host address, and
// STP would hold new ports in the listening state for ~30 s, delaying a PXE boot
// past its DHCP timeouts.
type BridgePolicyBuilder struct {
	name           string
	nodeSelector   map[string]string
	maxUnavailable string
	bridge         Interface
	extra          []Interface
}

// NewBridgePolicy starts a policy named name that creates Linux bridge bridge.
func NewBridgePolicy(name, bridge string) *BridgePolicyBuilder {
	return &BridgePolicyBuilder{
		name: name,
		bridge: Interface{
			Name:   bridge,
			Type:   TypeLinuxBridge,
			State:  StateUp,
			IPv4:   &IPConfig{Enabled: false},
			Bridge: &BridgeConfig{Options: &BridgeOptions{STP: &STPOptions{Enabled: false}}},
		},
	}
}

// WithDescription sets the bridge's human-readable description.
func (b *BridgePolicyBuilder) WithDescription(d string) *BridgePolicyBuilder {
	b.bridge.Description = d
	return b
}

// WithState sets the bridge's state: StateUp (default), StateDown or
// StateAbsent (removes it).
func (b *BridgePolicyBuilder) WithState(s string) *BridgePolicyBuilder { b.bridge.State = s; return b }

// WithSTP turns the spanning tree protocol on or off (default off).
func (b *BridgePolicyBuilder) WithSTP(on bool) *BridgePolicyBuilder {
	b.bridge.Bridge.Options = &BridgeOptions{STP: &STPOptions{Enabled: on}}
	return b
}

// WithMTU sets the bridge's MTU (e.g. 9000 for jumbo frames); the ports need
// at least the same MTU.
func (b *BridgePolicyBuilder) WithMTU(mtu int) *BridgePolicyBuilder { b.bridge.MTU = mtu; return b }

// WithIPv4Address gives the bridge a static IPv4 address (e.g. for a PXE
// server on the node), replacing the default "ipv4: enabled: false".
func (b *BridgePolicyBuilder) WithIPv4Address(p netip.Prefix) *BridgePolicyBuilder {
	if b.bridge.IPv4 == nil || !b.bridge.IPv4.Enabled {
		b.bridge.IPv4 = &IPConfig{Enabled: true}
	}
	b.bridge.IPv4.Address = append(b.bridge.IPv4.Address, IPAddress{IP: p.Addr().String(), PrefixLength: p.Bits()})
	return b
}

// WithIPv4DHCP makes the bridge take its IPv4 address by DHCP.
func (b *BridgePolicyBuilder) WithIPv4DHCP() *BridgePolicyBuilder {
	if b.bridge.IPv4 == nil || !b.bridge.IPv4.Enabled {
		b.bridge.IPv4 = &IPConfig{Enabled: true}
	}
	b.bridge.IPv4.DHCP = true
	return b
}

// WithPort enslaves node interface name to the bridge (no VLAN filtering).
func (b *BridgePolicyBuilder) WithPort(name string) *BridgePolicyBuilder {
	b.bridge.Bridge.Port = append(b.bridge.Bridge.Port, BridgePort{Name: name})
	return b
}

// WithAccessPort enslaves name as an access port of VLAN tag: its frames
// enter and leave untagged. Any VLAN port turns on VLAN filtering.
func (b *BridgePolicyBuilder) WithAccessPort(name string, tag int) *BridgePolicyBuilder {
	b.bridge.Bridge.Port = append(b.bridge.Bridge.Port, BridgePort{
		Name: name, VLAN: &BridgePortVLAN{Mode: VLANModeAccess, Tag: tag},
	})
	return b
}

// WithTrunkPort enslaves name as a trunk carrying tags (see TagID,
// TagRange), tagged.
func (b *BridgePolicyBuilder) WithTrunkPort(name string, tags ...TrunkTag) *BridgePolicyBuilder {
	b.bridge.Bridge.Port = append(b.bridge.Bridge.Port, BridgePort{
		Name: name, VLAN: &BridgePortVLAN{Mode: VLANModeTrunk, TrunkTags: tags},
	})
	return b
}

// WithNativeTrunkPort is WithTrunkPort with native VLAN native carried
// untagged (enable-native).
func (b *BridgePolicyBuilder) WithNativeTrunkPort(name string, native int, tags ...TrunkTag) *BridgePolicyBuilder {
	b.bridge.Bridge.Port = append(b.bridge.Bridge.Port, BridgePort{
		Name: name, VLAN: &BridgePortVLAN{Mode: VLANModeTrunk, Tag: native, EnableNative: true, TrunkTags: tags},
	})
	return b
}

// WithVLANPort creates VLAN interface <base>.<id> on base and enslaves it to
// the bridge, so the bridge carries that one VLAN untagged (the usual way to
// put a PXE bridge on a tagged uplink).
func (b *BridgePolicyBuilder) WithVLANPort(base string, id int) *BridgePolicyBuilder {
	name := fmt.Sprintf("%s.%d", base, id)
	b.extra = append(b.extra, Interface{
		Name: name, Type: TypeVLAN, State: StateUp,
		VLAN: &VLANConfig{BaseIface: base, ID: id},
	})
	return b.WithPort(name)
}

// WithNodeSelector limits the policy to nodes with these labels.
func (b *BridgePolicyBuilder) WithNodeSelector(sel map[string]string) *BridgePolicyBuilder {
	if b.nodeSelector == nil {
		b.nodeSelector = map[string]string{}
	}
	maps.Copy(b.nodeSelector, sel)
	return b
}

// WithMaxUnavailable sets how many nodes may apply the policy at once (a
// count or a percentage such as "50%").
func (b *BridgePolicyBuilder) WithMaxUnavailable(v string) *BridgePolicyBuilder {
	b.maxUnavailable = v
	return b
}

// TagID returns a trunk tag for one VLAN id.
func TagID(id int) TrunkTag { return TrunkTag{ID: id} }

// TagRange returns a trunk tag for the inclusive VLAN range min..max.
func TagRange(min, max int) TrunkTag { return TrunkTag{IDRange: &IDRange{Min: min, Max: max}} }

// policy returns the policy, a deep copy: the caller may change it without
// changing the builder.
func (b *BridgePolicyBuilder) policy() *NodeNetworkConfigurationPolicy {
	// VLAN interfaces first: nmstate orders the work itself, but a reader
	// sees the ports defined before the bridge that uses them.
	ifaces := append(append([]Interface(nil), b.extra...), b.bridge)
	p := &NodeNetworkConfigurationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: NMStateAPIVersion, Kind: NNCPKind},
		ObjectMeta: metav1.ObjectMeta{Name: b.name},
		Spec: NNCPSpec{
			NodeSelector:   maps.Clone(b.nodeSelector),
			MaxUnavailable: b.maxUnavailable,
			DesiredState:   State{Interfaces: ifaces},
		},
	}
	// A JSON round trip copies every nested pointer and slice; the types are
	// plain data, so it cannot fail.
	data, _ := json.Marshal(p)
	out := &NodeNetworkConfigurationPolicy{}
	_ = json.Unmarshal(data, out)
	return out
}

// Build returns the policy and one error (a field.ErrorList aggregate)
// listing every problem ValidatePolicy finds; the policy is returned even
// when there are problems. It is a copy: changing it does not change the
// builder, nor the other way round.
func (b *BridgePolicyBuilder) Build() (*NodeNetworkConfigurationPolicy, error) {
	p := b.policy()
	return p, ValidatePolicy(p).ToAggregate()
}
