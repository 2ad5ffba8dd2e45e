package sriovoracle

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	flagN    = flag.Int("sriovoracle.n", 2000, "objects the differential test generates")
	flagShow = flag.Int("sriovoracle.show", 30, "disagreements shown")
)

// vmlint builds pxekit's vmlint (the main module's) once.
func vmlint(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vmlint")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/vmlint")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building vmlint: %v\n%s", err, out)
	}
	return bin
}

var findingRE = regexp.MustCompile(`^[^:]+:(\d+)(?::\d+)?: (.*)$`)

// pxekitVerdicts runs vmlint on a stream and returns, per document (from
// 1), the field paths of its errors (nil: accepted).
func pxekitVerdicts(t *testing.T, bin string, stream []byte) map[int][]string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "stream.yaml")
	if err := os.WriteFile(f, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, f).Output()
	got := map[int][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := findingRE.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(m[2], "warning: ") {
			continue
		}
		doc, _ := strconv.Atoi(m[1])
		path, _, _ := strings.Cut(m[2], ": ")
		got[doc] = append(got[doc], path)
	}
	return got
}

// dynamicOnly says whether pxekit's errors are all at fields of the
// webhook's node-dependent rules.
func dynamicOnly(paths []string) bool {
	for _, p := range paths {
		if p != "spec.numVfs" && !strings.HasPrefix(p, "spec.nicSelector.rootDevices[") {
			return false
		}
	}
	return true
}

type gen struct{ r *rand.Rand }

func (g *gen) oneOf(s ...string) string { return s[g.r.IntN(len(s))] }

// policy returns a valid SriovNetworkNodePolicy and, when mutate, one with a
// field changed, and the name of the change.
func (g *gen) policy(i int, mutate bool) (string, string) {
	f := map[string]string{
		"resourceName": g.oneOf("intel_nics_dpdk", "mlxnics", "sriovnic1"),
		"numVfs":       strconv.Itoa(1 + g.r.IntN(16)),
		"priority":     strconv.Itoa(g.r.IntN(100)),
		"mtu":          g.oneOf("1500", "9000"),
		"deviceType":   g.oneOf("netdevice", "vfio-pci"),
		"vendor":       `"8086"`,
		"deviceID":     g.oneOf(`"158b"`, `"1572"`, `"1593"`),
		"pfNames":      `["ens1f0"]`,
		"isRdma":       "false",
	}
	if g.r.IntN(3) == 0 {
		f["vendor"], f["deviceID"] = `"15b3"`, g.oneOf(`"1015"`, `"1017"`, `"101d"`)
	}
	name := ""
	if mutate {
		muts := []struct {
			name  string
			apply func()
		}{
			{"resource-name", func() { f["resourceName"] = g.oneOf("intel-nics", "nic.1", `""`, "a_b") }},
			{"no-nic-selector", func() { f["vendor"], f["deviceID"], f["pfNames"] = "", "", "" }},
			{"vendor", func() { f["vendor"], f["deviceID"] = g.oneOf(`"1af4"`, `"14e4"`, `"8086"`, `"abcd"`), "" }},
			{"device", func() { f["deviceID"] = g.oneOf(`"0000"`, `"1593"`, `"101b"`, `"158a"`) }},
			{"device-only", func() { f["vendor"], f["deviceID"] = "", g.oneOf(`"158b"`, `"ffff"`) }},
			{"pf-range", func() {
				f["pfNames"] = g.oneOf(`["ens1f0#0-3"]`, `["ens1f0#2-1"]`, `["ens1f0#0-99"]`, `["ens1f0#a-2"]`, `["ens1f0#0"]`, `["ens1f0#0-1#2"]`)
			}},
			{"rdma", func() { f["deviceType"], f["isRdma"] = g.oneOf("vfio-pci", "netdevice"), "true" }},
			{"link-type", func() {
				f["linkType"] = g.oneOf("eth", "ib", "IB", "ethernet")
				f["eSwitchMode"] = g.oneOf("switchdev", "legacy", "")
			}},
			{"vdpa", func() {
				f["vdpaType"] = g.oneOf("virtio", "vhost", "other")
				f["eSwitchMode"] = g.oneOf("switchdev", "legacy")
			}},
			{"priority", func() { f["priority"] = g.oneOf("-1", "0", "99", "100") }},
			{"mtu", func() { f["mtu"] = g.oneOf("0", "1", "-5", "65535") }},
			{"num-vfs", func() { f["numVfs"] = g.oneOf("0", "-1", "128", "256") }},
			{"device-type", func() { f["deviceType"] = g.oneOf("netdevice", "vfio", "VFIO-PCI") }},
			{"root-devices", func() { f["rootDevices"] = g.oneOf(`["0000:19:00.2"]`, `["19:00.2"]`) }},
		}
		m := muts[g.r.IntN(len(muts))]
		m.apply()
		name = m.name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetworkNodePolicy\nmetadata:\n  name: policy-%d\n  namespace: openshift-sriov-network-operator\nspec:\n", i)
	sel := ""
	for _, k := range slices.Sorted(maps.Keys(f)) {
		v := f[k]
		switch {
		case v == "":
		case k == "vendor" || k == "deviceID" || k == "pfNames" || k == "rootDevices":
			sel += fmt.Sprintf("    %s: %s\n", k, v)
		default:
			fmt.Fprintf(&b, "  %s: %s\n", k, v)
		}
	}
	b.WriteString("  nicSelector:\n")
	if sel == "" {
		b.WriteString("    {}\n")
	} else {
		b.WriteString(sel)
	}
	b.WriteString("  nodeSelector:\n    feature.node.kubernetes.io/network-sriov.capable: \"true\"\n")
	return b.String(), name
}

// network returns a valid SriovNetwork, or one with a field changed.
func (g *gen) network(i int, mutate bool) (string, string) {
	f := map[string]string{
		"resourceName":     "intel_nics_dpdk",
		"networkNamespace": g.oneOf("dpdk-checkup-ns", "default"),
		"vlan":             strconv.Itoa(g.r.IntN(4095)),
		"spoofChk":         g.oneOf(`"on"`, `"off"`),
		"trust":            g.oneOf(`"on"`, `"off"`),
		"ipam":             `'{"type": "host-local", "subnet": "192.0.2.0/24"}'`,
	}
	name := ""
	if mutate {
		muts := []struct {
			name  string
			apply func()
		}{
			{"vlan", func() { f["vlan"] = g.oneOf("-1", "0", "4094", "4095") }},
			{"vlan-qos", func() { f["vlanQoS"] = g.oneOf("0", "7", "8", "-1") }},
			{"vlan-proto", func() { f["vlanProto"] = g.oneOf(`"802.1q"`, `"802.1AD"`, `"802.1x"`) }},
			{"spoof-chk", func() { f["spoofChk"] = g.oneOf(`"on"`, `"yes"`, `"ON"`) }},
			{"link-state", func() { f["linkState"] = g.oneOf("auto", "enable", "up") }},
			{"tx-rate", func() { f["minTxRate"], f["maxTxRate"] = g.oneOf("-1", "0", "100"), g.oneOf("50", "1000") }},
			{"log-level", func() { f["logLevel"] = g.oneOf("info", "verbose", `""`) }},
			{"resource-name", func() { f["resourceName"] = g.oneOf("intel-nics", `""`) }},
		}
		m := muts[g.r.IntN(len(muts))]
		m.apply()
		name = m.name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetwork\nmetadata:\n  name: net-%d\n  namespace: openshift-sriov-network-operator\nspec:\n", i)
	for _, k := range slices.Sorted(maps.Keys(f)) {
		fmt.Fprintf(&b, "  %s: %s\n", k, f[k])
	}
	return b.String(), name
}

// TestDifferential generates -sriovoracle.n policies and networks, valid or
// changed in one field, and requires pxekit (vmlint) and the operator
// (CRD schema, then the webhook's static rules) to agree on each: the
// verdict, and the field paths of schema errors.
func TestDifferential(t *testing.T) {
	o, err := New("testdata")
	if err != nil {
		t.Fatal(err)
	}
	bin := vmlint(t)
	g := &gen{r: rand.New(rand.NewPCG(1, 2))}
	var docs []string
	var muts []string
	var want []Verdict
	for i := range *flagN {
		var d, m string
		if i%2 == 0 {
			d, m = g.policy(i, g.r.IntN(5) > 0)
		} else {
			d, m = g.network(i, g.r.IntN(5) > 0)
		}
		docs, muts = append(docs, d), append(muts, m)
		want = append(want, o.Review([]byte(d)))
	}
	got := pxekitVerdicts(t, bin, []byte(strings.Join(docs, "---\n")))
	refused, disagree, dynamic := 0, 0, 0
	per := map[string][2]int{}
	for i := range docs {
		w, p := want[i], got[i+1]
		if !w.Allowed {
			refused++
		}
		key := strings.Split(docs[i], "\n")[1] + " " + muts[i]
		c := per[key]
		c[0]++
		var why string
		switch {
		case w.Static && len(p) > 0 && dynamicOnly(p):
			// The webhook's rules with the node's NICs (not run offline)
			// refuse what selects no NIC, numVfs 0, and more than 128 VFs
			// of a Mellanox NIC; pxekit applies them statically.
			dynamic++
		case w.Allowed != (len(p) == 0):
			why = fmt.Sprintf("verdict: operator allowed=%v (%s %v), pxekit errors at %v", w.Allowed, w.Message, w.Fields, p)
		case !w.Allowed && len(w.Fields) > 0:
			wf := slices.Compact(slices.Sorted(slices.Values(w.Fields)))
			pf := slices.Compact(slices.Sorted(slices.Values(p)))
			if !slices.Equal(wf, pf) {
				why = fmt.Sprintf("paths: operator %v, pxekit %v", wf, pf)
			}
		}
		if why != "" {
			c[1]++
			disagree++
			if disagree <= *flagShow {
				t.Errorf("document %d (%s): %s\n%s", i+1, key, why, docs[i])
			}
		}
		per[key] = c
	}
	t.Logf("%d objects: %d refused by the operator, %d refused by pxekit by the webhook's node-dependent rules; agreement %d/%d (%.2f %%)", len(docs), refused, dynamic, len(docs)-disagree, len(docs), 100*float64(len(docs)-disagree)/float64(len(docs)))
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(per)) {
		fmt.Fprintf(&b, "  %-48s %5d objects, %d disagreements\n", k, per[k][0], per[k][1])
	}
	t.Log("\n" + b.String())
}
