//go:build linux

package host

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/pxetest"
)

// benchNetns is newNetns for benchmarks.
func benchNetns(b *testing.B) string {
	b.Helper()
	pxetest.RequireRoot(b)
	pxetest.RequireCmd(b, "ip", "iproute2")
	name := fmt.Sprintf("pxhostb%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v: %s", err, out)
	}
	b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name
}

// BenchmarkApplyRemoveBr1Eth1Policy: one apply of br1-eth1-policy plus its
// removal, per op.
func BenchmarkApplyRemoveBr1Eth1Policy(b *testing.B) {
	ns := benchNetns(b)
	if out, err := exec.Command("ip", "-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1peer").CombinedOutput(); err != nil {
		b.Fatalf("veth: %v: %s", err, out)
	}
	policy := loadBr1Eth1Policy(b)
	h := &Host{NetNS: ns}
	ctx := context.Background()
	for b.Loop() {
		p, err := h.Plan(ctx, policy)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Apply(ctx, p); err != nil {
			b.Fatal(err)
		}
		if _, err := h.Remove(ctx, policy); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanConverged64: planning a bridge with 64 ports that is already
// in place (what a node agent's periodic reconcile costs).
func BenchmarkPlanConverged64(b *testing.B) {
	ns := benchNetns(b)
	br := netattach.Interface{Name: "br1", Type: netattach.TypeLinuxBridge,
		Bridge: &netattach.BridgeConfig{Options: &netattach.BridgeOptions{STP: &netattach.STPOptions{}}}}
	for i := range 64 {
		name := fmt.Sprintf("p%d", i)
		if out, err := exec.Command("ip", "-n", ns, "link", "add", name, "type", "veth", "peer", "name", name+"x").CombinedOutput(); err != nil {
			b.Fatalf("veth: %v: %s", err, out)
		}
		br.Bridge.Port = append(br.Bridge.Port, netattach.BridgePort{Name: name})
	}
	policy := netattach.State{Interfaces: []netattach.Interface{br}}
	h := &Host{NetNS: ns}
	ctx := context.Background()
	p, err := h.Plan(ctx, policy)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.Apply(ctx, p); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := h.Plan(ctx, policy)
		if err != nil || !p.Empty() {
			b.Fatalf("%v %v", p, err)
		}
	}
}
