package harvester

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any YAML gives a config or an error, and validating, redacting
// and re-rendering a parsed config never panics; what it renders parses back.
func FuzzParse(f *testing.F) {
	for _, n := range []string{"config-create.yaml", "config-join.yaml", "config-create.as-printed.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "install-guide", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("install:\n  management_interface:\n    method: static\n    subnet_mask: 255.0.255.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Validate()
		r := c.Redacted()
		out, err := r.YAML()
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("rendered config does not parse: %v\n%s", err, out)
		}
	})
}

// FuzzParseCluster: any cluster.yaml is planned or refused; a plan always
// becomes a valid inventory.
func FuzzParseCluster(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "cluster.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("version: v1.6.0\nvip: 192.0.2.9\nvipMode: static\ntoken: t\npassword: '{{'\ndevice: /dev/vda\nnodes:\n- {hostname: a, mac: '52:54:00:00:00:01', labels: {topology.kubernetes.io/zone: z}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCluster(data)
		if err != nil {
			return
		}
		plan, err := c.Plan()
		if err != nil {
			return
		}
		if _, err := plan.Inventory(); err != nil {
			t.Fatalf("planned cluster has no inventory: %v", err)
		}
	})
}
