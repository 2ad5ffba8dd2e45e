// Package sriovoracle judges SriovNetworkNodePolicy and SriovNetwork
// objects as a cluster with the SR-IOV Network Operator v1.6.0 does on
// CREATE, offline: the API server's validation against the CRD schema, then
// (for policies) the operator's validating webhook, as far as it runs
// without a cluster (its static rules: the dynamic ones read nodes and node
// states). It is test-only: its own module, outside the library's import
// graph.
package sriovoracle

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	sriovnetworkv1 "github.com/k8snetworkplumbingwg/sriov-network-operator/api/v1"
	"github.com/k8snetworkplumbingwg/sriov-network-operator/pkg/webhook"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Verdict is the cluster's answer to a CREATE.
type Verdict struct {
	Allowed bool
	// Fields are the schema errors' field paths; the webhook's refusals
	// have none (Message says why).
	Fields  []string
	Message string
	// Static is true when the webhook's static rules accepted the policy
	// and its dynamic ones (which need a cluster) were not run.
	Static bool
}

// Oracle holds the CRD schemas.
type Oracle struct {
	schemas map[string]validation.SchemaValidator
}

// New loads the CRDs and the supported NIC list from dir.
func New(dir string) (*Oracle, error) {
	o := &Oracle{schemas: map[string]validation.SchemaValidator{}}
	for kind, file := range map[string]string{
		"SriovNetworkNodePolicy": "sriovnetwork.openshift.io_sriovnetworknodepolicies.crd.yaml",
		"SriovNetwork":           "sriovnetwork.openshift.io_sriovnetworks.crd.yaml",
	} {
		b, err := os.ReadFile(dir + "/" + file)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(b, &crd); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		var in apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &in, nil); err != nil {
			return nil, err
		}
		sv, _, err := validation.NewSchemaValidator(&in)
		if err != nil {
			return nil, err
		}
		o.schemas[kind] = sv
	}
	b, err := os.ReadFile(dir + "/supported-nic-ids.yaml")
	if err != nil {
		return nil, err
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range cm.Data {
		ids = append(ids, v)
	}
	sriovnetworkv1.NicIDMap = nil
	sriovnetworkv1.InitNicIDMapFromList(ids)
	return o, nil
}

// Review judges one object given as YAML.
func (o *Oracle) Review(doc []byte) (v Verdict) {
	var obj map[string]any
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return Verdict{Message: err.Error()}
	}
	kind, _ := obj["kind"].(string)
	sv, ok := o.schemas[kind]
	if !ok {
		return Verdict{Message: "kind " + kind}
	}
	if errs := validation.ValidateCustomResource(nil, obj, sv); len(errs) > 0 {
		for _, e := range errs {
			v.Fields = append(v.Fields, strings.TrimPrefix(e.Field, "<nil>."))
		}
		v.Message = errs.ToAggregate().Error()
		return v
	}
	if kind != "SriovNetworkNodePolicy" {
		return Verdict{Allowed: true}
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return Verdict{Message: err.Error()}
	}
	// The dynamic rules list nodes through a client the webhook only has
	// in a cluster; reaching them (a nil client) means the static rules
	// passed.
	defer func() {
		if r := recover(); r != nil {
			v = Verdict{Allowed: true, Static: true}
		}
	}()
	resp := webhook.ValidateCustomResource(admissionv1.AdmissionReview{Request: &admissionv1.AdmissionRequest{
		Kind:      metav1.GroupVersionKind{Group: "sriovnetwork.openshift.io", Version: "v1", Kind: kind},
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}})
	v = Verdict{Allowed: resp.Allowed}
	if resp.Result != nil {
		v.Message = string(resp.Result.Reason) + resp.Result.Message
	}
	return v
}
