package strictyaml_test

import (
	"fmt"

	"github.com/pxekit/pxekit/strictyaml"
)

// Disk is a small type with JSON tags, as Kubernetes API types have.
type Disk struct {
	Name      string `json:"name"`
	BootOrder *uint  `json:"bootOrder,omitempty"`
}

// VM holds its disks under spec.devices.
type VM struct {
	Spec struct {
		Devices struct {
			Disks []Disk `json:"disks"`
		} `json:"devices"`
	} `json:"spec"`
}

// Every unknown field comes back at its path, saying where a field of that
// name belongs, and with the line it is written on.
func ExampleDecode() {
	doc := []byte(`spec:
  disks:
  - name: root
  devices:
    disks:
    - name: data
      bootorder: 2
`)
	var vm VM
	lines := strictyaml.IndexLines(doc)
	for _, e := range strictyaml.Decode(doc, &vm) {
		fmt.Printf("line %d: %v\n", lines.ErrorLine(e), e)
	}
	fmt.Println(vm.Spec.Devices.Disks[0].Name)
	// Output:
	// line 2: spec.disks: Forbidden: unknown field "disks" (it belongs at spec.devices.disks)
	// line 7: spec.devices.disks[0].bootorder: Forbidden: unknown field "bootorder"; did you mean "bootOrder"?
	// data
}
