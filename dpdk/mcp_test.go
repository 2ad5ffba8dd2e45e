package dpdk

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/pxekit/pxekit/pxetest"
)

func TestMachineConfigPoolMatchesDocs(t *testing.T) {
	got := mustPool(t, "worker-dpdk")
	documented, errs := DecodeMachineConfigPool(readUpstream(t, "machineconfigpool.yaml"))
	if len(errs) > 0 {
		t.Fatalf("documented pool does not decode: %v", errs)
	}
	if !reflect.DeepEqual(got, documented) {
		t.Errorf("pool differs from documented:\n%s\ndocumented:\n%s", mustYAML(t, got), mustYAML(t, documented))
	}
	if errs := ValidateMachineConfigPool(documented); len(errs) > 0 {
		t.Errorf("documented pool rejected: %v", errs)
	}
	pxetest.CheckGolden(t, "machineconfigpool.yaml", mustYAML(t, got))
	if got := LabelNodeCommand("<node_name>", "worker-dpdk"); got != `oc label node <node_name> node-role.kubernetes.io/worker-dpdk=""` {
		t.Errorf("label command = %s", got)
	}
}

func TestValidateMachineConfigPool(t *testing.T) {
	p := mustPool(t, "worker-dpdk")
	p.Name = "Worker_DPDK"
	p.Spec.NodeSelector = &metav1.LabelSelector{}
	p.Spec.MachineConfigSelector.MatchExpressions[0].Operator = "Within"
	p.Spec.MaxUnavailable = ptr(intstr.FromString("150%"))
	errs := ValidateMachineConfigPool(p)
	for _, path := range []string{"metadata.name", "spec.nodeSelector", "spec.machineConfigSelector.matchExpressions[0].operator", "spec.maxUnavailable"} {
		if !errAt(errs, path, "") {
			t.Errorf("no error at %s: %v", path, errs)
		}
	}
	p = mustPool(t, "worker-dpdk")
	p.Spec.MaxUnavailable = ptr(intstr.FromInt32(2))
	if errs := ValidateMachineConfigPool(p); len(errs) > 0 {
		t.Errorf("maxUnavailable 2 rejected: %v", errs)
	}
}

func TestDecodeMachineConfigPoolUnknownField(t *testing.T) {
	doc := strings.Replace(string(readUpstream(t, "machineconfigpool.yaml")), "machineConfigSelector:", "machineconfigSelector:", 1)
	_, errs := DecodeMachineConfigPool([]byte(doc))
	if !errAt(errs, "spec.machineconfigSelector", "machineConfigSelector") {
		t.Errorf("misspelt selector: %v", errs)
	}
}

func TestCheckProfilePool(t *testing.T) {
	profile, _ := profile1(t)
	pool := mustPool(t, "worker-dpdk")
	if errs := CheckProfilePool(profile, pool); len(errs) > 0 {
		t.Errorf("documented profile and pool do not fit: %v", errs)
	}
	// The pool label is what the profile's KubeletConfig finds the pool by.
	pool.Labels = nil
	if errs := CheckProfilePool(profile, pool); !errAt(errs, "metadata.labels", "machineconfiguration.openshift.io/role=worker-dpdk") {
		t.Errorf("missing pool label: %v", errs)
	}
	// A pool that only renders its own role loses the worker base config.
	pool = mustPool(t, "worker-dpdk")
	pool.Spec.MachineConfigSelector.MatchExpressions[0].Values = []string{"worker-dpdk"}
	if errs := CheckProfilePool(profile, pool); !errAt(errs, "spec.machineConfigSelector", "worker MachineConfigs") {
		t.Errorf("pool without worker configs: %v", errs)
	}
	// A pool for other nodes.
	pool = mustPool(t, "worker-cnf")
	errs := CheckProfilePool(profile, pool)
	if !errAt(errs, "spec.nodeSelector", "does not take the nodes") || !errAt(errs, "spec.machineConfigSelector", "does not select the profile's MachineConfigs") {
		t.Errorf("mismatched pool: %v", errs)
	}
}

func TestRuntimeClassAnnotation(t *testing.T) {
	rc := RuntimeClassName("profile-1")
	if rc != "performance-profile-1" {
		t.Errorf("runtime class = %s", rc)
	}
	k, v, warn, err := RuntimeClassAnnotation(rc)
	if err != nil {
		t.Fatal(err)
	}
	if k != "kubevirt.kubevirt.io/jsonpatch" || warn.Field != "metadata.annotations[kubevirt.kubevirt.io/jsonpatch]" || !strings.Contains(warn.Message, "global setting") || !strings.Contains(warn.Message, "test clusters") {
		t.Errorf("key %q warning %q", k, warn)
	}
	var patch []map[string]any
	if err := json.Unmarshal([]byte(v), &patch); err != nil {
		t.Fatalf("annotation value is not JSON: %v: %s", err, v)
	}
	want := []map[string]any{{"op": "add", "path": "/spec/configuration/defaultRuntimeClass", "value": "performance-profile-1"}}
	if !reflect.DeepEqual(patch, want) {
		t.Errorf("patch = %v", patch)
	}
	// The documentation's placeholder, substituted as printed, is not JSON:
	// the reason the value is quoted.
	documented := string(readUpstream(t, "hco-annotate.sh"))
	i := strings.Index(documented, "'[")
	printedVal := strings.TrimSuffix(strings.TrimSpace(documented[i+1:]), "'")
	printedVal = strings.Replace(printedVal, "<runtimeclass_name>", rc, 1)
	if json.Valid([]byte(printedVal)) {
		t.Errorf("documentation's substituted value unexpectedly valid: %s", printedVal)
	}
	cmd, err := AnnotateHCOCommand(rc)
	if err != nil {
		t.Fatal(err)
	}
	pxetest.CheckGolden(t, "hco-annotate.sh", []byte(cmd+"\n"))
	mp, err := HCOAnnotationPatch(rc)
	if err != nil {
		t.Fatal(err)
	}
	var merge struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(mp, &merge); err != nil || merge.Metadata.Annotations[k] != v {
		t.Errorf("merge patch %s: %v", mp, err)
	}
	for _, bad := range []string{"", "Performance_1", "a b", `x"}]`} {
		if _, _, _, err := RuntimeClassAnnotation(bad); err == nil {
			t.Errorf("runtime class %q accepted", bad)
		}
	}
}

func FuzzDecodeProfile(f *testing.F) {
	f.Add(string(mustRead(f, "testdata/upstream/performanceprofile.yaml")))
	f.Add("spec:\n  cpu: {reserved: '0', isolated: 1-3}\n  nodeSelector: {a/b: ''}\n")
	f.Add("spec:\n  hugepages: {pages: [{size: 1G, node: -1, count: 2}, {size: 1G, count: 2}]}\n")
	f.Add("spec: [\n")
	f.Add("spec:\n  cpu: {reserved: '0-4000000000', isolated: '5'}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		p, errs := DecodeProfile([]byte(doc))
		if p == nil {
			if len(errs) == 0 {
				t.Fatal("no profile and no error")
			}
			return
		}
		// Validation must never panic, whatever decoded.
		ValidateProfile(p)
		topo, _ := SyntheticTopology(1, 2, 2, LayoutPacked)
		CheckAgainstTopology(p, topo)
	})
}

func FuzzDecodeMachineConfigPool(f *testing.F) {
	f.Add(string(mustRead(f, "testdata/upstream/machineconfigpool.yaml")))
	f.Add("spec: {maxUnavailable: 1, nodeSelector: {matchLabels: {'a/b': ''}}}\n")
	f.Add("metadata: {labels: [1]}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		p, errs := DecodeMachineConfigPool([]byte(doc))
		if p == nil {
			if len(errs) == 0 {
				t.Fatal("no pool and no error")
			}
			return
		}
		ValidateMachineConfigPool(p)
		prof, _ := NewProfile("x", "worker-dpdk", Plan{Reserved: mustSet("0"), Isolated: mustSet("1")}).Build()
		CheckProfilePool(prof, p)
	})
}

func TestDecodeMachineConfigPoolWithStatus(t *testing.T) {
	doc := string(readUpstream(t, "machineconfigpool.yaml")) + "status:\n  machineCount: 2\n  conditions: [{type: Updated, status: \"True\"}]\n"
	p, errs := DecodeMachineConfigPool([]byte(doc))
	if len(errs) > 0 || p == nil || len(p.Status) == 0 {
		t.Errorf("pool read back from a cluster: %v, %v", p, errs)
	}
}

// TestAnnotateCommandShellQuoting runs the printed command through a real
// POSIX shell, with printf standing in for oc, and checks the shell hands oc
// the annotation exactly.
func TestAnnotateCommandShellQuoting(t *testing.T) {
	sh := pxetest.RequireCmd(t, "sh", "dash")
	cmd, err := AnnotateHCOCommand("performance-profile-1")
	if err != nil {
		t.Fatal(err)
	}
	script := "printf '%s\\n'" + strings.TrimPrefix(cmd, "oc")
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	k, v, _, _ := RuntimeClassAnnotation("performance-profile-1")
	want := []string{"annotate", "--overwrite", "-n", "openshift-cnv", "hco", "kubevirt-hyperconverged", k + "=" + v}
	if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("the shell passes %q, want %q", got, want)
	}
}

// The pool builder validates what it builds; the profile builder hands out
// a profile it no longer changes.
func TestBuilders(t *testing.T) {
	pool, err := NewMachineConfigPool("worker-dpdk").WithMaxUnavailable("10%").Build()
	if err != nil || pool.Spec.MaxUnavailable.String() != "10%" {
		t.Errorf("maxUnavailable 10%%: %v, %v", pool, err)
	}
	if _, err := NewMachineConfigPool("worker-dpdk").WithMaxUnavailable("150%").Build(); err == nil || !strings.Contains(err.Error(), "spec.maxUnavailable") {
		t.Errorf("maxUnavailable 150%%: %v", err)
	}
	if _, err := NewMachineConfigPool("Worker_DPDK").Build(); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("bad role: %v", err)
	}
	b := NewProfile("p", "worker-dpdk", Plan{Reserved: mustSet("0-1"), Isolated: mustSet("2-7")})
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	b.WithTopologyPolicy(TopologyPolicyRestricted).WithRealTimeKernel(true)
	if p.Spec.NUMA != nil || p.Spec.RealTimeKernel != nil {
		t.Errorf("the built profile changed with its builder: %+v", p.Spec)
	}
	if _, err := b.WithTopologyPolicy("strict").Build(); err == nil || !strings.Contains(err.Error(), "spec.numa.topologyPolicy") {
		t.Errorf("bad topology policy: %v", err)
	}
}
