package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/kubetest"
)

// Everything kubevirt-pxe prints is accepted by a real API server with the
// CRDs a cluster has (server-side apply, dry run, strict field
// validation): the documented NAD and VMI, the VM with its annotation,
// the NNCP, a VLAN, and the RBAC objects of both scopes.
func TestOutputAcceptedByAPIServer(t *testing.T) {
	c := kubetest.Start(t, kubetest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		nil,
		{"-kind", "VirtualMachine", "-api-version", "kubevirt.io/v1", "-profile", "install", "-namespace", "lab", "-mac", "52:54:00:12:34:56"},
		{"-node-port", "eth1", "-vlan", "100", "-cni", "bridge", "-tuning=false"},
		{"--rbac", "-namespace", "lab", "-profiles-configmap", "pxe-profiles"},
		{"--rbac", "-namespace", "pxe-system", "-all-namespaces", "-service-account", "pxekit-all"},
	} {
		c.RequireAccepted(ctx, "kubevirt-pxe "+strings.Join(args, " "), runOK(t, args...))
	}
}
