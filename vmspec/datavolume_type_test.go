package vmspec

import (
	"strings"
	"testing"
)

// From OpenShift's documentation: a dataVolume volume takes type dataVolume or ""
// only; any other type (persistentVolumeClaim, say) keeps the VM from starting.
func TestDataVolumeType(t *testing.T) {
	doc := func(typ string) []byte {
		return []byte(`apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: rhel9
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        devices:
          disks:
          - name: rootdisk
            disk: {bus: virtio}
      volumes:
      - name: rootdisk
        dataVolume:
          name: rhel9-root
          type: ` + typ + `
`)
	}
	for _, typ := range []string{"dataVolume", `""`} {
		if _, errs := Decode(doc(typ)); len(errs) != 0 {
			t.Errorf("type %s: %v", typ, errs)
		}
	}
	_, errs := Decode(doc("persistentVolumeClaim"))
	if len(errs) != 1 || errs[0].Field != "spec.template.spec.volumes[0].dataVolume.type" ||
		!strings.Contains(errs[0].Error(), `Unsupported value: "persistentVolumeClaim"`) {
		t.Fatalf("type persistentVolumeClaim: %v", errs)
	}
	// A "type" anywhere else is still an unknown field.
	bad := strings.Replace(string(doc("dataVolume")), "            disk: {bus: virtio}", "            disk: {bus: virtio}\n            type: dataVolume", 1)
	if _, errs := Decode([]byte(bad)); len(errs) != 1 || !strings.Contains(errs[0].Error(), `unknown field "type"`) {
		t.Fatalf("type on a disk: %v", errs)
	}
}
