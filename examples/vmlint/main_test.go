package main

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"testing"
)

const dnsMsg = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`

// The documentation's YAML as printed, and corrected, with the exact findings
// vmlint reports. The verbatim manifests carry the callout markers the
// pages print ("(1)", " 4") and placeholders that make them invalid; see
// netattach/testdata.
func TestLintFiles(t *testing.T) {
	for _, tc := range []struct {
		file string
		code int
		want []string
	}{
		{"pxe-net-conf.clean.yaml", 0, nil},
		{"br1-eth1-policy.clean.yaml", 0, nil},
		{"bridge-nad.clean.yaml", 0, nil},
		{"dpdk-mcp.yaml", 0, nil},
		{"dpdk-performance-profile.yaml", 0, nil},
		{"pxe-net-conf.yaml", 1, []string{
			`pxe-net-conf.yaml:1:6: spec.config: Invalid value: line 1 column 141 near "type\": \"cnv-tuning\" (1) } ] }": invalid JSON: invalid character '(' after object key:value pair ("(1)" looks like a documentation callout marker left in the JSON; remove it)`,
		}},
		{"bridge-nad.yaml", 1, []string{
			`bridge-nad.yaml:1:4: metadata.name: Invalid value: "<bridge-network> 1": ` + dnsMsg,
			`bridge-nad.yaml:1:8: spec.config: Invalid value: line 1 column 54 near "\"<bridge-network>\", 3 \"type\": ": invalid JSON: invalid character '3' looking for beginning of object key string ("3" looks like a documentation callout marker left in the JSON; remove it)`,
		}},
		{"br1-eth1-policy.yaml", 1, []string{
			`br1-eth1-policy.yaml:1:4: metadata.name: Invalid value: "br1-eth1-policy 1": ` + dnsMsg,
			`br1-eth1-policy.yaml:1:8: spec.desiredState.interfaces[0].name: Invalid value: "br1 2": must not contain '/', ':' or whitespace`,
			`br1-eth1-policy.yaml:1:10: spec.desiredState.interfaces[0].type: Unsupported value: "linux-bridge 4": supported values: "linux-bridge", "vlan", "ethernet"`,
			`br1-eth1-policy.yaml:1:11: spec.desiredState.interfaces[0].state: Unsupported value: "up 5": supported values: "up", "down", "absent"`,
			`br1-eth1-policy.yaml:1:13: spec.desiredState.interfaces[0].ipv4.enabled: Invalid value: "false 6": must be of type boolean, got string`,
			`br1-eth1-policy.yaml:1:17: spec.desiredState.interfaces[0].bridge.options.stp.enabled: Invalid value: "false 7": must be of type boolean, got string`,
			`br1-eth1-policy.yaml:1:19: spec.desiredState.interfaces[0].bridge.port[0].name: Invalid value: "eth1 8": must not contain '/', ':' or whitespace`,
		}},
		{"warnings-only.yaml", 0, []string{
			`warnings-only.yaml:1:15: warning: spec.config.macSpoofChk: unknown key: the bridge plugin ignores it`,
			`warnings-only.yaml:1:16: warning: spec.config.ipam: configuring IP address management (IPAM) in a virtual machine's network attachment definition is not supported`,
		}},
		// KubeVirt documentation manifests (checked by package vmspec;
		// wording pinned as a prefix). The documented VMI template is
		// valid as printed.
		{"vmi-pxe-boot.yaml", 0, nil},
		// The DPDK VM: "networkInterfaceMultiqueue" is indented as if it were
		// a list item of interfaces, which is not YAML.
		{"dpdk-vm.yaml", 1, []string{
			`dpdk-vm.yaml:1:28: did not find expected '-' indicator`,
		}},
		// The same with the callouts removed and that line dedented: now the
		// schema speaks, and every misplaced field says where it belongs.
		{"dpdk-vm.syntax-fixed.yaml", 1, []string{
			`dpdk-vm.syntax-fixed.yaml:1:6: warning: spec.running: ...`,
			// memory: is misplaced, so the dedicated CPUs have none.
			`dpdk-vm.syntax-fixed.yaml:1:14: spec.template.spec.domain.resources.limits.memory: Required value...`,
			`dpdk-vm.syntax-fixed.yaml:1:21: spec.template.spec.domain.interfaces: Forbidden: unknown field "interfaces" (it belongs at spec.template.spec.domain.devices.interfaces)...`,
			`dpdk-vm.syntax-fixed.yaml:1:28: spec.template.spec.domain.networkInterfaceMultiqueue: Forbidden: unknown field "networkInterfaceMultiqueue" (it belongs at spec.template.spec.domain.devices.networkInterfaceMultiqueue)...`,
			`dpdk-vm.syntax-fixed.yaml:1:29: spec.template.spec.domain.rng: Forbidden: unknown field "rng" (it belongs at spec.template.spec.domain.devices.rng)...`,
			`dpdk-vm.syntax-fixed.yaml:1:30: spec.template.spec.memory: Forbidden: unknown field "memory" (it belongs at spec.template.spec.domain.memory)...`,
			`dpdk-vm.syntax-fixed.yaml:1:35: spec.template.spec.networks[0].name: Required value: no interface named "default"...`,
			`dpdk-vm.syntax-fixed.yaml:1:39: spec.template.spec.networks[1].name: Required value: no interface named "nic-east"...`,
		}},
		// The Istio VM: `"true" 2` (a callout after a quoted scalar) is not
		// YAML; without the callouts its disk cloudinitdisk has no volume.
		{"istio-vm.yaml", 1, []string{
			`istio-vm.yaml:1:15: did not find expected key`,
		}},
		{"istio-vm.clean.yaml", 1, []string{
			`istio-vm.clean.yaml:1:28: spec.template.spec.domain.devices.disks[1].name: Invalid value: "cloudinitdisk"...`,
		}},
		// The RHEL VM template: placeholders, a callout in a label and one
		// inside the cloud-config, which cloud-init would then ignore.
		{"rhel-vm.yaml", 1, []string{
			`rhel-vm.yaml:1:4: metadata.labels: Invalid value: "<vm_name> 1"...`,
			`rhel-vm.yaml:1:6: metadata.name: Invalid value: "<vm_name>"...`,
			// KubeVirt takes these two; what it creates from them fails.
			`rhel-vm.yaml:1:12: warning: spec.dataVolumeTemplates[0].metadata.name: "<vm_name>" cannot name a DataVolume...`,
			`rhel-vm.yaml:1:22: warning: spec.running: ...`,
			`rhel-vm.yaml:1:25: warning: spec.template.metadata.labels: Invalid value: "<vm_name>"...`,
			`rhel-vm.yaml:1:63: warning: spec.template.spec.volumes[1].cloudInitNoCloud.userData: ...`,
		}},
		// RunStrategy with a capital R is not a field of the CRD.
		{"runstrategy-vm.yaml", 1, []string{
			// The schema check (no template) ends the check before the
			// missing runStrategy is seen.
			`runstrategy-vm.yaml:1: metadata.name: Required value...`,
			`runstrategy-vm.yaml:1:4: spec.RunStrategy: Forbidden: unknown field "RunStrategy"; did you mean "runStrategy"?...`,
			`runstrategy-vm.yaml:1:5: spec.template: Required value...`,
		}},
		// SR-IOV documentation manifests (checked by package sriov; its
		// wording is its own, so only location and path are pinned here:
		// "..." ends a prefix).
		{"sriov-node-policy.yaml", 1, []string{
			// `"true" 4`: a quoted scalar followed by a callout is not YAML.
			`sriov-node-policy.yaml:1:9: did not find expected key`,
		}},
		{"sriov-network.yaml", 1, []string{
			`sriov-network.yaml:1:10: did not find expected key`,
		}},
		{"dpdk-node-policy.yaml", 0, []string{
			`dpdk-node-policy.yaml:1:12: warning: spec.nicSelector: ...`,
		}},
		// The operator has no webhook for SriovNetworks and its schema
		// takes any string: the callouts are accepted, and break the NAD
		// it renders and the VF allocation.
		{"dpdk-sriovnetwork.yaml", 0, []string{
			`dpdk-sriovnetwork.yaml:1:18: warning: spec.networkNamespace: "dpdk-checkup-ns 1" cannot name a namespace...`,
			`dpdk-sriovnetwork.yaml:1:19: warning: spec.resourceName: "intel_nics_dpdk 2": no SriovNetworkNodePolicy can have this resource name...`,
		}},
		{"block-config.yaml", 1, []string{
			`block-config.yaml:1:11: spec.config.plugins[0].vlan: Invalid value: 5000: must be between 0 and 4094 (0: untagged)`,
			`block-config.yaml:1:12: spec.config.plugins[1].sysctl[kernel.panic]: Invalid value: "kernel.panic": must be a net.* sysctl`,
			`block-config.yaml:2:22: spec.config: Invalid value: line 2 column 20 near "\n \"type\": \"bridge\", (1)\n \"brid": invalid JSON: invalid character '(' looking for beginning of object key string ("(1)" looks like a documentation callout marker left in the JSON; remove it)`,
		}},
		{"jumbo.yaml", 0, []string{
			`jumbo.yaml:2:23: warning: spec.config.mtu: 9000 is larger than the mtu 1500 of bridge "br1" in its NodeNetworkConfigurationPolicy: frames larger than 1500 cannot cross the bridge`,
		}},
		// What KubeVirt v1.9.0 accepts (the defaults complete the VMs) and
		// refuses, at the paths its webhook prints.
		{"kubevirt-accepts.yaml", 0, []string{
			`kubevirt-accepts.yaml:2:39: warning: spec.domain.devices.interfaces[1].ports: ports are only used on the pod network...`,
		}},
		{"kubevirt-refuses.yaml", 1, []string{
			`kubevirt-refuses.yaml:1:8: spec.runStrategy: Forbidden: the DecentralizedLiveMigration feature gate is not enabled in the KubeVirt CR`,
			`kubevirt-refuses.yaml:2:23: spec.domain: Invalid value: "secureBoot": EFI secure boot (the default with efi) needs SMM...`,
			`kubevirt-refuses.yaml:3:46: spec.domain.devices.disks[0].disk.bus: Invalid value: "sata": a sata disk cannot be read-only`,
			`kubevirt-refuses.yaml:4:59: spec[0].bootOrder: Invalid value: 0: interface 0 must have a boot order > 0, if supplied`,
			`kubevirt-refuses.yaml:4:64: spec.domain.devices.disks.domain.devices.disks[0].name: Invalid value: "root.disk": must not contain dots`,
			`kubevirt-refuses.yaml:4:66: warning: spec.domain.devices.interfaces[0].macAddress: no macAddress...`,
		}},
		// The HyperConverged CR of the secondary DNS procedure: the
		// callout after the quoted IP is not YAML; after the boolean it
		// makes a string of it.
		{"hco-secondary-dns.yaml", 1, []string{`hco-secondary-dns.yaml:1:9: did not find expected key`}},
		{"hco-secondary-dns.clean.yaml", 1, []string{
			`hco-secondary-dns.clean.yaml:2:18: spec.featureGates.deployKubeSecondaryDNS: Invalid value: "true 1": must be of type boolean, got string`,
		}},
		{"multi.yaml", 1, []string{
			`multi.yaml:3:41: kind: Unsupported value: "ConfigMap": vmlint checks ` + strings.Join(supportedKinds(), ", "),
			`multi.yaml:4:52: spec.confg: Forbidden: unknown field "confg"...`,
			`multi.yaml:4:53: spec.config.vlanTrunk: Forbidden: may not be set together with vlan: the port is either an access port (vlan) or a trunk (vlanTrunk)`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runIn(t, "testdata", []string{tc.file}, nil, &out, &errOut)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			assertLines(t, out.String(), tc.want)
			if errOut.Len() > 0 {
				t.Errorf("stderr: %s", errOut.String())
			}
		})
	}
}

func TestLintStdinAndSyntax(t *testing.T) {
	var out, errOut bytes.Buffer
	in := strings.NewReader("apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\nmetadata:\n  name: p\nspec:\n  desiredState:\n    interfaces:\n    - name: br1\n      type: linux-bridge\n      mtu: 9000\n      bridge:\n        port:\n        - name: br1\n---\nkind: [\n")
	code := run([]string{"-"}, in, &out, &errOut)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	assertLines(t, out.String(), []string{
		`<stdin>:1:13: spec.desiredState.interfaces[0].bridge.port[0].name: Invalid value: "br1": a bridge cannot be its own port`,
		`<stdin>:2:15: did not find expected node content`,
	})
}

func TestUsageAndMissingFile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(nil, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: vmlint") {
		t.Errorf("no args: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"testdata/does-not-exist.yaml"}, nil, &out, &errOut); code != 1 || !strings.Contains(out.String(), "does-not-exist.yaml: open") {
		t.Errorf("missing file: exit %d, out %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-"}, strings.NewReader("# only a comment\n"), &out, &errOut); code != 0 || !strings.Contains(out.String(), "warning: no YAML documents") {
		t.Errorf("empty stream: exit %d, out %q", code, out.String())
	}
}

// runIn runs vmlint with file arguments relative to dir, so that output
// names are the bare file names.
func runIn(t *testing.T, dir string, files []string, in io.Reader, out, errOut *bytes.Buffer) int {
	t.Helper()
	t.Chdir(dir)
	return run(files, in, out, errOut)
}

func assertLines(t *testing.T, out string, want []string) {
	t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if out == "" {
		got = nil
	}
	if len(got) != len(want) {
		t.Errorf("got %d lines, want %d:\n%s", len(got), len(want), out)
		return
	}
	for i := range want {
		if prefix, ok := strings.CutSuffix(want[i], "..."); ok && strings.HasPrefix(got[i], prefix) {
			continue
		}
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func supportedKinds() []string {
	var ks []string
	for k := range checkers() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Links between documents, across files: the documented policy creates br1,
// the PXE NAD uses it and the PXE VMI uses the NAD — clean together. Each
// broken link is a warning at the field that makes it.
func TestCrossReferences(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runIn(t, "testdata", []string{"br1-eth1-policy.clean.yaml", "pxe-net-conf.clean.yaml", "vmi-pxe-boot.yaml"}, nil, &out, &errOut)
	if code != 0 || out.Len() > 0 {
		t.Errorf("documented stack: exit %d\n%s", code, out.String())
	}

	out.Reset()
	code = run([]string{"vmi-pxe-boot.yaml", "bridge-nad.clean.yaml"}, nil, &out, &errOut)
	if code != 0 {
		t.Errorf("exit %d, want 0 (warnings only)", code)
	}
	assertLines(t, out.String(), []string{
		`vmi-pxe-boot.yaml:1:35: warning: spec.networks[1].multus.networkName: no NetworkAttachmentDefinition "pxe-net-conf" in the files checked: it must already exist in the cluster`,
	})

	out.Reset()
	code = run([]string{"crossref.yaml"}, nil, &out, &errOut)
	if code != 0 {
		t.Errorf("exit %d, want 0 (warnings only)", code)
	}
	assertLines(t, out.String(), []string{
		`crossref.yaml:2:24: warning: spec.config.bridge: no NodeNetworkConfigurationPolicy in the files checked creates bridge "br9": it must already exist on the nodes`,
		`crossref.yaml:3:45: warning: spec.networks[0].multus.networkName: NetworkAttachmentDefinition "pxe-net-conf" is in namespace "other", not the VM's "lab": a NAD must be in the VM's namespace (or write "other/pxe-net-conf")`,
	})
}
