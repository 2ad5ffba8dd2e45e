package dpdk

import (
	"encoding/json"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/validation"
)

// MachineConfigPool API identity and the label keys it uses.
const (
	PoolAPIVersion = "machineconfiguration.openshift.io/v1"
	PoolKind       = "MachineConfigPool"
	// RoleLabel labels MachineConfigs (and pools) with the role they are for.
	RoleLabel = "machineconfiguration.openshift.io/role"
	// NodeRoleDomain is the domain of node-role labels.
	NodeRoleDomain = "node-role.kubernetes.io"
	// WorkerRole is the base role a custom worker pool inherits from.
	WorkerRole = "worker"
)

// MachineConfigPool is the Machine Config Operator's
// machineconfiguration.openshift.io/v1 MachineConfigPool, reduced to the
// fields a custom pool sets (small structs, JSON tags as upstream).
type MachineConfigPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec selects the pool's MachineConfigs and nodes.
	Spec MachineConfigPoolSpec `json:"spec"`
	// Status is kept opaque so that a pool read back from a cluster
	// decodes.
	Status json.RawMessage `json:"status,omitempty"`
}

// MachineConfigPoolSpec is MachineConfigPool.spec.
type MachineConfigPoolSpec struct {
	// MachineConfigSelector selects the MachineConfigs rendered for the pool.
	MachineConfigSelector *metav1.LabelSelector `json:"machineConfigSelector,omitempty"`
	// NodeSelector selects the nodes in the pool.
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	// Paused stops the pool's updates.
	Paused bool `json:"paused,omitempty"`
	// MaxUnavailable is how many nodes may update at once ("1", "10%").
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// NodeRoleLabel is the label that puts a node into a role, the one set
// with `oc label node <node_name> node-role.kubernetes.io/worker-dpdk=""`.
func NodeRoleLabel(role string) (key, value string) {
	return NodeRoleDomain + "/" + role, ""
}

// LabelNodeCommand is the oc command that labels a node into role.
func LabelNodeCommand(node, role string) string {
	k, _ := NodeRoleLabel(role)
	return fmt.Sprintf("oc label node %s %s=\"\"", node, k)
}

// MachineConfigPoolBuilder builds a custom MachineConfigPool; Build
// validates it.
type MachineConfigPoolBuilder struct {
	p MachineConfigPool
}

// NewMachineConfigPool starts the custom pool for role (e.g. worker-dpdk):
// it renders the worker MachineConfigs plus the role's own (the
// PerformanceProfile's), for the nodes labelled with the role
// ([NodeRoleLabel]).
func NewMachineConfigPool(role string) *MachineConfigPoolBuilder {
	key, val := NodeRoleLabel(role)
	b := &MachineConfigPoolBuilder{}
	p := &b.p
	p.APIVersion, p.Kind = PoolAPIVersion, PoolKind
	p.Name = role
	p.Labels = map[string]string{RoleLabel: role}
	p.Spec.MachineConfigSelector = &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: RoleLabel, Operator: metav1.LabelSelectorOpIn, Values: []string{WorkerRole, role},
		}},
	}
	p.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{key: val}}
	return b
}

// WithMaxUnavailable sets how many nodes of the pool may update at once: a
// count ("1") or a percentage ("10%").
func (b *MachineConfigPoolBuilder) WithMaxUnavailable(v string) *MachineConfigPoolBuilder {
	m := intstr.Parse(v)
	b.p.Spec.MaxUnavailable = &m
	return b
}

// Build returns the pool and one error listing every problem
// [ValidateMachineConfigPool] finds, with its field path; the pool is
// returned even when there are problems. The pool is a
// copy: changing the builder afterwards does not change it.
func (b *MachineConfigPoolBuilder) Build() (*MachineConfigPool, error) {
	p := deepCopy(&b.p)
	return p, ValidateMachineConfigPool(p).ToAggregate()
}

// poolType is what ValidateMachineConfigPool checks apiVersion, kind and
// metadata against: a MachineConfigPool is cluster-scoped.
var poolType = validation.ObjectType{Kind: PoolKind, APIVersions: []string{PoolAPIVersion}, ClusterScoped: true}

// ValidateMachineConfigPool checks a pool offline: apiVersion, kind and
// metadata as for every object; both selectors present, non-empty and well
// formed; maxUnavailable an integer or a percentage.
func ValidateMachineConfigPool(p *MachineConfigPool) field.ErrorList {
	if p == nil {
		return field.ErrorList{field.Required(nil, "no MachineConfigPool")}
	}
	errs := poolType.Validate(p.TypeMeta, &p.ObjectMeta)
	spec := field.NewPath("spec")
	for _, s := range []struct {
		name string
		sel  *metav1.LabelSelector
	}{{"machineConfigSelector", p.Spec.MachineConfigSelector}, {"nodeSelector", p.Spec.NodeSelector}} {
		sp := spec.Child(s.name)
		if s.sel == nil || (len(s.sel.MatchLabels) == 0 && len(s.sel.MatchExpressions) == 0) {
			// An empty selector matches everything: every MachineConfig, or
			// every node of the cluster.
			errs = append(errs, field.Required(sp, "an empty selector would match everything"))
			continue
		}
		errs = append(errs, metav1validation.ValidateLabelSelector(s.sel, metav1validation.LabelSelectorValidationOptions{}, sp)...)
	}
	if m := p.Spec.MaxUnavailable; m != nil {
		if (m.Type == intstr.Int && m.IntVal < 1) || (m.Type == intstr.String && !maxUnavailableRE.MatchString(m.StrVal)) {
			errs = append(errs, field.Invalid(spec.Child("maxUnavailable"), m.String(), "must be a positive integer or a percentage such as 10%"))
		}
	}
	return errs
}

// CheckProfilePool reports what stops a PerformanceProfile's MachineConfigs
// from landing on a pool's nodes (the operator labels its MachineConfigs with
// machineConfigLabel, default machineconfiguration.openshift.io/role=<role of
// the profile's nodeSelector>, and its KubeletConfig selects pools by
// machineConfigPoolSelector, same default) — the wiring between a custom pool
// such as worker-dpdk and its profile such as profile-1.
func CheckProfilePool(p *PerformanceProfile, pool *MachineConfigPool) field.ErrorList {
	var errs field.ErrorList
	if p == nil || pool == nil || len(p.Spec.NodeSelector) != 1 {
		return nil
	}
	var nsKey, nsVal string
	for k, v := range p.Spec.NodeSelector {
		nsKey, nsVal = k, v
	}
	_, role, err := SplitRoleLabel(nsKey)
	mcLabel, poolSel := p.Spec.MachineConfigLabel, p.Spec.MachineConfigPoolSelector
	if err == nil {
		if mcLabel == nil {
			mcLabel = map[string]string{RoleLabel: role}
		}
		if poolSel == nil {
			poolSel = map[string]string{RoleLabel: role}
		}
	}
	spec := field.NewPath("spec")
	if sel, err := metav1.LabelSelectorAsSelector(pool.Spec.MachineConfigSelector); err == nil && mcLabel != nil {
		if pool.Spec.MachineConfigSelector == nil || !sel.Matches(labels.Set(mcLabel)) {
			errs = append(errs, field.Invalid(spec.Child("machineConfigSelector"), mcLabel,
				fmt.Sprintf("pool %s does not select the profile's MachineConfigs (labelled %v)", pool.Name, labels.Set(mcLabel))))
		}
	}
	if poolSel != nil && !labels.SelectorFromSet(poolSel).Matches(labels.Set(pool.Labels)) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "labels"), pool.Labels,
			fmt.Sprintf("pool %s lacks the label %v the profile's KubeletConfig selects pools by", pool.Name, labels.Set(poolSel))))
	}
	if sel, err := metav1.LabelSelectorAsSelector(pool.Spec.NodeSelector); err == nil {
		if pool.Spec.NodeSelector == nil || !sel.Matches(labels.Set{nsKey: nsVal}) {
			errs = append(errs, field.Invalid(spec.Child("nodeSelector"), pool.Spec.NodeSelector,
				fmt.Sprintf("pool %s does not take the nodes the profile tunes (%s=%q)", pool.Name, nsKey, nsVal)))
		}
	}
	if pool.Spec.MachineConfigSelector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(pool.Spec.MachineConfigSelector); err == nil &&
			!sel.Matches(labels.Set{RoleLabel: WorkerRole}) && !slices.Contains([]string{"master", WorkerRole}, pool.Name) {
			errs = append(errs, field.Invalid(spec.Child("machineConfigSelector"), pool.Spec.MachineConfigSelector,
				"a custom pool must also select the worker MachineConfigs, or its nodes lose the base worker configuration"))
		}
	}
	return errs
}
