// Package validation holds what the validators of pxekit's declarative
// packages (vmspec, netattach, sriov, dpdk) share: the one [Warning] type
// they return beside their field.ErrorList, and the checks every Kubernetes
// object gets before its kind's own rules, written once: apiVersion and
// kind ([ObjectType.Validate]) and metadata (name or generateName,
// namespace, labels, annotations) as the API server checks them, each
// problem at its field path.
//
// A validator of a kind returns (field.ErrorList, []Warning): the errors
// are what the API server or the kind's admission webhook would refuse; the
// warnings are what they accept but what will not do what the author most
// likely meant (a port that never reaches the guest, a MAC that changes on
// restart, a deprecated field).
//
// The package imports only k8s.io/apimachinery.
package validation

import (
	"fmt"
	"slices"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Warning is a problem that does not make an object invalid, with the path
// of the field it is about.
type Warning struct {
	// Field is the field path as field.Path prints it, e.g.
	// spec.config.plugins[0].ipam; empty when the warning is about the
	// whole object.
	Field string
	// Message says what happens and what to do.
	Message string
}

// String renders the warning as "field: message", or just the message
// when it has no field.
func (w Warning) String() string {
	if w.Field == "" {
		return w.Message
	}
	return w.Field + ": " + w.Message
}

// Warnf returns a warning about the field at p (nil: the whole object),
// its message formatted as fmt.Sprintf does.
func Warnf(p *field.Path, format string, args ...any) Warning {
	w := Warning{Message: fmt.Sprintf(format, args...)}
	if p != nil {
		w.Field = p.String()
	}
	return w
}

// ObjectType is what the TypeMeta and ObjectMeta of one kind must hold.
type ObjectType struct {
	// Kind is the object's kind, e.g. VirtualMachine.
	Kind string
	// APIVersions are the apiVersions the kind is served under, e.g.
	// kubevirt.io/v1 and kubevirt.io/v1alpha3.
	APIVersions []string
	// ClusterScoped kinds (NodeNetworkConfigurationPolicy,
	// PerformanceProfile, ...) have no namespace.
	ClusterScoped bool
	// NameRule returns what is wrong with a metadata.name (nothing when it
	// is valid); nil means a DNS-1123 subdomain, the rule of most kinds
	// (a Service's is a DNS-1035 label).
	NameRule func(name string) []string
}

// Validate checks an object's apiVersion, kind and metadata the way the
// API server does before any rule of the kind itself, with paths from the
// object's root (apiVersion, metadata.name, metadata.labels):
//   - apiVersion and kind, when set, name this type (an object built in Go
//     often leaves them empty; a decoder reports them missing);
//   - metadata.name, or metadata.generateName, is set and follows
//     NameRule;
//   - metadata.namespace is a DNS-1123 label, or unset for a
//     cluster-scoped kind;
//   - labels and annotations are well formed.
func (t ObjectType) Validate(tm metav1.TypeMeta, m *metav1.ObjectMeta) field.ErrorList {
	var errs field.ErrorList
	if tm.APIVersion != "" && len(t.APIVersions) > 0 && !slices.Contains(t.APIVersions, tm.APIVersion) {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), tm.APIVersion, t.APIVersions))
	}
	if tm.Kind != "" && t.Kind != "" && tm.Kind != t.Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), tm.Kind, []string{t.Kind}))
	}
	if m == nil {
		return append(errs, field.Required(field.NewPath("metadata"), ""))
	}
	p := field.NewPath("metadata")
	rule := t.NameRule
	if rule == nil {
		rule = k8svalidation.IsDNS1123Subdomain
	}
	switch {
	case m.Name == "" && m.GenerateName == "":
		errs = append(errs, field.Required(p.Child("name"), "name or generateName is required"))
	case m.Name != "":
		for _, msg := range rule(m.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), m.Name, msg))
		}
	default:
		// The API server appends random characters to generateName, so a
		// trailing '-' is fine where the name itself may not end in one.
		prefix := m.GenerateName
		if strings.HasSuffix(prefix, "-") {
			prefix = prefix[:len(prefix)-1] + "a"
		}
		for _, msg := range rule(prefix) {
			errs = append(errs, field.Invalid(p.Child("generateName"), m.GenerateName, msg))
		}
	}
	switch {
	case m.Namespace == "":
	case t.ClusterScoped:
		errs = append(errs, field.Forbidden(p.Child("namespace"), "a "+t.kindName()+" is cluster-scoped"))
	default:
		for _, msg := range k8svalidation.IsDNS1123Label(m.Namespace) {
			errs = append(errs, field.Invalid(p.Child("namespace"), m.Namespace, msg))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(m.Labels, p.Child("labels"))...)
	return append(errs, apivalidation.ValidateAnnotations(m.Annotations, p.Child("annotations"))...)
}

func (t ObjectType) kindName() string {
	if t.Kind == "" {
		return "object of this kind"
	}
	return t.Kind
}

// ObjectName checks the name of an object referred to or created by
// another one (a VM's dataVolumeTemplates[].metadata.name, say): it is set
// and a DNS-1123 subdomain.
func ObjectName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	for _, msg := range k8svalidation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}
