package main

import (
	"fmt"
	"net"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/validation"
	"github.com/pxekit/pxekit/vmspec"
)

// userData is seed 001's cloud-init script: it sets the fedora user's
// password so the console login of step 8 works.
const userData = "#!/bin/bash\necho \"fedora\" | passwd fedora --stdin\n"

// Kinds -kind accepts.
const (
	kindVMI = "VirtualMachineInstance"
	kindVM  = "VirtualMachine"
)

// machine returns seed 001's vmi-pxe-boot built from the options — the pod
// network first (masquerade), then the PXE NIC on the NAD's network with boot
// order 1, the container disk after it (boot order 2) and the cloud-init disk
// — as a VirtualMachineInstance or, with -kind VirtualMachine, as the
// template of a VirtualMachine. It also returns vmspec's warnings.
func machine(o *options) (any, []validation.Warning, error) {
	// vmspec checks the MAC too; checking it here names the flag.
	if o.mac != "" {
		if hw, err := net.ParseMAC(o.mac); err != nil || len(hw) != 6 {
			return nil, nil, fmt.Errorf("-mac %q: not a MAC address", o.mac)
		}
	}
	b := vmspec.New(o.name).
		WithAPIVersion(o.apiVersion).
		WithNamespace(o.namespace).
		WithTemplateLabel("special", o.name).
		WithPodNetwork().
		WithPXENIC(o.network, o.nad, o.mac).
		WithContainerDisk("containerdisk", o.image, vmspec.Bootable()).
		WithCloudInitNoCloud("cloudinitdisk", userData).
		WithMachineType("").
		WithMemory(o.memory).
		WithTerminationGracePeriod(0)
	switch o.kind {
	case kindVMI:
		vmi, err := b.BuildVMI()
		if err != nil {
			return nil, nil, err
		}
		_, warns := vmspec.ValidateVMI(vmi)
		return vmi, warns, nil
	case kindVM:
		vm, err := b.WithRunStrategy(kubevirtv1.VirtualMachineRunStrategy(o.runStrategy)).BuildVM()
		if err != nil {
			return nil, nil, err
		}
		_, warns := vmspec.ValidateVM(vm)
		return vm, warns, nil
	}
	return nil, nil, fmt.Errorf("-kind %q: want %s or %s", o.kind, kindVMI, kindVM)
}
