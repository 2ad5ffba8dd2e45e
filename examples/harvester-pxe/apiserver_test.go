package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// harvester-pxe prints iPXE scripts and Harvester install configs, which
// the Harvester installer reads from the boot server; none is an object
// for a Kubernetes API server, so there is nothing of it to apply (the
// other examples' output is applied to a real API server by their tests).
// Should it print one some day, this fails until that output is applied
// too.
func TestPrintsNoKubernetesObject(t *testing.T) {
	for _, args := range [][]string{
		{"render", "--cluster", "testdata/cluster.yaml"},
		{"render", "--cluster", "testdata/cluster.yaml", "--dhcpd-conf", "testdata/harvester-dhcpd-httpboot.conf"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatal(err)
		}
		configs := 0
		// Each printed file starts with a "# " header line.
		for _, part := range strings.Split("\n"+out.String(), "\n# ")[1:] {
			head, body, _ := strings.Cut(part, "\n")
			if strings.HasPrefix(body, "#!ipxe") {
				continue
			}
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatalf("%s: %v", head, err)
			}
			if doc["apiVersion"] != nil || doc["kind"] != nil {
				t.Errorf("%s is a Kubernetes object (apiVersion %v, kind %v): apply it to the test API server", head, doc["apiVersion"], doc["kind"])
			}
			if doc["scheme_version"] == nil {
				t.Errorf("%s is neither an iPXE script nor a Harvester config", head)
			}
			configs++
		}
		if configs == 0 {
			t.Errorf("%q printed no Harvester config:\n%s", args, out.String())
		}
	}
}
