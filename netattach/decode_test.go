package netattach

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The corrected documentation manifests decode and validate without a finding,
// and decoding them gives the builders' values.
func TestCleanManifestsDecodeAndValidate(t *testing.T) {
	for _, tc := range []struct {
		file string
		b    *BridgeNADBuilder
	}{
		{"pxe-net-conf.clean.yaml", pxeNetConfNAD()},
		{"bridge-nad.clean.yaml", bridgeNetworkNAD()},
	} {
		nad, errs := DecodeNAD(readTestdata(t, tc.file))
		if len(errs) > 0 {
			t.Errorf("%s: decode: %v", tc.file, errs)
		}
		verrs, warns := ValidateNAD(nad)
		if len(verrs) > 0 || len(warns) > 0 {
			t.Errorf("%s: validate: %v %v", tc.file, verrs, warns)
		}
		got, err := ParseConfig(nad.Spec.Config)
		if err != nil {
			t.Fatal(err)
		}
		built, _ := tc.b.Build()
		want, err := ParseConfig(built.Spec.Config)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got.Plugins {
			got.Plugins[i].Raw, want.Plugins[i].Raw = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: parsed config %+v, builder's %+v", tc.file, got, want)
		}
	}
	p, errs := DecodePolicy(readTestdata(t, "br1-eth1-policy.clean.yaml"))
	if len(errs) > 0 {
		t.Errorf("policy decode: %v", errs)
	}
	if errs := ValidatePolicy(p); len(errs) > 0 {
		t.Errorf("policy validate: %v", errs)
	}
	if want, _ := br1Eth1Policy().Build(); !reflect.DeepEqual(p, want) {
		t.Errorf("decoded policy %+v, built %+v", p, want)
	}
}

// TestDocumentationSlips: the documentation's manifests as printed are not valid
// objects. pxekit reports each slip with its path and a message a user can act
// on.
//   - the documented NAD: the callout "(1)" inside spec.config makes it invalid
//     JSON; Multus would fail the VM's pod with a JSON parse error.
//   - the documented NAD: the callout numbers after values ("cnv-bridge", 4) and
//     the <placeholders> make the config invalid JSON and the name invalid.
//   - the documented NNCP: YAML takes "enabled: false 6" as the string "false 6"
//     (not a boolean) and "name: br1 2" as an interface name with a space.
func TestDocumentationSlips(t *testing.T) {
	type finding struct{ path, contains string }
	for _, tc := range []struct {
		file           string
		decode, verify []finding
	}{
		{
			file:   "pxe-net-conf.yaml",
			decode: []finding{{"spec.config", `"(1)" looks like a documentation callout`}},
			verify: []finding{{"spec.config", "invalid character '('"}},
		},
		{
			file:   "bridge-nad.yaml",
			decode: []finding{{"spec.config", `"3" looks like a documentation callout`}},
			verify: []finding{
				{"metadata.name", `"<bridge-network> 1"`},
				{"spec.config", "invalid character '3' looking for beginning of object key"},
			},
		},
		{
			file: "br1-eth1-policy.yaml",
			decode: []finding{
				{"spec.desiredState.interfaces[0].ipv4.enabled", `"false 6"`},
				{"spec.desiredState.interfaces[0].bridge.options.stp.enabled", `"false 7"`},
			},
			verify: []finding{
				{"metadata.name", `"br1-eth1-policy 1"`},
				{"spec.desiredState.interfaces[0].name", "whitespace"},
				{"spec.desiredState.interfaces[0].type", `"linux-bridge 4"`},
				{"spec.desiredState.interfaces[0].state", `"up 5"`},
				{"spec.desiredState.interfaces[0].bridge.port[0].name", `"eth1 8"`},
			},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			doc := readTestdata(t, tc.file)
			var dec, ver []string
			if strings.Contains(tc.file, "policy") {
				p, errs := DecodePolicy(doc)
				dec = errStrings(errs)
				ver = errStrings(ValidatePolicy(p))
			} else {
				nad, errs := DecodeNAD(doc)
				dec = errStrings(errs)
				verrs, _ := ValidateNAD(nad)
				ver = errStrings(verrs)
			}
			checkFindings := func(kind string, got []string, want []finding) {
				if len(got) != len(want) {
					t.Errorf("%s: got %d findings, want %d:\n%s", kind, len(got), len(want), strings.Join(got, "\n"))
					return
				}
				for i, w := range want {
					if !strings.HasPrefix(got[i], w.path+": ") || !strings.Contains(got[i], w.contains) {
						t.Errorf("%s[%d] = %q, want %s: ...%s...", kind, i, got[i], w.path, w.contains)
					}
				}
			}
			checkFindings("decode", dec, tc.decode)
			checkFindings("validate", ver, tc.verify)
		})
	}
}

// FuzzDecodePolicy: any YAML document decodes strictly and validates into
// errors or nothing, never a panic; a document that decodes and validates
// cleanly survives a YAML round trip unchanged.
func FuzzDecodePolicy(f *testing.F) {
	for _, name := range []string{"br1-eth1-policy.yaml", "br1-eth1-policy.clean.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\nmetadata: {name: p}\nspec:\n  desiredState:\n    interfaces:\n    - {name: br1, type: linux-bridge, bridge: {port: [{name: eth1, vlan: {mode: trunk, trunk-tags: [{id-range: {min: 9, max: 2}}]}}]}}\n"))
	f.Add([]byte("spec: {desiredState: {interfaces: [{name: [1], mtu: x}]}}\n"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, errs := DecodePolicy(doc)
		if p == nil {
			t.Fatal("nil policy")
		}
		verrs := ValidatePolicy(p)
		if len(errs) > 0 || len(verrs) > 0 {
			return
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		again, errs := DecodePolicy(out)
		if len(errs) > 0 || !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip: %v\n%s", errs, out)
		}
	})
}

// FuzzDecodeNAD: any YAML document decodes strictly and validates into
// errors, warnings or nothing, never a panic.
func FuzzDecodeNAD(f *testing.F) {
	for _, name := range []string{"pxe-net-conf.yaml", "pxe-net-conf.clean.yaml", "bridge-nad.yaml", "bridge-nad.clean.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: n}\nspec: {config: 7}\n"))
	f.Add([]byte("metadata: {name: n, annotations: {k8s.v1.cni.cncf.io/resourceName: x}}\nspec: {config: '{\"name\":\"n\",\"type\":\"bridge\",\"vlanTrunk\":[{\"id\":0}]}'}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		nad, _ := DecodeNAD(doc)
		if nad == nil {
			t.Fatal("nil NAD")
		}
		ValidateNAD(nad)
	})
}

// An nmstate key outside pxekit's typed subset is refused with a message
// that says why; a typo still gets strictyaml's suggestion.
func TestDecodePolicyUnknownKeys(t *testing.T) {
	doc := []byte(`apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: p
spec:
  desiredState:
    interfaces:
    - name: br1
      type: linux-bridge
      lldp: {enabled: true}
      bridge:
        prot:
        - name: eth1
`)
	_, errs := DecodePolicy(doc)
	got := errStrings(errs)
	if len(got) != 2 {
		t.Fatalf("got %d errors: %v", len(got), got)
	}
	if !strings.HasPrefix(got[0], "spec.desiredState.interfaces[0].lldp: Forbidden: unknown field") || !strings.Contains(got[0], "pxekit models the linux-bridge, vlan and ethernet subset") {
		t.Errorf("unmodelled key: %s", got[0])
	}
	if !strings.HasPrefix(got[1], "spec.desiredState.interfaces[0].bridge.prot: Forbidden: unknown field") || !strings.Contains(got[1], `did you mean "port"?`) || strings.Contains(got[1], "pxekit models") {
		t.Errorf("typo: %s", got[1])
	}
}
