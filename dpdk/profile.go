package dpdk

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProfileAPIVersion and ProfileKind identify a PerformanceProfile.
const (
	ProfileAPIVersion = "performance.openshift.io/v2"
	ProfileKind       = "PerformanceProfile"
)

// Hugepage sizes the Node Tuning Operator accepts on x86-64 (spec.hugepages).
const (
	HugepageSize2M = "2M"
	HugepageSize1G = "1G"
)

// Topology manager policies accepted in spec.numa.topologyPolicy (the
// kubelet's values).
const (
	TopologyPolicyNone           = "none"
	TopologyPolicyBestEffort     = "best-effort"
	TopologyPolicyRestricted     = "restricted"
	TopologyPolicySingleNUMANode = "single-numa-node"
)

// PerformanceProfile is the Node Tuning Operator's performance.openshift.io/v2
// PerformanceProfile. The upstream Go module pulls in controller-runtime and
// the operator, so these are small structs whose JSON tags match the CRD.
type PerformanceProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired tuning of the selected nodes.
	Spec ProfileSpec `json:"spec"`
	// Status is what the operator reports; only read back from a cluster.
	Status *ProfileStatus `json:"status,omitempty"`
}

// ProfileSpec is PerformanceProfile.spec.
type ProfileSpec struct {
	// CPU partitions the node's CPUs (required).
	CPU *CPU `json:"cpu"`
	// HugePages allocated at boot.
	HugePages *HugePages `json:"hugepages,omitempty"`
	// MachineConfigLabel is added to the MachineConfigs the operator creates;
	// defaults to machineconfiguration.openshift.io/role=<role of nodeSelector>.
	MachineConfigLabel map[string]string `json:"machineConfigLabel,omitempty"`
	// MachineConfigPoolSelector selects the pool for the KubeletConfig the
	// operator creates; same default as MachineConfigLabel.
	MachineConfigPoolSelector map[string]string `json:"machineConfigPoolSelector,omitempty"`
	// NodeSelector selects the tuned nodes: exactly one <domain>/<role> label.
	NodeSelector map[string]string `json:"nodeSelector"`
	// RealTimeKernel installs the RT kernel when enabled.
	RealTimeKernel *RealTimeKernel `json:"realTimeKernel,omitempty"`
	// AdditionalKernelArgs are appended to the kernel command line.
	AdditionalKernelArgs []string `json:"additionalKernelArgs,omitempty"`
	// NUMA sets the kubelet's topology manager policy.
	NUMA *NUMA `json:"numa,omitempty"`
	// Net tunes NIC queues.
	Net *Net `json:"net,omitempty"`
	// GloballyDisableIrqLoadBalancing keeps IRQs off every isolated CPU.
	GloballyDisableIrqLoadBalancing *bool `json:"globallyDisableIrqLoadBalancing,omitempty"`
	// WorkloadHints choose the operator's latency/power trade-offs.
	WorkloadHints *WorkloadHints `json:"workloadHints,omitempty"`
	// KernelPageSize is the kernel page size ("4k" on x86-64).
	KernelPageSize *string `json:"kernelPageSize,omitempty"`
	// HardwareTuning sets CPU frequencies for reserved and isolated CPUs.
	HardwareTuning *HardwareTuning `json:"hardwareTuning,omitempty"`
}

// CPU is spec.cpu. Every set is in Linux cpuset list syntax ("0-3,40-43").
type CPU struct {
	// Reserved CPUs run housekeeping and never container workloads.
	Reserved *string `json:"reserved"`
	// Isolated CPUs are for latency-sensitive workloads (DPDK).
	Isolated *string `json:"isolated"`
	// BalanceIsolated lets the kernel load-balance the isolated set.
	BalanceIsolated *bool `json:"balanceIsolated,omitempty"`
	// Offlined CPUs are taken offline.
	Offlined *string `json:"offlined,omitempty"`
	// Shared CPUs are shared by mixed-cpus workloads.
	Shared *string `json:"shared,omitempty"`
}

// HugePages is spec.hugepages.
type HugePages struct {
	// DefaultHugePagesSize is the kernel's default_hugepagesz.
	DefaultHugePagesSize *string `json:"defaultHugepagesSize,omitempty"`
	// Pages to allocate at boot.
	Pages []HugePage `json:"pages,omitempty"`
}

// HugePage is one entry of spec.hugepages.pages.
type HugePage struct {
	// Size is "2M" or "1G" on x86-64.
	Size string `json:"size,omitempty"`
	// Count of pages.
	Count int32 `json:"count,omitempty"`
	// Node is the NUMA node; nil spreads the pages equally over the nodes.
	Node *int32 `json:"node,omitempty"`
}

// NUMA is spec.numa.
type NUMA struct {
	// TopologyPolicy is one of the TopologyPolicy* constants.
	TopologyPolicy *string `json:"topologyPolicy,omitempty"`
}

// Net is spec.net.
type Net struct {
	// UserLevelNetworking sets NIC queue counts to the number of reserved CPUs.
	UserLevelNetworking *bool `json:"userLevelNetworking,omitempty"`
	// Devices limits the queue tuning to these NICs (all when empty).
	Devices []NetDevice `json:"devices,omitempty"`
}

// NetDevice is one entry of spec.net.devices.
type NetDevice struct {
	// InterfaceName is a shell-style pattern of interface names.
	InterfaceName *string `json:"interfaceName,omitempty"`
	// VendorID is "0x" and up to 4 hex digits.
	VendorID *string `json:"vendorID,omitempty"`
	// DeviceID is "0x" and up to 4 hex digits; needs VendorID.
	DeviceID *string `json:"deviceID,omitempty"`
}

// RealTimeKernel is spec.realTimeKernel.
type RealTimeKernel struct {
	// Enabled installs the real-time kernel.
	Enabled *bool `json:"enabled,omitempty"`
}

// WorkloadHints is spec.workloadHints.
type WorkloadHints struct {
	// HighPowerConsumption trades power for latency; excludes PerPodPowerManagement.
	HighPowerConsumption *bool `json:"highPowerConsumption,omitempty"`
	// RealTime tunes for real-time workloads; must not be false with the RT kernel.
	RealTime *bool `json:"realTime,omitempty"`
	// PerPodPowerManagement lets pods choose their power profile.
	PerPodPowerManagement *bool `json:"perPodPowerManagement,omitempty"`
	// MixedCpus lets pods use spec.cpu.shared; needs a shared set.
	MixedCpus *bool `json:"mixedCpus,omitempty"`
}

// HardwareTuning is spec.hardwareTuning (frequencies in kHz).
type HardwareTuning struct {
	// IsolatedCpuFreq is the frequency of the isolated CPUs.
	IsolatedCpuFreq *int32 `json:"isolatedCpuFreq,omitempty"`
	// ReservedCpuFreq is the frequency of the reserved CPUs.
	ReservedCpuFreq *int32 `json:"reservedCpuFreq,omitempty"`
}

// ProfileStatus is PerformanceProfile.status; RuntimeClass is what one
// reads back with `oc get ... -o=jsonpath='{.status.runtimeClass}'`.
type ProfileStatus struct {
	// RuntimeClass is the RuntimeClass the operator created.
	RuntimeClass *string `json:"runtimeClass,omitempty"`
	// Tuned is the Tuned object the operator created.
	Tuned *string `json:"tuned,omitempty"`
	// Conditions are the operator's observations (Available, Upgradeable,
	// Progressing, Degraded).
	Conditions []ProfileCondition `json:"conditions,omitempty"`
}

// ProfileCondition is one entry of status.conditions.
type ProfileCondition struct {
	// Type of the condition.
	Type string `json:"type"`
	// Status is "True", "False" or "Unknown".
	Status string `json:"status"`
	// Reason is a machine-readable cause.
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable explanation.
	Message string `json:"message,omitempty"`
	// LastHeartbeatTime is when the condition was last probed.
	LastHeartbeatTime metav1.Time `json:"lastHeartbeatTime,omitempty"`
	// LastTransitionTime is when the status last changed.
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// RuntimeClassName is the name of the RuntimeClass the Node Tuning Operator
// creates for a profile ("performance-<profile name>"), which
// status.runtimeClass reports once the profile is applied.
func RuntimeClassName(profileName string) string { return "performance-" + profileName }

func ptr[T any](v T) *T { return &v }
