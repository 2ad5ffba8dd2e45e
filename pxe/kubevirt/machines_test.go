package kubevirt

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/vmspec"
)

// What a VM or VMI says about its machine, offline: the PXE NIC is the
// interface with a MAC and the lowest boot order, a VMI a VM controls is
// the VM's, an object without such a NIC is no machine.
func TestObjectOf(t *testing.T) {
	vm, err := vmspec.NewVM("vm1").WithNamespace("lab").WithPodNetwork().
		WithBridgeNIC("data", "data-net", "52:54:00:00:00:0a", vmspec.NICBootOrder(3)).
		WithPXENIC("pxe", "pxe-net", "52:54:00:00:00:0b").
		WithMemory("1Gi").WithPXEProfile("install").Build()
	if err != nil {
		t.Fatal(err)
	}
	vm.Annotations[vmspec.AnnotationPXEInstalled] = "2026-12-03T12:00:00Z"
	o := objectOfVM(vm)
	if o.nic != "pxe" || o.hardwareAddr().String() != "52:54:00:00:00:0b" || o.profile != "install" || o.installed == "" || o.String() != "VirtualMachine lab/vm1" {
		t.Errorf("VM: %+v", o)
	}

	vmi, err := vmspec.NewVMI("vmi1").WithPodNetwork().WithBridgeNIC("data", "data-net", "52:54:00:00:00:0c").WithMemory("1Gi").Build()
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := objectOfVMI(vmi); !ok || o.isMachine() {
		t.Errorf("VMI without a boot order on its NIC: %+v %v, want no machine", o, ok)
	}
	vmi.Spec.Domain.Devices.Interfaces[1].MacAddress = "not-a-mac"
	vmi.Spec.Domain.Devices.Interfaces[1].BootOrder = ptr.To[uint](1)
	if o, _ := objectOfVMI(vmi); o.mac != "" || o.problem == "" {
		t.Errorf("invalid MAC: %+v, want a problem and no MAC", o)
	}
	vmi.OwnerReferences = []metav1.OwnerReference{{Kind: KindVM, Name: "vm1", Controller: ptr.To(true), APIVersion: kubevirtv1.SchemeGroupVersion.String()}}
	if _, ok := objectOfVMI(vmi); ok {
		t.Error("a VMI that a VM controls counted as a machine of its own")
	}
}
