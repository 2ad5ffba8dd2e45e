package hco

import (
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/validation"
)

var objectType = validation.ObjectType{Kind: Kind, APIVersions: []string{APIVersion}}

// Validate checks a HyperConverged CR: apiVersion, kind and metadata as the
// API server does, and the secondary DNS settings. The operator's own
// webhook is not modelled, so what it is not known to refuse is a warning:
// another name than kubevirt-hyperconverged (the operator reconciles only
// that one), a name server that is not an IP address, the gate without the
// address or the address without the gate.
func Validate(hc *HyperConverged) (field.ErrorList, []validation.Warning) {
	if hc == nil {
		return field.ErrorList{field.Required(nil, "no HyperConverged")}, nil
	}
	errs := objectType.Validate(hc.TypeMeta, &hc.ObjectMeta)
	var warns []validation.Warning
	if hc.Name != "" && hc.Name != Name {
		warns = append(warns, validation.Warnf(field.NewPath("metadata", "name"), "the operator reconciles only the HyperConverged named %s; this one has no effect", Name))
	}
	sp := field.NewPath("spec")
	ipp := sp.Child("kubeSecondaryDNSNameServerIP")
	on := hc.Spec.FeatureGates[GateDeployKubeSecondaryDNS]
	ip := hc.Spec.KubeSecondaryDNSNameServerIP
	if ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			warns = append(warns, validation.Warnf(ipp, "%q is not an IP address: the secondary DNS server's NS and A records will point nowhere", ip))
		}
	}
	switch {
	case on && ip == "":
		warns = append(warns, validation.Warnf(ipp, "is empty: the secondary DNS server is deployed but its zone names no reachable name server; set the external IP of the Service that exposes it"))
	case !on && ip != "":
		warns = append(warns, validation.Warnf(sp.Child("featureGates", GateDeployKubeSecondaryDNS), "is not true: no secondary DNS server is deployed, so %s serves nothing", ip))
	}
	for k := range hc.Spec.Other {
		if strings.EqualFold(k, "kubeSecondaryDNSNameServerIP") || strings.EqualFold(k, "featureGates") {
			warns = append(warns, validation.Warnf(sp.Child(k), "is not a field; did you mean %q?", map[bool]string{true: "featureGates", false: "kubeSecondaryDNSNameServerIP"}[strings.EqualFold(k, "featureGates")]))
		}
	}
	return errs, warns
}

// doc is what Decode reads strictly: the object's frame, with the spec
// as a tree.
type doc struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       map[string]any `json:"spec"`
	Status     map[string]any `json:"status"`
}

// Decode reads one YAML (or JSON) HyperConverged CR: YAML syntax and
// duplicate keys, metadata strictly, and the types of the spec fields pxekit
// models (featureGates are booleans, the name server a string, with their
// field paths). It does not validate; call Validate. The CR is returned filled
// as far as the document allows.
func Decode(b []byte) (*HyperConverged, field.ErrorList) {
	hc := &HyperConverged{}
	errs := strictyaml.Decode(b, hc)
	if len(errs) == 0 {
		return hc, nil
	}
	// The spec's own unmarshaler hides the paths of its type errors:
	// find them on the tree.
	var d doc
	if derrs := strictyaml.Decode(b, &d); len(derrs) > 0 {
		return hc, derrs
	}
	var out field.ErrorList
	for _, e := range errs {
		if e.Field != "spec" {
			out = append(out, e)
		}
	}
	sp := field.NewPath("spec")
	if fg, ok := d.Spec["featureGates"]; ok {
		m, isMap := fg.(map[string]any)
		if !isMap {
			out = append(out, field.TypeInvalid(sp.Child("featureGates"), fg, "must be an object of booleans"))
		}
		for k, v := range m {
			if _, isBool := v.(bool); !isBool {
				out = append(out, field.TypeInvalid(sp.Child("featureGates", k), v, fmt.Sprintf("must be of type boolean, got %T", v)))
			}
		}
	}
	if ip, ok := d.Spec["kubeSecondaryDNSNameServerIP"]; ok {
		if _, isString := ip.(string); !isString {
			out = append(out, field.TypeInvalid(sp.Child("kubeSecondaryDNSNameServerIP"), ip, "must be a string"))
		}
	}
	return hc, out
}
