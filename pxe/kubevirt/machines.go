package kubevirt

import (
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/vmspec"
)

// Kinds of the objects a machine comes from.
const (
	KindVM  = "VirtualMachine"
	KindVMI = "VirtualMachineInstance"
)

// object is what a VirtualMachine or a bare VirtualMachineInstance says
// about its machine: the PXE NIC, the profile and whether the install is
// done. It is comparable, so an update that changes none of it (a status
// change) changes nothing in the inventory.
type object struct {
	kind, namespace, name string
	uid                   types.UID
	// mac is the PXE NIC's MAC as 6 bytes; "" when the object has none
	// (it is no machine) or names an invalid one (problem says so).
	mac       string
	nic       string
	profile   string
	installed string
	problem   string
}

// key names the object in the source's maps.
func (o object) key() string { return o.kind + "/" + o.namespace + "/" + o.name }

// ref is the object as an event's involvedObject: kubectl describe finds
// events by kind, namespace, name and UID.
func (o object) ref() *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: kubevirtv1.SchemeGroupVersion.String(), Kind: o.kind, Namespace: o.namespace, Name: o.name, UID: o.uid}
}

// String is "VirtualMachine ns/name".
func (o object) String() string { return o.kind + " " + o.namespace + "/" + o.name }

// objectOfVM reads vm.
func objectOfVM(vm *kubevirtv1.VirtualMachine) object {
	o := objectOf(KindVM, &vm.ObjectMeta)
	if vm.Spec.Template != nil {
		o.setNIC(vm.Spec.Template.Spec.Domain.Devices.Interfaces)
	}
	return o
}

// objectOfVMI reads vmi; ok is false for a VMI a VirtualMachine controls,
// whose machine is that VM's.
func objectOfVMI(vmi *kubevirtv1.VirtualMachineInstance) (object, bool) {
	if c := metav1.GetControllerOf(vmi); c != nil && c.Kind == KindVM {
		return object{}, false
	}
	o := objectOf(KindVMI, &vmi.ObjectMeta)
	o.setNIC(vmi.Spec.Domain.Devices.Interfaces)
	return o, true
}

func objectOf(kind string, m *metav1.ObjectMeta) object {
	return object{
		kind: kind, namespace: m.Namespace, name: m.Name, uid: m.UID,
		profile:   m.Annotations[vmspec.AnnotationPXEProfile],
		installed: m.Annotations[vmspec.AnnotationPXEInstalled],
	}
}

// setNIC picks the PXE NIC: of the interfaces with a MAC and a boot
// order, the one with the lowest boot order (KubeVirt's boot orders are
// unique, across interfaces and disks alike).
func (o *object) setNIC(ifaces []kubevirtv1.Interface) {
	var pick *kubevirtv1.Interface
	for i := range ifaces {
		nic := &ifaces[i]
		if nic.MacAddress == "" || nic.BootOrder == nil {
			continue
		}
		if pick == nil || *nic.BootOrder < *pick.BootOrder {
			pick = nic
		}
	}
	if pick == nil {
		return
	}
	o.nic = pick.Name
	mac, err := macaddr.Parse(pick.MacAddress)
	if err != nil {
		o.problem = fmt.Sprintf("interface %s: %v", pick.Name, err)
		return
	}
	o.mac = string(mac)
}

// isMachine reports whether the object has a PXE NIC (with a valid MAC or
// not): the objects the inventory answers for, and records events on.
func (o object) isMachine() bool { return o.nic != "" }

// hardwareAddr is the PXE NIC's MAC.
func (o object) hardwareAddr() net.HardwareAddr { return net.HardwareAddr(o.mac) }

// claims groups the objects by the MAC they claim; more than one object
// on a MAC is a conflict none of them boots through.
func claims(objs map[string]object) map[string][]object {
	out := map[string][]object{}
	for _, o := range objs {
		if o.mac != "" {
			out[o.mac] = append(out[o.mac], o)
		}
	}
	for _, list := range out {
		slices.SortFunc(list, func(a, b object) int { return strings.Compare(a.key(), b.key()) })
	}
	return out
}
