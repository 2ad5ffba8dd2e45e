package vmspec

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
)

// FuzzDecodeValidate feeds arbitrary documents through Decode, Validate and
// ToYAML: nothing may panic, and an object that decodes cleanly must print
// as YAML that decodes, cleanly, to the same object.
func FuzzDecodeValidate(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nspec:\n  runStrategy: Always\n  running: true\n  template:\n    spec:\n      domain:\n        memory: {guest: 1Gi, hugepages: {pageSize: 2Mi}}\n        cpu: {dedicatedCpuPlacement: true}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 16<<10 {
			return
		}
		obj, errs := Decode(doc)
		if obj == nil {
			return
		}
		verrs, warns := Validate(obj)
		for _, e := range append(errs, verrs...) {
			_ = e.Error()
		}
		for _, w := range warns {
			_ = w.String()
		}
		out, err := ToYAML(obj)
		if err != nil {
			t.Fatalf("ToYAML: %v", err)
		}
		if len(errs) > 0 {
			return
		}
		again, errs2 := Decode(out)
		if len(errs2) > 0 {
			t.Fatalf("printed object does not decode: %v\n%s", errs2, out)
		}
		if !equality.Semantic.DeepEqual(obj, again) {
			t.Fatalf("round trip changed the object:\n%s", out)
		}
	})
}
