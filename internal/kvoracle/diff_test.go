package kvoracle

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/vmspec"
)

var (
	flagN    = flag.Int("kvoracle.n", 2000, "objects the differential test generates")
	flagSeed = flag.Uint64("kvoracle.seed", 1, "the generator's seed")
	flagDump = flag.String("kvoracle.dump", "", "write each disagreement as YAML into this directory")
)

// pxekitFields returns the distinct field paths of pxekit's errors, as the
// webhook prints them ("" for an error without a path).
func pxekitFields(errs field.ErrorList) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range errs {
		f := e.Field
		if f == "<nil>" {
			f = ""
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// disagreement compares pxekit's verdict with the oracle's: the same
// verdict, and on a refusal the same field paths (when the webhook dropped
// causes past ten, its paths must be among pxekit's).
func disagreement(o Object, want Verdict, errs field.ErrorList) string {
	got := pxekitFields(errs)
	wantRefused := !want.Allowed
	switch {
	case wantRefused != (len(errs) > 0):
		return fmt.Sprintf("verdict: KubeVirt allowed=%v (%v %s), pxekit errors %v", want.Allowed, want.Causes, want.Error, errs)
	case !wantRefused || want.Error != "":
		return ""
	}
	wf := want.Fields()
	if want.Truncated {
		for _, f := range wf {
			if !slices.Contains(got, f) {
				return fmt.Sprintf("paths: KubeVirt %q (truncated) not all in pxekit's %q", wf, got)
			}
		}
		return ""
	}
	if !slices.Equal(wf, got) {
		return fmt.Sprintf("paths: KubeVirt %q, pxekit %q (KubeVirt: %v; pxekit: %v)", wf, got, want.Causes, errs)
	}
	return ""
}

// clusters are the configurations objects are judged under: v1.9.0's
// defaults, every alpha gate the rules depend on switched on, and the beta
// gates switched off.
var clusters = []vmspec.Validator{
	{},
	{FeatureGates: []string{vmspec.GateDecentralizedLiveMigration, vmspec.GateNetworkDevicesWithDRA, vmspec.GatePortRangesSpec,
		vmspec.GateHostDisk, vmspec.GateDownwardMetrics, vmspec.GateHostDevices, vmspec.GateVSOCK, vmspec.GateVirtIOFSStorageVolumes,
		vmspec.GateIgnition, vmspec.GateSidecar, vmspec.GateReservedOverheadMemlock, vmspec.GateWorkloadEncryptionTDX}},
	{DisabledFeatureGates: []string{vmspec.GateDeclarativeHotplugVolumes, vmspec.GatePasstBinding, vmspec.GateRebootPolicy, vmspec.GateWorkloadEncryptionSEV}},
}

var oracles = map[int]*Oracle{}

func oracleFor(i int) *Oracle {
	if oracles[i] == nil {
		oracles[i] = New(clusters[i].FeatureGates, clusters[i].DisabledFeatureGates)
	}
	return oracles[i]
}

func defaultOracle() *Oracle { return oracleFor(0) }

// judge returns KubeVirt's and pxekit's verdicts on o in cluster c.
func judge(o Object, c int) (Verdict, field.ErrorList) {
	if o.VM != nil {
		errs, _ := clusters[c].ValidateVM(o.VM)
		return oracleFor(c).Review(o.VM), errs
	}
	errs, _ := clusters[c].ValidateVMI(o.VMI)
	return oracleFor(c).Review(o.VMI), errs
}

// TestDifferential generates -kvoracle.n objects and requires pxekit and
// KubeVirt v1.9.0 to agree on each: verdict and field paths.
func TestDifferential(t *testing.T) {
	g := NewGen(*flagSeed)
	var (
		n, refused, validAccepted, valid, panics int
		failures                                 []string
		perMutation                              = map[string][2]int{}
	)
	for range *flagN {
		o := g.Next(0.8)
		// Most objects meet the default cluster; one in five each of the
		// others.
		c := 0
		if r := g.pick(10); r >= 6 {
			c = 1 + r%2
		}
		want, errs := judge(o, c)
		n++
		if !want.Allowed {
			refused++
		}
		if strings.HasPrefix(want.Error, "panic") {
			panics++
		}
		if o.Mutation == "" {
			valid++
			if want.Allowed {
				validAccepted++
			}
		}
		pm := perMutation[o.Mutation]
		pm[0]++
		if d := disagreement(o, want, errs); d != "" {
			pm[1]++
			if len(failures) < 40 {
				failures = append(failures, fmt.Sprintf("#%d %s (cluster %d): %s", n, o.Mutation, c, d))
			}
			dump(t, n, o)
		}
		perMutation[o.Mutation] = pm
	}
	agreed := n
	for _, c := range perMutation {
		agreed -= c[1]
	}
	t.Logf("%d objects (seed %d): %d refused by KubeVirt, %d unchanged valid objects of which %d accepted, %d webhook panics; agreement %d/%d (%.2f %%)",
		n, *flagSeed, refused, valid, validAccepted, panics, agreed, n, 100*float64(agreed)/float64(n))
	names := make([]string, 0, len(perMutation))
	for k := range perMutation {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if c := perMutation[k]; c[1] > 0 || testing.Verbose() {
			t.Logf("  %-28s %5d objects, %d disagreements", k, c[0], c[1])
		}
	}
	for _, f := range failures {
		t.Error(f)
	}
	if valid > 0 && validAccepted*10 < valid*9 {
		t.Errorf("only %d of %d unchanged objects are valid for KubeVirt: the generator tests little", validAccepted, valid)
	}
}

func dump(t *testing.T, n int, o Object) {
	if *flagDump == "" {
		return
	}
	var obj any = o.VMI
	if o.VM != nil {
		obj = o.VM
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fmt.Sprintf("%s/%05d-%s.yaml", *flagDump, n, o.Mutation), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzDifferential drives the generator from fuzzed seeds: every object
// it makes must get the same verdict and field paths from both.
func FuzzDifferential(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		g := NewGen(seed)
		for i := range 4 {
			o := g.Next(0.9)
			want, errs := judge(o, i%len(clusters))
			if d := disagreement(o, want, errs); d != "" {
				t.Fatalf("%s: %s", o.Mutation, d)
			}
		}
	})
}
