// Package virttemplate declares the client constructor kubevirt.io/kubevirt's
// informer factory calls. It always fails: the oracle reads no cluster.
package virttemplate

import (
	"errors"

	"k8s.io/client-go/rest"
)

// Interface is the clientset of the template.kubevirt.io group.
type Interface interface {
	TemplateV1beta1() V1beta1Interface
}

// V1beta1Interface is the v1beta1 client of that group.
type V1beta1Interface interface {
	RESTClient() rest.Interface
}

// NewForConfig refuses: the oracle talks to no API server.
func NewForConfig(*rest.Config) (Interface, error) {
	return nil, errors.New("kvoracle: no virt-template client (stub)")
}
