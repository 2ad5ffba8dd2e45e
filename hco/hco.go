// Package hco builds and checks the HyperConverged custom resource of the
// HyperConverged Cluster Operator (OpenShift Virtualization's operator) for
// the settings pxekit needs: the secondary DNS server that resolves VMs'
// secondary-network addresses by name (spec.featureGates.deployKubeSecondaryDNS
// and spec.kubeSecondaryDNSNameServerIP).
//
// The HyperConverged CR exists once per cluster (the operator's install
// creates it); [New] builds the fields pxekit sets, [MergePatch] gives them
// as the merge patch `oc patch hco --type merge` applies, and [Decode] with
// [Validate] checks a manifest that sets them. Fields of the spec pxekit does
// not model are kept as they are (Spec.Other), not checked.
package hco

import (
	"encoding/json"
	"errors"
	"maps"
	"net/netip"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// The HyperConverged CR's type, and where OpenShift Virtualization keeps it.
const (
	APIVersion = "hco.kubevirt.io/v1beta1"
	Kind       = "HyperConverged"
	// Name is the only name the operator reconciles.
	Name = "kubevirt-hyperconverged"
	// Namespace is OpenShift Virtualization's; upstream installs use
	// kubevirt-hyperconverged.
	Namespace = "openshift-cnv"
)

// GateDeployKubeSecondaryDNS makes the Cluster Network Addons Operator deploy
// KubeSecondaryDNS, the DNS server for VMs' secondary interfaces.
const GateDeployKubeSecondaryDNS = "deployKubeSecondaryDNS"

// HyperConverged is the HyperConverged CR as far as pxekit models it.
type HyperConverged struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec `json:"spec"`
}

// Spec is the part of the HyperConverged spec pxekit sets.
type Spec struct {
	// FeatureGates are the operator's feature gates by name
	// (deployKubeSecondaryDNS: true).
	FeatureGates map[string]bool
	// KubeSecondaryDNSNameServerIP is the address, outside the cluster, of
	// the Service that exposes the secondary DNS server (port 53, target
	// port 5353): the name server of the VMs' zone (vm.<cluster domain>).
	KubeSecondaryDNSNameServerIP string
	// Other holds the spec's other fields, unchanged and unchecked.
	Other map[string]json.RawMessage
}

// MarshalJSON writes the modelled fields beside Other.
func (s Spec) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(s.Other)+2)
	for k, v := range s.Other {
		out[k] = v
	}
	if len(s.FeatureGates) > 0 {
		out["featureGates"] = s.FeatureGates
	}
	if s.KubeSecondaryDNSNameServerIP != "" {
		out["kubeSecondaryDNSNameServerIP"] = s.KubeSecondaryDNSNameServerIP
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the modelled fields and keeps the others in Other;
// featureGates of other names than booleans are an error (as the CRD's
// schema has them).
func (s *Spec) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = Spec{}
	if fg, ok := raw["featureGates"]; ok {
		if err := json.Unmarshal(fg, &s.FeatureGates); err != nil {
			return errors.New("featureGates: " + err.Error())
		}
		delete(raw, "featureGates")
	}
	if ip, ok := raw["kubeSecondaryDNSNameServerIP"]; ok {
		if err := json.Unmarshal(ip, &s.KubeSecondaryDNSNameServerIP); err != nil {
			return errors.New("kubeSecondaryDNSNameServerIP: " + err.Error())
		}
		delete(raw, "kubeSecondaryDNSNameServerIP")
	}
	if len(raw) > 0 {
		s.Other = raw
	}
	return nil
}

// Builder builds a HyperConverged CR; start one with [New].
type Builder struct {
	hc   HyperConverged
	errs field.ErrorList
}

// New starts the HyperConverged CR OpenShift Virtualization runs on
// (kubevirt-hyperconverged in openshift-cnv).
func New() *Builder {
	return &Builder{hc: HyperConverged{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind},
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace},
	}}
}

// WithNamespace sets the operator's namespace (kubevirt-hyperconverged on
// upstream installs).
func (b *Builder) WithNamespace(ns string) *Builder {
	b.hc.Namespace = ns
	return b
}

// WithFeatureGate sets one of the operator's feature gates.
func (b *Builder) WithFeatureGate(name string, on bool) *Builder {
	if b.hc.Spec.FeatureGates == nil {
		b.hc.Spec.FeatureGates = map[string]bool{}
	}
	b.hc.Spec.FeatureGates[name] = on
	return b
}

// WithSecondaryDNS deploys KubeSecondaryDNS (the deployKubeSecondaryDNS
// feature gate) and names the address it is reached at from outside the
// cluster: the external IP of the LoadBalancer Service in front of it (port
// 53 to its 5353). Point resolvers there, or delegate vm.<cluster domain> to
// it (NS and A records).
func (b *Builder) WithSecondaryDNS(nameServerIP netip.Addr) *Builder {
	if !nameServerIP.IsValid() {
		b.errs = append(b.errs, field.Required(field.NewPath("spec", "kubeSecondaryDNSNameServerIP"), "the secondary DNS server's address"))
	}
	b.WithFeatureGate(GateDeployKubeSecondaryDNS, true)
	b.hc.Spec.KubeSecondaryDNSNameServerIP = nameServerIP.String()
	return b
}

// Build returns the CR, and an error listing every problem [Validate]
// finds (the CR is returned even then).
func (b *Builder) Build() (*HyperConverged, error) {
	hc := b.hc
	hc.Spec.FeatureGates = maps.Clone(b.hc.Spec.FeatureGates)
	errs := slices.Clone(b.errs)
	verrs, _ := Validate(&hc)
	errs = append(errs, verrs...)
	return &hc, errs.ToAggregate()
}

// ToYAML prints the CR as kubectl apply -f takes it.
func ToYAML(hc *HyperConverged) ([]byte, error) {
	return yaml.Marshal(hc)
}

// MergePatch is the spec pxekit sets as the merge patch of the existing CR
// (`oc patch hco kubevirt-hyperconverged -n openshift-cnv --type merge -p`).
func MergePatch(hc *HyperConverged) ([]byte, error) {
	return json.Marshal(map[string]any{"spec": hc.Spec})
}
