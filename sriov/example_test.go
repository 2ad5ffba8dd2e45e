package sriov_test

import (
	"encoding/json"
	"fmt"

	"github.com/pxekit/pxekit/sriov"
)

// The documented DPDK node policy: 4 VFs of an Intel X710 (8086:1572) on eno3,
// bound to vfio-pci for OpenShift Virtualization.
func ExampleNewNodePolicy() {
	p, err := sriov.NewNodePolicy("policy-1", "intel_nics_dpdk").
		WithDeviceType(sriov.DeviceTypeVfioPCI).
		WithMTU(9000).WithNumVFs(4).WithPriority(99).
		WithNIC("8086", "1572").WithPFNames("eno3").WithRootDevices("0000:19:00.2").
		WithNodeSelector(map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"}).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := sriov.MarshalYAML(p)
	fmt.Print(string(out))
	// Output:
	// apiVersion: sriovnetwork.openshift.io/v1
	// kind: SriovNetworkNodePolicy
	// metadata:
	//   name: policy-1
	//   namespace: openshift-sriov-network-operator
	// spec:
	//   deviceType: vfio-pci
	//   mtu: 9000
	//   nicSelector:
	//     deviceID: "1572"
	//     pfNames:
	//     - eno3
	//     rootDevices:
	//     - "0000:19:00.2"
	//     vendor: "8086"
	//   nodeSelector:
	//     feature.node.kubernetes.io/network-sriov.capable: "true"
	//   numVfs: 4
	//   priority: 99
	//   resourceName: intel_nics_dpdk
}

// The documented dpdk-sriovnetwork and the NetworkAttachmentDefinition the
// operator creates from it in dpdk-checkup-ns.
func ExampleRenderNAD() {
	n, err := sriov.NewNetwork("dpdk-sriovnetwork", "intel_nics_dpdk").
		WithNetworkNamespace("dpdk-checkup-ns").
		WithVLAN(1019).WithMACSpoofCheck(false).WithTrust(true).
		WithIPAM(json.RawMessage(`{
  "type": "host-local",
  "subnet": "10.56.217.0/24",
  "rangeStart": "10.56.217.171",
  "rangeEnd": "10.56.217.181",
  "routes": [{
    "dst": "0.0.0.0/0"
  }],
  "gateway": "10.56.217.1"
}`)).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	nad, err := sriov.RenderNAD(n, sriov.RenderOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(nad.Namespace + "/" + nad.Name)
	fmt.Println(nad.Annotations[sriov.AnnotationResourceName])
	fmt.Println(nad.Spec.Config)
	// Output:
	// dpdk-checkup-ns/dpdk-sriovnetwork
	// openshift.io/intel_nics_dpdk
	// { "cniVersion":"1.0.0", "name":"dpdk-sriovnetwork","type":"sriov","vlan":1019,"spoofchk":"off","trust":"on","vlanQoS":0,"ipam":{"type":"host-local","subnet":"10.56.217.0/24","rangeStart":"10.56.217.171","rangeEnd":"10.56.217.181","routes":[{"dst":"0.0.0.0/0"}],"gateway":"10.56.217.1"} }
}

// OpenShift's documentation warns that spoofChk and trust must be quoted:
// unquoted, YAML reads a boolean and the operator rejects the object.
func ExampleDecodeNetwork() {
	_, errs := sriov.DecodeNetwork([]byte(`apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetwork
metadata:
  name: nic1
  namespace: openshift-sriov-network-operator
spec:
  resourceName: intel_nics
  spoofChk: off
`))
	for _, e := range errs {
		fmt.Println(e.Field + ": " + e.Detail)
	}
	// Output:
	// spec.spoofChk: must be the quoted string "on" or "off": unquoted on/off (or yes/no, true/false) is a YAML boolean, and the SR-IOV operator rejects the object
}

// Every problem of a policy at once, each at its field path.
func ExampleValidateNodePolicy() {
	p := &sriov.SriovNetworkNodePolicy{}
	p.Name = "mlx"
	p.Spec = sriov.SriovNetworkNodePolicySpec{
		ResourceName: "mlx-nics",
		NodeSelector: map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"},
		NumVfs:       129,
		Priority:     10,
		NicSelector:  sriov.NicSelector{Vendor: "15b3", PfNames: []string{"ens1f0#0-200"}},
		DeviceType:   sriov.DeviceTypeVfioPCI,
		IsRdma:       true,
	}
	errs, _ := sriov.ValidateNodePolicy(p, sriov.Options{})
	for _, e := range errs {
		fmt.Println(e.Field)
	}
	// Output:
	// spec.resourceName
	// spec.numVfs
	// spec.nicSelector.pfNames[0]
	// spec.isRdma
}
