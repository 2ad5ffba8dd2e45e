package main

import (
	"fmt"
	"net"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// userData is seed 001's cloud-init script: it sets the fedora user's
// password so the console login of step 8 works.
const userData = "#!/bin/bash\necho \"fedora\" | passwd fedora --stdin\n"

// buildVMI builds seed 001's vmi-pxe-boot from the options.
// TODO(vmspec): build through vmspec.New(...).WithPXENIC(...) once that
// package has landed; this is the same object written with kubevirt.io/api.
func buildVMI(o *options) (*kubevirtv1.VirtualMachineInstance, error) {
	if o.mac != "" {
		if hw, err := net.ParseMAC(o.mac); err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("-mac %q: not a MAC address", o.mac)
		}
	}
	mem, err := resource.ParseQuantity(o.memory)
	if err != nil {
		return nil, fmt.Errorf("-memory %q: %v", o.memory, err)
	}
	one, two := uint(1), uint(2)
	grace := int64(0)
	return &kubevirtv1.VirtualMachineInstance{
		TypeMeta: metav1.TypeMeta{APIVersion: o.apiVersion, Kind: "VirtualMachineInstance"},
		ObjectMeta: metav1.ObjectMeta{
			Name: o.name, Namespace: o.namespace,
			Labels: map[string]string{"special": o.name},
		},
		Spec: kubevirtv1.VirtualMachineInstanceSpec{
			Domain: kubevirtv1.DomainSpec{
				Devices: kubevirtv1.Devices{
					Disks: []kubevirtv1.Disk{
						{Name: "containerdisk", BootOrder: &two, DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}},
						{Name: "cloudinitdisk", DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}},
					},
					Interfaces: []kubevirtv1.Interface{
						{Name: "default", InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}}},
						{Name: o.network, MacAddress: o.mac, BootOrder: &one, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}},
					},
				},
				Machine:   &kubevirtv1.Machine{},
				Resources: kubevirtv1.ResourceRequirements{Requests: k8sv1.ResourceList{k8sv1.ResourceMemory: mem}},
			},
			Networks: []kubevirtv1.Network{
				{Name: "default", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}},
				{Name: o.network, NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: o.nad}}},
			},
			TerminationGracePeriodSeconds: &grace,
			Volumes: []kubevirtv1.Volume{
				{Name: "containerdisk", VolumeSource: kubevirtv1.VolumeSource{ContainerDisk: &kubevirtv1.ContainerDiskSource{Image: o.image}}},
				{Name: "cloudinitdisk", VolumeSource: kubevirtv1.VolumeSource{CloudInitNoCloud: &kubevirtv1.CloudInitNoCloudSource{UserData: userData}}},
			},
		},
	}, nil
}
