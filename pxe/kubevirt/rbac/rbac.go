// Package rbac declares the least privilege of pxekit's KubeVirt inventory
// source (package pxe/kubevirt): the ServiceAccount a boot server runs as,
// and the Role and RoleBinding (ClusterRole and ClusterRoleBinding when it
// serves every namespace) that grant it exactly the requests it makes:
//
//   - list and watch VirtualMachines and VirtualMachineInstances, the
//     machines;
//   - patch them, for the pxekit.io/installed annotation and nothing else
//     it writes;
//   - create and patch Events, the boot story `kubectl describe vm` tells
//     (patch raises the count of a repeated event);
//   - list and watch the profiles ConfigMap, that one by name, when the
//     profiles come from one.
//
// No get, update or delete: the source reads through its watches and
// changes one annotation with a merge patch. The package imports no
// client library, so a program that only prints these objects (kubevirt-pxe
// --rbac) does not link one.
package rbac

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultName names the service account, roles and bindings.
const DefaultName = "pxekit"

// Options say which boot server the objects are for.
type Options struct {
	// Namespace holds the service account and the profiles ConfigMap; it
	// is the namespace whose machines the server serves unless
	// AllNamespaces.
	Namespace string
	// Name names the service account, roles and bindings (default
	// DefaultName).
	Name string
	// AllNamespaces grants the machines of every namespace: their rules go
	// into a ClusterRole bound by a ClusterRoleBinding.
	AllNamespaces bool
	// ProfilesConfigMap, when set, is the ConfigMap in Namespace the
	// server reads its profiles from; the Role grants reading that one.
	ProfilesConfigMap string
}

// Validate reports a missing or invalid namespace and invalid names.
func (o Options) Validate() field.ErrorList {
	var errs field.ErrorList
	if o.Namespace == "" {
		errs = append(errs, field.Required(field.NewPath("namespace"), "the boot server's namespace"))
	} else {
		for _, msg := range validation.IsDNS1123Label(o.Namespace) {
			errs = append(errs, field.Invalid(field.NewPath("namespace"), o.Namespace, msg))
		}
	}
	if o.Name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(o.Name) {
			errs = append(errs, field.Invalid(field.NewPath("name"), o.Name, msg))
		}
	}
	if o.ProfilesConfigMap != "" {
		for _, msg := range validation.IsDNS1123Subdomain(o.ProfilesConfigMap) {
			errs = append(errs, field.Invalid(field.NewPath("profilesConfigMap"), o.ProfilesConfigMap, msg))
		}
	}
	return errs
}

func (o Options) name() string {
	if o.Name == "" {
		return DefaultName
	}
	return o.Name
}

// MachineRules are the rules on machines and their events: what the
// source does in every namespace it serves.
func MachineRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"kubevirt.io"}, Resources: []string{"virtualmachines", "virtualmachineinstances"}, Verbs: []string{"list", "watch", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

// ConfigMapRule lets the server read the ConfigMap name and no other: a
// list or watch narrowed to it by a metadata.name field selector.
func ConfigMapRule(name string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name}, Verbs: []string{"list", "watch"}}
}

// Objects returns what a cluster administrator applies for the server, in
// the order to apply them: the ServiceAccount, then for AllNamespaces the
// ClusterRole and ClusterRoleBinding of MachineRules, then the Role (the
// machine rules, unless AllNamespaces, and the ConfigMap rule) and its
// RoleBinding, when the Role has a rule.
func Objects(o Options) ([]runtime.Object, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	name := o.name()
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: o.Namespace}}
	labels := map[string]string{"app.kubernetes.io/name": "pxekit", "app.kubernetes.io/component": "boot-server"}
	meta := func(namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
	}
	objs := []runtime.Object{&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(o.Namespace)}}
	var rules []rbacv1.PolicyRule
	if o.AllNamespaces {
		objs = append(objs,
			&rbacv1.ClusterRole{TypeMeta: typeMeta(rbacv1.SchemeGroupVersion.String(), "ClusterRole"), ObjectMeta: meta(""), Rules: MachineRules()},
			&rbacv1.ClusterRoleBinding{TypeMeta: typeMeta(rbacv1.SchemeGroupVersion.String(), "ClusterRoleBinding"), ObjectMeta: meta(""),
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}, Subjects: subject})
	} else {
		rules = MachineRules()
	}
	if o.ProfilesConfigMap != "" {
		rules = append(rules, ConfigMapRule(o.ProfilesConfigMap))
	}
	if len(rules) > 0 {
		objs = append(objs,
			&rbacv1.Role{TypeMeta: typeMeta(rbacv1.SchemeGroupVersion.String(), "Role"), ObjectMeta: meta(o.Namespace), Rules: rules},
			&rbacv1.RoleBinding{TypeMeta: typeMeta(rbacv1.SchemeGroupVersion.String(), "RoleBinding"), ObjectMeta: meta(o.Namespace),
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: subject})
	}
	return objs, nil
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}
