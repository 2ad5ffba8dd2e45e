//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/pxetest"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// sameYAML compares two YAML documents as data (key order and style aside).
func sameYAML(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	for _, c := range []struct {
		b []byte
		v *any
	}{{got, &g}, {want, &w}} {
		j, err := yaml.YAMLToJSON(c.b)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(j, c.v); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestNNCP: `hostnet nncp` prints the documented NodeNetworkConfigurationPolicy,
// from its desiredState plus a name, or from the NNCP itself.
func TestNNCP(t *testing.T) {
	want, err := os.ReadFile("testdata/br1-eth1-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"nncp", "-f", "testdata/desiredstate.yaml", "-name", "br1-eth1-policy"},
		{"nncp", "-f", "testdata/br1-eth1-policy.yaml"},
	} {
		code, out, errOut := runCmd(args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		sameYAML(t, []byte(out), want)
	}
	code, _, errOut := runCmd("nncp", "-f", "testdata/desiredstate.yaml")
	if code != 2 || !strings.Contains(errOut, "-name") {
		t.Errorf("nncp without a name: exit %d, %q", code, errOut)
	}
}

// TestBadInput: usage errors and policy files with mistakes exit 2 and say
// where the problem is (file:line: path).
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.yaml", "interfaces:\n  - name: br1\n    type: linux-bridge\n    bridge:\n      ports:\n        - name: eth1\n")
	long := write("long.yaml", "interfaces:\n  - name: br1\n    type: linux-bridge\n    bridge:\n      port:\n        - name: a-name-longer-than-15\n")
	nad := write("nad.yaml", "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: x\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"plan"}, "-f policy.yaml is required"},
		{[]string{"plan", "-f", filepath.Join(dir, "missing.yaml")}, "no such file"},
		{[]string{"plan", "-f", typo}, typo + ":5: interfaces[0].bridge.ports"},
		{[]string{"plan", "-f", long}, long + ":6: interfaces[0].bridge.port[0].name"},
		{[]string{"nncp", "-f", nad}, `kind: Unsupported value: "NetworkAttachmentDefinition"`},
		{[]string{"attach", "-bridge", "br1", "-port", "vm0", "-trunk", "5-x"}, `-trunk: "5-x": not a VLAN id or range`},
		{[]string{"attach", "-bridge", "br1", "-port", "vm0", "-vlan", "5000", "-trunk", "9-3"}, "-vlan: Invalid value: 5000"},
		{[]string{"attach", "-bridge", "br1", "-port", "vm0", "-trunk", "9-3"}, `-trunk[0]: Invalid value: "9-3": min must not exceed max`},
	} {
		code, _, errOut := runCmd(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestPlanApplyRemove drives the command in a namespace with a veth named
// eth1, as a user would, and checks the result with iproute2.
func TestPlanApplyRemove(t *testing.T) {
	pxetest.RequireRoot(t)
	pxetest.RequireCmd(t, "ip", "iproute2")
	ns := fmt.Sprintf("pxhostnet%d-%x", os.Getpid(), rand.Uint32())
	ip := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1peer")

	for _, file := range []string{"testdata/desiredstate.yaml", "testdata/br1-eth1-policy.yaml"} {
		code, out, errOut := runCmd("plan", "-f", file, "-netns", ns)
		if code != 0 {
			t.Fatalf("plan: exit %d: %s", code, errOut)
		}
		want := fmt.Sprintf("netns %s: 4 step(s)\n  1. create-bridge br1\n  2. set-master eth1 -> br1\n  3. set-up eth1\n  4. set-up br1\n", ns)
		if out != want {
			t.Errorf("plan -f %s printed:\n%s\nwant:\n%s", file, out, want)
		}
	}
	code, out, errOut := runCmd("apply", "-f", "testdata/br1-eth1-policy.yaml", "-netns", ns)
	if code != 0 || !strings.HasSuffix(out, "applied 4 step(s)\n") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if l := ip("-n", ns, "-d", "link", "show", "eth1"); !strings.Contains(l, "master br1") {
		t.Errorf("eth1 not in br1:\n%s", l)
	}
	if l := ip("-n", ns, "-d", "link", "show", "br1"); !strings.Contains(l, "stp_state 0") || !strings.Contains(l, ",UP") {
		t.Errorf("br1 not up with STP off:\n%s", l)
	}
	if code, out, _ := runCmd("plan", "-f", "testdata/desiredstate.yaml", "-netns", ns); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}
	if code, out, errOut := runCmd("remove", "-f", "testdata/desiredstate.yaml", "-netns", ns); code != 0 || !strings.Contains(out, "delete br1 bridge") {
		t.Errorf("remove: exit %d\n%s%s", code, out, errOut)
	}
	if out, err := exec.Command("ip", "-n", ns, "link", "show", "br1").CombinedOutput(); err == nil {
		t.Errorf("br1 still there after remove:\n%s", out)
	}

	// A port that is not there: exit 1, with the file's line and path.
	ip("-n", ns, "link", "del", "eth1")
	code, _, errOut = runCmd("apply", "-f", "testdata/br1-eth1-policy.yaml", "-netns", ns)
	if code != 1 || !strings.Contains(errOut, `br1-eth1-policy.yaml:21: spec.desiredState.interfaces[0].bridge.port[0].name: Not found: "eth1"`) {
		t.Errorf("missing port: exit %d, stderr %q", code, errOut)
	}
}

// FuzzLoadPolicy feeds arbitrary files to the policy decoder: an error or a
// policy, never a panic.
func FuzzLoadPolicy(f *testing.F) {
	for _, p := range []string{"testdata/desiredstate.yaml", "testdata/br1-eth1-policy.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("interfaces: []\n---\ninterfaces: []\n"))
	f.Add([]byte("kind: NodeNetworkConfigurationPolicy\napiVersion: nmstate.io/v1\nspec: {desiredState: {interfaces: [{name: x, type: vlan}]}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, errs := loadPolicy(b)
		if len(errs) > 0 {
			var buf bytes.Buffer
			printErrors(&buf, "f.yaml", pf, errs)
		}
	})
}

// TestAttach attaches a VM-side veth the bridge CNI way through the command;
// with a VLAN, a kernel without VLAN filtering gets a clear refusal.
func TestAttach(t *testing.T) {
	pxetest.RequireRoot(t)
	pxetest.RequireCmd(t, "ip", "iproute2")
	ns := fmt.Sprintf("pxhostnetA%d-%x", os.Getpid(), rand.Uint32())
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "add", "vm0", "type", "veth", "peer", "name", "vm0peer"},
		{"-n", ns, "link", "add", "br1", "type", "bridge"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %q: %v: %s", args, err, out)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		}
	}
	code, out, errOut := runCmd("attach", "-v", "-bridge", "br1", "-port", "vm0", "-mtu", "9000", "-netns", ns)
	if code != 0 || !strings.Contains(out, "set-master vm0 -> br1") || !strings.Contains(errOut, "msg=applied") {
		t.Fatalf("attach: exit %d\n%s%s", code, out, errOut)
	}
	l, _ := exec.Command("ip", "-n", ns, "link", "show", "vm0").CombinedOutput()
	if !strings.Contains(string(l), "master br1") || !strings.Contains(string(l), "mtu 9000") {
		t.Errorf("vm0 after attach:\n%s", l)
	}
	if probe := exec.Command("ip", "-n", ns, "link", "set", "br1", "type", "bridge", "vlan_filtering", "1"); probe.Run() == nil {
		t.Skip("this kernel has bridge VLAN filtering; netattach/host's guest tests cover VLAN attach")
	}
	code, _, errOut = runCmd("attach", "-bridge", "br1", "-port", "vm0", "-vlan", "100", "-preserve-default-vlan=false", "-netns", ns)
	if code != 1 || !strings.Contains(errOut, "kernel lacks bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)") {
		t.Errorf("attach with VLAN on this kernel: exit %d, %q", code, errOut)
	}
}

// FuzzParseTrunk: the -trunk parser returns ranges or an error, never
// panics, and what it accepts reads back the same once printed.
func FuzzParseTrunk(f *testing.F) {
	for _, s := range []string{"300-301,400", "", "1-4094", "5-x", ",", "-", "7-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseTrunk(s)
		if err != nil || len(r) == 0 {
			return
		}
		var parts []string
		for _, v := range r {
			parts = append(parts, fmt.Sprintf("%d-%d", v.Min, v.Max))
		}
		again, err := parseTrunk(strings.Join(parts, ","))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, r, strings.Join(parts, ","), again, err)
		}
	})
}
