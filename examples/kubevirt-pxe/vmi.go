package main

import (
	"fmt"
	"net"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/vmspec"
)

// userData is seed 001's cloud-init script: it sets the fedora user's
// password so the console login of step 8 works.
const userData = "#!/bin/bash\necho \"fedora\" | passwd fedora --stdin\n"

// buildVMI builds seed 001's vmi-pxe-boot from the options: the pod network
// first (masquerade), then the PXE NIC on the NAD's network with boot order 1,
// the container disk after it (boot order 2) and the cloud-init disk.
func buildVMI(o *options) (*kubevirtv1.VirtualMachineInstance, error) {
	// vmspec checks the MAC too; checking it here names the flag.
	if o.mac != "" {
		if hw, err := net.ParseMAC(o.mac); err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("-mac %q: not a MAC address", o.mac)
		}
	}
	return vmspec.New(o.name).
		WithAPIVersion(o.apiVersion).
		WithNamespace(o.namespace).
		WithLabel("special", o.name).
		WithPodNetwork().
		WithPXENIC(o.network, o.nad, o.mac).
		WithContainerDisk("containerdisk", o.image, vmspec.Bootable()).
		WithCloudInitNoCloud("cloudinitdisk", userData).
		WithMachineType("").
		WithMemory(o.memory).
		WithTerminationGracePeriod(0).
		BuildVMI()
}
