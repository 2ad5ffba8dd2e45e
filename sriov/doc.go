// Package sriov types the SR-IOV Network Operator's objects that put VMs on
// SR-IOV networks — SriovNetworkNodePolicy and
// SriovNetwork (apiVersion sriovnetwork.openshift.io/v1) — checks them with
// the operator's admission rules before a node drains for nothing, renders
// the NetworkAttachmentDefinition the operator derives from a SriovNetwork,
// and checks the SR-IOV interfaces of a KubeVirt VM.
//
// The structs are small and hand-written: their JSON tags follow the
// operator's CRDs, but the operator's Go module is far too heavy to import.
// Output them with sigs.k8s.io/yaml (see [MarshalYAML]) and `kubectl apply`
// takes what is printed.
//
// The package is declarative: no sockets, netlink or sysfs. Package
// sriov/host applies the same [SriovNetworkNodePolicy] value on a Linux host.
package sriov
