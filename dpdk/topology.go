package dpdk

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"k8s.io/utils/cpuset"
)

// Topology is a node's CPU layout: its NUMA nodes, and in each the physical
// cores as sets of hyperthread siblings (logical CPU numbers as Linux numbers
// them).
type Topology struct {
	// Nodes are the NUMA nodes, by ascending ID.
	Nodes []NUMANode
}

// NUMANode is one NUMA node of a Topology.
type NUMANode struct {
	// ID is the kernel's node number (nodeN in sysfs).
	ID int
	// Cores are the node's online physical cores, each the set of its online
	// hyperthreads, ordered by their lowest CPU number.
	Cores []cpuset.CPUSet
}

// CPUs is the set of the node's logical CPUs.
func (n NUMANode) CPUs() cpuset.CPUSet {
	return cpuset.New().Union(n.Cores...)
}

// CPUs is the set of every online logical CPU of the topology.
func (t Topology) CPUs() cpuset.CPUSet {
	all := cpuset.New()
	for _, n := range t.Nodes {
		all = all.Union(n.Cores...)
	}
	return all
}

// Node returns the NUMA node with the given ID.
func (t Topology) Node(id int) (NUMANode, bool) {
	for _, n := range t.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NUMANode{}, false
}

// Validate checks that node IDs are unique and non-negative, that every node
// and core is non-empty, and that no CPU belongs to two cores.
func (t Topology) Validate() error {
	if len(t.Nodes) == 0 {
		return errors.New("topology has no NUMA node")
	}
	seenNode := map[int]bool{}
	seen := cpuset.New()
	for _, n := range t.Nodes {
		if n.ID < 0 || seenNode[n.ID] {
			return fmt.Errorf("NUMA node ID %d is negative or repeated", n.ID)
		}
		seenNode[n.ID] = true
		if len(n.Cores) == 0 {
			return fmt.Errorf("NUMA node %d has no CPU", n.ID)
		}
		for _, c := range n.Cores {
			if c.IsEmpty() {
				return fmt.Errorf("NUMA node %d has a core without CPUs", n.ID)
			}
			if ov := seen.Intersection(c); !ov.IsEmpty() {
				return fmt.Errorf("CPUs %s belong to more than one core", ov)
			}
			seen = seen.Union(c)
		}
	}
	return nil
}

// String describes the topology, one NUMA node a line:
// "node0: 20 cores, CPUs 0,2,...".
func (t Topology) String() string {
	var b strings.Builder
	for _, n := range t.Nodes {
		fmt.Fprintf(&b, "node%d: %d cores, CPUs %s\n", n.ID, len(n.Cores), n.CPUs())
	}
	return b.String()
}

// Layout is how a BIOS numbers logical CPUs across sockets.
type Layout int

const (
	// LayoutPacked numbers a socket's cores contiguously: with 2 sockets of
	// 20 two-thread cores, node0 is 0-19,40-59 and node1 20-39,60-79.
	LayoutPacked Layout = iota
	// LayoutInterleaved alternates sockets: node0 is 0,2,4,...,
	// node1 1,3,5,... (siblings still n and n+sockets*cores).
	LayoutInterleaved
)

// SyntheticTopology builds the topology of a machine with one NUMA node per
// socket, numbered the way Linux does on x86-64: first hyperthreads of every
// core, then the second ones (CPU n and n+sockets*cores are siblings).
func SyntheticTopology(sockets, coresPerSocket, threadsPerCore int, layout Layout) (Topology, error) {
	if sockets < 1 || coresPerSocket < 1 || threadsPerCore < 1 || sockets*coresPerSocket*threadsPerCore > maxCPUs {
		return Topology{}, fmt.Errorf("topology %dx%dx%d: need at least one of each and at most %d CPUs", sockets, coresPerSocket, threadsPerCore, maxCPUs)
	}
	total := sockets * coresPerSocket
	t := Topology{}
	for s := 0; s < sockets; s++ {
		n := NUMANode{ID: s}
		for c := 0; c < coresPerSocket; c++ {
			first := s*coresPerSocket + c
			if layout == LayoutInterleaved {
				first = c*sockets + s
			}
			var cpus []int
			for th := 0; th < threadsPerCore; th++ {
				cpus = append(cpus, first+th*total)
			}
			n.Cores = append(n.Cores, cpuset.New(cpus...))
		}
		sortCores(n.Cores)
		t.Nodes = append(t.Nodes, n)
	}
	return t, nil
}

func sortCores(cores []cpuset.CPUSet) {
	slices.SortFunc(cores, func(a, b cpuset.CPUSet) int { return a.List()[0] - b.List()[0] })
}

// ReadTopology reads the online CPUs, their thread siblings and their NUMA
// nodes from a sysfs tree: sysfs is rooted where /sys is (os.DirFS("/sys")
// on a live host). A kernel without NUMA (no devices/system/node) is one
// node 0.
func ReadTopology(sysfs fs.FS) (Topology, error) {
	online, err := readCPUList(sysfs, "devices/system/cpu/online")
	if err != nil {
		return Topology{}, err
	}
	if online.IsEmpty() {
		return Topology{}, errors.New("sysfs: no online CPU")
	}
	nodeOf := map[int]int{}
	nodeDirs, _ := fs.Glob(sysfs, "devices/system/node/node[0-9]*")
	var nodeIDs []int
	for _, d := range nodeDirs {
		id, err := strconv.Atoi(strings.TrimPrefix(path.Base(d), "node"))
		if err != nil {
			continue
		}
		cpus, err := readCPUList(sysfs, d+"/cpulist")
		if err != nil {
			return Topology{}, err
		}
		for _, c := range cpus.Intersection(online).List() {
			if prev, dup := nodeOf[c]; dup {
				return Topology{}, fmt.Errorf("sysfs: CPU %d is in NUMA nodes %d and %d", c, prev, id)
			}
			nodeOf[c] = id
		}
		nodeIDs = append(nodeIDs, id)
	}
	if len(nodeIDs) == 0 {
		nodeIDs = []int{0}
		for _, c := range online.List() {
			nodeOf[c] = 0
		}
	}
	slices.Sort(nodeIDs)
	cores := map[int][]cpuset.CPUSet{}
	done := cpuset.New()
	for _, c := range online.List() {
		if done.Contains(c) {
			continue
		}
		node, ok := nodeOf[c]
		if !ok {
			return Topology{}, fmt.Errorf("sysfs: online CPU %d is in no NUMA node", c)
		}
		sib, err := readCPUList(sysfs, fmt.Sprintf("devices/system/cpu/cpu%d/topology/thread_siblings_list", c))
		if err != nil {
			return Topology{}, err
		}
		// An offline sibling is not ours to plan; a sibling on another node
		// would be a broken sysfs.
		sib = sib.Intersection(online).Union(cpuset.New(c))
		for _, s := range sib.List() {
			if nodeOf[s] != node {
				return Topology{}, fmt.Errorf("sysfs: CPU %d and its sibling %d are on different NUMA nodes", c, s)
			}
			if done.Contains(s) {
				return Topology{}, fmt.Errorf("sysfs: CPU %d is listed as a sibling of two cores", s)
			}
		}
		done = done.Union(sib)
		cores[node] = append(cores[node], sib)
	}
	var t Topology
	for _, id := range nodeIDs {
		if len(cores[id]) == 0 {
			continue // memory-only node
		}
		sortCores(cores[id])
		t.Nodes = append(t.Nodes, NUMANode{ID: id, Cores: cores[id]})
	}
	return t, t.Validate()
}

func readCPUList(fsys fs.FS, name string) (cpuset.CPUSet, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return cpuset.New(), fmt.Errorf("sysfs: %w", err)
	}
	cs, err := ParseCPUSet(strings.TrimSpace(string(b)))
	if err != nil {
		return cpuset.New(), fmt.Errorf("sysfs %s: %w", name, err)
	}
	return cs, nil
}
