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
	Spec              NNCPSpec `json:"spec"`
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
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Type is linux-bridge, vlan or ethernet.
	Type string `json:"type"`
	// State is up, down or absent.
	State string `json:"state,omitempty"`
	// MTU of the interface; 0 leaves it unchanged.
	MTU  int       `json:"mtu,omitempty"`
	IPv4 *IPConfig `json:"ipv4,omitempty"`
	IPv6 *IPConfig `json:"ipv6,omitempty"`
	// Bridge is set for type linux-bridge.
	Bridge *BridgeConfig `json:"bridge,omitempty"`
	// VLAN is set for type vlan (an 802.1Q link on a base interface).
	VLAN *VLANConfig `json:"vlan,omitempty"`
}

// IPConfig is an interface's ipv4 or ipv6 section.
type IPConfig struct {
	Enabled bool        `json:"enabled"`
	DHCP    bool        `json:"dhcp,omitempty"`
	Address []IPAddress `json:"address,omitempty"`
}

// IPAddress is a static address with its prefix length.
type IPAddress struct {
	IP           string `json:"ip"`
	PrefixLength int    `json:"prefix-length"`
}

// BridgeConfig is the bridge section of a linux-bridge interface.
type BridgeConfig struct {
	Options *BridgeOptions `json:"options,omitempty"`
	Port    []BridgePort   `json:"port,omitempty"`
}

// BridgeOptions are linux-bridge options.
type BridgeOptions struct {
	STP *STPOptions `json:"stp,omitempty"`
}

// STPOptions turns the spanning tree protocol on or off.
type STPOptions struct {
	Enabled bool `json:"enabled"`
}

// BridgePort is a port enslaved to a bridge, with optional VLAN filtering
// settings. Any port with VLAN settings turns VLAN filtering on for the bridge,
// as nmstate does.
type BridgePort struct {
	Name string          `json:"name"`
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
	Mode         string     `json:"mode,omitempty"`
	Tag          int        `json:"tag,omitempty"`
	EnableNative bool       `json:"enable-native,omitempty"`
	TrunkTags    []TrunkTag `json:"trunk-tags,omitempty"`
}

// TrunkTag is a single VLAN id or an inclusive range.
type TrunkTag struct {
	ID      int      `json:"id,omitempty"`
	IDRange *IDRange `json:"id-range,omitempty"`
}

// IDRange is an inclusive VLAN id range.
type IDRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// VLANConfig is the vlan section of a type vlan interface.
type VLANConfig struct {
	BaseIface string `json:"base-iface"`
	ID        int    `json:"id"`
}
