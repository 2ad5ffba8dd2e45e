package dpdk

import (
	"encoding/json"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/cpuset"

	"github.com/pxekit/pxekit/validation"
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
	// node. Put them on the NUMA node of the NIC, as profile-1 puts all
	// its 32 1G pages on node 0.
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

// ProfileBuilder builds a PerformanceProfile for DPDK nodes; Build
// validates it.
type ProfileBuilder struct {
	p PerformanceProfile
}

// NewProfile starts a PerformanceProfile called name (e.g. profile-1) for
// the nodes of role (e.g. worker-dpdk: the node selector is
// node-role.kubernetes.io/<role>: ""), with plan's CPU sets and hugepages
// (see [PlanCPUs]).
func NewProfile(name, role string, plan Plan) *ProfileBuilder {
	b := &ProfileBuilder{}
	p := &b.p
	p.APIVersion, p.Kind = ProfileAPIVersion, ProfileKind
	p.Name = name
	key, val := NodeRoleLabel(role)
	p.Spec.NodeSelector = map[string]string{key: val}
	p.Spec.CPU = &CPU{Reserved: ptr(plan.Reserved.String()), Isolated: ptr(plan.Isolated.String())}
	if len(plan.Hugepages) > 0 {
		p.Spec.HugePages = &HugePages{DefaultHugePagesSize: ptr(plan.HugepageSize), Pages: slices.Clone(plan.Hugepages)}
	}
	return b
}

// WithTopologyPolicy sets spec.numa.topologyPolicy, one of the
// TopologyPolicy constants (single-numa-node keeps a DPDK pod's CPUs,
// hugepages and VF on one NUMA node); unset, the operator uses best-effort.
func (b *ProfileBuilder) WithTopologyPolicy(policy string) *ProfileBuilder {
	b.p.Spec.NUMA = &NUMA{TopologyPolicy: ptr(policy)}
	return b
}

// WithUserLevelNetworking sets spec.net.userLevelNetworking: NIC queues
// are set to the number of reserved CPUs.
func (b *ProfileBuilder) WithUserLevelNetworking(on bool) *ProfileBuilder {
	b.p.Spec.Net = &Net{UserLevelNetworking: ptr(on)}
	return b
}

// WithRealTimeKernel sets spec.realTimeKernel.enabled: the nodes boot the
// real-time kernel.
func (b *ProfileBuilder) WithRealTimeKernel(on bool) *ProfileBuilder {
	b.p.Spec.RealTimeKernel = &RealTimeKernel{Enabled: ptr(on)}
	return b
}

// Build returns the profile and one error listing every problem
// [ValidateProfile] finds, with its field path; the profile is returned
// even when there are problems. Warnings come from
// ValidateProfile. The profile is a copy: changing the builder afterwards
// does not change it.
func (b *ProfileBuilder) Build() (*PerformanceProfile, error) {
	p := deepCopy(&b.p)
	errs, _ := ValidateProfile(p)
	return p, errs.ToAggregate()
}

// deepCopy copies one of this package's objects, nested pointers, maps and
// slices included. They are plain data that marshals and back, so it
// cannot fail.
func deepCopy[T any](v *T) *T {
	b, _ := json.Marshal(v)
	out := new(T)
	_ = json.Unmarshal(b, out)
	return out
}

// CheckAgainstTopology warns, each at its field path, about CPUs of the
// profile's spec.cpu that the node does not have, online CPUs that none of
// reserved, isolated, offlined or shared covers (the operator's documented
// requirement that reserved ∪ isolated include every online CPU), and
// hugepages on a NUMA node the node does not have. The operator accepts
// such a profile; on this node it does not do what it says. It assumes
// ValidateProfile passed.
func CheckAgainstTopology(p *PerformanceProfile, t Topology) []validation.Warning {
	var probs []validation.Warning
	if p == nil || p.Spec.CPU == nil {
		return nil
	}
	cpuPath := field.NewPath("spec", "cpu")
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
			probs = append(probs, validation.Warnf(cpuPath.Child(f.name), "CPUs %s are not online on this node", extra))
		}
		covered = covered.Union(cs)
	}
	if miss := online.Difference(covered); !miss.IsEmpty() {
		probs = append(probs, validation.Warnf(cpuPath, "online CPUs %s are neither reserved, isolated, offlined nor shared", miss))
	}
	if h := p.Spec.HugePages; h != nil {
		for i, pg := range h.Pages {
			if pg.Node != nil {
				if _, ok := t.Node(int(*pg.Node)); !ok {
					probs = append(probs, validation.Warnf(field.NewPath("spec", "hugepages", "pages").Index(i).Child("node"), "NUMA node %d does not exist on this node", *pg.Node))
				}
			}
		}
	}
	return probs
}
