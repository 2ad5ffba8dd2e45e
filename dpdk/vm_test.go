package dpdk

import (
	"regexp"
	"strings"
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/vmspec"
)

// rhelDPDKVM is the documented rhel-dpdk-vm built by this package, with its guest
// tuning attached as cloud-init.
func rhelDPDKVM(t *testing.T) *kubevirtv1.VirtualMachine {
	t.Helper()
	vm, err := NewVM(RHELDPDKVMName, RHELDPDKVMConfig()).Build()
	if err != nil {
		t.Fatal(err)
	}
	g, err := GuestTuningFor(vm)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := g.UserData()
	if err != nil {
		t.Fatal(err)
	}
	if sec, err := AttachUserData(vm, ud, "rhel-dpdk-vm-tuning"); err != nil || sec != nil {
		t.Fatalf("documented guest tuning should fit inline: secret %v, %v", sec, err)
	}
	return vm
}

// calloutRE matches the documentation's callout markers ("sockets: 1 4" is
// sockets 1, callout 4) that the document's text rendering left after the values.
var calloutRE = regexp.MustCompile(`(?m)^(\s*[A-Za-z.-]+: \S+) [0-9]$`)

func TestRHELDPDKVMAsPrintedRejected(t *testing.T) {
	documented := readUpstream(t, "rhel-dpdk-vm.yaml")
	var vm kubevirtv1.VirtualMachine
	errs := strictyaml.Decode(documented, &vm)
	if len(errs) != 1 || errs[0].Origin != strictyaml.OriginSyntax || !strings.Contains(errs[0].Detail, "line 28") {
		t.Fatalf("the documented VM as printed: want one YAML syntax error at line 28 (networkInterfaceMultiqueue inside the interfaces list), got %v", errs)
	}
	// vmspec's decoder (what vmlint runs) refuses it the same way.
	if obj, errs := vmspec.Decode(documented); obj != nil || len(errs) == 0 || !strings.Contains(errs[0].Detail, "line 28") {
		t.Errorf("vmspec.Decode on the documentation VM: %v, %v", obj, errs)
	}
	// Without the callouts and with that line's indentation repaired, the
	// misplaced fields show up at their paths, each with where it belongs.
	fixed := calloutRE.ReplaceAll(documented, []byte("$1"))
	fixed = regexp.MustCompile(`(?m)^          (networkInterfaceMultiqueue|rng)`).ReplaceAll(fixed, []byte("        $1"))
	vm = kubevirtv1.VirtualMachine{}
	errs = strictyaml.Decode(fixed, &vm)
	for path, belongs := range map[string]string{
		"spec.template.spec.domain.interfaces":                 "spec.template.spec.domain.devices.interfaces",
		"spec.template.spec.domain.networkInterfaceMultiqueue": "spec.template.spec.domain.devices.networkInterfaceMultiqueue",
		"spec.template.spec.domain.rng":                        "spec.template.spec.domain.devices.rng",
		"spec.template.spec.memory":                            "spec.template.spec.domain.memory",
	} {
		if !errAt(errs, path, belongs) {
			t.Errorf("no error at %s pointing to %s: %v", path, belongs, errs)
		}
	}
	// What did decode is not a DPDK VM: no hugepages, no SR-IOV interface.
	verrs := ValidateDPDKVM(&vm)
	if !errAt(verrs, "spec.template.spec.domain.memory.hugepages", "") || !errAt(verrs, "spec.template.spec.domain.devices.interfaces", "SR-IOV") {
		t.Errorf("repaired documented VM: %v", verrs)
	}
	// Moving memory into the domain still leaves guest inside hugepages.
	moved := strings.Replace(string(fixed), "\n      memory:\n        hugepages:\n          pageSize: 1Gi\n          guest: 8Gi\n",
		"\n        memory:\n          hugepages:\n            pageSize: 1Gi\n            guest: 8Gi\n", 1)
	vm = kubevirtv1.VirtualMachine{}
	errs = strictyaml.Decode([]byte(moved), &vm)
	if !errAt(errs, "spec.template.spec.domain.memory.hugepages.guest", "spec.template.spec.domain.memory.guest") {
		t.Errorf("guest under hugepages: %v", errs)
	}
}

func TestDPDKVMCorrected(t *testing.T) {
	vm := rhelDPDKVM(t)
	out := mustYAML(t, vm)
	pxetest.CheckGolden(t, "rhel-dpdk-vm.yaml", out)
	var back kubevirtv1.VirtualMachine
	if errs := strictyaml.Decode(out, &back); len(errs) > 0 {
		t.Fatalf("our VM does not decode strictly: %v", errs)
	}
	if errs := ValidateDPDKVM(&back); len(errs) > 0 {
		t.Fatalf("our VM is not a valid DPDK VM: %v", errs)
	}
	// KubeVirt's admission rules, as vmspec (and vmlint) apply them.
	obj, errs := vmspec.Decode(out)
	if len(errs) > 0 {
		t.Fatalf("vmspec.Decode: %v", errs)
	}
	if errs, warns := vmspec.Validate(obj); len(errs) > 0 || len(warns) > 0 {
		t.Errorf("vmspec rejects our VM: %v %v", errs, warns)
	}
	// Every value of the documentation, at its correct path.
	var m map[string]any
	if err := yaml.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{
		"spec.runStrategy": "Always",
		"spec.template.metadata.annotations.cpu-load-balancing\\.crio\\.io": "disable",
		"spec.template.metadata.annotations.cpu-quota\\.crio\\.io":          "disable",
		"spec.template.metadata.annotations.irq-load-balancing\\.crio\\.io": "disable",
		"spec.template.spec.domain.cpu.sockets":                             1.0,
		"spec.template.spec.domain.cpu.cores":                               5.0,
		"spec.template.spec.domain.cpu.threads":                             2.0,
		"spec.template.spec.domain.cpu.dedicatedCpuPlacement":               true,
		"spec.template.spec.domain.cpu.isolateEmulatorThread":               true,
		"spec.template.spec.domain.memory.hugepages.pageSize":               "1Gi",
		"spec.template.spec.domain.memory.guest":                            "8Gi",
		"spec.template.spec.domain.devices.networkInterfaceMultiqueue":      true,
		"spec.template.spec.domain.devices.interfaces.0.name":               "default",
		"spec.template.spec.domain.devices.interfaces.1.name":               "nic-east",
		"spec.template.spec.domain.devices.interfaces.1.pciAddress":         "0000:07:00.0",
		"spec.template.spec.networks.1.multus.networkName":                  "dpdk-net",
		"spec.template.spec.networks.0.name":                                "default",
		"spec.template.spec.domain.devices.disks.0.name":                    "cloudinitdisk",
		"spec.template.spec.volumes.0.cloudInitNoCloud.userData":            nil, // present, checked below
		"spec.template.spec.domain.devices.interfaces.0.masquerade":         map[string]any{},
		"spec.template.spec.domain.devices.interfaces.1.sriov":              map[string]any{},
		"spec.template.spec.networks.0.pod":                                 map[string]any{},
		"spec.template.spec.domain.devices.rng":                             map[string]any{},
	} {
		got, ok := lookup(m, path)
		if !ok {
			t.Errorf("%s missing", path)
			continue
		}
		if want != nil && !equalJSON(got, want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if _, ok := lookup(m, "spec.running"); ok {
		t.Error("spec.running is deprecated; runStrategy replaces it")
	}
}

func TestApplyVMOnExistingVM(t *testing.T) {
	vm := &kubevirtv1.VirtualMachine{}
	vm.Name = "x"
	vm.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
	vm.Spec.Template.ObjectMeta.Annotations = map[string]string{"keep": "me"}
	cfg := RHELDPDKVMConfig()
	if err := ApplyVM(vm, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.PCIAddress = "0000:08:00.0"
	if err := ApplyVM(vm, cfg); err != nil { // idempotent: replaces, never duplicates
		t.Fatal(err)
	}
	s := vm.Spec.Template.Spec
	if len(s.Domain.Devices.Interfaces) != 2 || len(s.Networks) != 2 || s.Domain.Devices.Interfaces[1].PciAddress != "0000:08:00.0" {
		t.Errorf("interfaces %v networks %v", s.Domain.Devices.Interfaces, s.Networks)
	}
	if vm.Spec.Template.ObjectMeta.Annotations["keep"] != "me" {
		t.Error("ApplyVM dropped an annotation")
	}
	if errs := ValidateDPDKVM(vm); len(errs) > 0 {
		t.Error(errs)
	}
	if err := ApplyVM(nil, RHELDPDKVMConfig()); err == nil {
		t.Error("ApplyVM(nil) accepted")
	}
	for name, bad := range map[string]VMConfig{
		"no cores":      {HugepageSize: "1Gi", GuestMemory: "8Gi", NIC: "n", NetworkName: "net"},
		"odd memory":    {Cores: 1, GuestMemory: "1536Mi", NIC: "n", NetworkName: "net"},
		"page size":     {Cores: 1, HugepageSize: "1G", GuestMemory: "8Gi", NIC: "n", NetworkName: "net"},
		"pci":           {Cores: 1, GuestMemory: "8Gi", NIC: "n", NetworkName: "net", PCIAddress: "07:00.0"},
		"no network":    {Cores: 1, GuestMemory: "8Gi", NIC: "n"},
		"memory syntax": {Cores: 1, GuestMemory: "eight", NIC: "n", NetworkName: "net"},
		"zero page":     {Cores: 1, HugepageSize: "0", GuestMemory: "8Gi", NIC: "n", NetworkName: "net"},
		"zero memory":   {Cores: 1, GuestMemory: "0", NIC: "n", NetworkName: "net"},
	} {
		if _, err := NewVM("x", bad).Build(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWithDPDKOnBuilder(t *testing.T) {
	b := vmspec.NewVM("dpdk-pxe").WithNamespace("dpdk-checkup-ns").WithPodNetwork().
		WithContainerDisk("rootdisk", "registry.example/rhel:9", vmspec.Bootable())
	vm, err := b.With(WithDPDK(RHELDPDKVMConfig())).Build()
	if err != nil {
		t.Fatal(err)
	}
	if errs := ValidateDPDKVM(vm); len(errs) > 0 {
		t.Error(errs)
	}
	if errs, _ := vmspec.ValidateVM(vm); len(errs) > 0 {
		t.Error(errs)
	}
	if d := vm.Spec.Template.Spec.Domain.Devices.Disks; len(d) != 1 || d[0].Name != "rootdisk" {
		t.Errorf("the caller's disk was lost: %v", d)
	}
	// The same settings as ApplyVM on a bare VM.
	applied := &kubevirtv1.VirtualMachine{}
	applied.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
	if err := ApplyVM(applied, RHELDPDKVMConfig()); err != nil {
		t.Fatal(err)
	}
	vm.Spec.Template.Spec.Domain.Devices.Disks, vm.Spec.Template.Spec.Volumes = nil, nil
	if a, b := mustYAML(t, applied.Spec.Template), mustYAML(t, vm.Spec.Template); string(a) != string(b) {
		t.Errorf("ApplyVM and WithDPDK differ:\n%s\n---\n%s", a, b)
	}
	cfg := RHELDPDKVMConfig()
	cfg.PCIAddress = "07:00.0"
	if _, err := vmspec.NewVM("x").WithPodNetwork().With(WithDPDK(cfg)).Build(); err == nil || !strings.Contains(err.Error(), "pciAddress") {
		t.Errorf("bad PCI address through the builder: %v", err)
	}
}

func TestValidateDPDKVMRules(t *testing.T) {
	vm := rhelDPDKVM(t)
	d := &vm.Spec.Template.Spec.Domain
	d.CPU.Sockets = 2
	d.CPU.DedicatedCPUPlacement = false
	delete(vm.Spec.Template.ObjectMeta.Annotations, AnnotationCPUQuota)
	d.Memory.Hugepages.PageSize = "1G"
	vm.Spec.Template.Spec.Networks[1].Multus = nil
	vm.Spec.Template.Spec.Networks[1].Pod = &kubevirtv1.PodNetwork{}
	errs := ValidateDPDKVM(vm)
	for _, path := range []string{
		"spec.template.metadata.annotations[cpu-quota.crio.io]",
		"spec.template.spec.domain.cpu.sockets",
		"spec.template.spec.domain.cpu.dedicatedCpuPlacement",
		"spec.template.spec.domain.cpu.isolateEmulatorThread",
		"spec.template.spec.domain.memory.hugepages.pageSize",
	} {
		if !errAt(errs, path, "") {
			t.Errorf("no error at %s: %v", path, errs)
		}
	}
	if !strings.Contains(errs.ToAggregate().Error(), "nic-east") {
		t.Errorf("SR-IOV interface on the pod network not reported: %v", errs)
	}
}

// lookup follows a dotted path (numbers index lists, "\." escapes a dot).
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, seg := range splitPath(path) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := 0
			for _, r := range seg {
				i = i*10 + int(r-'0')
			}
			if i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func splitPath(p string) []string {
	p = strings.ReplaceAll(p, `\.`, "\x00")
	parts := strings.Split(p, ".")
	for i := range parts {
		parts[i] = strings.ReplaceAll(parts[i], "\x00", ".")
	}
	return parts
}

func equalJSON(a, b any) bool {
	ja, _ := yaml.Marshal(a)
	jb, _ := yaml.Marshal(b)
	return string(ja) == string(jb)
}

// FuzzValidateDPDKVM feeds decoded VirtualMachines of any shape to the DPDK
// checks and the guest tuning derivation: errors are fine, panics and
// runaway loops are not.
func FuzzValidateDPDKVM(f *testing.F) {
	f.Add(string(mustRead(f, "testdata/golden/rhel-dpdk-vm.yaml")))
	f.Add("spec:\n  template:\n    spec:\n      domain:\n        cpu: {sockets: 4294967295, cores: 4294967295, threads: 2}\n")
	f.Add("spec:\n  template:\n    spec:\n      domain:\n        memory: {hugepages: {pageSize: 2Mi}, guest: 3Mi}\n")
	f.Add("spec:\n  template:\n    spec:\n      domain:\n        devices: {interfaces: [{name: a, sriov: {}, pciAddress: x}]}\n")
	f.Add("spec: {}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		var vm kubevirtv1.VirtualMachine
		if errs := strictyaml.Decode([]byte(doc), &vm); len(errs) > 0 {
			return
		}
		ValidateDPDKVM(&vm)
		g, err := GuestTuningFor(&vm)
		if err != nil {
			return
		}
		if ud, err := g.UserData(); err == nil {
			AttachUserData(&vm, ud, "s")
		}
	})
}

// VMConfig.Validate names its own fields; through a builder or ApplyVM the
// same problems are reported where the values would go, and nothing is
// applied.
func TestVMConfigProblemPaths(t *testing.T) {
	bad := VMConfig{HugepageSize: "1G", GuestMemory: "eight", PCIAddress: "07:00.0"}
	var got []string
	for _, e := range bad.Validate() {
		got = append(got, e.Field)
	}
	if want := []string{"cores", "hugepageSize", "guestMemory", "nic", "networkName", "pciAddress"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Validate paths %q, want %q", got, want)
	}
	if errs := RHELDPDKVMConfig().Validate(); len(errs) > 0 {
		t.Errorf("the rhel-dpdk-vm configuration: %v", errs)
	}
	odd := RHELDPDKVMConfig()
	odd.GuestMemory, odd.PCIAddress = "1536Mi", "07:00.0"
	vm, err := vmspec.NewVM("x").With(WithDPDK(odd)).Build()
	for _, want := range []string{
		`spec.template.spec.domain.memory.guest: Invalid value: "1536Mi": must be a positive multiple of the hugepage size 1Gi`,
		`spec.template.spec.domain.devices.interfaces[nic-east].pciAddress: Invalid value: "07:00.0"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("VM builder: %v, want %q", err, want)
		}
	}
	if vm.Spec.Template.Spec.Domain.CPU != nil || len(vm.Spec.Template.ObjectMeta.Annotations) != 0 {
		t.Errorf("an invalid configuration was applied: %+v", vm.Spec.Template)
	}
	if _, err := vmspec.NewVMI("x").With(WithDPDK(odd)).Build(); err == nil || !strings.Contains(err.Error(), "spec.domain.memory.guest: Invalid value") {
		t.Errorf("VMI builder: %v", err)
	}
	if err := ApplyVM(&kubevirtv1.VirtualMachine{}, odd); err == nil || !strings.Contains(err.Error(), "spec.template.spec.domain.memory.guest") {
		t.Errorf("ApplyVM: %v", err)
	}
}

// The VF rules cover the interfaces a VM had before the option: two VFs at
// one guest PCI address are refused.
func TestWithDPDKSharedPCIAddress(t *testing.T) {
	_, err := vmspec.NewVM("x").WithSRIOVNIC("nic-west", "west-net", vmspec.PCIAddress("0000:07:00.0")).
		With(WithDPDK(RHELDPDKVMConfig())).Build()
	if err == nil || !strings.Contains(err.Error(), "spec.template.spec.domain.devices.interfaces[2].pciAddress: Duplicate value") {
		t.Errorf("shared PCI address: %v", err)
	}
}
