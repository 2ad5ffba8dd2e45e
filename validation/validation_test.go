package validation

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func fields(errs field.ErrorList) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	return out
}

func TestObjectTypeValidate(t *testing.T) {
	vm := ObjectType{Kind: "VirtualMachine", APIVersions: []string{"kubevirt.io/v1", "kubevirt.io/v1alpha3"}}
	policy := ObjectType{Kind: "NodeNetworkConfigurationPolicy", APIVersions: []string{"nmstate.io/v1"}, ClusterScoped: true}
	service := ObjectType{Kind: "Service", APIVersions: []string{"v1"}, NameRule: k8svalidation.IsDNS1035Label}
	tests := []struct {
		name string
		typ  ObjectType
		tm   metav1.TypeMeta
		m    metav1.ObjectMeta
		want []string
	}{
		{"valid", vm, metav1.TypeMeta{APIVersion: "kubevirt.io/v1alpha3", Kind: "VirtualMachine"}, metav1.ObjectMeta{Name: "pxe-vm", Namespace: "lab"}, []string{}},
		{"type left empty", vm, metav1.TypeMeta{}, metav1.ObjectMeta{Name: "pxe-vm"}, []string{}},
		{"other apiVersion and kind", vm, metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, metav1.ObjectMeta{Name: "x"},
			[]string{"FieldValueNotSupported apiVersion", "FieldValueNotSupported kind"}},
		{"no name", vm, metav1.TypeMeta{}, metav1.ObjectMeta{}, []string{"FieldValueRequired metadata.name"}},
		{"generateName", vm, metav1.TypeMeta{}, metav1.ObjectMeta{GenerateName: "pxe-"}, []string{}},
		{"bad generateName", vm, metav1.TypeMeta{}, metav1.ObjectMeta{GenerateName: "PXE-"}, []string{"FieldValueInvalid metadata.generateName"}},
		{"bad name and namespace", vm, metav1.TypeMeta{}, metav1.ObjectMeta{Name: "<vm_name>", Namespace: "my.ns"},
			[]string{"FieldValueInvalid metadata.name", "FieldValueInvalid metadata.namespace"}},
		{"labels and annotations", vm, metav1.TypeMeta{}, metav1.ObjectMeta{Name: "a", Labels: map[string]string{"app": "key 1"}, Annotations: map[string]string{"-x": ""}},
			[]string{"FieldValueInvalid metadata.labels", "FieldValueInvalid metadata.annotations"}},
		{"cluster-scoped", policy, metav1.TypeMeta{}, metav1.ObjectMeta{Name: "br1-eth1-policy", Namespace: "default"}, []string{"FieldValueForbidden metadata.namespace"}},
		{"name rule", service, metav1.TypeMeta{}, metav1.ObjectMeta{Name: "1web"}, []string{"FieldValueInvalid metadata.name"}},
		{"default name rule takes a dot", vm, metav1.TypeMeta{}, metav1.ObjectMeta{Name: "web.lab"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fields(tc.typ.Validate(tc.tm, &tc.m))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	errs := policy.Validate(metav1.TypeMeta{}, &metav1.ObjectMeta{Name: "p", Namespace: "default"})
	if len(errs) != 1 || errs[0].Error() != "metadata.namespace: Forbidden: a NodeNetworkConfigurationPolicy is cluster-scoped" {
		t.Errorf("cluster-scoped: %v", errs)
	}
	if errs := vm.Validate(metav1.TypeMeta{}, nil); len(errs) != 1 || errs[0].Field != "metadata" {
		t.Errorf("nil metadata: %v", errs)
	}
}

func TestObjectName(t *testing.T) {
	p := field.NewPath("spec", "dataVolumeTemplates").Index(0).Child("metadata", "name")
	if errs := ObjectName("rhel9-root", p); len(errs) != 0 {
		t.Errorf("valid name: %v", errs)
	}
	if got := fields(ObjectName("", p)); !reflect.DeepEqual(got, []string{"FieldValueRequired spec.dataVolumeTemplates[0].metadata.name"}) {
		t.Errorf("empty name: %q", got)
	}
	if got := fields(ObjectName("Root_Disk", p)); !reflect.DeepEqual(got, []string{"FieldValueInvalid spec.dataVolumeTemplates[0].metadata.name"}) {
		t.Errorf("bad name: %q", got)
	}
}

func TestWarning(t *testing.T) {
	w := Warnf(field.NewPath("spec", "config").Child("plugins").Index(0).Child("ipam"), "not supported for %s", "VMs")
	if w.Field != "spec.config.plugins[0].ipam" || w.String() != "spec.config.plugins[0].ipam: not supported for VMs" {
		t.Errorf("got %+v, %q", w, w.String())
	}
	if w := Warnf(nil, "about the whole object"); w.Field != "" || w.String() != "about the whole object" {
		t.Errorf("got %+v, %q", w, w.String())
	}
}
