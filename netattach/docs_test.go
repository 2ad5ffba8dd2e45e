package netattach

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// The documentation's manifests are in testdata twice: verbatim (the YAML
// block of the page, de-indented) and ".clean": the same with the callout
// markers removed and, for the bridge NAD, the placeholders <bridge-network>
// and <bridge-interface> filled in with bridge-network and br1 (the bridge
// br1-eth1-policy creates). The verbatim files are not valid objects; the
// decoder must say why (TestDocumentationSlips).

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

func assertSameManifest(t *testing.T, got any, file string) {
	t.Helper()
	y, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	want := semantic(t, readTestdata(t, file))
	if g := semantic(t, y); !reflect.DeepEqual(g, want) {
		gj, _ := json.MarshalIndent(g, "", "  ")
		wj, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("built manifest differs from %s\n--- built:\n%s\n--- documented:\n%s", file, gj, wj)
	}
}

func pxeNetConfNAD() *BridgeNADBuilder {
	return NewBridgeNAD("pxe-net-conf", "br1").WithL2IPAM().WithTuning(TuningNetConf{})
}

func bridgeNetworkNAD() *BridgeNADBuilder {
	return NewBridgeNAD("bridge-network", "br1").
		WithMACSpoofCheck(true).
		WithVLAN(100).
		WithPreserveDefaultVLAN(false).
		WithResourceNameAnnotation()
}

func br1Eth1Policy() *BridgePolicyBuilder {
	return NewBridgePolicy("br1-eth1-policy", "br1").
		WithDescription("Linux bridge with eth1 as a port").
		WithPort("eth1")
}

func TestBuildersReproduceDocs(t *testing.T) {
	nad1, err := pxeNetConfNAD().Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameManifest(t, nad1, "pxe-net-conf.clean.yaml")

	nad3, err := bridgeNetworkNAD().Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameManifest(t, nad3, "bridge-nad.clean.yaml")

	pol, err := br1Eth1Policy().Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameManifest(t, pol, "br1-eth1-policy.clean.yaml")
}
