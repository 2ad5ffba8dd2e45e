package rbac_test

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/pxekit/pxekit/pxe/kubevirt/rbac"
)

// The objects of a boot server in namespace lab that reads its profiles
// from the ConfigMap pxe-profiles, and what its Role allows.
func ExampleObjects() {
	objs, err := rbac.Objects(rbac.Options{Namespace: "lab", ProfilesConfigMap: "pxe-profiles"})
	if err != nil {
		panic(err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *rbacv1.Role:
			fmt.Println("Role", o.Namespace+"/"+o.Name)
			for _, r := range o.Rules {
				fmt.Println(" ", r.Verbs, r.APIGroups, r.Resources, r.ResourceNames)
			}
		case *rbacv1.RoleBinding:
			fmt.Println("RoleBinding", o.Namespace+"/"+o.Name, "->", o.Subjects[0].Kind, o.Subjects[0].Namespace+"/"+o.Subjects[0].Name)
		default:
			fmt.Println(o.GetObjectKind().GroupVersionKind().Kind)
		}
	}
	// Output:
	// ServiceAccount
	// Role lab/pxekit
	//   [list watch patch] [kubevirt.io] [virtualmachines virtualmachineinstances] []
	//   [create patch] [] [events] []
	//   [list watch] [] [configmaps] [pxe-profiles]
	// RoleBinding lab/pxekit -> ServiceAccount lab/pxekit
}
