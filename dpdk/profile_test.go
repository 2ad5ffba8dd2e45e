package dpdk

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"k8s.io/utils/cpuset"

	"github.com/pxekit/pxekit/pxetest"
)

// profile1 is the documented profile-1 as planner input: a 2-socket,
// 20-cores-per-socket, 2-threads-per-core machine whose BIOS interleaves
// sockets (node0 = even CPUs), 2 whole cores reserved per NUMA node, 32 1G
// pages on node 0.
func profile1(t *testing.T) (*PerformanceProfile, Plan) {
	t.Helper()
	topo, err := SyntheticTopology(2, 20, 2, LayoutInterleaved)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanCPUs(topo, PlanConfig{ReservedCoresPerNode: 2, HugepagesPerNode: 32, HugepageNodes: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProfile("profile-1", "worker-dpdk", plan).WithTopologyPolicy(TopologyPolicySingleNUMANode).WithUserLevelNetworking(true).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, warns := ValidateProfile(p); len(warns) > 0 {
		t.Errorf("warnings for the documented profile: %v", warns)
	}
	return p, plan
}

func TestPlanReproducesProfile1(t *testing.T) {
	p, plan := profile1(t)
	if got := plan.Reserved.String(); got != "0-3,40-43" {
		t.Errorf("reserved = %s, want 0-3,40-43", got)
	}
	if got := plan.Isolated.String(); got != "4-39,44-79" {
		t.Errorf("isolated = %s, want 4-39,44-79", got)
	}
	documented, errs := DecodeProfile(readUpstream(t, "performanceprofile.yaml"))
	if len(errs) > 0 {
		t.Fatalf("documented profile does not decode: %v", errs)
	}
	if !reflect.DeepEqual(p, documented) {
		t.Errorf("planned profile differs from the documented profile-1:\n%s\ndocumented:\n%s", mustYAML(t, p), mustYAML(t, documented))
	}
	pxetest.CheckGolden(t, "performanceprofile.yaml", mustYAML(t, p))
}

// With packed numbering (node0 = 0-19,40-59) the same rule reserves the
// first 2 cores of each socket instead.
func TestPlanPackedNumbering(t *testing.T) {
	topo, _ := SyntheticTopology(2, 20, 2, LayoutPacked)
	plan, err := PlanCPUs(topo, PlanConfig{ReservedCoresPerNode: 2})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Reserved.String() != "0-1,20-21,40-41,60-61" || plan.Isolated.String() != "2-19,22-39,42-59,62-79" {
		t.Errorf("reserved %s isolated %s", plan.Reserved, plan.Isolated)
	}
}

func TestProfile1Valid(t *testing.T) {
	p, errs := DecodeProfile(readUpstream(t, "performanceprofile.yaml"))
	if len(errs) > 0 {
		t.Fatalf("decode: %v", errs)
	}
	if errs, _ := ValidateProfile(p); len(errs) > 0 {
		t.Fatalf("documented profile rejected: %v", errs)
	}
	topo, _ := SyntheticTopology(2, 20, 2, LayoutInterleaved)
	if probs := CheckAgainstTopology(p, topo); len(probs) > 0 {
		t.Errorf("documented profile does not fit a 2x20x2 node: %v", probs)
	}
	// On a 1-socket, 2-CPU node the documentation's sets do not fit.
	small, _ := SyntheticTopology(1, 2, 1, LayoutPacked)
	probs := CheckAgainstTopology(p, small)
	if len(probs) == 0 || probs[0].String() != "spec.cpu.reserved: CPUs 2-3,40-43 are not online on this node" ||
		!strings.Contains(fmt.Sprint(probs), "spec.cpu.isolated: CPUs 4-39,44-79 are not online") {
		t.Errorf("CheckAgainstTopology on a 2-CPU node = %v", probs)
	}
}

func TestValidateProfileRules(t *testing.T) {
	base := func() *PerformanceProfile {
		p, err := NewProfile("p", "worker-dpdk", Plan{Reserved: mustSet("0-1"), Isolated: mustSet("2-7")}).Build()
		if err != nil {
			panic(err)
		}
		return p
	}
	i32 := func(v int32) *int32 { return &v }
	cases := []struct {
		name   string
		mutate func(*PerformanceProfile)
		path   string
		detail string
	}{
		{"no cpu", func(p *PerformanceProfile) { p.Spec.CPU = nil }, "spec.cpu", "Required"},
		{"no reserved", func(p *PerformanceProfile) { p.Spec.CPU.Reserved = nil }, "spec.cpu.reserved", "Required"},
		{"no isolated", func(p *PerformanceProfile) { p.Spec.CPU.Isolated = nil }, "spec.cpu.isolated", "Required"},
		{"empty reserved", func(p *PerformanceProfile) { p.Spec.CPU.Reserved = ptr("") }, "spec.cpu.reserved", "can not be empty"},
		{"empty isolated", func(p *PerformanceProfile) { p.Spec.CPU.Isolated = ptr("") }, "spec.cpu.isolated", "can not be empty"},
		{"bad list", func(p *PerformanceProfile) { p.Spec.CPU.Isolated = ptr("2-x") }, "spec.cpu.isolated", "2-x"},
		{"blank in list", func(p *PerformanceProfile) { p.Spec.CPU.Isolated = ptr("2, 3") }, "spec.cpu.isolated", "blanks"},
		{"huge cpu", func(p *PerformanceProfile) { p.Spec.CPU.Isolated = ptr("2-2000000000") }, "spec.cpu.isolated", "below 8192"},
		{"reserved/isolated overlap", func(p *PerformanceProfile) { p.Spec.CPU.Isolated = ptr("1-7") }, "spec.cpu", "reserved and isolated cpus overlap: 1"},
		{"offlined overlap", func(p *PerformanceProfile) { p.Spec.CPU.Offlined = ptr("7-9") }, "spec.cpu", "isolated and offlined cpus overlap: 7"},
		{"shared overlap", func(p *PerformanceProfile) { p.Spec.CPU.Shared = ptr("0") }, "spec.cpu", "reserved and shared cpus overlap: 0"},
		{"two node selectors", func(p *PerformanceProfile) { p.Spec.NodeSelector["b/c"] = "" }, "spec.nodeSelector", "only 1 NodeSelector"},
		{"no node selector", func(p *PerformanceProfile) { p.Spec.NodeSelector = nil }, "spec.nodeSelector", "Required"},
		{"selector without role", func(p *PerformanceProfile) { p.Spec.NodeSelector = map[string]string{"dpdk": ""} }, "spec.nodeSelector", "<domain>/<role>"},
		{"two mc labels", func(p *PerformanceProfile) { p.Spec.MachineConfigLabel = map[string]string{"a": "", "b": ""} }, "spec.machineConfigLabel", "only 1"},
		{"two pool selectors", func(p *PerformanceProfile) { p.Spec.MachineConfigPoolSelector = map[string]string{"a": "", "b": ""} }, "spec.machineConfigPoolSelector", "only 1"},
		{"bad default size", func(p *PerformanceProfile) {
			p.Spec.HugePages = &HugePages{DefaultHugePagesSize: ptr("1Gi")}
		}, "spec.hugepages.defaultHugepagesSize", "Unsupported value"},
		{"pages without default size", func(p *PerformanceProfile) {
			p.Spec.HugePages = &HugePages{Pages: []HugePage{{Size: "1G", Count: 4}}}
		}, "spec.hugepages.defaultHugepagesSize", "Required"},
		{"bad page size", func(p *PerformanceProfile) {
			p.Spec.HugePages = &HugePages{DefaultHugePagesSize: ptr("1G"), Pages: []HugePage{{Size: "16G", Count: 1}}}
		}, "spec.hugepages.pages[0].size", "Unsupported value"},
		{"duplicate size/node", func(p *PerformanceProfile) {
			p.Spec.HugePages = &HugePages{DefaultHugePagesSize: ptr("1G"), Pages: []HugePage{{Size: "1G", Count: 1, Node: i32(0)}, {Size: "2M", Count: 1, Node: i32(0)}, {Size: "1G", Count: 2, Node: i32(0)}}}
		}, "spec.hugepages.pages[2]", "as pages[0]"},
		{"duplicate size without node", func(p *PerformanceProfile) {
			p.Spec.HugePages = &HugePages{DefaultHugePagesSize: ptr("1G"), Pages: []HugePage{{Size: "1G", Count: 1}, {Size: "1G", Count: 2}}}
		}, "spec.hugepages.pages[1]", "without a NUMA node"},
		{"negative count", func(p *PerformanceProfile) {
			p.Spec.HugePages = &HugePages{DefaultHugePagesSize: ptr("1G"), Pages: []HugePage{{Size: "1G", Count: -1}}}
		}, "spec.hugepages.pages[0].count", "negative"},
		{"topology policy", func(p *PerformanceProfile) { p.Spec.NUMA = &NUMA{TopologyPolicy: ptr("single-numa")} }, "spec.numa.topologyPolicy", "Unsupported value"},
		{"userLevelNetworking without reserved", func(p *PerformanceProfile) {
			p.Spec.CPU.Reserved = nil
			p.Spec.Net = &Net{UserLevelNetworking: ptr(true)}
		}, "spec.net.userLevelNetworking", "spec.cpu.reserved"},
		{"device id format", func(p *PerformanceProfile) {
			p.Spec.Net = &Net{Devices: []NetDevice{{VendorID: ptr("8086")}}}
		}, "spec.net.devices[0].vendorID", "0x"},
		{"device id without vendor", func(p *PerformanceProfile) {
			p.Spec.Net = &Net{Devices: []NetDevice{{DeviceID: ptr("0x1572")}}}
		}, "spec.net.devices[0].vendorID", "Required"},
		{"kernel page size", func(p *PerformanceProfile) { p.Spec.KernelPageSize = ptr("64k") }, "spec.kernelPageSize", "Unsupported value"},
		{"rt kernel vs hint", func(p *PerformanceProfile) {
			p.Spec.RealTimeKernel = &RealTimeKernel{Enabled: ptr(true)}
			p.Spec.WorkloadHints = &WorkloadHints{RealTime: ptr(false)}
		}, "spec.workloadHints.realTime", "realtime kernel is enabled"},
		{"power hints", func(p *PerformanceProfile) {
			p.Spec.WorkloadHints = &WorkloadHints{HighPowerConsumption: ptr(true), PerPodPowerManagement: ptr(true)}
		}, "spec.workloadHints.highPowerConsumption", "can not be both enabled"},
		{"mixed cpus without shared", func(p *PerformanceProfile) {
			p.Spec.WorkloadHints = &WorkloadHints{MixedCpus: ptr(true)}
		}, "spec.workloadHints.mixedCpus", "no shared CPUs"},
		{"half hardware tuning", func(p *PerformanceProfile) {
			p.Spec.HardwareTuning = &HardwareTuning{IsolatedCpuFreq: i32(2500000)}
		}, "spec.hardwareTuning", "both"},
		{"name", func(p *PerformanceProfile) { p.Name = "Profile_1" }, "metadata.name", "Invalid value"},
		{"api version", func(p *PerformanceProfile) { p.APIVersion = "performance.openshift.io/v1" }, "apiVersion", "Unsupported value"},
	}
	if errs, _ := ValidateProfile(base()); len(errs) > 0 {
		t.Fatalf("base profile rejected: %v", errs)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base()
			c.mutate(p)
			errs, _ := ValidateProfile(p)
			if !errAt(errs, c.path, c.detail) {
				t.Errorf("want an error at %s containing %q, got %v", c.path, c.detail, errs)
			}
		})
	}
}

func TestValidateProfileReportsAll(t *testing.T) {
	// Every problem at once, as the API server would list them.
	p, errs := DecodeProfile([]byte(`apiVersion: performance.openshift.io/v2
kind: PerformanceProfile
metadata: {name: bad}
spec:
  cpu: {reserved: "0-3", isolated: "2-9"}
  hugepages:
    pages: [{size: 1Gi, count: 4}]
  numa: {topologyPolicy: strict}
  nodeSelector: {node-role.kubernetes.io/worker-dpdk: "", x/y: ""}
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	verrs, _ := ValidateProfile(p)
	for _, want := range []string{"spec.cpu", "spec.hugepages.defaultHugepagesSize", "spec.hugepages.pages[0].size", "spec.numa.topologyPolicy", "spec.nodeSelector"} {
		if !errAt(verrs, want, "") {
			t.Errorf("no error at %s in %v", want, verrs)
		}
	}
}

func TestDecodeProfileErrors(t *testing.T) {
	_, errs := DecodeProfile([]byte(`apiVersion: performance.openshift.io/v2
kind: PerformanceProfile
metadata: {name: p}
spec:
  cpu: {reserved: "0-1", isolated: "2-3", isolate: "4"}
  hugepages: {defaultHugepagesSize: 1G, pages: [{size: 1G, count: many}]}
  nodeSelector: {node-role.kubernetes.io/worker-dpdk: ""}
`))
	if !errAt(errs, "spec.cpu.isolate", "unknown field") {
		t.Errorf("unknown field not reported at its path: %v", errs)
	}
	if !errAt(errs, "spec.hugepages.pages[0].count", "") {
		t.Errorf("mistyped count not reported at its path: %v", errs)
	}
	p, errs := DecodeProfile([]byte("spec:\n  cpu: [\n"))
	if p != nil || len(errs) != 1 || !strings.Contains(errs[0].Detail, "line") {
		t.Errorf("syntax error: got %v, %v", p, errs)
	}
}

func TestProfileWarnings(t *testing.T) {
	p, _ := profile1(t)
	p.Spec.NUMA = nil
	p.Spec.HugePages.Pages[0].Count = 0
	errs, warns := ValidateProfile(p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(warns) != 2 || warns[0].Field != "spec.hugepages.pages[0].count" || warns[1].Field != "spec.numa.topologyPolicy" ||
		!strings.HasPrefix(warns[1].Message, "unset") || !strings.HasPrefix(warns[0].Message, "0, so no 1G pages") {
		t.Errorf("warnings = %q", warns)
	}
}

func mustSet(s string) cpuset.CPUSet {
	cs, err := ParseCPUSet(s)
	if err != nil {
		panic(err)
	}
	return cs
}
