package netattach

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NMStateAPIVersion is the apiVersion of kubernetes-nmstate's policy objects.
const NMStateAPIVersion = "nmstate.io/v1"

// NodeNetworkConfigurationPolicy is kubernetes-nmstate's NNCP. The upstream Go
// module is too heavy to import, so this mirrors its CRD: desiredState is free
// form upstream (x-kubernetes-preserve-unknown-fields); here it is typed for the
// Linux-bridge and VLAN subset pxekit builds and applies.
type NodeNetworkConfigurationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec selects the nodes and holds the desired state.
	Spec NNCPSpec `json:"spec"`
}

// NNCPSpec is the spec of a NodeNetworkConfigurationPolicy.
type NNCPSpec struct {
	// NodeSelector limits the policy to matching nodes; empty means all nodes.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// MaxUnavailable is a count or a percentage ("50%" upstream by default).
	MaxUnavailable string `json:"maxUnavailable,omitempty"`
	// DesiredState is the nmstate document the policy applies.
	DesiredState State `json:"desiredState"`
}

// State is an nmstate desired state: the same value renders into an NNCP and is
// applied on a host by netattach/host.
type State struct {
	// Interfaces are the interfaces the state creates, changes or removes.
	Interfaces []Interface `json:"interfaces"`
}

// InterfaceType values pxekit understands.
const (
	TypeLinuxBridge = "linux-bridge"
	TypeVLAN        = "vlan"
	TypeEthernet    = "ethernet"
)

// Interface states.
const (
	StateUp     = "up"
	StateDown   = "down"
	StateAbsent = "absent"
)

// Interface is one entry of desiredState.interfaces.
type Interface struct {
	// Name is the interface name (at most 15 bytes).
	Name string `json:"name"`
	// Description is free text nmstate keeps with the interface.
	Description string `json:"description,omitempty"`
	// Type is linux-bridge, vlan or ethernet.
	Type string `json:"type"`
	// State is up, down or absent.
	State string `json:"state,omitempty"`
	// MTU of the interface; 0 leaves it unchanged.
	MTU int `json:"mtu,omitempty"`
	// IPv4 and IPv6 configure the interface's addresses; nil leaves them.
	IPv4 *IPConfig `json:"ipv4,omitempty"`
	IPv6 *IPConfig `json:"ipv6,omitempty"`
	// Bridge is set for type linux-bridge.
	Bridge *BridgeConfig `json:"bridge,omitempty"`
	// VLAN is set for type vlan (an 802.1Q link on a base interface).
	VLAN *VLANConfig `json:"vlan,omitempty"`
}

// IPConfig is an interface's ipv4 or ipv6 section.
type IPConfig struct {
	// Enabled turns the address family on; false removes its addresses.
	Enabled bool `json:"enabled"`
	// DHCP takes an address from a DHCP server.
	DHCP bool `json:"dhcp,omitempty"`
	// Address lists static addresses.
	Address []IPAddress `json:"address,omitempty"`
}

// IPAddress is a static address with its prefix length.
type IPAddress struct {
	// IP is the address, e.g. 192.0.2.1.
	IP string `json:"ip"`
	// PrefixLength is the length of its network prefix, e.g. 24.
	PrefixLength int `json:"prefix-length"`
}

// BridgeConfig is the bridge section of a linux-bridge interface.
type BridgeConfig struct {
	// Options are the bridge's own settings (STP).
	Options *BridgeOptions `json:"options,omitempty"`
	// Port lists the interfaces enslaved to the bridge.
	Port []BridgePort `json:"port,omitempty"`
}

// BridgeOptions are linux-bridge options.
type BridgeOptions struct {
	// STP configures the spanning tree protocol.
	STP *STPOptions `json:"stp,omitempty"`
}

// STPOptions turns the spanning tree protocol on or off.
type STPOptions struct {
	// Enabled turns STP on.
	Enabled bool `json:"enabled"`
}

// BridgePort is a port enslaved to a bridge, with optional VLAN filtering
// settings. Any port with VLAN settings turns VLAN filtering on for the bridge,
// as nmstate does.
type BridgePort struct {
	// Name is the enslaved interface.
	Name string `json:"name"`
	// VLAN is the port's VLAN filtering; nil carries every frame untagged.
	VLAN *BridgePortVLAN `json:"vlan,omitempty"`
}

// Port VLAN modes.
const (
	VLANModeAccess = "access"
	VLANModeTrunk  = "trunk"
)

// BridgePortVLAN is nmstate's per-port VLAN config: an access port carries one
// untagged VLAN (tag); a trunk carries trunk-tags, and with enable-native also
// tag as its untagged native VLAN.
type BridgePortVLAN struct {
	// Mode is VLANModeAccess or VLANModeTrunk.
	Mode string `json:"mode,omitempty"`
	// Tag is the access VLAN, or a trunk's native VLAN with EnableNative.
	Tag int `json:"tag,omitempty"`
	// EnableNative carries Tag untagged on a trunk.
	EnableNative bool `json:"enable-native,omitempty"`
	// TrunkTags are the VLANs a trunk carries tagged.
	TrunkTags []TrunkTag `json:"trunk-tags,omitempty"`
}

// TrunkTag is a single VLAN id or an inclusive range.
type TrunkTag struct {
	// ID is a single VLAN id (1..4094).
	ID int `json:"id,omitempty"`
	// IDRange is a range of VLAN ids instead.
	IDRange *IDRange `json:"id-range,omitempty"`
}

// IDRange is an inclusive VLAN id range.
type IDRange struct {
	// Min and Max are the first and last VLAN id of the range.
	Min int `json:"min"`
	Max int `json:"max"`
}

// VLANConfig is the vlan section of a type vlan interface.
type VLANConfig struct {
	// BaseIface is the interface the VLAN link sits on, e.g. eth1.
	BaseIface string `json:"base-iface"`
	// ID is the VLAN id (1..4094).
	ID int `json:"id"`
}
