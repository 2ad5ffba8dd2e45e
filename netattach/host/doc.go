// Package host applies a netattach bridge/VLAN policy — the very
// netattach.State that renders into a kubernetes-nmstate
// NodeNetworkConfigurationPolicy — to a Linux host or network namespace with
// netlink.
//
// The model is nmstate's: the policy is a desired state. (*Host).Plan reads
// the namespace's current links, addresses, bridge options and port VLANs and
// returns the steps that would bring it to the policy; (*Host).Apply runs them
// under a per-namespace lock (in-process, plus a flock(2) on the namespace
// file against other processes), re-reading the state first, so applying a
// policy that is already in place does nothing; if a step fails, the steps already
// run are undone in reverse order (nmstate's checkpoint rollback) and the
// error names the failed step and the kernel's answer. (*Host).Remove deletes
// the bridges and VLAN links a policy creates.
//
// (*Host).PlanAttach attaches a port to a bridge the way the bridge CNI plugin
// (cnv-bridge) attaches a VM's veth: access VLAN as PVID + untagged, VLAN 1
// dropped when PreserveDefaultVLAN is false, trunk VLAN ranges.
//
// Every operation runs through a netlink handle opened inside the namespace
// named by Host.NetNS (NETLINK_ROUTE only), so a caller never changes the
// root namespace by accident.
//
// Kernel features are checked by the kernel, not guessed: on a kernel built
// without bridge VLAN filtering or 8021q the failing step's error wraps
// ErrNoVLANFiltering or ErrNo8021Q, and without CAP_NET_ADMIN ErrPermission.
// Such kernels exist (this project's CI host is one), so the VLAN tests run
// in a guest kernel under QEMU (internal/vmtest).
package host
