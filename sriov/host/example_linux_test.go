package host_test

import (
	"fmt"
	"net"

	"github.com/pxekit/pxekit/sriov"
	"github.com/pxekit/pxekit/sriov/host"
)

// The VF settings the documented dpdk-sriovnetwork asks for, as ConfigureVF
// applies them to one VF (the MAC comes from the VM or pod).
func ExampleVFConfigFromNetwork() {
	n, err := sriov.NewNetwork("dpdk-sriovnetwork", "intel_nics_dpdk").
		WithNetworkNamespace("dpdk-checkup-ns").
		WithVLAN(1019).WithMACSpoofCheck(false).WithTrust(true).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	mac, _ := net.ParseMAC("02:00:00:00:03:fb")
	c := host.VFConfigFromNetwork(n, mac)
	fmt.Println("mac", c.MAC, "vlan", *c.VLAN, "qos", c.QoS, "spoofchk", *c.SpoofChk, "trust", *c.Trust)
	// On a host: h, _ := host.Netlink(netns.None())
	//            st, err := host.ConfigureVF(h, "eno3", 0, c)
	// err is a *host.VFError naming each field the driver refused.
	// Output:
	// mac 02:00:00:00:03:fb vlan 1019 qos 0 spoofchk false trust true
}

// Which PFs of a node the documented DPDK policy (policy-1) selects: vendor,
// device, name and PCI address must all match, and the model must be one
// the operator supports.
func ExampleSelectPFs() {
	pfs := []host.PF{
		{PCIAddress: "0000:19:00.0", Netdevs: []string{"eno1"}, Vendor: "8086", Device: "1572", TotalVFs: 64},
		{PCIAddress: "0000:19:00.2", Netdevs: []string{"eno3"}, Vendor: "8086", Device: "1572", TotalVFs: 64},
		{PCIAddress: "0000:3b:00.0", Netdevs: []string{"ens2f0"}, Vendor: "15b3", Device: "1017", TotalVFs: 8},
	}
	sel := sriov.NicSelector{Vendor: "8086", DeviceID: "1572", PfNames: []string{"eno3"}, RootDevices: []string{"0000:19:00.2"}}
	got, errs := host.SelectPFs(pfs, sel, sriov.Options{})
	for _, pf := range got {
		fmt.Println(pf.Name(), pf.PCIAddress)
	}
	// pfNames and rootDevices naming different PFs is caught here.
	sel.RootDevices = []string{"0000:19:00.0"}
	_, errs = host.SelectPFs(pfs, sel, sriov.Options{})
	for _, e := range errs {
		fmt.Println(e.Field)
	}
	// Output:
	// eno3 0000:19:00.2
	// spec.nicSelector.pfNames[0]
	// spec.nicSelector.rootDevices[0]
}
