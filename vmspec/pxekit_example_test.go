package vmspec_test

import (
	"fmt"

	"github.com/pxekit/pxekit/vmspec"
)

// A VirtualMachine that pxekit's boot server installs with its "install"
// profile: the PXE NIC first in the boot order, the disk the installer
// writes second, and the annotation that names the profile.
func ExampleBuilder_WithPXEProfile() {
	vm, err := vmspec.NewVM("vm1").
		WithNamespace("lab").
		WithPXENIC("pxe", "pxe-net", "52:54:00:12:34:56").
		WithPVC("rootdisk", "vm1-root", vmspec.Bootable()).
		WithMemory("2Gi").
		WithPXEProfile("install").
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(vm.Annotations[vmspec.AnnotationPXEProfile])
	nic := vm.Spec.Template.Spec.Domain.Devices.Interfaces[0]
	fmt.Println(nic.Name, nic.MacAddress, *nic.BootOrder)
	// Output:
	// install
	// pxe 52:54:00:12:34:56 1
}
