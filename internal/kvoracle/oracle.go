// Package kvoracle runs KubeVirt v1.9.0's own admission code on a
// VirtualMachine or VirtualMachineInstance, offline, so that vmspec's
// validation can be compared with it: the mutating defaults virt-api applies
// on CREATE, then the validating admitter, with a cluster configuration
// built the way KubeVirt's unit tests build theirs.
//
// It is test-only: its own module, outside the library's import graph.
package kvoracle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.uber.org/mock/gomock"
	admissionv1 "k8s.io/api/admission/v1"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	v1 "kubevirt.io/api/core/v1"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	"kubevirt.io/client-go/kubecli"
	"kubevirt.io/client-go/log"

	"kubevirt.io/kubevirt/pkg/defaults"
	instancetypeWebhooks "kubevirt.io/kubevirt/pkg/instancetype/webhooks/vm"
	"kubevirt.io/kubevirt/pkg/network/admitter"
	"kubevirt.io/kubevirt/pkg/testutils"
	webhookutils "kubevirt.io/kubevirt/pkg/util/webhooks"
	"kubevirt.io/kubevirt/pkg/virt-api/webhooks"
	"kubevirt.io/kubevirt/pkg/virt-api/webhooks/mutating-webhook/mutators"
	"kubevirt.io/kubevirt/pkg/virt-api/webhooks/validating-webhook/admitters"
	virtconfig "kubevirt.io/kubevirt/pkg/virt-config"
)

// Cause is one reason for a refusal, as the webhook reports it.
type Cause struct {
	Field   string
	Message string
}

// Verdict is the webhook's answer to a CREATE.
type Verdict struct {
	Allowed bool
	// Causes are at most 10 (the webhook drops the rest); Truncated says
	// some were dropped.
	Causes    []Cause
	Truncated bool
	Warnings  []string
	// Error is a refusal without causes (the object could not be decoded
	// or defaulted).
	Error string
}

// Fields returns the distinct field paths of the causes, sorted.
func (v Verdict) Fields() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range v.Causes {
		if !seen[c.Field] {
			seen[c.Field] = true
			out = append(out, c.Field)
		}
	}
	sort.Strings(out)
	return out
}

// Oracle judges objects with one cluster configuration.
type Oracle struct {
	config *virtconfig.ClusterConfig
	client kubecli.KubevirtClient
	vmi    *admitters.VMICreateAdmitter
	vm     *admitters.VMsAdmitter
}

// reporter turns a gomock failure (an unexpected client call) into a panic:
// the oracle must not talk to a cluster.
type reporter struct{}

func (reporter) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (reporter) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// New returns an oracle for a cluster with KubeVirt v1.9.0's default
// configuration plus the feature gates named (DeveloperConfiguration.
// FeatureGates) and without those in disabled (DisabledFeatureGates).
func New(enabled, disabled []string) *Oracle {
	kvConfig := &v1.KubeVirtConfiguration{
		DeveloperConfiguration: &v1.DeveloperConfiguration{
			FeatureGates:         enabled,
			DisabledFeatureGates: disabled,
		},
	}
	// The admission code logs what it ignores (a DataSource not found):
	// noise in test output.
	log.Log.SetIOWriter(io.Discard)
	config, _, _ := testutils.NewFakeClusterConfigUsingKVConfig(kvConfig)
	ctrl := gomock.NewController(reporter{})
	client := kubecli.NewMockKubevirtClient(ctrl)
	// The VM mutator looks up DataSources a dataVolumeTemplate names (for
	// their architecture label); an empty fake CDI answers "not found",
	// which the mutator ignores, as it does on a cluster without them.
	client.EXPECT().CdiClient().Return(cdifake.NewSimpleClientset()).AnyTimes()
	accounts := map[string]struct{}{}
	o := &Oracle{config: config, client: client}
	// virt-api registers the VMI create webhook with the network admitter
	// as an extra spec validator (pkg/virt-api/api.go).
	o.vmi = &admitters.VMICreateAdmitter{
		ClusterConfig:           config,
		KubeVirtServiceAccounts: accounts,
		SpecValidators: []admitters.SpecValidator{
			func(p *field.Path, spec *v1.VirtualMachineInstanceSpec, c *virtconfig.ClusterConfig) []metav1.StatusCause {
				return admitter.Validate(p, spec, c)
			},
		},
	}
	o.vm = &admitters.VMsAdmitter{
		VirtClient:              client,
		InstancetypeAdmitter:    instancetypeWebhooks.NewAdmitterStub(),
		ClusterConfig:           config,
		KubeVirtServiceAccounts: accounts,
	}
	return o
}

// Review judges a *v1.VirtualMachineInstance or *v1.VirtualMachine as
// kube-apiserver would on CREATE: the mutating webhook, then the validating
// one. The object is not modified.
func (o *Oracle) Review(obj runtime.Object) Verdict {
	switch t := obj.(type) {
	case *v1.VirtualMachineInstance:
		return o.reviewVMI(t.DeepCopy())
	case *v1.VirtualMachine:
		return o.reviewVM(t.DeepCopy())
	}
	return Verdict{Error: fmt.Sprintf("kvoracle: cannot review %T", obj)}
}

func (o *Oracle) reviewVMI(vmi *v1.VirtualMachineInstance) (v Verdict) {
	defer recoverInto(&v)
	raw, err := json.Marshal(vmi)
	if err != nil {
		return Verdict{Error: err.Error()}
	}
	raw = withoutNulls(raw)
	vmi = &v1.VirtualMachineInstance{}
	if err := json.Unmarshal(raw, vmi); err != nil {
		return Verdict{Error: err.Error()}
	}
	// Mutating webhook (VMIsMutator.Mutate on CREATE, without presets).
	if resp := webhookutils.ValidateSchema(v1.VirtualMachineInstanceGroupVersionKind, raw); resp != nil {
		return verdict(resp)
	}
	if err := mutators.ApplyNewVMIMutations(vmi, o.config); err != nil {
		return Verdict{Error: err.Error()}
	}
	raw, err = json.Marshal(vmi)
	if err != nil {
		return Verdict{Error: err.Error()}
	}
	raw = withoutNulls(raw)
	ar := review(webhooks.VirtualMachineInstanceGroupVersionResource, vmi.Namespace, raw)
	return verdict(o.vmi.Admit(context.Background(), ar))
}

func (o *Oracle) reviewVM(vm *v1.VirtualMachine) (v Verdict) {
	defer recoverInto(&v)
	raw, err := json.Marshal(vm)
	if err != nil {
		return Verdict{Error: err.Error()}
	}
	raw = withoutNulls(raw)
	vm = &v1.VirtualMachine{}
	if err := json.Unmarshal(raw, vm); err != nil {
		return Verdict{Error: err.Error()}
	}
	// Mutating webhook (VMsMutator.Mutate on CREATE: no instancetype, so
	// only the VM defaults; the firmware UUID and serial it also sets are
	// not validated).
	if resp := webhookutils.ValidateSchema(v1.VirtualMachineGroupVersionKind, raw); resp != nil {
		return verdict(resp)
	}
	if vm.Spec.Template != nil {
		defaults.SetVirtualMachineDefaults(vm, o.config, o.client)
	}
	raw, err = json.Marshal(vm)
	if err != nil {
		return Verdict{Error: err.Error()}
	}
	raw = withoutNulls(raw)
	ar := review(webhooks.VirtualMachineGroupVersionResource, vm.Namespace, raw)
	return verdict(o.vm.Admit(context.Background(), ar))
}

// recoverInto reports a panic of the admission code as an error verdict
// (the webhook would answer 500); the differential test counts it apart.
func recoverInto(v *Verdict) {
	if r := recover(); r != nil {
		*v = Verdict{Error: fmt.Sprintf("panic: %v", r)}
	}
}

// withoutNulls drops the null values of a JSON object. The typed Go
// objects marshal unset non-pointer-omitempty fields (apiGroup of a
// dataSourceRef, the template of a VM) as null; a manifest leaves them out,
// and the API server prunes nulls of non-nullable fields before the
// webhooks see the object.
func withoutNulls(raw []byte) []byte {
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return raw
	}
	var strip func(any) any
	strip = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, v := range t {
				if v == nil {
					delete(t, k)
				} else {
					t[k] = strip(v)
				}
			}
		case []any:
			for i := range t {
				t[i] = strip(t[i])
			}
		}
		return x
	}
	out, err := json.Marshal(strip(tree))
	if err != nil {
		return raw
	}
	return out
}

func review(gvr metav1.GroupVersionResource, namespace string, raw []byte) *admissionv1.AdmissionReview {
	return &admissionv1.AdmissionReview{
		Request: &admissionv1.AdmissionRequest{
			Operation: admissionv1.Create,
			Resource:  gvr,
			Namespace: namespace,
			Object:    runtime.RawExtension{Raw: raw},
			UserInfo:  authv1.UserInfo{Username: "kvoracle-user"},
		},
	}
}

func verdict(resp *admissionv1.AdmissionResponse) Verdict {
	v := Verdict{Allowed: resp.Allowed, Warnings: resp.Warnings}
	if resp.Result != nil {
		if resp.Result.Details != nil {
			for _, c := range resp.Result.Details.Causes {
				f := c.Field
				// Schema errors carry their path in the message only:
				// "spec.dnsPolicy in body should be one of [...]".
				if before, _, ok := strings.Cut(c.Message, " in body "); ok && f == "" {
					f = before
				}
				v.Causes = append(v.Causes, Cause{Field: f, Message: c.Message})
			}
		}
		if len(v.Causes) == 0 && !resp.Allowed {
			v.Error = resp.Result.Message
		}
		v.Truncated = len(v.Causes) == 10 && len(resp.Result.Message) > 0 && containsMore(resp.Result.Message)
	}
	return v
}

func containsMore(msg string) bool {
	const more = "more validation errors"
	return len(msg) >= len(more) && msg[len(msg)-len(more):] == more
}
