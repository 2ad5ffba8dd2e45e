// Package dpdk declares what a node and a VM need to run DPDK workloads under
// KubeVirt on OpenShift (OpenShift Virtualization's "configure the cluster
// for DPDK" procedure, whose objects are reproduced here):
//
//   - the Node Tuning Operator's PerformanceProfile (performance.openshift.io/v2)
//     as small typed structs, with the operator's admission rules
//     ([ValidateProfile]) and a strict decoder ([DecodeProfile]);
//   - the MachineConfigPool "worker-dpdk" and the node-role label that selects
//     its nodes ([NewMachineConfigPool], [NodeRoleLabel]);
//   - the HyperConverged "kubevirt.kubevirt.io/jsonpatch" annotation that makes
//     the profile's RuntimeClass the default for virt-launcher pods
//     ([RuntimeClassAnnotation]);
//   - a CPU planner that proposes reserved/isolated CPU sets and per-NUMA-node
//     hugepages from a node's real topology, read from sysfs through an
//     [io/fs.FS] ([ReadTopology], [PlanCPUs]);
//   - the DPDK VirtualMachine (dedicated CPUs, hugepages, CRI-O annotations,
//     SR-IOV NIC) as a vmspec.Option ([WithDPDK], [NewVM]) or applied to a
//     built VM ([ApplyVM]), checked by [ValidateDPDKVM], and its guest
//     tuning as cloud-init, inline or in a Secret past KubeVirt's 2048-byte
//     limit ([GuestTuningFor], [AttachUserData]).
//
// The package is declarative: it opens no socket and touches no netlink; the
// only host input is the sysfs topology, and that goes through an fs.FS so
// tests can hand it any tree.
package dpdk
