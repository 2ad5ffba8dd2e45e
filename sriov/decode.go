package sriov

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/strictyaml"
)

// DecodeNodePolicy decodes one YAML (or JSON) SriovNetworkNodePolicy
// strictly: unknown fields, mistyped values, duplicate keys and syntax
// errors are all reported with their field path or line. It does not
// validate; call ValidateNodePolicy. The returned policy is filled as far as
// the document allows even when there are errors.
func DecodeNodePolicy(doc []byte) (*SriovNetworkNodePolicy, field.ErrorList) {
	p := &SriovNetworkNodePolicy{}
	errs := strictyaml.Decode(doc, p)
	if len(errs) == 0 {
		// mtu 0 decodes as unset, but the CRD's schema (minimum 1) refuses
		// it when it is written.
		var tree struct {
			Spec struct {
				Mtu *int `json:"mtu"`
			} `json:"spec"`
		}
		if yaml.Unmarshal(doc, &tree) == nil && tree.Spec.Mtu != nil && *tree.Spec.Mtu < 1 {
			errs = append(errs, field.Invalid(field.NewPath("spec", "mtu"), *tree.Spec.Mtu, "must be at least 1 (leave mtu out to keep the PF's)"))
		}
	}
	return p, explain(errs)
}

// DecodeNetwork decodes one YAML (or JSON) SriovNetwork strictly, like
// DecodeNodePolicy. An unquoted on/off in spoofChk or trust — which YAML
// reads as a boolean, and which the operator rejects — gets an error that
// says to quote it.
func DecodeNetwork(doc []byte) (*SriovNetwork, field.ErrorList) {
	n := &SriovNetwork{}
	errs := strictyaml.Decode(doc, n)
	return n, explain(errs)
}

// explain says to quote the values of the on/off fields in their type
// errors.
func explain(errs field.ErrorList) field.ErrorList {
	for _, e := range errs {
		if e.Type != field.ErrorTypeTypeInvalid {
			continue
		}
		switch e.Field {
		case "spec.spoofChk", "spec.trust":
			e.Detail = `must be the quoted string "on" or "off": unquoted on/off (or yes/no, true/false) is a YAML boolean, and the SR-IOV operator rejects the object`
		}
	}
	return errs
}
