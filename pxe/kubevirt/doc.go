// Package kubevirt is a boot-server inventory (pxe.Inventory) that takes
// its machines from KubeVirt: it watches VirtualMachines and
// VirtualMachineInstances in one namespace or all, so the MACs the declare
// half prints (vmspec's PXE NIC) need no typing into the server.
//
// # Machines
//
// A VirtualMachine whose template has an interface with a macAddress and a
// bootOrder is a machine; so is a VirtualMachineInstance that no
// VirtualMachine controls. Its PXE NIC is the interface with the lowest
// bootOrder, its hostname the object's name, and its profile the one the
// annotation pxekit.io/profile (vmspec.AnnotationPXEProfile) names, from
// Config.Profiles or from a ConfigMap (Config.ProfilesConfigMap,
// ParseProfiles). A machine without the annotation, with a profile the
// server lacks, or on a MAC another object claims too, gets an address
// and nothing to boot. Watches bring every change to the next request,
// and resume by themselves when they break (an API server restart).
//
// # Install once, then boot from disk
//
// When a machine's install phones home (pxe.PathPhoneHome, from the
// address its DHCP lease names), the source annotates its object
// pxekit.io/installed: <RFC 3339 time> (vmspec.AnnotationPXEInstalled) with
// a merge patch, and from then on answers it with pxe.LocalBoot: iPXE
// exits, and the firmware boots the next device of the boot order. The
// KubeVirt PXE pattern, NIC bootOrder 1 and disk bootOrder 2, so installs
// once and boots its disk on every later reboot, while the boot server
// still decides at every boot. Removing the annotation installs again.
//
// # Events
//
// RecordEvents records the boot server's events as Kubernetes Events on
// the machine's object (Discovered, ScriptServed, KernelSent, Installed,
// LocalBoot, BootDenied), so `kubectl describe vm` tells the boot story.
//
// # Least privilege
//
// The source lists and watches VMs, VMIs and the one ConfigMap, patches
// VMs and VMIs (that one annotation), and creates and patches Events:
// package pxe/kubevirt/rbac declares exactly that as a Role and
// RoleBinding (ClusterRole for every namespace). Nothing else is written.
//
// This is the package that imports client-go; pxe and the other packages
// do not, so embedding the boot server does not link it.
package kubevirt
