package sriov

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func addCorpus(f *testing.F) {
	for _, name := range []string{"policy-1.yaml", "dpdk-sriovnetwork.yaml", "sriovnetwork-all-fields.yaml", "unquoted-spoofchk.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("spec:\n  nicSelector:\n    pfNames: [\"eno3#0-3\", \"eno3#2-1\", \"#\", \"a#1-2-3\"]\n  numVfs: 4\n"))
	f.Add([]byte("spec: {numVfs: -1, priority: 1e99, nicSelector: {vendor: 8086}}"))
	f.Add([]byte("{\"spec\":{\"ipam\":\"{\\\"type\\\":\\\"x'\\\"}\",\"logFile\":\"a\\tb\"}}"))
	f.Add([]byte("spec:\n  bridge: {ovs: {}}\n  eSwitchMode: switchdev\n  vdpaType: virtio\n"))
	f.Add([]byte("- [\n"))
}

// FuzzDecodeNodePolicy: any document decodes and validates without panic,
// and a policy that validates prints as YAML that decodes back to itself.
func FuzzDecodeNodePolicy(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, derrs := DecodeNodePolicy(doc)
		verrs, _ := ValidateNodePolicy(p, Options{})
		ValidateNodePolicies([]SriovNetworkNodePolicy{*p, *p})
		if len(derrs) > 0 || len(verrs) > 0 {
			return
		}
		out, err := MarshalYAML(p)
		if err != nil {
			t.Fatal(err)
		}
		back, errs := DecodeNodePolicy(out)
		if len(errs) > 0 {
			t.Fatalf("printed policy does not decode: %v\n%s", errs, out)
		}
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(back)
		if string(a) != string(b) {
			t.Fatalf("round trip changed the policy:\n%s\n%s", a, b)
		}
	})
}

// FuzzDecodeNetwork: any document decodes, validates and renders without
// panic, and the NAD of a valid network carries a JSON CNI config of type
// sriov.
func FuzzDecodeNetwork(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		n, derrs := DecodeNetwork(doc)
		// What ValidateNetwork only warns about (it fails later) keeps
		// RenderNAD from rendering too.
		verrs, later, _ := validateNetwork(n, Options{})
		verrs = append(verrs, later...)
		nad, err := RenderNAD(n, RenderOptions{})
		if len(derrs) > 0 || len(verrs) > 0 {
			if err == nil && len(verrs) > 0 {
				t.Fatalf("invalid network rendered: %v", verrs)
			}
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), "single quote") {
				return
			}
			t.Fatalf("valid network did not render: %v", err)
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(nad.Spec.Config), &cfg); err != nil {
			t.Fatalf("config is not JSON: %v\n%s", err, nad.Spec.Config)
		}
		if cfg["type"] != "sriov" && cfg["plugins"] == nil {
			t.Fatalf("config has no sriov plugin: %s", nad.Spec.Config)
		}
	})
}

// FuzzParsePFName: any pfNames entry parses or is refused without panic;
// what parses prints back to an entry that parses to the same value, and
// its range lies inside numVfs.
func FuzzParsePFName(f *testing.F) {
	for _, s := range []string{"eno3", "eno3#0-3", "eno3#3-0", "#", "a#1-2-3", "a#-1-2", "a#+1-2", "a#01-02", "a##1-2", "a#99999999999999999999-1"} {
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, numVfs int) {
		p, err := ParsePFName(s, numVfs)
		if err != nil {
			return
		}
		if p.HasRange && (p.First < 0 || p.First > p.Last || (numVfs > 0 && p.Last >= numVfs)) {
			t.Fatalf("%q parsed to a bad range %+v", s, p)
		}
		q, err := ParsePFName(p.String(), numVfs)
		if err != nil || q != p {
			t.Fatalf("%q -> %q -> %+v %v", s, p.String(), q, err)
		}
	})
}
