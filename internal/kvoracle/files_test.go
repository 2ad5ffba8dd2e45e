package kvoracle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	v1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/vmspec"
)

// apiServerError says whether an error is the API server's own (apiVersion,
// kind, the object's metadata), which the webhook never sees.
func apiServerError(e *field.Error) bool {
	return e.Field == "apiVersion" || e.Field == "kind" || strings.HasPrefix(e.Field, "metadata.")
}

// TestDocumentsAgree judges every VirtualMachine and VirtualMachineInstance
// in the repository's testdata (documentation manifests, vmlint's accepted
// and refused objects) with KubeVirt and with vmspec. Documents that do not
// decode strictly (YAML syntax, unknown fields) are left out: the API
// server refuses them before the webhook.
func TestDocumentsAgree(t *testing.T) {
	var files []string
	for _, dir := range []string{"../../vmspec/testdata", "../../examples/vmlint/testdata", "../../examples/sriov-dpdk/testdata", "../../examples/kubevirt-pxe/testdata"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		files = append(files, m...)
		g, _ := filepath.Glob(filepath.Join(dir, "golden", "*"))
		files = append(files, g...)
	}
	oracle := defaultOracle()
	judged := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range strictyaml.SplitDocuments(data) {
			_, kind, err := strictyaml.TypeOf(d.Data)
			if err != nil || (kind != "VirtualMachine" && kind != "VirtualMachineInstance") {
				continue
			}
			obj, derrs := vmspec.Decode(d.Data)
			if obj == nil || len(derrs) > 0 {
				continue
			}
			errs, _ := vmspec.Validate(obj)
			var webhook field.ErrorList
			for _, e := range errs {
				if !apiServerError(e) {
					webhook = append(webhook, e)
				}
			}
			var o Object
			var ro runtime.Object
			switch x := obj.(type) {
			case *v1.VirtualMachine:
				o, ro = Object{VM: x}, x
			case *v1.VirtualMachineInstance:
				o, ro = Object{VMI: x}, x
			}
			want := oracle.Review(ro)
			judged++
			if dis := disagreement(o, want, webhook); dis != "" {
				t.Errorf("%s document %d: %s", f, d.Index+1, dis)
			}
		}
	}
	t.Logf("%d documents judged", judged)
	if judged < 10 {
		t.Errorf("only %d documents judged", judged)
	}
}
