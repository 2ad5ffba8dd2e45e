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
// [ValidateVMI], [ValidateVM] and [Validate] judge objects built anywhere as
// KubeVirt v1.9.0's API server and admission webhooks do on CREATE, offline:
// virt-api's defaults first ([DefaultVMI], [DefaultVM], [DefaultVMISpec]: a
// disk for every volume, guest memory from the memory request or limit, the
// CPU topology, the pod network, ...), then every rule of the VM and VMI
// admitters and the network and storage admitters they call, each error at
// the field path the webhook reports (RULES.md in this directory lists the
// rules, their upstream functions and their tests). An error is exactly what
// KubeVirt refuses; validation.Warning values are pxekit's advice about what
// it accepts but what breaks later. Feature gates are those v1.9.0 ships;
// a [Validator] selects others. internal/kvoracle compares these
// verdicts with KubeVirt's own admission code on generated objects.
// [Decode] reads YAML strictly: an unknown or misplaced field is an error
// naming its path and where it belongs, a syntax error names its line.
package vmspec
