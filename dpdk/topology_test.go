package dpdk

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
	"testing/fstest"

	"k8s.io/utils/cpuset"
)

// fakeSysfs writes a topology as the kernel lays it out under /sys, with
// offline CPUs listed as siblings but absent from cpu/online.
func fakeSysfs(t Topology, offline cpuset.CPUSet) fstest.MapFS {
	fsys := fstest.MapFS{}
	online := t.CPUs().Difference(offline)
	fsys["devices/system/cpu/online"] = &fstest.MapFile{Data: []byte(online.String() + "\n")}
	for _, n := range t.Nodes {
		fsys[fmt.Sprintf("devices/system/node/node%d/cpulist", n.ID)] = &fstest.MapFile{Data: []byte(n.CPUs().String() + "\n")}
		for _, core := range n.Cores {
			for _, c := range core.List() {
				fsys[fmt.Sprintf("devices/system/cpu/cpu%d/topology/thread_siblings_list", c)] = &fstest.MapFile{Data: []byte(core.String() + "\n")}
			}
		}
	}
	return fsys
}

func TestReadTopologyRoundTrip(t *testing.T) {
	for _, layout := range []Layout{LayoutPacked, LayoutInterleaved} {
		want, err := SyntheticTopology(2, 20, 2, layout)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadTopology(fakeSysfs(want, cpuset.New()))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("layout %d: read\n%s\nwant\n%s", layout, got, want)
		}
	}
	packed, _ := SyntheticTopology(2, 20, 2, LayoutPacked)
	if got := packed.Nodes[0].CPUs().String(); got != "0-19,40-59" {
		t.Errorf("packed node0 = %s", got)
	}
	inter, _ := SyntheticTopology(2, 20, 2, LayoutInterleaved)
	if got := inter.Nodes[1].Cores[0].String(); got != "1,41" {
		t.Errorf("interleaved node1 first core = %s", got)
	}
}

func TestReadTopologyOfflineAndNoNUMA(t *testing.T) {
	topo, _ := SyntheticTopology(1, 4, 2, LayoutPacked) // cores {0,4} {1,5} {2,6} {3,7}
	fsys := fakeSysfs(topo, cpuset.New(7))
	got, err := ReadTopology(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Nodes[0].Cores[3].String(); c != "3" {
		t.Errorf("core with offline sibling = %s, want 3", c)
	}
	// A kernel without CONFIG_NUMA has no devices/system/node: one node 0.
	for k := range fsys {
		if len(k) > 19 && k[:19] == "devices/system/node" {
			delete(fsys, k)
		}
	}
	got, err = ReadTopology(fsys)
	if err != nil || len(got.Nodes) != 1 || got.Nodes[0].ID != 0 || got.CPUs().String() != "0-6" {
		t.Errorf("no-NUMA read = %v, %v", got, err)
	}
}

func TestReadTopologyBroken(t *testing.T) {
	topo, _ := SyntheticTopology(2, 2, 2, LayoutPacked)
	cases := map[string]func(fstest.MapFS){
		"no online":        func(f fstest.MapFS) { delete(f, "devices/system/cpu/online") },
		"garbage online":   func(f fstest.MapFS) { f["devices/system/cpu/online"].Data = []byte("0-\n") },
		"huge online":      func(f fstest.MapFS) { f["devices/system/cpu/online"].Data = []byte("0-4000000000\n") },
		"missing siblings": func(f fstest.MapFS) { delete(f, "devices/system/cpu/cpu3/topology/thread_siblings_list") },
		"cpu in two nodes": func(f fstest.MapFS) { f["devices/system/node/node1/cpulist"].Data = []byte("0,2-3,6-7\n") },
		"cpu in no node":   func(f fstest.MapFS) { f["devices/system/node/node1/cpulist"].Data = []byte("2,6-7\n") },
		"sibling across nodes": func(f fstest.MapFS) {
			f["devices/system/cpu/cpu0/topology/thread_siblings_list"].Data = []byte("0,2\n")
		},
	}
	for name, breakIt := range cases {
		fsys := fakeSysfs(topo, cpuset.New())
		breakIt(fsys)
		if got, err := ReadTopology(fsys); err == nil {
			t.Errorf("%s: no error, read %v", name, got)
		}
	}
}

// TestPlanThisHost plans from this machine's real sysfs: whatever its shape,
// the plan must cover every online CPU exactly once and never split a core.
func TestPlanThisHost(t *testing.T) {
	if _, err := os.Stat("/sys/devices/system/cpu/online"); err != nil {
		t.Skip("no sysfs CPU topology on this OS: " + err.Error())
	}
	topo, err := ReadTopology(os.DirFS("/sys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this host:\n%s", topo)
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	onlineSet, err := ParseCPUSet(string(online[:len(online)-1]))
	if err != nil {
		t.Fatal(err)
	}
	if !topo.CPUs().Equals(onlineSet) {
		t.Errorf("topology CPUs %s != online %s", topo.CPUs(), onlineSet)
	}
	minCores := len(topo.Nodes[0].Cores)
	for _, n := range topo.Nodes {
		minCores = min(minCores, len(n.Cores))
	}
	if topo.CPUs().Size() < 2 || (len(topo.Nodes) == 1 && minCores < 2) {
		t.Skipf("this host has too few cores to split: %s", topo)
	}
	plan, err := PlanCPUs(topo, PlanConfig{HugepagesPerNode: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reserved %s isolated %s", plan.Reserved, plan.Isolated)
	checkPlan(t, topo, plan, 1)
	p, err := NewProfile("this-host", "worker-dpdk", plan).Build()
	if err != nil {
		t.Fatal(err)
	}
	if probs := CheckAgainstTopology(p, topo); len(probs) > 0 {
		t.Errorf("profile planned for this host does not fit it: %v", probs)
	}
}

// checkPlan asserts the planner's invariants.
func checkPlan(t *testing.T, topo Topology, p Plan, perNode int) {
	t.Helper()
	if !p.Reserved.Union(p.Isolated).Equals(topo.CPUs()) {
		t.Errorf("reserved ∪ isolated = %s, online = %s", p.Reserved.Union(p.Isolated), topo.CPUs())
	}
	if ov := p.Reserved.Intersection(p.Isolated); !ov.IsEmpty() {
		t.Errorf("reserved and isolated overlap: %s", ov)
	}
	for _, n := range topo.Nodes {
		reservedCores := 0
		for _, core := range n.Cores {
			r := core.Intersection(p.Reserved)
			if !r.IsEmpty() && !r.Equals(core) {
				t.Errorf("core %s split: reserved %s", core, r)
			}
			if r.Equals(core) {
				reservedCores++
			}
		}
		if reservedCores != perNode {
			t.Errorf("node %d: %d reserved cores, want %d", n.ID, reservedCores, perNode)
		}
	}
	if len(p.Hugepages) > 0 && len(p.Hugepages) != len(topo.Nodes) {
		t.Errorf("hugepages on %d nodes, topology has %d", len(p.Hugepages), len(topo.Nodes))
	}
}

// TestPlanProperties plans over generated topologies — sockets, cores,
// threads, both numberings, random offline CPUs — and checks the invariants.
func TestPlanProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 3))
	for i := 0; i < 150; i++ {
		sockets, cores, threads := 1+rng.IntN(4), 1+rng.IntN(16), 1+rng.IntN(4)
		layout := Layout(rng.IntN(2))
		topo, err := SyntheticTopology(sockets, cores, threads, layout)
		if err != nil {
			t.Fatal(err)
		}
		offline := cpuset.New()
		for _, c := range topo.CPUs().List() {
			if c != 0 && rng.IntN(10) == 0 {
				offline = offline.Union(cpuset.New(c))
			}
		}
		// A node whose CPUs are all offline reads as memory-only and is
		// left out of the plan.
		read, err := ReadTopology(fakeSysfs(topo, offline))
		if err != nil {
			t.Fatalf("%dx%dx%d offline %s: %v", sockets, cores, threads, offline, err)
		}
		if !read.CPUs().Equals(topo.CPUs().Difference(offline)) {
			t.Fatalf("read CPUs %s, want %s", read.CPUs(), topo.CPUs().Difference(offline))
		}
		n := 1 + rng.IntN(3)
		plan, err := PlanCPUs(read, PlanConfig{ReservedCoresPerNode: n, HugepagesPerNode: int32(rng.IntN(4))})
		fewest := len(read.Nodes[0].Cores)
		total := 0
		for _, node := range read.Nodes {
			fewest = min(fewest, len(node.Cores))
			total += len(node.Cores)
		}
		if fewest < n || total == n*len(read.Nodes) {
			if err == nil {
				t.Errorf("%dx%dx%d: reserving %d per node should fail, got %v", sockets, cores, threads, n, plan)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%dx%dx%d offline %s reserve %d: %v", sockets, cores, threads, offline, n, err)
		}
		checkPlan(t, read, plan, n)
		p, err := NewProfile("gen", "worker-dpdk", plan).WithTopologyPolicy(TopologyPolicySingleNUMANode).Build()
		if err != nil {
			t.Fatalf("planned profile rejected: %v", err)
		}
		if probs := CheckAgainstTopology(p, read); len(probs) > 0 {
			t.Fatalf("planned profile does not fit: %v", probs)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	topo, _ := SyntheticTopology(2, 2, 2, LayoutPacked)
	for name, cfg := range map[string]PlanConfig{
		"all cores reserved": {ReservedCoresPerNode: 2},
		"more than a node":   {ReservedCoresPerNode: 3},
		"negative":           {ReservedCoresPerNode: -1},
		"bad page size":      {HugepageSize: "1Gi"},
		"unknown node":       {HugepagesPerNode: 1, HugepageNodes: []int{5}},
		"node twice":         {HugepagesPerNode: 1, HugepageNodes: []int{0, 0}},
		"negative pages":     {HugepagesPerNode: -4},
	} {
		if p, err := PlanCPUs(topo, cfg); err == nil {
			t.Errorf("%s: no error, plan %v", name, p)
		}
	}
	if _, err := PlanCPUs(Topology{}, PlanConfig{}); err == nil {
		t.Error("empty topology planned")
	}
}

func FuzzParseCPUSet(f *testing.F) {
	for _, s := range []string{"", "0", "0-3,40-43", "4-39,44-79", "1-0", "0-", ",", "0,,1", "8191", "8192", "0-99999999999", " 1", "-1", "3-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseCPUSet(s)
		if err != nil {
			return
		}
		// What parses prints back to a list that parses to the same set.
		again, err := ParseCPUSet(cs.String())
		if err != nil || !again.Equals(cs) {
			t.Fatalf("%q -> %s -> %v, %v", s, cs, again, err)
		}
		if cs.Size() > 0 && cs.List()[cs.Size()-1] >= maxCPUs {
			t.Fatalf("%q gave CPU past the limit", s)
		}
	})
}

// FuzzReadTopology feeds arbitrary sysfs file contents to the reader: it may
// refuse them, but a topology it returns must be valid and only hold online
// CPUs.
func FuzzReadTopology(f *testing.F) {
	f.Add("0-3", "0-1", "2-3", "0,2", "1,3")
	f.Add("0-1", "0-1", "", "0", "1")
	f.Add("0-7", "0-3", "4-7", "0-7", "1")
	f.Add("0-8191", "0-8191", "", "0-8191", "0-8191")
	f.Add("3", "0-1", "2-3", "3", "3")
	f.Fuzz(func(t *testing.T, online, node0, node1, sib0, sibOther string) {
		fsys := fstest.MapFS{
			"devices/system/cpu/online":         {Data: []byte(online + "\n")},
			"devices/system/node/node0/cpulist": {Data: []byte(node0 + "\n")},
			"devices/system/node/node1/cpulist": {Data: []byte(node1 + "\n")},
		}
		on, err := ParseCPUSet(online)
		if err != nil || on.Size() > 64 {
			return // keep each run small: 64 CPUs at most
		}
		for _, c := range on.List() {
			sib := sibOther
			if c == on.List()[0] {
				sib = sib0
			}
			fsys[fmt.Sprintf("devices/system/cpu/cpu%d/topology/thread_siblings_list", c)] = &fstest.MapFile{Data: []byte(sib + "\n")}
		}
		topo, err := ReadTopology(fsys)
		if err != nil {
			return
		}
		if err := topo.Validate(); err != nil {
			t.Fatalf("ReadTopology returned an invalid topology: %v", err)
		}
		if !topo.CPUs().Equals(on) {
			t.Fatalf("topology CPUs %s, online %s", topo.CPUs(), on)
		}
		if p, err := PlanCPUs(topo, PlanConfig{}); err == nil {
			if !p.Reserved.Union(p.Isolated).Equals(topo.CPUs()) {
				t.Fatalf("plan does not cover the topology")
			}
		}
	})
}

// randomTopology is an irregular machine: 1-4 NUMA nodes with sparse IDs,
// each with its own core count, cores with 1-4 threads, CPU numbers
// shuffled across the whole machine.
func randomTopology(rng *rand.Rand) Topology {
	type core struct{ node, threads int }
	var cores []core
	var ids []int
	id := 0
	for n := 0; n < 1+rng.IntN(4); n++ {
		id += 1 + rng.IntN(2)
		ids = append(ids, id)
		for c := 0; c < 1+rng.IntN(12); c++ {
			cores = append(cores, core{id, 1 + rng.IntN(4)})
		}
	}
	total := 0
	for _, c := range cores {
		total += c.threads
	}
	perm := rng.Perm(total)
	var t Topology
	byNode := map[int][]cpuset.CPUSet{}
	next := 0
	for _, c := range cores {
		byNode[c.node] = append(byNode[c.node], cpuset.New(perm[next:next+c.threads]...))
		next += c.threads
	}
	for _, id := range ids {
		sortCores(byNode[id])
		t.Nodes = append(t.Nodes, NUMANode{ID: id, Cores: byNode[id]})
	}
	return t
}

func TestPlanPropertiesIrregular(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 7))
	for i := 0; i < 200; i++ {
		topo := randomTopology(rng)
		// Through sysfs and back: the reader sees the same machine.
		read, err := ReadTopology(fakeSysfs(topo, cpuset.New()))
		if err != nil {
			t.Fatalf("%s: %v", topo, err)
		}
		if !reflect.DeepEqual(read, topo) {
			t.Fatalf("read\n%s\nwant\n%s", read, topo)
		}
		n := 1 + rng.IntN(2)
		plan, err := PlanCPUs(topo, PlanConfig{ReservedCoresPerNode: n, HugepagesPerNode: 2})
		fewest, total := len(topo.Nodes[0].Cores), 0
		for _, node := range topo.Nodes {
			fewest = min(fewest, len(node.Cores))
			total += len(node.Cores)
		}
		if fewest < n || total == n*len(topo.Nodes) {
			if err == nil {
				t.Errorf("%s: reserving %d per node should fail", topo, n)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s reserve %d: %v", topo, n, err)
		}
		checkPlan(t, topo, plan, n)
		// The reserved cores are each node's lowest-numbered ones.
		for _, node := range topo.Nodes {
			for k, core := range node.Cores {
				if reserved := core.IsSubsetOf(plan.Reserved); reserved != (k < n) {
					t.Errorf("%s: core %s (rank %d on node %d) reserved=%v", topo, core, k, node.ID, reserved)
				}
			}
		}
	}
}
