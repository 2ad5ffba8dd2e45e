//go:build linux

package main

import "os"

// From OpenShift's documentation: the desiredState of br1-eth1-policy, given a
// name, becomes the NodeNetworkConfigurationPolicy a cluster applies (the same
// file drives `hostnet apply` on a lab host).
func Example_nncp() {
	run([]string{"nncp", "-f", "testdata/desiredstate.yaml", "-name", "br1-eth1-policy"}, os.Stdout, os.Stderr)
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
