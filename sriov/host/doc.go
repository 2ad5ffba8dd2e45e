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
//
// What igb (kernel 6.12) does with each VF setting, as the real test shows:
// MAC, VLAN 802.1Q + QoS, spoof check and trust take effect; a max tx rate
// is EINVAL while the PF link is down and is applied once it is up; any
// min tx rate is EINVAL (Intel NICs have none); link state is EOPNOTSUPP;
// VLAN protocol 802.1ad is EPROTONOSUPPORT. vfio-pci binds a VF when the
// kernel has an IOMMU (QEMU -device intel-iommu, intel_iommu=on), also
// under TCG.
package host
