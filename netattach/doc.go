// Package netattach declares the node and pod networking a network-booted
// KubeVirt VM attaches to, and checks it before it reaches a cluster:
//
//   - NetworkAttachmentDefinitions (k8s.cni.cncf.io/v1) for a Linux bridge:
//     NewBridgeNAD builds the cnv-bridge (or upstream bridge) plugin config —
//     VLAN access port or trunk, MAC spoof check, preserveDefaultVlan, MTU,
//     IPAM — optionally chained with cnv-tuning/tuning in a conflist (the
//     pxe-net-conf of OpenShift's PXE booting procedure), and the
//     resourceName annotation that keeps VMs on nodes with the bridge;
//   - ParseConfig reads a NAD's spec.config with libcni, as Multus does, into
//     typed bridge and tuning configs; ValidateNAD reports every problem with
//     its path inside the config (spec.config.plugins[0].vlan) and warns
//     about what is accepted but does not work for VMs (IPAM in a VM's NAD);
//   - nmstate NodeNetworkConfigurationPolicies for the bridge itself:
//     NewBridgePolicy builds OpenShift's br1-eth1-policy and its VLAN variants,
//     ValidatePolicy checks names, types, states, MTUs, addresses, ports and
//     VLAN settings. The policy's State is the value package netattach/host
//     applies to a node with netlink;
//   - DecodeNAD and DecodePolicy read hand-written YAML strictly (unknown or
//     misplaced fields, wrong types, YAML and JSON syntax with lines).
//
// The package is declarative: it opens no socket and touches no netlink. The
// manifests of OpenShift's documentation, as its pages print them, carry callouts
// ("(1)", " 4") that make them invalid; the decoder says so, and the builders
// produce the corrected objects.
package netattach
