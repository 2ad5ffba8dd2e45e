package netattach_test

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/netattach"
)

// From OpenShift's documentation: the pxe-net-conf NAD that puts a PXE-booting VM
// on node bridge br1, with cnv-tuning chained so that the VM's own MAC address
// (the one the PXE server knows) is applied.
func ExampleNewBridgeNAD() {
	nad, err := netattach.NewBridgeNAD("pxe-net-conf", "br1").
		WithL2IPAM().
		WithTuning(netattach.TuningNetConf{}).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := yaml.Marshal(nad)
	fmt.Print(string(out))
	// Output:
	// apiVersion: k8s.cni.cncf.io/v1
	// kind: NetworkAttachmentDefinition
	// metadata:
	//   name: pxe-net-conf
	// spec:
	//   config: |-
	//     {
	//       "cniVersion": "0.3.1",
	//       "name": "pxe-net-conf",
	//       "plugins": [
	//         {
	//           "type": "cnv-bridge",
	//           "bridge": "br1",
	//           "ipam": {}
	//         },
	//         {
	//           "type": "cnv-tuning"
	//         }
	//       ]
	//     }
}

// From OpenShift's documentation: a bridge NAD on VLAN 100 with MAC spoof
// checking, and the resourceName annotation that keeps VMs on nodes that have the
// bridge.
func ExampleBridgeNADBuilder_WithVLAN() {
	nad, err := netattach.NewBridgeNAD("bridge-network", "br1").
		WithMACSpoofCheck(true).
		WithVLAN(100).
		WithPreserveDefaultVLAN(false).
		WithResourceNameAnnotation().
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(nad.Annotations[netattach.ResourceNameAnnotation])
	fmt.Println(nad.Spec.Config)
	// Output:
	// bridge.network.kubevirt.io/br1
	// {
	//   "cniVersion": "0.3.1",
	//   "name": "bridge-network",
	//   "type": "cnv-bridge",
	//   "bridge": "br1",
	//   "vlan": 100,
	//   "preserveDefaultVlan": false,
	//   "macspoofchk": true
	// }
}

// From OpenShift's documentation: the br1-eth1-policy
// NodeNetworkConfigurationPolicy that creates Linux bridge br1 with node NIC eth1
// as its port.
func ExampleNewBridgePolicy() {
	p, err := netattach.NewBridgePolicy("br1-eth1-policy", "br1").
		WithDescription("Linux bridge with eth1 as a port").
		WithPort("eth1").
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := yaml.Marshal(p)
	fmt.Print(string(out))
	// Output:
	// apiVersion: nmstate.io/v1
	// kind: NodeNetworkConfigurationPolicy
	// metadata:
	//   name: br1-eth1-policy
	// spec:
	//   desiredState:
	//     interfaces:
	//     - bridge:
	//         options:
	//           stp:
	//             enabled: false
	//         port:
	//         - name: eth1
	//       description: Linux bridge with eth1 as a port
	//       ipv4:
	//         enabled: false
	//       name: br1
	//       state: up
	//       type: linux-bridge
}

// ValidateNAD reports every problem with its path inside spec.config, and
// warns about IPAM in a VM's NAD, as OpenShift's documentation does.
func ExampleValidateNAD() {
	nad, _ := netattach.NewBridgeNAD("trunk", "br1").Build()
	nad.Spec.Config = `{"cniVersion":"0.3.1","name":"trunk","plugins":[` +
		`{"type":"cnv-bridge","bridge":"br1","vlan":10,"vlanTrunk":[{"minID":300,"maxID":200}],"ipam":{"type":"dhcp"}},` +
		`{"type":"cnv-tuning","mac":"de:00:00:00:de"}]}`
	errs, warns := netattach.ValidateNAD(nad)
	for _, e := range errs {
		fmt.Println(e)
	}
	for _, w := range warns {
		fmt.Println("warning:", w)
	}
	// Output:
	// spec.config.plugins[0].vlanTrunk: Forbidden: may not be set together with vlan: the port is either an access port (vlan) or a trunk (vlanTrunk)
	// spec.config.plugins[0].vlanTrunk[0].maxID: Invalid value: 200: must not be less than minID (300)
	// spec.config.plugins[1].mac: Invalid value: "de:00:00:00:de": must be a MAC address such as de:00:00:00:00:de
	// warning: spec.config.plugins[0].ipam: configuring IP address management (IPAM) in a virtual machine's network attachment definition is not supported
	// warning: spec.config.plugins[1].mac: every pod and VM attached to this NAD gets this same MAC; give each VM its own in spec.domain.devices.interfaces[].macAddress (the tuning plugin applies it)
}
