package sriov

import (
	"errors"
	"regexp"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/macaddr"
)

// KubeVirt's own PCI address pattern (DDDD:BB:DD.F).
var kubevirtPCIRE = regexp.MustCompile(`^([\da-fA-F]{4}):([\da-fA-F]{2}):([\da-fA-F]{2})\.([0-7])$`)

// VMInterface returns the interface/network pair that puts a VM on an
// SR-IOV network: `sriov: {}` bound to a Multus network whose
// networkName is the NAD the operator rendered (namespace/name or name).
// mac and pciAddress are optional ("" leaves them to KubeVirt).
func VMInterface(name, nadName, mac, pciAddress string) (kubevirtv1.Interface, kubevirtv1.Network) {
	iface := kubevirtv1.Interface{
		Name:                   name,
		MacAddress:             mac,
		PciAddress:             pciAddress,
		InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{SRIOV: &kubevirtv1.InterfaceSRIOV{}},
	}
	netw := kubevirtv1.Network{
		Name:          name,
		NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: nadName}},
	}
	return iface, netw
}

// ValidateVMSRIOVInterfaces checks the SR-IOV interfaces of a VMI spec
// (spec.template.spec of a VM: pass that path as fldPath) with the rules
// KubeVirt and the VF impose on them beyond the generic interface checks:
//   - the interface's network exists and is Multus with a networkName: a VF
//     comes from the device plugin resource named in the NAD; the pod
//     network has none;
//   - port forwarding is for the pod network only;
//   - pciAddress has KubeVirt's DDDD:BB:DD.F form and is not used twice;
//   - macAddress is a 6-byte unicast MAC (a VF driver refuses a multicast
//     one).
func ValidateVMSRIOVInterfaces(spec *kubevirtv1.VirtualMachineInstanceSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec == nil {
		return nil
	}
	nets := map[string]kubevirtv1.Network{}
	for _, n := range spec.Networks {
		nets[n.Name] = n
	}
	pci := map[string]int{}
	ifp := fldPath.Child("domain", "devices", "interfaces")
	for i, iface := range spec.Domain.Devices.Interfaces {
		if iface.PciAddress != "" {
			if j, dup := pci[iface.PciAddress]; dup {
				errs = append(errs, field.Duplicate(ifp.Index(i).Child("pciAddress"), iface.PciAddress+" (also interfaces["+strconv.Itoa(j)+"])"))
			}
			pci[iface.PciAddress] = i
		}
		if iface.SRIOV == nil {
			continue
		}
		p := ifp.Index(i)
		n, ok := nets[iface.Name]
		switch {
		case !ok:
			errs = append(errs, field.NotFound(p.Child("name"), iface.Name))
		case n.Pod != nil:
			errs = append(errs, field.Invalid(p.Child("sriov"), iface.Name, "an SR-IOV interface needs a Multus network whose NAD names an SR-IOV resource; the pod network has no VF"))
		case n.Multus == nil:
			errs = append(errs, field.Required(p.Child("sriov"), "an SR-IOV interface needs a Multus network"))
		case n.Multus.NetworkName == "":
			errs = append(errs, field.Required(fldPath.Child("networks").Key(iface.Name).Child("multus", "networkName"), "the SriovNetwork's NAD name"))
		}
		if len(iface.Ports) > 0 {
			errs = append(errs, field.Forbidden(p.Child("ports"), "port forwarding is for the pod network only"))
		}
		if iface.PciAddress != "" && !kubevirtPCIRE.MatchString(iface.PciAddress) {
			errs = append(errs, field.Invalid(p.Child("pciAddress"), iface.PciAddress, "must be a PCI address like 0000:07:00.0"))
		}
		if iface.MacAddress != "" {
			_, err := macaddr.ParseUnicast(iface.MacAddress)
			switch {
			case errors.Is(err, macaddr.ErrSyntax):
				errs = append(errs, field.Invalid(p.Child("macAddress"), iface.MacAddress, "malformed MAC address"))
			case errors.Is(err, macaddr.ErrLength):
				errs = append(errs, field.Invalid(p.Child("macAddress"), iface.MacAddress, "must be a 6-byte MAC address"))
			case errors.Is(err, macaddr.ErrMulticast):
				errs = append(errs, field.Invalid(p.Child("macAddress"), iface.MacAddress, "a multicast MAC cannot be set on a VF"))
			}
		}
	}
	return errs
}
