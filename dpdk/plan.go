package dpdk

import (
	"fmt"
	"slices"

	"k8s.io/utils/cpuset"
)

// PlanConfig says how to split a node's CPUs and hugepages.
type PlanConfig struct {
	// ReservedCoresPerNode is how many whole physical cores (with all their
	// hyperthreads) each NUMA node keeps for housekeeping: the kernel,
	// kubelet, CRI-O, and NIC interrupts. 0 means 1.
	ReservedCoresPerNode int
	// HugepageSize is "1G" (the default) or "2M".
	HugepageSize string
	// HugepagesPerNode is the number of pages to allocate on each NUMA node
	// in HugepageNodes; 0 allocates none.
	HugepagesPerNode int32
	// HugepageNodes are the NUMA nodes that get hugepages; nil means every
	// node. Seed 003 puts all 32 1G pages on node 0, the node of its NIC.
	HugepageNodes []int
}

// Plan is a proposed CPU partition of a node: what goes into a
// PerformanceProfile's spec.cpu and spec.hugepages.
type Plan struct {
	// Reserved are the housekeeping CPUs: ReservedCoresPerNode whole cores
	// on every NUMA node, the lowest-numbered ones.
	Reserved cpuset.CPUSet
	// Isolated are all other online CPUs, for DPDK and dedicated-CPU VMs.
	Isolated cpuset.CPUSet
	// HugepageSize is the page size of Hugepages (and the default size).
	HugepageSize string
	// Hugepages are the per-node page allocations.
	Hugepages []HugePage
}

// PlanCPUs proposes reserved and isolated CPU sets and per-node hugepages for
// a topology. Reserved takes the ReservedCoresPerNode lowest-numbered cores of
// each NUMA node, siblings included, so no physical core is shared between
// housekeeping and a DPDK poll-mode thread, and every node keeps CPUs for its
// own interrupts; isolated is everything else, so reserved ∪ isolated is every
// online CPU as the operator expects.
func PlanCPUs(t Topology, cfg PlanConfig) (Plan, error) {
	if err := t.Validate(); err != nil {
		return Plan{}, err
	}
	n := cfg.ReservedCoresPerNode
	if n == 0 {
		n = 1
	}
	if n < 0 {
		return Plan{}, fmt.Errorf("ReservedCoresPerNode %d is negative", n)
	}
	p := Plan{Reserved: cpuset.New(), Isolated: cpuset.New(), HugepageSize: cfg.HugepageSize}
	if p.HugepageSize == "" {
		p.HugepageSize = HugepageSize1G
	}
	if p.HugepageSize != HugepageSize1G && p.HugepageSize != HugepageSize2M {
		return Plan{}, fmt.Errorf("hugepage size %q: want %q or %q", p.HugepageSize, HugepageSize1G, HugepageSize2M)
	}
	for _, node := range t.Nodes {
		if len(node.Cores) < n {
			return Plan{}, fmt.Errorf("NUMA node %d has %d cores, fewer than the %d to reserve", node.ID, len(node.Cores), n)
		}
		p.Reserved = p.Reserved.Union(node.Cores[:n]...)
		p.Isolated = p.Isolated.Union(node.Cores[n:]...)
	}
	if p.Isolated.IsEmpty() {
		return Plan{}, fmt.Errorf("reserving %d cores per NUMA node leaves no CPU to isolate", n)
	}
	if cfg.HugepagesPerNode < 0 {
		return Plan{}, fmt.Errorf("HugepagesPerNode %d is negative", cfg.HugepagesPerNode)
	}
	if cfg.HugepagesPerNode > 0 {
		nodes := cfg.HugepageNodes
		if nodes == nil {
			for _, node := range t.Nodes {
				nodes = append(nodes, node.ID)
			}
		}
		seen := map[int]bool{}
		for _, id := range nodes {
			if _, ok := t.Node(id); !ok {
				return Plan{}, fmt.Errorf("hugepages on NUMA node %d: the topology has no such node", id)
			}
			if seen[id] {
				return Plan{}, fmt.Errorf("hugepages on NUMA node %d: listed twice", id)
			}
			seen[id] = true
			p.Hugepages = append(p.Hugepages, HugePage{Size: p.HugepageSize, Count: cfg.HugepagesPerNode, Node: ptr(int32(id))})
		}
		slices.SortFunc(p.Hugepages, func(a, b HugePage) int { return int(*a.Node - *b.Node) })
	}
	return p, nil
}

// ProfileConfig is what a PerformanceProfile for DPDK nodes needs besides the
// CPU plan.
type ProfileConfig struct {
	// Name of the profile (seed: "profile-1").
	Name string
	// Role is the node role the profile targets (seed: "worker-dpdk"); the
	// node selector is node-role.kubernetes.io/<Role>: "".
	Role string
	// Plan gives spec.cpu and spec.hugepages.
	Plan Plan
	// TopologyPolicy is spec.numa.topologyPolicy (seed: single-numa-node);
	// empty leaves it to the operator (best-effort).
	TopologyPolicy string
	// UserLevelNetworking sets NIC queues to the reserved CPU count (seed: true).
	UserLevelNetworking bool
	// RealTimeKernel installs the RT kernel.
	RealTimeKernel bool
}

// NewProfile builds a PerformanceProfile from a plan and validates it with
// ValidateProfile; the error lists every problem with its field path.
func NewProfile(cfg ProfileConfig) (*PerformanceProfile, []string, error) {
	p := &PerformanceProfile{}
	p.APIVersion, p.Kind = ProfileAPIVersion, ProfileKind
	p.Name = cfg.Name
	key, val := NodeRoleLabel(cfg.Role)
	p.Spec.NodeSelector = map[string]string{key: val}
	p.Spec.CPU = &CPU{Reserved: ptr(cfg.Plan.Reserved.String()), Isolated: ptr(cfg.Plan.Isolated.String())}
	if len(cfg.Plan.Hugepages) > 0 {
		p.Spec.HugePages = &HugePages{DefaultHugePagesSize: ptr(cfg.Plan.HugepageSize), Pages: cfg.Plan.Hugepages}
	}
	if cfg.UserLevelNetworking {
		p.Spec.Net = &Net{UserLevelNetworking: ptr(true)}
	}
	if cfg.TopologyPolicy != "" {
		p.Spec.NUMA = &NUMA{TopologyPolicy: ptr(cfg.TopologyPolicy)}
	}
	if cfg.RealTimeKernel {
		p.Spec.RealTimeKernel = &RealTimeKernel{Enabled: ptr(true)}
	}
	errs, warns := ValidateProfile(p)
	if err := errs.ToAggregate(); err != nil {
		return nil, warns, err
	}
	return p, warns, nil
}

// CheckAgainstTopology reports CPUs of the profile's spec.cpu that the node
// does not have, and online CPUs that none of reserved, isolated, offlined or
// shared covers (the operator's documented requirement that reserved ∪
// isolated include every online CPU). It assumes ValidateProfile passed.
func CheckAgainstTopology(p *PerformanceProfile, t Topology) []string {
	var probs []string
	if p == nil || p.Spec.CPU == nil {
		return nil
	}
	online := t.CPUs()
	covered := cpuset.New()
	for _, f := range []struct {
		name string
		v    *string
	}{{"reserved", p.Spec.CPU.Reserved}, {"isolated", p.Spec.CPU.Isolated}, {"offlined", p.Spec.CPU.Offlined}, {"shared", p.Spec.CPU.Shared}} {
		if f.v == nil {
			continue
		}
		cs, err := ParseCPUSet(*f.v)
		if err != nil {
			continue
		}
		if extra := cs.Difference(online); !extra.IsEmpty() {
			probs = append(probs, fmt.Sprintf("spec.cpu.%s: CPUs %s are not online on this node", f.name, extra))
		}
		covered = covered.Union(cs)
	}
	if miss := online.Difference(covered); !miss.IsEmpty() {
		probs = append(probs, fmt.Sprintf("spec.cpu: online CPUs %s are neither reserved, isolated, offlined nor shared", miss))
	}
	if h := p.Spec.HugePages; h != nil {
		for i, pg := range h.Pages {
			if pg.Node != nil {
				if _, ok := t.Node(int(*pg.Node)); !ok {
					probs = append(probs, fmt.Sprintf("spec.hugepages.pages[%d].node: NUMA node %d does not exist on this node", i, *pg.Node))
				}
			}
		}
	}
	return probs
}
