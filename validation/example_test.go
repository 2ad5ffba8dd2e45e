package validation_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/validation"
)

// The checks every object gets before its kind's own rules, each at its
// field path, and a warning beside them.
func ExampleObjectType_Validate() {
	nncp := validation.ObjectType{Kind: "NodeNetworkConfigurationPolicy", APIVersions: []string{"nmstate.io/v1"}, ClusterScoped: true}
	errs := nncp.Validate(
		metav1.TypeMeta{APIVersion: "nmstate.io/v1beta1", Kind: "NodeNetworkConfigurationPolicy"},
		&metav1.ObjectMeta{Name: "br1-eth1-policy ", Namespace: "default"})
	for _, e := range errs {
		fmt.Println(e)
	}
	w := validation.Warnf(field.NewPath("spec", "maxUnavailable"), "unset: %s nodes at a time", "50%")
	fmt.Println("warning:", w)
	// Output:
	// apiVersion: Unsupported value: "nmstate.io/v1beta1": supported values: "nmstate.io/v1"
	// metadata.name: Invalid value: "br1-eth1-policy ": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
	// metadata.namespace: Forbidden: a NodeNetworkConfigurationPolicy is cluster-scoped
	// warning: spec.maxUnavailable: unset: 50% nodes at a time
}
