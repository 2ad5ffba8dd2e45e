package main

import (
	"fmt"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/validation"
	"github.com/pxekit/pxekit/vmspec"
)

// userData is the PXE booting procedure's cloud-init script: it sets the fedora
// user's password so the console login of step 8 works.
const userData = "#!/bin/bash\necho \"fedora\" | passwd fedora --stdin\n"

// Kinds -kind accepts.
const (
	kindVMI = "VirtualMachineInstance"
	kindVM  = "VirtualMachine"
)

// machine returns the procedure's vmi-pxe-boot built from the options — the pod
// network first (masquerade), then the PXE NIC on the NAD's network with boot
// order 1, the container disk after it (boot order 2) and the cloud-init disk
// — as a VirtualMachineInstance or, with -kind VirtualMachine, as the
// template of a VirtualMachine. It also returns vmspec's warnings.
func machine(o *options) (any, []validation.Warning, error) {
	// vmspec checks the MAC too; checking it here names the flag.
	if o.mac != "" {
		if _, err := macaddr.ParseUnicast(o.mac); err != nil {
			return nil, nil, fmt.Errorf("-mac %w", err)
		}
	}
	switch o.kind {
	case kindVMI:
		vmi, err := pxeBoot(vmspec.NewVMI(o.name), o).Build()
		if err != nil {
			return nil, nil, err
		}
		_, warns := vmspec.ValidateVMI(vmi)
		return vmi, warns, nil
	case kindVM:
		vm, err := pxeBoot(vmspec.NewVM(o.name), o).WithRunStrategy(kubevirtv1.VirtualMachineRunStrategy(o.runStrategy)).Build()
		if err != nil {
			return nil, nil, err
		}
		_, warns := vmspec.ValidateVM(vm)
		return vm, warns, nil
	}
	return nil, nil, fmt.Errorf("-kind %q: want %s or %s", o.kind, kindVMI, kindVM)
}

// pxeBoot adds what the VMI is made of, for either kind of builder.
func pxeBoot[T vmspec.Kind](b *vmspec.Builder[T], o *options) *vmspec.Builder[T] {
	b.
		WithAPIVersion(o.apiVersion).
		WithNamespace(o.namespace).
		WithTemplateLabels(map[string]string{"special": o.name}).
		WithPodNetwork().
		WithPXENIC(o.network, o.nad, o.mac).
		WithContainerDisk("containerdisk", o.image, vmspec.Bootable()).
		WithCloudInitNoCloud("cloudinitdisk", userData).
		WithMachineType("").
		WithMemory(o.memory).
		WithTerminationGracePeriod(0)
	if o.profile != "" {
		// On the object's own metadata: the boot server reads the VM (or
		// the bare VMI), not the VMIs a VM starts.
		b.WithPXEProfile(o.profile)
	}
	return b
}
