package netattach

import (
	"errors"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/strictyaml"
)

// DecodeNAD decodes one YAML document into a NetworkAttachmentDefinition
// strictly: YAML syntax errors with their line, unknown or misplaced fields
// and wrong types with their paths, and a spec.config that is not JSON (with
// the line and column inside the config and, for a documentation callout
// such as `"cnv-tuning" (1)`, a hint). The object is returned
// even when there are problems, so ValidateNAD can report the rest.
func DecodeNAD(doc []byte) (*nadv1.NetworkAttachmentDefinition, field.ErrorList) {
	nad := &nadv1.NetworkAttachmentDefinition{}
	errs := strictyaml.Decode(doc, nad)
	if strings.TrimSpace(nad.Spec.Config) != "" {
		// Only JSON syntax here; what libcni or the plugin rules reject is
		// ValidateNAD's to report.
		var ce *ConfigError
		if _, err := ParseConfig(nad.Spec.Config); errors.As(err, &ce) && ce.Line > 0 {
			errs = append(errs, field.Invalid(field.NewPath("spec", "config"), field.OmitValueType{}, ce.Error()))
		}
	}
	return nad, errs
}

// DecodePolicy decodes one YAML document into a NodeNetworkConfigurationPolicy
// strictly (see DecodeNAD). OpenShift's br1-eth1-policy as its documentation
// prints it, callout numbers left in ("enabled: false 6") fails here: the value
// is the string "false 6", not a boolean.
//
// desiredState is free-form upstream; here it is the typed linux-bridge,
// VLAN and ethernet subset that netattach/host can apply, so an nmstate key
// outside it is an error that says so.
func DecodePolicy(doc []byte) (*NodeNetworkConfigurationPolicy, field.ErrorList) {
	p := &NodeNetworkConfigurationPolicy{}
	errs := strictyaml.Decode(doc, p)
	for _, e := range errs {
		if e.Type == field.ErrorTypeForbidden && strings.HasPrefix(e.Field, "spec.desiredState.") && strings.Contains(e.Detail, "unknown field") &&
			!strings.Contains(e.Detail, "did you mean") && !strings.Contains(e.Detail, "belongs at") {
			e.Detail += "; pxekit models the linux-bridge, vlan and ethernet subset of nmstate that netattach/host applies"
		}
	}
	return p, errs
}
