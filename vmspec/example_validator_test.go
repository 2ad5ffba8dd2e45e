package vmspec_test

import (
	"fmt"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/vmspec"
)

// runStrategy WaitAsReceiver needs the alpha DecentralizedLiveMigration
// feature gate: refused on a cluster as KubeVirt v1.9.0 ships it, accepted on
// one whose KubeVirt CR enables the gate.
func ExampleValidator_ValidateVM() {
	vm, _ := vmspec.NewVM("receiver").WithPodNetwork().WithMemory("1Gi").
		WithContainerDisk("root", "quay.io/containerdisks/fedora:41", vmspec.Bootable()).Build()
	rs := kubevirtv1.RunStrategyWaitAsReceiver
	vm.Spec.RunStrategy = &rs

	errs, _ := vmspec.ValidateVM(vm)
	fmt.Println(errs.ToAggregate())
	errs, _ = vmspec.Validator{FeatureGates: []string{vmspec.GateDecentralizedLiveMigration}}.ValidateVM(vm)
	fmt.Println(len(errs), "errors with the gate")
	// Output:
	// spec.runStrategy: Forbidden: the DecentralizedLiveMigration feature gate is not enabled in the KubeVirt CR
	// 0 errors with the gate
}

// KubeVirt's defaults complete a VMI before its rules run: a volume without
// a disk gets one, and the hugepages are counted against the memory limit
// when no request is set.
func ExampleDefaultVMI() {
	vmi := &kubevirtv1.VirtualMachineInstance{}
	vmi.Spec.Volumes = []kubevirtv1.Volume{{Name: "root", VolumeSource: kubevirtv1.VolumeSource{
		ContainerDisk: &kubevirtv1.ContainerDiskSource{Image: "quay.io/containerdisks/fedora:41"}}}}
	vmspec.DefaultVMI(vmi)
	d := vmi.Spec.Domain
	fmt.Println(d.Devices.Disks[0].Name, d.Devices.Disks[0].Disk.Bus, d.Machine.Type, d.CPU.Sockets, vmi.Spec.Networks[0].Name)
	// Output:
	// root sata q35 1 default
}
