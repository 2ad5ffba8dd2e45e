package vmspec

import "slices"

// Feature gates of KubeVirt v1.9.0 that change what its admission webhook
// accepts. Alpha gates are off unless the KubeVirt CR lists them in
// spec.configuration.developerConfiguration.featureGates; beta gates are
// on unless it lists them in disabledFeatureGates; GA gates (NUMA,
// PersistentReservation, ...) are always on and have no constant here.
const (
	GateDecentralizedLiveMigration = "DecentralizedLiveMigration"   // alpha: runStrategy WaitAsReceiver
	GateDeclarativeHotplugVolumes  = "DeclarativeHotplugVolumes"    // beta: a CD-ROM without a volume
	GatePasstBinding               = "PasstBinding"                 // beta: the passtBinding interface binding
	GateNetworkDevicesWithDRA      = "NetworkDevicesWithDRA"        // alpha: networks from resource claims
	GatePortRangesSpec             = "PortRangesSpec"               // alpha: interfaces[].portRanges
	GateHostDisk                   = "HostDisk"                     // alpha: hostDisk volumes
	GateDownwardMetrics            = "DownwardMetrics"              // alpha: downwardMetrics volumes and device
	GateHostDevices                = "HostDevices"                  // alpha: devices.hostDevices
	GateVSOCK                      = "VSOCK"                        // alpha: devices.autoattachVSOCK
	GateVirtIOFSStorageVolumes     = "EnableVirtioFsStorageVolumes" // alpha: PVC/DataVolume filesystems
	GateIgnition                   = "ExperimentalIgnitionSupport"  // alpha: the ignition annotation
	GateSidecar                    = "Sidecar"                      // alpha: the hook sidecar annotation
	GateRebootPolicy               = "RebootPolicy"                 // beta: domain.rebootPolicy
	GateReservedOverheadMemlock    = "ReservedOverheadMemlock"      // alpha: memory.reservedOverhead
	GateWorkloadEncryptionSEV      = "WorkloadEncryptionSEV"        // beta: launchSecurity sev, snp
	GateWorkloadEncryptionTDX      = "WorkloadEncryptionTDX"        // alpha: launchSecurity tdx
)

// betaGates are on by default in v1.9.0.
var betaGates = []string{GateDeclarativeHotplugVolumes, GatePasstBinding, GateRebootPolicy, GateWorkloadEncryptionSEV}

// Validator checks VMs and VMIs against a cluster whose KubeVirt CR enables
// or disables feature gates; the zero Validator is KubeVirt v1.9.0 as it
// ships (the package-level [ValidateVM], [ValidateVMI] and [Validate]).
type Validator struct {
	// FeatureGates are enabled on top of the defaults (the KubeVirt CR's
	// developerConfiguration.featureGates), e.g. [GateDecentralizedLiveMigration].
	FeatureGates []string
	// DisabledFeatureGates switches beta gates off
	// (developerConfiguration.disabledFeatureGates).
	DisabledFeatureGates []string
}

// Enabled reports whether a feature gate is on for this cluster: listed in
// FeatureGates, or beta and not listed in DisabledFeatureGates.
func (c Validator) Enabled(gate string) bool {
	if slices.Contains(c.FeatureGates, gate) {
		return true
	}
	if slices.Contains(c.DisabledFeatureGates, gate) {
		return false
	}
	return slices.Contains(betaGates, gate)
}
