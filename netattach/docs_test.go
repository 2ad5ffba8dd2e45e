package netattach

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// The seed manifests are in testdata twice: verbatim (the YAML block of the
// seed, de-indented) and ".clean": the same with the documentation callout
// markers removed and, for seed 003's NAD, the placeholders <bridge-network>
// and <bridge-interface> filled in with bridge-network and br1 (the bridge of
// seed 003's own policy). The verbatim files are not valid objects; the
// decoder must say why (TestSeedSlips).

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// semantic turns a YAML manifest into a generic JSON value for deep
// comparison; a NAD's spec.config string is parsed as JSON too, so that
// whitespace and key order inside it do not matter.
func semantic(t *testing.T, y []byte) any {
	t.Helper()
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("YAMLToJSON: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatal(err)
	}
	if spec, ok := v["spec"].(map[string]any); ok {
		if cfg, ok := spec["config"].(string); ok {
			var c any
			if err := json.Unmarshal([]byte(cfg), &c); err != nil {
				t.Fatalf("spec.config: %v", err)
			}
			spec["config"] = c
		}
	}
	return v
}

func assertSameManifest(t *testing.T, got any, seedFile string) {
	t.Helper()
	y, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	want := semantic(t, readTestdata(t, seedFile))
	if g := semantic(t, y); !reflect.DeepEqual(g, want) {
		gj, _ := json.MarshalIndent(g, "", "  ")
		wj, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("built manifest differs from %s\n--- built:\n%s\n--- seed:\n%s", seedFile, gj, wj)
	}
}

func seed001NAD() *BridgeNADBuilder {
	return NewBridgeNAD("pxe-net-conf", "br1").WithL2IPAM().WithTuning(TuningNetConf{})
}

func seed003NAD() *BridgeNADBuilder {
	return NewBridgeNAD("bridge-network", "br1").
		WithMACSpoofCheck(true).
		WithVLAN(100).
		WithPreserveDefaultVLAN(false).
		WithResourceNameAnnotation()
}

func seed003Policy() *BridgePolicyBuilder {
	return NewBridgePolicy("br1-eth1-policy", "br1").
		WithDescription("Linux bridge with eth1 as a port").
		WithPort("eth1")
}

func TestBuildersReproduceSeeds(t *testing.T) {
	nad1, err := seed001NAD().Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameManifest(t, nad1, "pxe-net-conf.clean.yaml")

	nad3, err := seed003NAD().Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameManifest(t, nad3, "bridge-nad.clean.yaml")

	pol, err := seed003Policy().Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameManifest(t, pol, "br1-eth1-policy.clean.yaml")
}
