//go:build linux

package host

import (
	"strings"
	"testing"

	"github.com/pxekit/pxekit/netattach"
)

func TestValidate(t *testing.T) {
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "a-very-long-bridge-name", Type: netattach.TypeLinuxBridge, State: "sideways", MTU: 10,
			Bridge: &netattach.BridgeConfig{Port: []netattach.BridgePort{
				{Name: "eth1", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 4095}},
				{Name: "eth2", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeTrunk,
					TrunkTags: []netattach.TrunkTag{{IDRange: &netattach.IDRange{Min: 20, Max: 10}}}}},
				{Name: "eth3", VLAN: &netattach.BridgePortVLAN{Mode: "hybrid"}},
			}}},
		{Name: "br2", Type: netattach.TypeLinuxBridge, Bridge: &netattach.BridgeConfig{Port: []netattach.BridgePort{{Name: "eth1"}}}},
		{Name: "eth1.100", Type: netattach.TypeVLAN},
		{Name: "bond0", Type: "bond"},
		{Name: "br2", Type: netattach.TypeEthernet,
			IPv4: &netattach.IPConfig{Enabled: true, DHCP: true, Address: []netattach.IPAddress{{IP: "2001:db8::1", PrefixLength: 64}, {IP: "192.0.2.1", PrefixLength: 33}}}},
	}}
	got := Validate(policy).ToAggregate().Error()
	for _, want := range []string{
		`interfaces[0].name: Too long: may not be more than 15 bytes`,
		`interfaces[0].state: Unsupported value: "sideways"`,
		`interfaces[0].mtu: Invalid value: 10`,
		`interfaces[0].bridge.port[0].vlan.tag: Invalid value: 4095`,
		`interfaces[0].bridge.port[1].vlan.trunk-tags[0].id-range: Invalid value: "20-10": min must not exceed max`,
		`interfaces[0].bridge.port[2].vlan.mode: Unsupported value: "hybrid"`,
		`interfaces[1].bridge.port[0].name: Duplicate value: "eth1 (already a port of a-very-long-bridge-name)"`,
		`interfaces[2].vlan: Required value`,
		`interfaces[3].type: Unsupported value: "bond"`,
		`interfaces[4].name: Duplicate value: "br2 (also interfaces[1])"`,
		`interfaces[4].ipv4.dhcp: Unsupported value: true`,
		`interfaces[4].ipv4.address[0].ip: Invalid value: "2001:db8::1": must be an IPv4 address`,
		`interfaces[4].ipv4.address[1].prefix-length: Invalid value: 33`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, strings.ReplaceAll(got, ", ", "\n"))
		}
	}
	if errs := Validate(loadBr1Eth1Policy(t)); len(errs) != 0 {
		t.Errorf("the documented policy invalid: %v", errs)
	}
}

func TestDesiredPortVLANs(t *testing.T) {
	access := desiredPortVLANs(&netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 100})
	if got := describeVLANs(access); got != "100 pvid untagged" {
		t.Errorf("access: %s", got)
	}
	trunk := desiredPortVLANs(&netattach.BridgePortVLAN{Mode: netattach.VLANModeTrunk, EnableNative: true, Tag: 5,
		TrunkTags: []netattach.TrunkTag{{ID: 101}, {IDRange: &netattach.IDRange{Min: 200, Max: 210}}}})
	if got := describeVLANs(trunk); got != "5 pvid untagged,101,200-210" {
		t.Errorf("trunk: %s", got)
	}
}

func TestPortVLANDiff(t *testing.T) {
	def := map[uint16]vlanFlags{1: {PVID: true, Untagged: true}}
	want := map[uint16]vlanFlags{100: {PVID: true, Untagged: true}}
	str := func(ch []vlanChange) string {
		var parts []string
		for _, c := range ch {
			op := "-"
			if c.add {
				op = "+"
			}
			parts = append(parts, op+describeVLANs(map[uint16]vlanFlags{c.id: c.f}))
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name  string
		exact bool
		drop  []uint16
		want  string
	}{
		{"nmstate access port: exact set, VLAN 1 goes", true, nil, "+100 pvid untagged -1 pvid untagged"},
		{"bridge CNI, preserveDefaultVlan true", false, nil, "+100 pvid untagged"},
		{"bridge CNI, preserveDefaultVlan false", false, []uint16{1}, "+100 pvid untagged -1 pvid untagged"},
	} {
		if got := str(portVLANDiff(def, want, tc.exact, tc.drop)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if ch := portVLANDiff(want, want, true, nil); len(ch) != 0 {
		t.Errorf("no-op diff: %v", ch)
	}
}
