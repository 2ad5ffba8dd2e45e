//go:build linux

package host_test

import (
	"context"
	"fmt"
	"log"

	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/netattach/host"
)

// br1Eth1State is the documented br1-eth1-policy desiredState: a Linux bridge br1
// with eth1 as its port, no IPv4, STP off.
func br1Eth1State() netattach.State {
	return netattach.State{Interfaces: []netattach.Interface{{
		Name:        "br1",
		Description: "Linux bridge with eth1 as a port",
		Type:        netattach.TypeLinuxBridge,
		State:       netattach.StateUp,
		IPv4:        &netattach.IPConfig{Enabled: false},
		Bridge: &netattach.BridgeConfig{
			Options: &netattach.BridgeOptions{STP: &netattach.STPOptions{Enabled: false}},
			Port:    []netattach.BridgePort{{Name: "eth1"}},
		},
	}}}
}

// Validate catches what the kernel would refuse before anything is touched.
func ExampleValidate() {
	fmt.Println("br1-eth1-policy problems:", len(host.Validate(br1Eth1State())))

	bad := br1Eth1State()
	bad.Interfaces[0].Name = "br-provisioning-net"
	bad.Interfaces[0].Bridge.Port[0].VLAN = &netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 5000}
	for _, err := range host.Validate(bad) {
		fmt.Println(err)
	}
	// Output:
	// br1-eth1-policy problems: 0
	// interfaces[0].name: Too long: may not be more than 15 bytes
	// interfaces[0].bridge.port[0].vlan.tag: Invalid value: 5000: VLAN id must be between 1 and 4094
}

// Plan, print and apply the documented bridge policy in the namespace "lab"
// (`ip netns add lab`), then undo it. Needs CAP_NET_ADMIN.
func ExampleHost_Plan() {
	ctx := context.Background()
	h := &host.Host{NetNS: "lab"}
	plan, err := h.Plan(ctx, br1Eth1State())
	if err != nil {
		log.Fatal(err) // e.g. interfaces[0].bridge.port[0].name: Not found: "eth1"
	}
	fmt.Print(plan) // create-bridge br1, set-master eth1 -> br1, set-up eth1, set-up br1
	if _, err := h.Apply(ctx, plan); err != nil {
		log.Fatal(err) // a *host.StepError; the namespace was rolled back
	}
	if _, err := h.Remove(ctx, br1Eth1State()); err != nil {
		log.Fatal(err)
	}
}

// Attach a VM's veth to br1 as the documented cnv-bridge NAD does: VLAN 100,
// preserveDefaultVlan: false. Needs a kernel with bridge VLAN filtering.
func ExampleHost_PlanAttach() {
	ctx := context.Background()
	h := &host.Host{NetNS: "lab"}
	preserve := false
	plan, err := h.PlanAttach(ctx, host.PortAttachment{
		Bridge: "br1", Port: "veth-vm0", VLAN: 100, PreserveDefaultVLAN: &preserve, Up: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.Apply(ctx, plan); err != nil {
		log.Fatal(err) // wraps host.ErrNoVLANFiltering on such kernels
	}
}
