// Package vmspec builds and checks KubeVirt VirtualMachines and
// VirtualMachineInstances for network-booted VMs, offline.
//
// [NewVM] and [NewVMI] start a [Builder]; both kinds take the same With...
// calls: a pod network with masquerade, a PXE NIC on a Multus network with
// bridge binding and a fixed MAC, SR-IOV NICs, disks (containerDisk,
// cloud-init NoCloud, PVC, DataVolume, emptyDisk), CPU, memory, hugepages
// and firmware. Boot order is one sequence across interfaces and disks: the
// builder gives PXE NICs the first numbers and bootable disks the next
// ones. Other packages add settings as an [Option] (dpdk.WithDPDK), in the
// manner of KubeVirt's libvmi. [Builder.Build] returns the typed
// kubevirt.io/api object and one error listing every problem with its
// field path; [ToYAML] prints what kubectl apply -f takes.
//
// [ValidateVMI], [ValidateVM] and [Validate] apply KubeVirt v1.9.0's
// admission rules to objects built anywhere, returning every error at once
// plus validation.Warning values where the platform silently changes
// behaviour. [Decode] reads YAML strictly: an unknown or misplaced field is
// an error naming its path and where it belongs, a syntax error names its
// line.
package vmspec
