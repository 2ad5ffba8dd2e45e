package hco_test

import (
	"fmt"
	"net/netip"

	"github.com/pxekit/pxekit/hco"
)

// The secondary DNS server, reached from outside the cluster at the external
// IP of the LoadBalancer Service in front of it, as a merge patch of the
// existing HyperConverged CR.
func ExampleBuilder_WithSecondaryDNS() {
	hc, err := hco.New().WithSecondaryDNS(netip.MustParseAddr("192.0.2.53")).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	patch, _ := hco.MergePatch(hc)
	fmt.Printf("oc patch hco %s -n %s --type merge -p '%s'\n", hc.Name, hc.Namespace, patch)
	// Output:
	// oc patch hco kubevirt-hyperconverged -n openshift-cnv --type merge -p '{"spec":{"featureGates":{"deployKubeSecondaryDNS":true},"kubeSecondaryDNSNameServerIP":"192.0.2.53"}}'
}
