package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/kubetest"
)

// Everything sriov-dpdk prints is accepted by a real API server with the
// SR-IOV operator's, the Node Tuning Operator's, OpenShift's
// MachineConfigPool, Multus's and KubeVirt's CRDs (server-side apply, dry
// run, strict field validation): the documented objects, and those of
// another shape of node and VM.
func TestOutputAcceptedByAPIServer(t *testing.T) {
	c := kubetest.Start(t, kubetest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		nil,
		{"-vm-cores", "8", "-vm-memory", "16Gi", "-sockets", "1", "-cores", "16", "-vlan", "300"},
	} {
		out, _ := runOK(t, args...)
		c.RequireAccepted(ctx, "sriov-dpdk "+strings.Join(args, " "), []byte(out))
	}
}
