package main

import "github.com/pxekit/pxekit/pxe/kubevirt/rbac"

// renderRBAC prints what a cluster administrator applies for a boot server
// that takes its machines from this cluster (pxelab serve --kubeconfig):
// its ServiceAccount and the Role and RoleBinding (ClusterRole and
// ClusterRoleBinding with -all-namespaces) of exactly the requests it
// makes.
func renderRBAC(o *options) ([]byte, error) {
	objs, err := rbac.Objects(rbac.Options{Namespace: o.namespace, Name: o.serviceAccount, AllNamespaces: o.allNamespaces, ProfilesConfigMap: o.profilesConfigMap})
	if err != nil {
		return nil, perLine("RBAC", err)
	}
	all := make([]any, len(objs))
	for i, o := range objs {
		all[i] = o
	}
	return stream(all...)
}
