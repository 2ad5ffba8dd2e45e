package main

import (
	"bytes"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/pxe/kubevirt/rbac"
	"github.com/pxekit/pxekit/vmspec"
)

// --rbac prints the objects package rbac declares, nothing else; without
// a namespace it refuses, naming what is missing.
func TestRBAC(t *testing.T) {
	out := runOK(t, "--rbac", "-namespace", "lab", "-profiles-configmap", "pxe-profiles")
	ds := docs(t, out)
	var kinds []string
	for _, d := range ds {
		var m struct{ Kind string }
		if err := yaml.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, m.Kind)
	}
	if got := strings.Join(kinds, ","); got != "ServiceAccount,Role,RoleBinding" {
		t.Fatalf("kinds %s, want ServiceAccount,Role,RoleBinding", got)
	}
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(ds[1], &role); err != nil {
		t.Fatal(err)
	}
	want := append(rbac.MachineRules(), rbac.ConfigMapRule("pxe-profiles"))
	if y1, y2 := mustYAML(t, role.Rules), mustYAML(t, want); y1 != y2 {
		t.Errorf("Role rules:\n%s\nwant:\n%s", y1, y2)
	}

	all := runOK(t, "--rbac", "-namespace", "pxe-system", "-all-namespaces")
	if !bytes.Contains(all, []byte("kind: ClusterRole\n")) || !bytes.Contains(all, []byte("kind: ClusterRoleBinding\n")) || bytes.Contains(all, []byte("kind: Role\n")) {
		t.Errorf("-all-namespaces without a ConfigMap: want ClusterRole and binding, no Role:\n%s", all)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"--rbac"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "namespace: Required value") || stdout.Len() > 0 {
		t.Errorf("--rbac without -namespace: exit %d, stderr %q", code, stderr.String())
	}
}

// -profile annotates the object the boot server reads: a VM's own
// metadata, not its template's.
func TestProfileAnnotation(t *testing.T) {
	out := runOK(t, "-kind", "VirtualMachine", "-api-version", "kubevirt.io/v1", "-profile", "install")
	var vm kubevirtv1.VirtualMachine
	if err := yaml.Unmarshal(docs(t, out)[1], &vm); err != nil {
		t.Fatal(err)
	}
	if vm.Annotations[vmspec.AnnotationPXEProfile] != "install" || vm.Spec.Template.ObjectMeta.Annotations[vmspec.AnnotationPXEProfile] != "" {
		t.Errorf("annotations %v, template %v", vm.Annotations, vm.Spec.Template.ObjectMeta.Annotations)
	}
	if bytes.Contains(runOK(t), []byte("pxekit.io/")) {
		t.Error("without -profile the output names pxekit's annotation")
	}
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	y, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(y)
}
