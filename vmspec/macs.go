package vmspec

import (
	"net"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/vmspec/macpool"
)

// MACAllocator hands out a persistent MAC per VM NIC; *macpool.Pool is
// one.
type MACAllocator interface {
	AllocateMAC(namespace, vm, iface string) (net.HardwareAddr, error)
}

// macReserver is an allocator that can also record a MAC the user chose.
type macReserver interface {
	Reserve(namespace, vm, iface, mac string) error
}

// WithMACPool makes Build of a VirtualMachine give every interface without a
// macAddress one from pool, the same one on every build (KubeMacPool's
// behaviour), and, if the pool can reserve, record the MACs
// given explicitly so it never hands them out twice. namespaceLabels are
// the labels of the VM's namespace: mutatevirtualmachines.kubemacpool.io=
// ignore turns the pool off. A VMI builder does not use the pool:
// KubeMacPool does not handle VMIs created on their own.
func (b *Builder[T]) WithMACPool(pool MACAllocator, namespaceLabels map[string]string) *Builder[T] {
	b.macPool = pool
	b.macPoolOff = !macpool.Enabled(namespaceLabels)
	return b
}

// assignMACs fills in and reserves MACs of a VM's template from the pool.
func (b *Builder[T]) assignMACs(vm *kubevirtv1.VirtualMachine) field.ErrorList {
	if b.macPool == nil || b.macPoolOff || vm.Spec.Template == nil {
		return nil
	}
	var errs field.ErrorList
	p := field.NewPath("spec", "template", "spec", "domain", "devices", "interfaces")
	ifaces := vm.Spec.Template.Spec.Domain.Devices.Interfaces
	for i := range ifaces {
		ifc := &ifaces[i]
		if ifc.Name == "" {
			continue
		}
		if ifc.MacAddress != "" {
			if r, ok := b.macPool.(macReserver); ok {
				if err := r.Reserve(vm.Namespace, vm.Name, ifc.Name, ifc.MacAddress); err != nil {
					errs = append(errs, field.Invalid(p.Index(i).Child("macAddress"), ifc.MacAddress, err.Error()))
				}
			}
			continue
		}
		mac, err := b.macPool.AllocateMAC(vm.Namespace, vm.Name, ifc.Name)
		if err != nil {
			errs = append(errs, field.InternalError(p.Index(i).Child("macAddress"), err))
			continue
		}
		ifc.MacAddress = mac.String()
	}
	return errs
}
