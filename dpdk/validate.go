package dpdk

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/cpuset"

	"github.com/pxekit/pxekit/validation"
)

// profileType is what ValidateProfile checks apiVersion, kind and metadata
// against: a PerformanceProfile is cluster-scoped.
var profileType = validation.ObjectType{Kind: ProfileKind, APIVersions: []string{ProfileAPIVersion}, ClusterScoped: true}

var hexID16 = regexp.MustCompile(`^0x[0-9a-fA-F]{1,4}$`)

// ValidateProfile checks a PerformanceProfile the way the Node Tuning
// Operator's admission webhook does for an x86-64 node, without a cluster:
// every problem comes back at once under its field path. Warnings are
// accepted-but-surprising settings a user should know about.
//
// Rules: apiVersion/kind; metadata.name; spec.cpu with non-empty reserved and
// isolated sets that parse as Linux CPU lists; no overlap among reserved,
// isolated, offlined and shared; at most one machineConfigLabel and
// machineConfigPoolSelector entry; exactly one nodeSelector entry, of the form
// <domain>/<role> when either of the former is defaulted; hugepage sizes 2M or
// 1G, defaultHugepagesSize required with pages, no duplicate size/node pairs;
// kernelPageSize 4k; a known topologyPolicy; userLevelNetworking needs
// reserved CPUs; net device IDs as 0x + up to 4 hex digits; workloadHints and
// hardwareTuning consistency.
func ValidateProfile(p *PerformanceProfile) (field.ErrorList, []validation.Warning) {
	var warns []validation.Warning
	if p == nil {
		return field.ErrorList{field.Required(nil, "no PerformanceProfile")}, nil
	}
	errs := profileType.Validate(p.TypeMeta, &p.ObjectMeta)
	spec := field.NewPath("spec")
	errs = append(errs, validateCPU(p.Spec.CPU, spec.Child("cpu"))...)
	errs = append(errs, validateSelectors(&p.Spec, spec)...)
	e, w := validateHugePages(p.Spec.HugePages, spec.Child("hugepages"))
	errs, warns = append(errs, e...), append(warns, w...)
	if k := p.Spec.KernelPageSize; k != nil && *k != "4k" {
		errs = append(errs, field.NotSupported(spec.Child("kernelPageSize"), *k, []string{"4k"}))
	}
	if n := p.Spec.NUMA; n != nil && n.TopologyPolicy != nil {
		pol := []string{TopologyPolicyNone, TopologyPolicyBestEffort, TopologyPolicyRestricted, TopologyPolicySingleNUMANode}
		if !slices.Contains(pol, *n.TopologyPolicy) {
			errs = append(errs, field.NotSupported(spec.Child("numa", "topologyPolicy"), *n.TopologyPolicy, pol))
		}
	}
	errs = append(errs, validateNet(&p.Spec, spec.Child("net"))...)
	errs = append(errs, validateHints(&p.Spec, spec.Child("workloadHints"))...)
	if h := p.Spec.HardwareTuning; h != nil {
		hp := spec.Child("hardwareTuning")
		if h.IsolatedCpuFreq == nil || h.ReservedCpuFreq == nil {
			errs = append(errs, field.Required(hp, "both isolatedCpuFreq and reservedCpuFreq must be set"))
		} else {
			if *h.IsolatedCpuFreq <= 0 {
				errs = append(errs, field.Invalid(hp.Child("isolatedCpuFreq"), *h.IsolatedCpuFreq, "must be greater than 0"))
			}
			if *h.ReservedCpuFreq <= 0 {
				errs = append(errs, field.Invalid(hp.Child("reservedCpuFreq"), *h.ReservedCpuFreq, "must be greater than 0"))
			}
		}
	}
	if (p.Spec.NUMA == nil || p.Spec.NUMA.TopologyPolicy == nil) && p.Spec.Net != nil &&
		p.Spec.Net.UserLevelNetworking != nil && *p.Spec.Net.UserLevelNetworking {
		warns = append(warns, validation.Warnf(spec.Child("numa", "topologyPolicy"), "unset, so the operator uses best-effort: a DPDK pod's CPUs, hugepages and VF may land on different NUMA nodes; single-numa-node keeps them together"))
	}
	return errs, warns
}

// ParseCPUSet parses a Linux CPU list ("0-3,40-43"); the empty string is the
// empty set. Unlike cpuset.Parse it rejects blanks (the kernel's cpulist
// parser does too) and CPU numbers at or past the x86-64 kernel's largest
// NR_CPUS (8192), checked before any range is expanded so "0-2000000000"
// costs nothing.
func ParseCPUSet(s string) (cpuset.CPUSet, error) {
	if strings.ContainsAny(s, " \t\n\r") {
		return cpuset.New(), fmt.Errorf("CPU list %q contains blanks", s)
	}
	if s != "" {
		for _, r := range strings.Split(s, ",") {
			for _, n := range strings.Split(r, "-") {
				if v, err := strconv.Atoi(n); err == nil && v >= maxCPUs || len(n) > 6 {
					return cpuset.New(), fmt.Errorf("CPU list %q: CPU numbers must be below %d", s, maxCPUs)
				}
			}
		}
	}
	cs, err := cpuset.Parse(s)
	if err != nil {
		return cpuset.New(), fmt.Errorf("CPU list %q: %v", s, err)
	}
	return cs, nil
}

// maxCPUs is the x86-64 kernel's largest NR_CPUS.
const maxCPUs = 8192

func validateCPU(c *CPU, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c == nil {
		return field.ErrorList{field.Required(p, "cpu section required")}
	}
	type named struct {
		name string
		set  cpuset.CPUSet
	}
	var sets []named
	parse := func(name string, v *string, required bool) {
		fp := p.Child(name)
		if v == nil {
			if required {
				errs = append(errs, field.Required(fp, name+" CPUs required"))
			}
			return
		}
		cs, err := ParseCPUSet(*v)
		if err != nil {
			errs = append(errs, field.Invalid(fp, *v, err.Error()))
			return
		}
		if required && cs.IsEmpty() {
			errs = append(errs, field.Invalid(fp, *v, name+" CPUs can not be empty"))
		}
		sets = append(sets, named{name, cs})
	}
	parse("reserved", c.Reserved, true)
	parse("isolated", c.Isolated, true)
	parse("offlined", c.Offlined, false)
	parse("shared", c.Shared, false)
	for i := range sets {
		for j := i + 1; j < len(sets); j++ {
			if ov := sets[i].set.Intersection(sets[j].set); !ov.IsEmpty() {
				errs = append(errs, field.Forbidden(p, fmt.Sprintf("%s and %s cpus overlap: %s", sets[i].name, sets[j].name, ov)))
			}
		}
	}
	return errs
}

func validateSelectors(s *ProfileSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.MachineConfigLabel) > 1 {
		errs = append(errs, field.Invalid(p.Child("machineConfigLabel"), s.MachineConfigLabel, "you should provide only 1 MachineConfigLabel"))
	}
	if len(s.MachineConfigPoolSelector) > 1 {
		errs = append(errs, field.Invalid(p.Child("machineConfigPoolSelector"), s.MachineConfigPoolSelector, "you should provide only 1 MachineConfigPoolSelector"))
	}
	ns := p.Child("nodeSelector")
	switch len(s.NodeSelector) {
	case 0:
		errs = append(errs, field.Required(ns, "the nodeSelector required"))
		return errs
	case 1:
	default:
		errs = append(errs, field.Invalid(ns, s.NodeSelector, "you should provide only 1 NodeSelector"))
		return errs
	}
	for k, v := range s.NodeSelector {
		for _, m := range k8svalidation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(ns.Key(k), k, m))
		}
		for _, m := range k8svalidation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(ns.Key(k), v, m))
		}
		if s.MachineConfigLabel == nil || s.MachineConfigPoolSelector == nil {
			if _, _, err := SplitRoleLabel(k); err != nil {
				errs = append(errs, field.Invalid(ns, s.NodeSelector,
					"machineConfigLabel or machineConfigPoolSelector is not set, and they can not be defaulted: "+err.Error()))
			}
		}
	}
	return errs
}

// SplitRoleLabel splits a node-role label key such as
// "node-role.kubernetes.io/worker-dpdk" into its domain and role, the way the
// operator derives the default machineconfiguration.openshift.io/role.
func SplitRoleLabel(key string) (domain, role string, err error) {
	d, r, ok := strings.Cut(key, "/")
	if !ok || d == "" || r == "" || strings.Contains(r, "/") {
		return "", "", fmt.Errorf("label key %q is not of the form <domain>/<role>", key)
	}
	return d, r, nil
}

func validateHugePages(h *HugePages, p *field.Path) (field.ErrorList, []validation.Warning) {
	var errs field.ErrorList
	var warns []validation.Warning
	if h == nil {
		return nil, nil
	}
	sizes := []string{HugepageSize2M, HugepageSize1G}
	if h.DefaultHugePagesSize != nil {
		if !slices.Contains(sizes, *h.DefaultHugePagesSize) {
			errs = append(errs, field.NotSupported(p.Child("defaultHugepagesSize"), *h.DefaultHugePagesSize, sizes))
		}
	} else if len(h.Pages) > 0 {
		errs = append(errs, field.Required(p.Child("defaultHugepagesSize"), "required when pages are set, or the kernel keeps its 2M default"))
	}
	type key struct {
		size string
		node int64 // -1: no node
	}
	seen := map[key]int{}
	for i, pg := range h.Pages {
		pp := p.Child("pages").Index(i)
		if !slices.Contains(sizes, pg.Size) {
			errs = append(errs, field.NotSupported(pp.Child("size"), pg.Size, sizes))
		}
		if pg.Count < 0 {
			errs = append(errs, field.Invalid(pp.Child("count"), pg.Count, "must not be negative"))
		} else if pg.Count == 0 {
			warns = append(warns, validation.Warnf(pp.Child("count"), "0, so no %s pages are allocated", pg.Size))
		}
		k := key{pg.Size, -1}
		if pg.Node != nil {
			if *pg.Node < 0 {
				errs = append(errs, field.Invalid(pp.Child("node"), *pg.Node, "must not be negative"))
			}
			k.node = int64(*pg.Node)
		}
		if j, dup := seen[k]; dup {
			what := "without a NUMA node"
			if pg.Node != nil {
				what = fmt.Sprintf("on NUMA node %d", *pg.Node)
			}
			errs = append(errs, field.Duplicate(pp, fmt.Sprintf("size %q %s, as pages[%d]", pg.Size, what, j)))
		} else {
			seen[k] = i
		}
	}
	return errs, warns
}

func validateNet(s *ProfileSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := s.Net
	if n == nil {
		return nil
	}
	if n.UserLevelNetworking != nil && *n.UserLevelNetworking && (s.CPU == nil || s.CPU.Reserved == nil) {
		errs = append(errs, field.Invalid(p.Child("userLevelNetworking"), true, "can not set network devices queues count without specifying spec.cpu.reserved"))
	}
	for i, d := range n.Devices {
		dp := p.Child("devices").Index(i)
		if d.InterfaceName != nil && *d.InterfaceName == "" {
			errs = append(errs, field.Invalid(dp.Child("interfaceName"), "", "device name cannot be empty"))
		}
		if d.VendorID != nil && !hexID16.MatchString(*d.VendorID) {
			errs = append(errs, field.Invalid(dp.Child("vendorID"), *d.VendorID, "must be 0x followed by up to 4 hexadecimal digits"))
		}
		if d.DeviceID != nil && !hexID16.MatchString(*d.DeviceID) {
			errs = append(errs, field.Invalid(dp.Child("deviceID"), *d.DeviceID, "must be 0x followed by up to 4 hexadecimal digits"))
		}
		if d.DeviceID != nil && d.VendorID == nil {
			errs = append(errs, field.Required(dp.Child("vendorID"), "a device ID needs the vendor ID"))
		}
	}
	return errs
}

func validateHints(s *ProfileSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	h := s.WorkloadHints
	if h == nil {
		return nil
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	if s.RealTimeKernel != nil && isTrue(s.RealTimeKernel.Enabled) && h.RealTime != nil && !*h.RealTime {
		errs = append(errs, field.Invalid(p.Child("realTime"), false, "realtime kernel is enabled, but realtime workload hint is explicitly disabled"))
	}
	if isTrue(h.HighPowerConsumption) && isTrue(h.PerPodPowerManagement) {
		errs = append(errs, field.Invalid(p.Child("highPowerConsumption"), true, "highPowerConsumption and perPodPowerManagement can not be both enabled"))
	}
	if isTrue(h.MixedCpus) && (s.CPU == nil || s.CPU.Shared == nil || *s.CPU.Shared == "") {
		errs = append(errs, field.Invalid(p.Child("mixedCpus"), true, "mixedCpus enabled but no shared CPUs (spec.cpu.shared) were specified"))
	}
	return errs
}

var maxUnavailableRE = regexp.MustCompile(`^([1-9][0-9]*|([1-9][0-9]?|100)%)$`)
