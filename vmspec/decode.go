package vmspec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/strictyaml"
)

// Kinds [Decode] accepts.
const (
	KindVMI = "VirtualMachineInstance"
	KindVM  = "VirtualMachine"
)

// Decode reads one YAML document holding a VirtualMachineInstance or a
// VirtualMachine (apiVersion kubevirt.io/v1 or kubevirt.io/v1alpha3) and
// returns a *kubevirtv1.VirtualMachineInstance or *kubevirtv1.VirtualMachine.
//
// Decoding is strict, as KubeVirt's CRD schema is: every unknown or
// misplaced field is an error at its path saying where a field of that name
// belongs (spec.template.spec.domain.interfaces: it belongs at
// spec.template.spec.domain.devices.interfaces); a value of the wrong type
// is an error at its path; a YAML syntax error names its line. The object
// is returned, filled as far as possible, whenever the kind is known, so a
// caller can also run [Validate] on it. Decode does not run the admission
// rules itself.
func Decode(doc []byte) (any, field.ErrorList) {
	apiVersion, kind, err := strictyaml.TypeOf(doc)
	if err != nil {
		// Re-run the strict decode for its precise errors (syntax line,
		// missing fields); TypeOf only says something is wrong.
		var probe struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if errs := strictyaml.Decode(doc, &probe); len(errs) > 0 && errs[0].Origin == strictyaml.OriginSyntax {
			return nil, errs[:1]
		}
	}
	var errs field.ErrorList
	if apiVersion != APIVersionV1 && apiVersion != APIVersionV1Alpha3 {
		if apiVersion == "" {
			errs = append(errs, field.Required(field.NewPath("apiVersion"), "kubevirt.io/v1"))
		} else {
			errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), apiVersion, []string{APIVersionV1, APIVersionV1Alpha3}))
		}
	}
	var obj any
	switch kind {
	case KindVMI:
		obj = &kubevirtv1.VirtualMachineInstance{}
	case KindVM:
		obj = &kubevirtv1.VirtualMachine{}
	case "":
		return nil, append(errs, field.Required(field.NewPath("kind"), "VirtualMachine or VirtualMachineInstance"))
	default:
		return nil, append(errs, field.NotSupported(field.NewPath("kind"), kind, []string{KindVM, KindVMI}))
	}
	errs = append(errs, dataVolumeTypes(doc, strictyaml.Decode(doc, obj))...)
	return obj, errs
}

// ToYAML renders a VM, VMI (or any Kubernetes object) as YAML that kubectl
// apply -f takes. An unset status prints as "status: {}", as kubectl
// prints it, not as the zero values of the Go struct's non-omitempty
// fields.
func ToYAML(obj any) ([]byte, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("vmspec: rendering %T: %w", obj, err)
	}
	if statusIsZero(obj) {
		var m map[string]any
		if err := json.Unmarshal(js, &m); err == nil && m != nil {
			m["status"] = map[string]any{}
			if js, err = json.Marshal(m); err != nil {
				return nil, fmt.Errorf("vmspec: rendering %T: %w", obj, err)
			}
		}
	}
	b, err := yaml.JSONToYAML(js)
	if err != nil {
		return nil, fmt.Errorf("vmspec: rendering %T as YAML: %w", obj, err)
	}
	return b, nil
}

func statusIsZero(obj any) bool {
	switch o := obj.(type) {
	case *kubevirtv1.VirtualMachineInstance:
		return o != nil && reflect.ValueOf(o.Status).IsZero()
	case *kubevirtv1.VirtualMachine:
		return o != nil && reflect.ValueOf(o.Status).IsZero()
	}
	return false
}

// dataVolumeTypeRE matches the path of a dataVolume volume's "type" key, a
// field of OpenShift's VM templates that KubeVirt's API does not have.
var dataVolumeTypeRE = regexp.MustCompile(`^spec(\.template\.spec)?\.volumes\[(\d+)\]\.dataVolume\.type$`)

// dataVolumeTypes applies the documented rule for dataVolume volumes: "type"
// may be "dataVolume" or "" (both mean the default and are dropped on
// decode); any other value, such as persistentVolumeClaim, keeps the VM from
// starting, so it is an error with the supported values.
func dataVolumeTypes(doc []byte, errs field.ErrorList) field.ErrorList {
	var generic map[string]any
	if yaml.Unmarshal(doc, &generic) != nil {
		return errs
	}
	out := errs[:0:0]
	for _, e := range errs {
		m := dataVolumeTypeRE.FindStringSubmatch(e.Field)
		if e.Type != field.ErrorTypeForbidden || m == nil {
			out = append(out, e)
			continue
		}
		v, ok := lookupDataVolumeType(generic, m[1] != "", m[2])
		switch {
		case !ok:
			out = append(out, e)
		case v == "dataVolume" || v == "":
		default:
			out = append(out, &field.Error{Type: field.ErrorTypeNotSupported, Field: e.Field, BadValue: v,
				Detail: `supported values: "dataVolume", "" (any other type keeps the VM from starting)`})
		}
	}
	return out
}

func lookupDataVolumeType(doc map[string]any, template bool, index string) (string, bool) {
	spec, _ := doc["spec"].(map[string]any)
	if template {
		t, _ := spec["template"].(map[string]any)
		spec, _ = t["spec"].(map[string]any)
	}
	vols, _ := spec["volumes"].([]any)
	i, err := strconv.Atoi(index)
	if err != nil || i >= len(vols) {
		return "", false
	}
	vol, _ := vols[i].(map[string]any)
	dv, _ := vol["dataVolume"].(map[string]any)
	t, ok := dv["type"].(string)
	return t, ok
}
