package vmspec_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/vmspec"
)

// From OpenShift's documentation: a VMI that PXE-boots from the pxe-net-conf
// bridge network with MAC de:00:00:00:00:de, then boots its container disk.
func Example() {
	vmi, err := vmspec.NewVMI("vmi-pxe-boot").
		WithAPIVersion(vmspec.APIVersionV1Alpha3).
		WithLabels(map[string]string{"special": "vmi-pxe-boot"}).
		WithPodNetwork().
		WithPXENIC("pxe-net", "pxe-net-conf", "de:00:00:00:00:de").
		WithContainerDisk("containerdisk", "kubevirt/fedora-cloud-container-disk-demo", vmspec.Bootable()).
		WithCloudInitNoCloud("cloudinitdisk", "#!/bin/bash\necho \"fedora\" | passwd fedora --stdin\n").
		WithMachineType("").
		WithMemory("1024M").
		WithTerminationGracePeriod(0).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := vmspec.ToYAML(vmi)
	fmt.Print(string(out))
	// Output:
	// apiVersion: kubevirt.io/v1alpha3
	// kind: VirtualMachineInstance
	// metadata:
	//   labels:
	//     special: vmi-pxe-boot
	//   name: vmi-pxe-boot
	// spec:
	//   domain:
	//     devices:
	//       disks:
	//       - bootOrder: 2
	//         disk:
	//           bus: virtio
	//         name: containerdisk
	//       - disk:
	//           bus: virtio
	//         name: cloudinitdisk
	//       interfaces:
	//       - masquerade: {}
	//         name: default
	//       - bootOrder: 1
	//         bridge: {}
	//         macAddress: de:00:00:00:00:de
	//         name: pxe-net
	//     machine:
	//       type: ""
	//     resources:
	//       requests:
	//         memory: 1024M
	//   networks:
	//   - name: default
	//     pod: {}
	//   - multus:
	//       networkName: pxe-net-conf
	//     name: pxe-net
	//   terminationGracePeriodSeconds: 0
	//   volumes:
	//   - containerDisk:
	//       image: kubevirt/fedora-cloud-container-disk-demo
	//     name: containerdisk
	//   - cloudInitNoCloud:
	//       userData: |
	//         #!/bin/bash
	//         echo "fedora" | passwd fedora --stdin
	//     name: cloudinitdisk
	// status: {}
}

// A VirtualMachine that keeps the same PXE NIC and a persistent disk; the
// builder checks it like the admission webhook would.
func ExampleBuilder_Build() {
	_, err := vmspec.NewVM("pxe-vm").
		WithNamespace("lab").
		WithPodNetwork(vmspec.Ports(vmspec.TCP(22))).
		WithPXENIC("pxe-net", "pxe-net-conf", "de:00:00:00:00").
		WithPVC("rootdisk", "pxe-vm-root", vmspec.Bootable()).
		WithEmptyDisk("scratch", "").
		WithMemory("2Gi").Build()
	fmt.Println(err)
	// Output:
	// [spec.template.spec.volumes[1].emptyDisk.capacity: Required value: an emptyDisk needs a capacity, e.g. 10Gi, spec.template.spec.domain.devices.interfaces[1].macAddress: Invalid value: "de:00:00:00:00": malformed MAC address; write six colon-separated hex bytes, e.g. de:00:00:00:00:de]
}

// The documented DPDK VM as printed nests interfaces and memory at the wrong
// level; Decode names each field and where it belongs.
func ExampleDecode() {
	doc := `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: rhel-dpdk-vm
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        interfaces:
        - name: default
          masquerade: {}
      memory:
        hugepages:
          pageSize: 1Gi
`
	_, errs := vmspec.Decode([]byte(doc))
	for _, e := range errs {
		fmt.Println(e)
	}
	// Output:
	// spec.template.spec.domain.interfaces: Forbidden: unknown field "interfaces" (it belongs at spec.template.spec.domain.devices.interfaces)
	// spec.template.spec.memory: Forbidden: unknown field "memory" (it belongs at spec.template.spec.domain.memory)
}

// Validate reports errors and, separately, what the platform would quietly
// do differently.
func ExampleValidate() {
	vmi, _ := vmspec.NewVMI("web").
		WithPodNetwork(vmspec.Ports(vmspec.TCP(80), vmspec.TCP(49152))).
		WithBridgeNIC("lan", "lan-conf", "").
		WithMemory("1Gi").Build()
	errs, warns := vmspec.Validate(vmi)
	fmt.Println(len(errs), "errors")
	for _, w := range warns {
		fmt.Println(w)
	}
	// Output:
	// 0 errors
	// spec.domain.devices.interfaces[0].ports[1].port: port 49152 is reserved by libvirt; incoming traffic to it is dropped
	// spec.domain.devices.interfaces[1].macAddress: no macAddress: KubeVirt assigns one that is not persistent across restarts; set one if a PXE or DHCP server keys on it
}

// An Option edits the VMI being built (a VM's template) after the
// builder's own settings, as KubeVirt's libvmi options do; it is how other
// packages (dpdk.WithDPDK) contribute settings.
func ExampleBuilder_With() {
	hostname := func(name string) vmspec.Option {
		return func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
			vmi.Spec.Hostname = name
			return nil
		}
	}
	vm, err := vmspec.NewVM("pxe-vm").WithPodNetwork().WithMemory("1Gi").With(hostname("pxe-1")).Build()
	fmt.Println(vm.Spec.Template.Spec.Hostname, err)
	_, err = vmspec.NewVM("pxe-vm").WithPodNetwork().WithMemory("1Gi").With(hostname("PXE_1")).Build()
	fmt.Println(err != nil)
	// Output:
	// pxe-1 <nil>
	// true
}
