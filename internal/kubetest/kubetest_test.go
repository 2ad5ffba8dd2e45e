package kubetest

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// One cluster for the package's checks of the harness itself: the CRDs
// serve, a dry run accepts a valid object and refuses a bad one without
// storing either, a service account has only what RBAC grants it and its
// requests are audited, and the API server comes back after a restart
// with what etcd holds.
func TestCluster(t *testing.T) {
	c := Start(t, Config{Audit: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	t.Run("CRDsServed", func(t *testing.T) {
		m, err := c.mapper()
		if err != nil {
			t.Fatal(err)
		}
		for _, gk := range []string{"VirtualMachine.kubevirt.io", "VirtualMachineInstance.kubevirt.io", "NetworkAttachmentDefinition.k8s.cni.cncf.io",
			"NodeNetworkConfigurationPolicy.nmstate.io", "SriovNetworkNodePolicy.sriovnetwork.openshift.io", "SriovNetwork.sriovnetwork.openshift.io",
			"PerformanceProfile.performance.openshift.io", "MachineConfigPool.machineconfiguration.openshift.io"} {
			kind, group, _ := strings.Cut(gk, ".")
			if _, err := m.RESTMapping(schemaGK(group, kind)); err != nil {
				t.Errorf("%s: %v", gk, err)
			}
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		stream := []byte(`# a comment-only document first
---
apiVersion: v1
kind: Namespace
metadata:
  name: from-the-stream
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: good
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        devices: {}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: misplaced
  namespace: elsewhere
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        interfaces: []
        devices: {}
`)
		res, err := c.DryRun(ctx, stream, ServerSideApply)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 3 {
			t.Fatalf("results %v, want three", res)
		}
		if res[0].Err != nil || res[0].String() != "Namespace from-the-stream" {
			t.Errorf("namespace: %v %v", res[0], res[0].Err)
		}
		if res[1].Err != nil || res[1].String() != "VirtualMachine default/good" {
			t.Errorf("valid VM: %v %v", res[1], res[1].Err)
		}
		if res[2].Err == nil || !strings.Contains(res[2].Err.Error(), "spec.template.spec.domain.interfaces") {
			t.Errorf("misplaced field: err = %v, want a refusal naming spec.template.spec.domain.interfaces", res[2].Err)
		}
		// Run again, as a create: the Namespace applied the first time
		// is taken again.
		again, err := c.DryRun(ctx, stream, Create)
		if err != nil || again[0].Err != nil || again[1].Err != nil || again[2].Err == nil {
			t.Errorf("as a create: %v %v", again, err)
		}
		// A dry run stores nothing; the namespace it needed is real.
		dyn := c.Dynamic()
		m, _ := c.mapper()
		vm, _ := m.RESTMapping(schemaGK("kubevirt.io", "VirtualMachine"), "v1")
		if _, err := dyn.Resource(vm.Resource).Namespace("default").Get(ctx, "good", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("dry-run object stored: get = %v", err)
		}
		for _, ns := range []string{"elsewhere", "from-the-stream"} {
			if _, err := c.Clientset().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
				t.Errorf("namespace %s: %v", ns, err)
			}
		}
	})

	t.Run("ServiceAccount", func(t *testing.T) {
		cs := c.Clientset()
		c.CreateNamespace(ctx, "sa-test")
		if _, err := cs.CoreV1().ServiceAccounts("sa-test").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}}}
		if _, err := cs.RbacV1().Roles("sa-test").Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: "sa-test"}}}
		if _, err := cs.RbacV1().RoleBindings("sa-test").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sa, err := kubernetes.NewForConfig(c.REST(c.ServiceAccountToken(ctx, "sa-test", "reader")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sa.CoreV1().ConfigMaps("sa-test").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("granted list: %v", err)
		}
		if _, err := sa.CoreV1().Secrets("sa-test").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("list secrets: err = %v, want forbidden", err)
		}
		events, err := c.AuditEvents()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range events {
			if e.User.Username == "system:serviceaccount:sa-test:reader" && e.Stage == "ResponseComplete" {
				seen[e.Verb+" "+e.Resource()] = e.Code()
			}
		}
		if seen["list configmaps"] != 200 || seen["list secrets"] != 403 {
			t.Errorf("audited requests of the service account: %v, want list configmaps 200 and list secrets 403", seen)
		}
	})

	t.Run("Restart", func(t *testing.T) {
		cs := c.Clientset()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"k": "v"}}
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Restart()
		got, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{})
		if err != nil || got.Data["k"] != "v" {
			t.Fatalf("after a restart: %v %v", got, err)
		}
	})
}

func schemaGK(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
