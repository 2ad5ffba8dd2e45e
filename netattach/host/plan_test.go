//go:build linux

package host

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/netattach"
)

// fixture is a namespace as Plan would read it: eth1 and eth2 NICs.
func fixture() *snapshot {
	return &snapshot{links: map[string]*linkState{
		"lo":   {Name: "lo", Kind: "device", MTU: 65536, Up: true},
		"eth1": {Name: "eth1", Kind: "veth", MTU: 1500},
		"eth2": {Name: "eth2", Kind: "veth", MTU: 1500},
	}}
}

// TestPlanVLANPolicy plans (without a kernel) what the guest-kernel tests
// apply: a VLAN 100 access port, a trunk, an 8021q link, MTU 9000.
func TestPlanVLANPolicy(t *testing.T) {
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "eth1", Type: netattach.TypeEthernet, MTU: 9000},
		{Name: "br1", Type: netattach.TypeLinuxBridge, MTU: 9000,
			Bridge: &netattach.BridgeConfig{
				Options: &netattach.BridgeOptions{STP: &netattach.STPOptions{Enabled: false}},
				Port: []netattach.BridgePort{
					{Name: "eth1", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 100}},
					{Name: "eth2", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeTrunk,
						TrunkTags: []netattach.TrunkTag{{IDRange: &netattach.IDRange{Min: 200, Max: 202}}}}},
				}}},
		{Name: "br1.100", Type: netattach.TypeVLAN, VLAN: &netattach.VLANConfig{BaseIface: "br1", ID: 100},
			IPv4: &netattach.IPConfig{Enabled: true, Address: []netattach.IPAddress{{IP: "192.0.2.1", PrefixLength: 24}}}},
	}}
	steps, errs := planPolicy(policy, fixture())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{
		"set-mtu eth1 9000",
		"create-bridge br1",
		"set-vlan-filtering br1 on",
		"add-bridge-vlan br1 100 self",
		"create-vlan br1.100 id 100 on br1",
		"set-master eth1 -> br1",
		"set-master eth2 -> br1",
		"set-mtu br1 9000",
		"set-port-vlans eth1 = 100 pvid untagged",
		"set-port-vlans eth2 = 200-202",
		"add-address br1.100 192.0.2.1/24",
		"set-up eth1",
		"set-up eth2",
		"set-up br1",
		"set-up br1.100",
	}
	if got := actions(steps); !slices.Equal(got, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPlanRemoval: Remove deletes the VLAN link before the bridge and never
// touches the NIC.
func TestPlanRemoval(t *testing.T) {
	snap := fixture()
	snap.links["br1"] = &linkState{Name: "br1", Kind: "bridge", MTU: 1500, Up: true}
	snap.links["br1.100"] = &linkState{Name: "br1.100", Kind: "vlan", VLANID: 100, VLANParent: "br1"}
	snap.links["eth1"].Master = "br1"
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "eth1", Type: netattach.TypeEthernet},
		{Name: "br1", Type: netattach.TypeLinuxBridge, Bridge: &netattach.BridgeConfig{Port: []netattach.BridgePort{{Name: "eth1"}}}},
		{Name: "br1.100", Type: netattach.TypeVLAN, VLAN: &netattach.VLANConfig{BaseIface: "br1", ID: 100}},
	}}
	steps, errs := planPolicy(removalPolicy(policy), snap)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := actions(steps); !slices.Equal(got, []string{"delete br1.100 vlan", "delete br1 bridge"}) {
		t.Errorf("removal steps %q", got)
	}
	// A link of the wrong kind is never deleted.
	snap.links["br1"].Kind = "veth"
	if _, errs := planPolicy(removalPolicy(policy), snap); len(errs) == 0 {
		t.Error("a veth named like the policy's bridge would be deleted")
	}
}

// FuzzPlanPolicy plans arbitrary policies (JSON, as the NNCP's desiredState)
// against a fixed namespace: never a panic, and a valid plan re-planned on
// its own predicted outcome is stable.
func FuzzPlanPolicy(f *testing.F) {
	f.Add(`{"interfaces":[{"name":"br1","type":"linux-bridge","state":"up","ipv4":{"enabled":false},"bridge":{"options":{"stp":{"enabled":false}},"port":[{"name":"eth1"}]}}]}`)
	f.Add(`{"interfaces":[{"name":"br1","type":"linux-bridge","bridge":{"port":[{"name":"eth1","vlan":{"mode":"trunk","enable-native":true,"tag":3,"trunk-tags":[{"id-range":{"min":1,"max":4094}}]}}]}}]}`)
	f.Add(`{"interfaces":[{"name":"v","type":"vlan","vlan":{"base-iface":"eth2","id":7},"mtu":9000,"ipv6":{"enabled":true,"address":[{"ip":"2001:db8::1","prefix-length":64}]}}]}`)
	f.Add(`{"interfaces":[{"name":"eth1","type":"ethernet","state":"absent"},{"name":"br9","type":"linux-bridge","state":"absent"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var st netattach.State
		if json.Unmarshal([]byte(doc), &st) != nil {
			return
		}
		steps, predicted, errs := planPredict(st, fixture())
		if len(errs) > 0 {
			return
		}
		again, _, errs := planPredict(st, predicted)
		if len(errs) > 0 || len(again) > 0 {
			t.Fatalf("plan %q does not converge: re-planned %q, errors %v", actions(steps), actions(again), errs)
		}
	})
}

// TestPlanAddresses: an ipv4/ipv6 section makes the family's addresses
// exactly the listed ones; IPv6 link-local addresses are the kernel's and
// stay; no section leaves addresses alone.
func TestPlanAddresses(t *testing.T) {
	snap := fixture()
	snap.links["eth1"].Addrs = []netip.Prefix{
		netip.MustParsePrefix("192.0.2.5/24"), netip.MustParsePrefix("192.0.2.6/24"),
		netip.MustParsePrefix("fe80::1/64"), netip.MustParsePrefix("2001:db8::5/64"),
	}
	snap.links["eth2"].Addrs = []netip.Prefix{netip.MustParsePrefix("192.0.2.9/24")}
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "eth1", Type: netattach.TypeEthernet, State: netattach.StateDown,
			IPv4: &netattach.IPConfig{Enabled: true, Address: []netattach.IPAddress{{IP: "192.0.2.6", PrefixLength: 24}, {IP: "192.0.2.7", PrefixLength: 25}}},
			IPv6: &netattach.IPConfig{Enabled: false}},
		{Name: "eth2", Type: netattach.TypeEthernet, State: netattach.StateDown},
	}}
	steps, errs := planPolicy(policy, snap)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{"del-address eth1 192.0.2.5/24", "add-address eth1 192.0.2.7/25", "del-address eth1 2001:db8::5/64"}
	if got := actions(steps); !slices.Equal(got, want) {
		t.Errorf("steps %q, want %q", got, want)
	}
}
