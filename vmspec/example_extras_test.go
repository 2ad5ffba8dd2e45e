package vmspec_test

import (
	"fmt"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/pxekit/pxekit/vmspec"
)

// From OpenShift's documentation: expose vm-ephemeral's ssh port as NodePort
// 30000; the selector comes from the VM's template labels.
func ExampleNewService() {
	vm, _ := vmspec.NewVM("vm-ephemeral").WithNamespace("example-namespace").WithRunning(false).
		WithTemplateLabels(map[string]string{"special": "key"}).WithPodNetwork().
		WithContainerDisk("containerdisk", "quay.io/containerdisks/fedora", vmspec.Bootable()).
		WithMemory("1Gi").Build()
	svc, err := vmspec.NewService(vm, vmspec.ServiceSpec{
		Name: "vmservice", Type: k8sv1.ServiceTypeNodePort, ExternalTrafficPolicy: k8sv1.ServiceExternalTrafficPolicyCluster,
		Ports: []k8sv1.ServicePort{{NodePort: 30000, Port: 27017, Protocol: k8sv1.ProtocolTCP, TargetPort: intstr.FromInt32(22)}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := vmspec.ToYAML(svc)
	fmt.Print(string(out))
	// Output:
	// apiVersion: v1
	// kind: Service
	// metadata:
	//   name: vmservice
	//   namespace: example-namespace
	// spec:
	//   externalTrafficPolicy: Cluster
	//   ports:
	//   - nodePort: 30000
	//     port: 27017
	//     protocol: TCP
	//     targetPort: 22
	//   selector:
	//     special: key
	//   type: NodePort
	// status:
	//   loadBalancer: {}
}

// The documented dual-stack VM: IPv4 by DHCP, the static IPv6 address and
// gateway from the default vmIPv6NetworkCIDR.
func ExampleDualStackNetworkData() {
	nd, _ := vmspec.DualStackNetworkData("eth0", "")
	out, _ := nd.Render()
	fmt.Print(out)
	// Output:
	// ethernets:
	//   eth0:
	//     addresses:
	//     - fd10:0:2::2/120
	//     dhcp4: true
	//     gateway6: fd10:0:2::1
	// version: 2
}

// From OpenShift's documentation: the name KubeSecondaryDNS serves for a
// secondary interface.
func ExampleSecondaryDNSName() {
	name, _ := vmspec.SecondaryDNSName("example-nic", "example-vm", "example-namespace", "openshift.example.com")
	fmt.Println(name)
	// Output:
	// example-nic.example-vm.example-namespace.vm.openshift.example.com
}

// From OpenShift's documentation: a VMI's interfaces and their IPs, as oc
// describe vmi shows them.
func ExampleInterfaceAddressesYAML() {
	nics, _ := vmspec.InterfaceAddressesYAML([]byte(`apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: vmi}
status:
  interfaces:
  - interfaceName: eth0
    ipAddress: 10.244.0.37/24
    ipAddresses: [10.244.0.37/24, fe80::858:aff:fef4:25/64]
    mac: 0a:58:0a:f4:00:25
    name: default
`))
	for _, n := range nics {
		fmt.Println(n.Name, n.InterfaceName, n.MAC, n.IPs)
	}
	// Output:
	// default eth0 0a:58:0a:f4:00:25 [10.244.0.37/24 fe80::858:aff:fef4:25/64]
}

// From OpenShift's documentation: a tiny server VM provisioned by PXE with no
// disk at all needs no bootable disk.
func ExampleBuilder_WithSource() {
	_, err := vmspec.NewVM("pxe-only").WithSource(vmspec.Source{Kind: vmspec.SourcePXE}).
		WithFlavor(vmspec.FlavorTiny).WithWorkloadProfile(vmspec.WorkloadServer).
		WithPXENIC("pxe", "pxe-net-conf", "02:00:00:00:00:01").Build()
	fmt.Println(err)
	_, err = vmspec.NewVM("pxe-disk").WithSource(vmspec.Source{Kind: vmspec.SourcePXE}).
		WithFlavor(vmspec.FlavorTiny).
		WithPXENIC("pxe", "pxe-net-conf", "02:00:00:00:00:02").WithPVC("data", "data").Build()
	fmt.Println(err)
	// Output:
	// <nil>
	// spec.template.spec.domain.devices.disks: Invalid value: 0: exactly one disk must be bootable (have a bootOrder) with a PXE source, found 0
}
