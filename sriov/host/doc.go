// Package host does on a Linux host what the SR-IOV operator's config
// daemon does on a node: it discovers PFs and VFs in sysfs, sets the number
// of VFs, binds VFs to vfio-pci and back, configures a VF's MAC, VLAN, spoof
// check, trust, rates and link state through netlink — reading back what
// took effect and reporting, per field, what the driver refused — and
// applies a sriov.SriovNetworkNodePolicy, the same value that renders the
// operator's CRD.
//
// Every sysfs path is built from Sysfs.Root, so tests run against a fake
// tree in a temp dir for what no emulator reaches, and against a real
// kernel (QEMU's emulated igb, an 82576 with 7 VFs) for the rest.
package host
