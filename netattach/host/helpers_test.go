//go:build linux

package host

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/pxetest"
)

// newNetns makes a network namespace with a unique name (other engineers'
// tests run at the same time) and removes it when the test ends.
func newNetns(t *testing.T) string {
	t.Helper()
	pxetest.RequireRoot(t)
	pxetest.RequireCmd(t, "ip", "iproute2")
	name := fmt.Sprintf("pxhost%d-%x", os.Getpid(), rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ipIn(t, name, "link", "set", "lo", "up")
	return name
}

// ipIn runs iproute2 in the namespace: the independent observer (and the
// tool a user would check with).
func ipIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// addVeth makes a veth pair name/peer in ns.
func addVeth(t *testing.T, ns, name, peer string) {
	t.Helper()
	ipIn(t, ns, "link", "add", name, "type", "veth", "peer", "name", peer)
}

// ipLink is the part of `ip -j -d link show` the tests look at.
type ipLink struct {
	IfName   string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	Master   string   `json:"master"`
	LinkInfo *struct {
		InfoKind string         `json:"info_kind"`
		InfoData map[string]any `json:"info_data"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

func (l ipLink) up() bool {
	for _, f := range l.Flags {
		if f == "UP" {
			return true
		}
	}
	return false
}

// links returns every link of ns as iproute2 reports it, by name.
func links(t *testing.T, ns string) map[string]ipLink {
	t.Helper()
	var ls []ipLink
	if err := json.Unmarshal([]byte(ipIn(t, ns, "-j", "-d", "addr", "show")), &ls); err != nil {
		t.Fatalf("parse ip -j output: %v", err)
	}
	m := map[string]ipLink{}
	for _, l := range ls {
		m[l.IfName] = l
	}
	return m
}

func loadBr1Eth1Policy(t testing.TB) netattach.State {
	t.Helper()
	b, err := os.ReadFile("testdata/br1-eth1-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var nncp netattach.NodeNetworkConfigurationPolicy
	if err := yaml.UnmarshalStrict(b, &nncp); err != nil {
		t.Fatalf("documented policy: %v", err)
	}
	return nncp.Spec.DesiredState
}

func actions(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.String()
	}
	return out
}
