package dpdk

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/strictyaml"
)

// DecodeProfile decodes one YAML (or JSON) document into a PerformanceProfile
// strictly: a syntax error with its line, every unknown field at its path
// (with where a field of that name belongs), every mistyped value. It does
// not run ValidateProfile; the profile is returned filled as far as it could
// be, even with errors, so a linter can still validate the rest.
func DecodeProfile(doc []byte) (*PerformanceProfile, field.ErrorList) {
	p := &PerformanceProfile{}
	errs := strictyaml.Decode(doc, p)
	if syntaxOnly(errs) {
		return nil, errs
	}
	return p, errs
}

// DecodeMachineConfigPool decodes one YAML (or JSON) document into a
// MachineConfigPool, strictly, like DecodeProfile. Status is kept opaque;
// spec fields a custom pool does not set (configuration, paused aside) are
// reported as unknown.
func DecodeMachineConfigPool(doc []byte) (*MachineConfigPool, field.ErrorList) {
	p := &MachineConfigPool{}
	errs := strictyaml.Decode(doc, p)
	if syntaxOnly(errs) {
		return nil, errs
	}
	return p, errs
}

// syntaxOnly reports whether the document could not be read at all.
func syntaxOnly(errs field.ErrorList) bool {
	for _, e := range errs {
		if e.Origin == strictyaml.OriginSyntax {
			return true
		}
	}
	return false
}
