package vmspec

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/validation"
)

// The documentation's VM manifests as printed (testdata/README.md says which is
// which), and what KubeVirt would say about each: its CRD schema (strict
// Decode) and its admission webhook (Validate). Several have documentation
// slips: callout numbers the page renders after values, YAML flattened onto
// one line, fields at the wrong level, a disk without a volume, invalid
// cloud-init YAML. Every one is caught here, with its path or line.
func TestDocumentationManifests(t *testing.T) {
	tests := []struct {
		file    string
		snippet bool           // a fragment: pasted at the top of a VMI
		errs    []string       // Decode errors, then Validate errors
		lines   map[string]int // error path (or "" for syntax) -> line in the file
		warns   []string
	}{
		// The PXE booting procedure: the template is valid as written.
		{file: "vmi-pxe-boot.yaml"},
		// Its snippets are fragments: pasted at the top level they are
		// misplaced, and Decode says where each belongs.
		// (What remains, a VMI without memory, KubeVirt refuses without a
		// field path.)
		{file: "snippet-interfaces.yaml", snippet: true,
			errs: []string{`interfaces: Forbidden: unknown field "interfaces" (it belongs at spec.domain.devices.interfaces)`, noMemory}},
		{file: "snippet-disks.yaml", snippet: true,
			errs: []string{`devices: Forbidden: unknown field "devices" (it belongs at spec.domain.devices)`, noMemory}},
		{file: "snippet-networks.yaml", snippet: true,
			errs: []string{`networks: Forbidden: unknown field "networks" (it belongs at spec.networks)`, noMemory}},
		// Its Chinese translation prints the same YAML flattened onto one
		// line.
		{file: "vmi-pxe-boot.oneline.yaml",
			errs:  []string{"line 1: mapping values are not allowed in this context"},
			lines: map[string]int{"": 1}},
		{file: "snippet-interfaces.oneline.yaml",
			errs: []string{"line 1: block sequence entries are not allowed in this context"}},

		// Virtual machine networking. Callouts after a flow value are
		// YAML syntax errors.
		{file: "masquerade-vm.yaml", errs: []string{"line 7: did not find expected key"}, lines: map[string]int{"": 7}},
		{file: "ipv6-vm.yaml", errs: []string{"line 6: did not find expected key"}},
		{file: "sriov-vm.yaml", errs: []string{"line 8: did not find expected key"}},
		{file: "vm-istio.yaml", errs: []string{"line 15: did not find expected key"}, lines: map[string]int{"": 15}},
		// Without the callouts, the masquerade and SR-IOV snippets put a
		// VMI spec straight into a VirtualMachine's spec.
		{file: "masquerade-vm.nocallouts.yaml",
			errs: []string{
				"apiVersion: Required value",
				`spec.domain: Forbidden: unknown field "domain" (it belongs at spec.template.spec.domain)`,
				`spec.networks: Forbidden: unknown field "networks" (it belongs at spec.template.spec.networks)`,
				"metadata.name: Required value", "spec.template: Required value",
			},
			lines: map[string]int{"spec.domain": 3, "spec.networks": 10}},
		{file: "sriov-vm.nocallouts.yaml",
			errs: []string{
				"apiVersion: Required value",
				`spec.domain: Forbidden: unknown field "domain" (it belongs at spec.template.spec.domain)`,
				`spec.networks: Forbidden: unknown field "networks" (it belongs at spec.template.spec.networks)`,
				"metadata.name: Required value", "spec.template: Required value",
			}},
		// The istio VM declares a cloudinitdisk disk but no volume for it.
		{file: "vm-istio.nocallouts.yaml",
			errs:  []string{`spec.template.spec.domain.devices.disks[1].name: Invalid value: "cloudinitdisk": no volume of this name in spec.volumes`},
			lines: map[string]int{"spec.template.spec.domain.devices.disks[1].name": 28}},
		// The DPDK VM: interfaces, networkInterfaceMultiqueue and rng lost
		// their "devices:" parent, so the YAML does not even parse...
		{file: "rhel-dpdk-vm.yaml", errs: []string{"line 28: did not find expected '-' indicator"}, lines: map[string]int{"": 28}},
		// ...and with the list indented back, they and memory are misplaced.
		{file: "rhel-dpdk-vm.stage2.yaml",
			errs: []string{
				`spec.template.spec.domain.interfaces: Forbidden: unknown field "interfaces" (it belongs at spec.template.spec.domain.devices.interfaces)`,
				`spec.template.spec.domain.networkInterfaceMultiqueue: Forbidden: unknown field "networkInterfaceMultiqueue" (it belongs at spec.template.spec.domain.devices.networkInterfaceMultiqueue)`,
				`spec.template.spec.domain.rng: Forbidden: unknown field "rng" (it belongs at spec.template.spec.domain.devices.rng)`,
				`spec.template.spec.memory: Forbidden: unknown field "memory" (it belongs at spec.template.spec.domain.memory)`,
				`spec.template.spec.networks[0].name: Required value: no interface named "default"`,
				`spec.template.spec.networks[1].name: Required value: no interface named "nic-east"`,
				// The memory settings were dropped with misplaced memory:.
				`spec.template.spec.domain.resources.limits.memory: Required value: dedicated CPUs need a memory`,
			},
			lines: map[string]int{"spec.template.spec.domain.interfaces": 21, "spec.template.spec.domain.networkInterfaceMultiqueue": 28,
				"spec.template.spec.domain.rng": 29, "spec.template.spec.memory": 30, "spec.template.spec.networks[1].name": 39},
			warns: []string{"spec.running: spec.running is deprecated"}},
		{file: "rhel-dpdk-vm.fixed.yaml",
			warns: []string{"spec.running: spec.running is deprecated", "interfaces[1].model: an SR-IOV interface is a passed-through VF"}},
		// Callouts after plain values end up inside the values.
		// KubeVirt takes a VM whose template has an invalid label; the VMI
		// made from it is refused.
		{file: "vm-ephemeral.yaml",
			warns: []string{"spec.running: spec.running is deprecated", `spec.template.metadata.labels: Invalid value: "key 1"`}},
		{file: "example-vm-fqdn.yaml",
			errs: []string{
				`spec.template.spec.domain.devices.interfaces[0].name: Invalid value: "example-nic": no network of this name`,
				`spec.template.spec.networks[0].name: Required value: no interface named "example-nic 1"`,
			},
			warns: []string{"spec.running: spec.running is deprecated"}},
		// Placeholders (<default>) are not names.
		{file: "bridge-vm.yaml",
			errs: []string{
				`metadata.name: Invalid value: "<example-vm>"`,
				// KubeVirt reports a missing runStrategy at spec.running.
				"spec.running: Required value",
				`spec.template.spec.domain.devices.interfaces[0].name: Invalid value: "<default>": may only contain`,
				`spec.template.spec.domain.devices.interfaces[1].name: Invalid value: "<bridge-net> 1": may only contain`,
				`spec.template.spec.domain.devices.interfaces[1].name: Invalid value: "<bridge-net> 1": no network of this name`,
				`spec.template.spec.networks[1].name: Required value: no interface named "<bridge-net> 2"`,
			},
			warns: []string{`spec.template.spec.networks[1].multus.networkName: names no NetworkAttachmentDefinition (namespace:`}},
		// The networkData examples are not valid YAML themselves: the
		// callout turns "eth1:" into a scalar with children.
		{file: "networkdata-dhcp.yaml",
			errs:  networkDataErrs,
			warns: []string{"spec.template.spec.volumes[0].cloudInitNoCloud.networkData: is not valid YAML (line 4: mapping values are not allowed in this context)"}},
		{file: "networkdata-static.yaml",
			errs:  networkDataErrs,
			warns: []string{"spec.template.spec.volumes[0].cloudInitNoCloud.networkData: is not valid YAML (line 4: mapping values are not allowed in this context)"}},

		// Creating virtual machines: the RHEL VM as printed
		// (placeholders, a callout inside the cloud-config)...
		{file: "rhel-vm.yaml",
			errs: []string{
				`metadata.name: Invalid value: "<vm_name>"`,
				`metadata.labels: Invalid value: "<vm_name> 1"`,
			},
			warns: []string{"spec.running: spec.running is deprecated",
				`spec.dataVolumeTemplates[0].metadata.name: "<vm_name>" cannot name a DataVolume`,
				`spec.template.metadata.labels: Invalid value: "<vm_name>"`,
				"spec.template.spec.volumes[1].cloudInitNoCloud.userData: is not valid YAML (line 3: did not find expected key)"}},
		// ...and filled in: valid, running is only deprecated.
		{file: "rhel-vm.filled.yaml", warns: []string{"spec.running: spec.running is deprecated"}},
		// RunStrategy written with a capital R.
		{file: "runstrategy.yaml",
			errs: []string{`spec.RunStrategy: Forbidden: unknown field "RunStrategy"; did you mean "runStrategy"?`,
				"metadata.name: Required value", "spec.template: Required value"},
			lines: map[string]int{"spec.RunStrategy": 4}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			doc, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if tc.snippet {
				doc = wrapSnippet(doc)
			}
			obj, errs := Decode(doc)
			var warns []validation.Warning
			if obj != nil {
				verrs, w := Validate(obj)
				errs, warns = append(errs, verrs...), w
			}
			checkRule(t, errs, warns, tc.errs, tc.warns)
			idx := strictyaml.IndexLines(doc)
			for path, want := range tc.lines {
				found := false
				for _, e := range errs {
					if e.Field == path {
						found = true
						if got := idx.ErrorLine(e); got != want {
							t.Errorf("%q is reported on line %d, want %d", e.Error(), got, want)
						}
					}
				}
				if !found {
					t.Errorf("no error at %q", path)
				}
			}
		})
	}
}

// noMemory is KubeVirt's refusal of a VMI without memory, which has no path.
const noMemory = "<nil>: Required value: no memory requested"

// networkDataErrs: the networkData examples are fragments of a VM without
// apiVersion, name and runStrategy, whose volume has no name; KubeVirt's
// schema check would name the missing key, pxekit names what the empty name
// breaks: the disk the defaults add for the volume.
var networkDataErrs = []string{"apiVersion: Required value", "metadata.name: Required value", "spec.running: Required value",
	`spec.template.spec.domain.devices.disks.domain.devices.disks[0].name: Invalid value: ""`}

// Decode takes both API versions and rejects other kinds and versions.
func TestDecodeKinds(t *testing.T) {
	tests := []struct {
		doc     string
		wantObj string
		errs    []string
	}{
		{"apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: a}\n", "*v1.VirtualMachine", nil},
		{"apiVersion: kubevirt.io/v1alpha3\nkind: VirtualMachineInstance\nmetadata: {name: a}\n", "*v1.VirtualMachineInstance", nil},
		{"apiVersion: kubevirt.io/v2\nkind: VirtualMachine\n", "*v1.VirtualMachine", []string{`apiVersion: Unsupported value: "kubevirt.io/v2"`}},
		{"apiVersion: v1\nkind: Pod\n", "<nil>", []string{`apiVersion: Unsupported value: "v1"`, `kind: Unsupported value: "Pod"`}},
		{"apiVersion: kubevirt.io/v1\n", "<nil>", []string{"kind: Required value"}},
		{"kind: VirtualMachine\nspec: [\n", "<nil>", []string{"line 2: did not find expected node content"}},
		{"apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nspec:\n  runStrategy: 3\n  template: {spec: {domain: {devices: {disks: {}}}}}\n", "*v1.VirtualMachine",
			[]string{`spec.runStrategy: Invalid value: "3": must be of type string, got number`,
				`spec.template.spec.domain.devices.disks: Invalid value: "object": must be of type array, got object`}},
	}
	for _, tc := range tests {
		obj, errs := Decode([]byte(tc.doc))
		if got := typeName(obj); got != tc.wantObj {
			t.Errorf("Decode(%q) returned %s, want %s", tc.doc, got, tc.wantObj)
		}
		if len(errs) != len(tc.errs) {
			t.Errorf("Decode(%q): %d errors, want %d:\n%s", tc.doc, len(errs), len(tc.errs), errList(errs))
			continue
		}
		for i, w := range tc.errs {
			if !strings.Contains(errs[i].Error(), w) {
				t.Errorf("Decode(%q) error %d = %q, want %q", tc.doc, i, errs[i].Error(), w)
			}
		}
	}
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T", v)
}

// wrapSnippet puts a documented fragment (a few lines cut out of a VMI, still
// indented as in the document) at the top level of a VMI, which is where a
// reader pasting it as-is would put it.
func wrapSnippet(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	for i, l := range lines {
		if len(l) >= indent {
			lines[i] = l[indent:]
		}
	}
	return []byte("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: snippet\n" + strings.Join(lines, "\n"))
}
