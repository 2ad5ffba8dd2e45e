package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/kubetest"
)

// What `hostnet nncp` prints is accepted by a real API server with
// nmstate's NodeNetworkConfigurationPolicy CRD (server-side apply, dry
// run, strict field validation): the documented br1-eth1-policy, from its
// desiredState and from the NNCP itself, and a bridge whose port trunks
// VLANs.
func TestNNCPAcceptedByAPIServer(t *testing.T) {
	c := kubetest.Start(t, kubetest.Config{CRDs: []string{"nmstate.io_nodenetworkconfigurationpolicies.yaml"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	trunk := filepath.Join(t.TempDir(), "trunk.yaml")
	if err := os.WriteFile(trunk, []byte(`interfaces:
  - name: br2
    type: linux-bridge
    state: up
    mtu: 9000
    ipv4:
      enabled: false
    bridge:
      options:
        stp:
          enabled: false
      port:
        - name: eth2
          vlan:
            mode: trunk
            trunk-tags:
              - id: 100
              - id-range:
                  min: 200
                  max: 299
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"nncp", "-f", "testdata/desiredstate.yaml", "-name", "br1-eth1-policy"},
		{"nncp", "-f", "testdata/br1-eth1-policy.yaml"},
		{"nncp", "-f", trunk, "-name", "br2-trunk"},
	} {
		code, out, errOut := runCmd(args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		c.RequireAccepted(ctx, "hostnet "+strings.Join(args, " "), []byte(out))
	}
}
