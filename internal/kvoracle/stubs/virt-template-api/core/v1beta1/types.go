// Package v1beta1 declares VirtualMachineTemplate as far as kubevirt.io/kubevirt's
// informer factory needs it to compile: an object with metadata. The oracle
// never starts that informer.
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// VirtualMachineTemplate is an object of the template.kubevirt.io group.
type VirtualMachineTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
}

// DeepCopyObject makes VirtualMachineTemplate a runtime.Object.
func (t *VirtualMachineTemplate) DeepCopyObject() runtime.Object {
	c := *t
	t.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}
