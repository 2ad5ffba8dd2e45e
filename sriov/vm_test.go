package sriov

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The documented DPDK VM: masquerade on the pod network plus nic-east, an
// SR-IOV interface at PCI 0000:07:00.0 on the dpdk-net NAD.
const rhelDPDKVMISpec = `
domain:
  devices:
    interfaces:
    - masquerade: {}
      name: default
    - model: virtio
      name: nic-east
      pciAddress: '0000:07:00.0'
      sriov: {}
networks:
- name: default
  pod: {}
- multus:
    networkName: dpdk-net
  name: nic-east
`

func TestRHELDPDKVMInterfaces(t *testing.T) {
	var spec kubevirtv1.VirtualMachineInstanceSpec
	if err := yaml.UnmarshalStrict([]byte(rhelDPDKVMISpec), &spec); err != nil {
		t.Fatal(err)
	}
	if errs := ValidateVMSRIOVInterfaces(&spec, field.NewPath("spec", "template", "spec")); len(errs) > 0 {
		t.Fatalf("the documented DPDK VM must pass: %v", errs)
	}
	iface, netw := VMInterface("nic-east", "dpdk-net", "", "0000:07:00.0")
	if iface.SRIOV == nil || netw.Multus == nil || netw.Multus.NetworkName != "dpdk-net" || iface.PciAddress != spec.Domain.Devices.Interfaces[1].PciAddress {
		t.Errorf("VMInterface = %+v %+v", iface, netw)
	}
}

func TestVMSRIOVRules(t *testing.T) {
	root := field.NewPath("spec", "template", "spec")
	mk := func() *kubevirtv1.VirtualMachineInstanceSpec {
		var spec kubevirtv1.VirtualMachineInstanceSpec
		if err := yaml.UnmarshalStrict([]byte(rhelDPDKVMISpec), &spec); err != nil {
			t.Fatal(err)
		}
		return &spec
	}
	cases := []struct {
		name  string
		mod   func(*kubevirtv1.VirtualMachineInstanceSpec)
		field string
	}{
		{"on pod network", func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Networks[1] = kubevirtv1.Network{Name: "nic-east", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}
		}, "spec.template.spec.domain.devices.interfaces[1].sriov"},
		{"no network", func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks = s.Networks[:1] }, "spec.template.spec.domain.devices.interfaces[1].name"},
		{"empty networkName", func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks[1].Multus.NetworkName = "" }, "spec.template.spec.networks[nic-east].multus.networkName"},
		{"bad pci", func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Domain.Devices.Interfaces[1].PciAddress = "07:00.0" }, "spec.template.spec.domain.devices.interfaces[1].pciAddress"},
		{"dup pci", func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Devices.Interfaces[0].PciAddress = "0000:07:00.0"
		}, "spec.template.spec.domain.devices.interfaces[1].pciAddress"},
		{"multicast mac", func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Devices.Interfaces[1].MacAddress = "01:00:5e:00:00:01"
		}, "spec.template.spec.domain.devices.interfaces[1].macAddress"},
		{"bad mac", func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Domain.Devices.Interfaces[1].MacAddress = "de:00" }, "spec.template.spec.domain.devices.interfaces[1].macAddress"},
		{"ports", func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Devices.Interfaces[1].Ports = []kubevirtv1.Port{{Port: 80}}
		}, "spec.template.spec.domain.devices.interfaces[1].ports"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mk()
			c.mod(s)
			errs := ValidateVMSRIOVInterfaces(s, root)
			if !hasField(errs, c.field) {
				t.Errorf("want an error at %s, got %v", c.field, errs)
			}
		})
	}
}
