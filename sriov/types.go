package sriov

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion is the apiVersion of the SR-IOV operator's objects.
const APIVersion = "sriovnetwork.openshift.io/v1"

// Kinds of the objects this package types.
const (
	KindNodePolicy = "SriovNetworkNodePolicy"
	KindNetwork    = "SriovNetwork"
)

// DefaultOperatorNamespace is where OpenShift installs the SR-IOV operator;
// only policies in the operator's namespace are used, and only networks there
// may target another namespace.
const DefaultOperatorNamespace = "openshift-sriov-network-operator"

// DefaultResourcePrefix is the operator's RESOURCE_PREFIX on OpenShift: the
// device plugin advertises <prefix>/<resourceName>.
const DefaultResourcePrefix = "openshift.io"

// Device types a policy can ask for.
const (
	DeviceTypeNetdevice = "netdevice"
	DeviceTypeVfioPCI   = "vfio-pci"
)

// E-switch modes and link types of a policy.
const (
	ESwitchModeLegacy    = "legacy"
	ESwitchModeSwitchdev = "switchdev"
	LinkTypeETH          = "eth"
	LinkTypeIB           = "ib"
)

// SriovNetworkNodePolicy is the operator's SriovNetworkNodePolicy: which
// NICs on which nodes get how many VFs, bound to which driver, advertised
// under which resource name.
type SriovNetworkNodePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which NICs get VFs and how.
	Spec SriovNetworkNodePolicySpec `json:"spec"`
	// Status is kept opaque so that objects read back from a cluster decode.
	Status json.RawMessage `json:"status,omitempty"`
}

// SriovNetworkNodePolicySpec is spec of a SriovNetworkNodePolicy; the JSON
// names are the CRD's.
type SriovNetworkNodePolicySpec struct {
	// ResourceName is the device plugin's resource name (without prefix).
	ResourceName string `json:"resourceName"`
	// NodeSelector selects the nodes to configure.
	NodeSelector map[string]string `json:"nodeSelector"`
	// Priority 0..99, lower wins; the operator treats unset as 0 and the
	// docs call 99 the default.
	Priority int `json:"priority,omitempty"`
	// Mtu of the VFs.
	Mtu int `json:"mtu,omitempty"`
	// NumVfs is the number of VFs on each selected PF.
	NumVfs int `json:"numVfs"`
	// NicSelector selects the PFs on a node.
	NicSelector NicSelector `json:"nicSelector"`
	// DeviceType is netdevice (the default) or vfio-pci.
	DeviceType string `json:"deviceType,omitempty"`
	// IsRdma enables RDMA mode; conflicts with vfio-pci.
	IsRdma bool `json:"isRdma,omitempty"`
	// NeedVhostNet mounts /dev/vhost-net into the pods.
	NeedVhostNet bool `json:"needVhostNet,omitempty"`
	// LinkType is eth/ETH/ib/IB.
	LinkType string `json:"linkType,omitempty"`
	// ESwitchMode is legacy or switchdev.
	ESwitchMode string `json:"eSwitchMode,omitempty"`
	// VdpaType is virtio or vhost (switchdev only).
	VdpaType string `json:"vdpaType,omitempty"`
	// ExcludeTopology hides the NUMA node from the device plugin.
	ExcludeTopology bool `json:"excludeTopology,omitempty"`
	// ExternallyManaged: the VFs are created by someone else.
	ExternallyManaged bool `json:"externallyManaged,omitempty"`
	// Bridge is the OVS bridge configuration (switchdev only), kept opaque.
	Bridge json.RawMessage `json:"bridge,omitempty"`
}

// NicSelector selects PFs by vendor/device id, name (with an optional
// "#first-last" VF range) and PCI address, or by an infrastructure filter.
type NicSelector struct {
	// Vendor is the hex vendor id, e.g. "8086".
	Vendor string `json:"vendor,omitempty"`
	// DeviceID is the hex PF device id, e.g. "1572".
	DeviceID string `json:"deviceID,omitempty"`
	// PfNames are PF netdev names, each optionally "name#first-last".
	PfNames []string `json:"pfNames,omitempty"`
	// RootDevices are PF PCI addresses ("0000:19:00.2").
	RootDevices []string `json:"rootDevices,omitempty"`
	// NetFilter is "openstack/NetworkID:<uuid>" or "aws/NetworkID:<id>".
	NetFilter string `json:"netFilter,omitempty"`
}

// SriovNetwork is the operator's SriovNetwork: an additional network on VFs
// of one resource, from which the operator renders a
// NetworkAttachmentDefinition of the same name (see [RenderNAD]).
type SriovNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the network on the VFs.
	Spec SriovNetworkSpec `json:"spec"`
	// Status is kept opaque so that objects read back from a cluster decode.
	Status json.RawMessage `json:"status,omitempty"`
}

// SriovNetworkSpec is spec of a SriovNetwork; the JSON names are the CRD's.
type SriovNetworkSpec struct {
	// ResourceName is a policy's spec.resourceName.
	ResourceName string `json:"resourceName"`
	// NetworkNamespace is where the NAD goes (operator namespace only).
	NetworkNamespace string `json:"networkNamespace,omitempty"`
	// Vlan 0..4094; 0 means untagged.
	Vlan int `json:"vlan,omitempty"`
	// VlanQoS is the 802.1p priority 0..7.
	VlanQoS int `json:"vlanQoS,omitempty"`
	// VlanProto is 802.1q or 802.1ad.
	VlanProto string `json:"vlanProto,omitempty"`
	// SpoofChk is the string "on" or "off" — quoted in YAML, or YAML reads a
	// boolean and the operator rejects the object.
	SpoofChk string `json:"spoofChk,omitempty"`
	// Trust is the string "on" or "off", quoted like SpoofChk.
	Trust string `json:"trust,omitempty"`
	// LinkState is enable, disable or auto.
	LinkState string `json:"linkState,omitempty"`
	// MinTxRate in Mbps; not supported by Intel NICs; ≤ MaxTxRate.
	MinTxRate *int `json:"minTxRate,omitempty"`
	// MaxTxRate in Mbps.
	MaxTxRate *int `json:"maxTxRate,omitempty"`
	// Capabilities is a JSON object of booleans, e.g. {"mac": true}.
	Capabilities string `json:"capabilities,omitempty"`
	// IPAM is the CNI ipam JSON object.
	IPAM string `json:"ipam,omitempty"`
	// MetaPluginsConfig is one or more JSON CNI plugin objects chained after
	// sriov.
	MetaPluginsConfig string `json:"metaPlugins,omitempty"`
	// LogLevel of the sriov CNI: panic, error, warning, info, debug.
	LogLevel string `json:"logLevel,omitempty"`
	// LogFile of the sriov CNI.
	LogFile string `json:"logFile,omitempty"`
}

// Quoted on/off values of SpoofChk and Trust, and LinkState values.
const (
	On               = "on"
	Off              = "off"
	LinkStateEnable  = "enable"
	LinkStateDisable = "disable"
	LinkStateAuto    = "auto"
)
