package netattach

import (
	"net/netip"
	"testing"
)

// Each rule of ValidatePolicy, valid and invalid, on a policy built from the
// The documented builder and then changed.
func TestValidatePolicyRules(t *testing.T) {
	bridge := func(p *NodeNetworkConfigurationPolicy) *Interface {
		return &p.Spec.DesiredState.Interfaces[len(p.Spec.DesiredState.Interfaces)-1]
	}
	for _, tc := range []struct {
		name   string
		build  *BridgePolicyBuilder
		mutate func(*NodeNetworkConfigurationPolicy)
		want   []string
	}{
		{name: "the documented ok", build: br1Eth1Policy()},
		{name: "apiVersion", mutate: func(p *NodeNetworkConfigurationPolicy) { p.APIVersion = "nmstate.io/v1beta1" },
			want: []string{`apiVersion: Unsupported value: "nmstate.io/v1beta1"`}},
		{name: "kind", mutate: func(p *NodeNetworkConfigurationPolicy) { p.Kind = "NodeNetworkState" },
			want: []string{`kind: Unsupported value: "NodeNetworkState"`}},
		{name: "name required", build: NewBridgePolicy("", "br1").WithPort("eth1"),
			want: []string{"metadata.name: Required value"}},
		{name: "name invalid", build: NewBridgePolicy("Br1_Policy", "br1").WithPort("eth1"),
			want: []string{`metadata.name: Invalid value: "Br1_Policy"`}},
		{name: "cluster-scoped", mutate: func(p *NodeNetworkConfigurationPolicy) { p.Namespace = "default" },
			want: []string{"metadata.namespace: Forbidden: a NodeNetworkConfigurationPolicy is cluster-scoped"}},
		{name: "nodeSelector ok", build: br1Eth1Policy().WithNodeSelector(map[string]string{"node-role.kubernetes.io/worker": ""})},
		{name: "nodeSelector invalid", build: br1Eth1Policy().WithNodeSelector(map[string]string{"bad key!": "x"}),
			want: []string{"spec.nodeSelector: Invalid value: \"bad key!\""}},
		{name: "maxUnavailable ok", build: br1Eth1Policy().WithMaxUnavailable("50%")},
		{name: "maxUnavailable count ok", build: br1Eth1Policy().WithMaxUnavailable("3")},
		{name: "maxUnavailable bad", build: br1Eth1Policy().WithMaxUnavailable("150%"),
			want: []string{`spec.maxUnavailable: Invalid value: "150%"`}},
		{name: "no interfaces", mutate: func(p *NodeNetworkConfigurationPolicy) { p.Spec.DesiredState.Interfaces = nil },
			want: []string{"spec.desiredState.interfaces: Required value"}},
		{name: "bridge name 15 bytes ok", build: NewBridgePolicy("p", "br-fifteen-byte").WithPort("eth1")},
		{name: "bridge name 16 bytes", build: NewBridgePolicy("p", "br-sixteen-bytes").WithPort("eth1"),
			want: []string{"spec.desiredState.interfaces[0].name: Too long: may not be more than 15 bytes"}},
		{name: "interface name required", build: NewBridgePolicy("p", "").WithPort("eth1"),
			want: []string{"spec.desiredState.interfaces[0].name: Required value"}},
		{name: "interface name colon", build: NewBridgePolicy("p", "br:1").WithPort("eth1"),
			want: []string{`spec.desiredState.interfaces[0].name: Invalid value: "br:1"`}},
		{name: "interface name dot", build: NewBridgePolicy("p", ".").WithPort("eth1"),
			want: []string{`spec.desiredState.interfaces[0].name: Invalid value: "."`}},
		{name: "duplicate interfaces", mutate: func(p *NodeNetworkConfigurationPolicy) {
			p.Spec.DesiredState.Interfaces = append(p.Spec.DesiredState.Interfaces, Interface{Name: "br1", Type: TypeEthernet, State: StateUp})
		}, want: []string{`spec.desiredState.interfaces[1].name: Duplicate value: "br1 (also interfaces[0])"`}},
		{name: "type required", mutate: func(p *NodeNetworkConfigurationPolicy) { bridge(p).Type = "" },
			want: []string{"spec.desiredState.interfaces[0].type: Required value"}},
		{name: "type unsupported", mutate: func(p *NodeNetworkConfigurationPolicy) { bridge(p).Type = "ovs-bridge" },
			want: []string{`spec.desiredState.interfaces[0].type: Unsupported value: "ovs-bridge"`}},
		{name: "state down ok", build: br1Eth1Policy().WithState(StateDown)},
		{name: "state absent ok", build: br1Eth1Policy().WithState(StateAbsent)},
		{name: "state unsupported", build: br1Eth1Policy().WithState("enabled"),
			want: []string{`spec.desiredState.interfaces[0].state: Unsupported value: "enabled"`}},
		{name: "mtu jumbo ok", build: br1Eth1Policy().WithMTU(9000)},
		{name: "mtu 68 ok", build: br1Eth1Policy().WithMTU(68)},
		{name: "mtu too small", build: br1Eth1Policy().WithMTU(67),
			want: []string{"spec.desiredState.interfaces[0].mtu: Invalid value: 67: must be between 68 and 65535"}},
		{name: "mtu too big", build: br1Eth1Policy().WithMTU(65536),
			want: []string{"spec.desiredState.interfaces[0].mtu: Invalid value: 65536"}},
		{name: "jumbo bridge and port ok", build: br1Eth1Policy().WithMTU(9000), mutate: func(p *NodeNetworkConfigurationPolicy) {
			p.Spec.DesiredState.Interfaces = append(p.Spec.DesiredState.Interfaces, Interface{Name: "eth1", Type: TypeEthernet, State: StateUp, MTU: 9000})
		}},
		{name: "jumbo bridge on a 1500 port", build: br1Eth1Policy().WithMTU(9000), mutate: func(p *NodeNetworkConfigurationPolicy) {
			p.Spec.DesiredState.Interfaces = append(p.Spec.DesiredState.Interfaces, Interface{Name: "eth1", Type: TypeEthernet, State: StateUp, MTU: 1500})
		}, want: []string{"spec.desiredState.interfaces[0].mtu: Invalid value: 9000: port[0] eth1 has mtu 1500: a bridge takes the smallest MTU of its ports"}},
		{name: "jumbo vlan on a 1500 base", build: NewBridgePolicy("p", "br1").WithVLANPort("eth1", 10), mutate: func(p *NodeNetworkConfigurationPolicy) {
			p.Spec.DesiredState.Interfaces[0].MTU = 9000
			p.Spec.DesiredState.Interfaces = append(p.Spec.DesiredState.Interfaces, Interface{Name: "eth1", Type: TypeEthernet, MTU: 1500})
		}, want: []string{"spec.desiredState.interfaces[0].mtu: Invalid value: 9000: base-iface eth1 has mtu 1500: a VLAN interface cannot exceed its base"}},
		{name: "ipv4 static ok", build: br1Eth1Policy().WithIPv4Address(netip.MustParsePrefix("192.0.2.1/24"))},
		{name: "ipv4 dhcp ok", build: br1Eth1Policy().WithIPv4DHCP()},
		{name: "ipv4 bad address", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).IPv4 = &IPConfig{Enabled: true, Address: []IPAddress{{IP: "192.0.2.300", PrefixLength: 24}}}
		}, want: []string{`spec.desiredState.interfaces[0].ipv4.address[0].ip: Invalid value: "192.0.2.300": must be an IPv4 address`}},
		{name: "ipv4 given an IPv6 address", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).IPv4 = &IPConfig{Enabled: true, Address: []IPAddress{{IP: "2001:db8::1", PrefixLength: 64}}}
		}, want: []string{`spec.desiredState.interfaces[0].ipv4.address[0].ip: Invalid value: "2001:db8::1": must be an IPv4 address`, "spec.desiredState.interfaces[0].ipv4.address[0].prefix-length: Invalid value: 64: must be between 0 and 32"}},
		{name: "ipv4 multicast", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).IPv4 = &IPConfig{Enabled: true, Address: []IPAddress{{IP: "224.0.0.1", PrefixLength: 24}}}
		}, want: []string{`spec.desiredState.interfaces[0].ipv4.address[0].ip: Invalid value: "224.0.0.1": must be a unicast address`}},
		{name: "ipv4 address while disabled", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).IPv4 = &IPConfig{Enabled: false, Address: []IPAddress{{IP: "192.0.2.1", PrefixLength: 24}}}
		}, want: []string{"spec.desiredState.interfaces[0].ipv4.enabled: Invalid value: false: must be true when dhcp or address is set"}},
		{name: "ipv6 ok", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).IPv6 = &IPConfig{Enabled: true, Address: []IPAddress{{IP: "2001:db8::1", PrefixLength: 64}}}
		}},
		{name: "ipv6 given IPv4", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).IPv6 = &IPConfig{Enabled: true, Address: []IPAddress{{IP: "192.0.2.1", PrefixLength: 129}}}
		}, want: []string{`spec.desiredState.interfaces[0].ipv6.address[0].ip: Invalid value: "192.0.2.1": must be an IPv6 address`, "spec.desiredState.interfaces[0].ipv6.address[0].prefix-length: Invalid value: 129"}},
		{name: "bridge section on ethernet", mutate: func(p *NodeNetworkConfigurationPolicy) { bridge(p).Type = TypeEthernet },
			want: []string{"spec.desiredState.interfaces[0].bridge: Forbidden: only for type linux-bridge"}},
		{name: "port is the bridge", build: NewBridgePolicy("p", "br1").WithPort("br1"),
			want: []string{`spec.desiredState.interfaces[0].bridge.port[0].name: Invalid value: "br1": a bridge cannot be its own port`}},
		{name: "port listed twice", build: NewBridgePolicy("p", "br1").WithPort("eth1").WithPort("eth2").WithPort("eth1"),
			want: []string{`spec.desiredState.interfaces[0].bridge.port[2].name: Duplicate value: "eth1 (also port[0])"`}},
		{name: "port in two bridges", mutate: func(p *NodeNetworkConfigurationPolicy) {
			p.Spec.DesiredState.Interfaces = append(p.Spec.DesiredState.Interfaces, Interface{
				Name: "br2", Type: TypeLinuxBridge, State: StateUp, Bridge: &BridgeConfig{Port: []BridgePort{{Name: "eth1"}}},
			})
		}, want: []string{`spec.desiredState.interfaces[1].bridge.port[0].name: Invalid value: "eth1": is already a port of bridge "br1"`}},
		{name: "port name too long", build: NewBridgePolicy("p", "br1").WithPort("enp0s20f0u1u2u3" + "x"),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].name: Too long"}},
		{name: "access port ok", build: NewBridgePolicy("p", "br1").WithAccessPort("eth1", 100)},
		{name: "access port needs tag", build: NewBridgePolicy("p", "br1").WithAccessPort("eth1", 0),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.tag: Required value: an access port carries one VLAN"}},
		{name: "access port tag range", build: NewBridgePolicy("p", "br1").WithAccessPort("eth1", 4095),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.tag: Invalid value: 4095: must be between 1 and 4094"}},
		{name: "access port with trunk tags", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).Bridge.Port[0].VLAN = &BridgePortVLAN{Mode: VLANModeAccess, Tag: 10, TrunkTags: []TrunkTag{TagID(20)}}
		}, want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags: Forbidden: only for mode trunk"}},
		{name: "vlan mode required", mutate: func(p *NodeNetworkConfigurationPolicy) { bridge(p).Bridge.Port[0].VLAN = &BridgePortVLAN{Tag: 10} },
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.mode: Required value"}},
		{name: "vlan mode unsupported", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).Bridge.Port[0].VLAN = &BridgePortVLAN{Mode: "hybrid", Tag: 10}
		}, want: []string{`spec.desiredState.interfaces[0].bridge.port[0].vlan.mode: Unsupported value: "hybrid"`}},
		{name: "trunk ok", build: NewBridgePolicy("p", "br1").WithTrunkPort("eth1", TagID(42), TagRange(100, 199))},
		{name: "native trunk ok", build: NewBridgePolicy("p", "br1").WithNativeTrunkPort("eth1", 10, TagRange(100, 199))},
		{name: "trunk needs tags", build: NewBridgePolicy("p", "br1").WithTrunkPort("eth1"),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags: Required value"}},
		{name: "trunk range reversed", build: NewBridgePolicy("p", "br1").WithTrunkPort("eth1", TagRange(200, 100)),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags[0].id-range.max: Invalid value: 100: must not be less than min (200)"}},
		{name: "trunk ids out of range", build: NewBridgePolicy("p", "br1").WithTrunkPort("eth1", TagID(4095), TagRange(0, 5000)),
			want: []string{
				"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags[0].id: Invalid value: 4095",
				"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags[1].id-range.min: Invalid value: 0",
				"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags[1].id-range.max: Invalid value: 5000",
			}},
		{name: "trunk tag both id and range", build: NewBridgePolicy("p", "br1").WithTrunkPort("eth1", TrunkTag{ID: 5, IDRange: &IDRange{Min: 1, Max: 2}}),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags[0]: Invalid value: \"id and id-range\""}},
		{name: "trunk tag empty", build: NewBridgePolicy("p", "br1").WithTrunkPort("eth1", TrunkTag{}),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.trunk-tags[0]: Required value"}},
		{name: "native needs tag", build: NewBridgePolicy("p", "br1").WithNativeTrunkPort("eth1", 0, TagID(5)),
			want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.tag: Required value: enable-native needs the native VLAN's tag"}},
		{name: "trunk tag without enable-native", mutate: func(p *NodeNetworkConfigurationPolicy) {
			bridge(p).Bridge.Port[0].VLAN = &BridgePortVLAN{Mode: VLANModeTrunk, Tag: 10, TrunkTags: []TrunkTag{TagID(20)}}
		}, want: []string{"spec.desiredState.interfaces[0].bridge.port[0].vlan.tag: Invalid value: 10: a trunk's tag is its native VLAN"}},
		{name: "vlan port ok", build: NewBridgePolicy("p", "br1").WithVLANPort("eth1", 100)},
		{name: "vlan interface id", build: NewBridgePolicy("p", "br1").WithVLANPort("eth1", 4095),
			want: []string{"spec.desiredState.interfaces[0].vlan.id: Invalid value: 4095: must be between 1 and 4094"}},
		{name: "vlan interface name too long", build: NewBridgePolicy("p", "br1").WithVLANPort("enp0s20f0u1u2", 100),
			want: []string{"spec.desiredState.interfaces[0].name: Too long", "spec.desiredState.interfaces[1].bridge.port[0].name: Too long"}},
		{name: "vlan interface needs vlan section", mutate: func(p *NodeNetworkConfigurationPolicy) {
			p.Spec.DesiredState.Interfaces = append(p.Spec.DesiredState.Interfaces, Interface{Name: "eth1.5", Type: TypeVLAN, State: StateUp})
		}, want: []string{"spec.desiredState.interfaces[1].vlan: Required value"}},
		{name: "vlan interface on itself", mutate: func(p *NodeNetworkConfigurationPolicy) {
			p.Spec.DesiredState.Interfaces = append(p.Spec.DesiredState.Interfaces, Interface{Name: "v5", Type: TypeVLAN, VLAN: &VLANConfig{BaseIface: "v5", ID: 5}})
		}, want: []string{`spec.desiredState.interfaces[1].vlan.base-iface: Invalid value: "v5": must not be the VLAN interface itself`}},
		{name: "vlan section on bridge", mutate: func(p *NodeNetworkConfigurationPolicy) { bridge(p).VLAN = &VLANConfig{BaseIface: "eth1", ID: 5} },
			want: []string{"spec.desiredState.interfaces[0].vlan: Forbidden: only for type vlan"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build
			if b == nil {
				b = br1Eth1Policy()
			}
			p, _ := b.Build()
			if tc.mutate != nil {
				tc.mutate(p)
			}
			assertFindings(t, "error", errStrings(ValidatePolicy(p)), tc.want)
			if tc.mutate == nil {
				// Build agrees with ValidatePolicy.
				_, err := b.Build()
				if (err != nil) != (len(tc.want) > 0) {
					t.Errorf("Build error = %v, want error: %v", err, len(tc.want) > 0)
				}
			}
		})
	}
}

// The builder's VLAN port is a vlan interface plus a bridge port, the form
// netattach/host applies.
func TestBridgePolicyVLANPort(t *testing.T) {
	p, err := NewBridgePolicy("pxe", "br-pxe").WithVLANPort("eth1", 100).WithMTU(9000).Build()
	if err != nil {
		t.Fatal(err)
	}
	ifs := p.Spec.DesiredState.Interfaces
	if len(ifs) != 2 || ifs[0].Name != "eth1.100" || ifs[0].Type != TypeVLAN || ifs[0].VLAN.BaseIface != "eth1" || ifs[0].VLAN.ID != 100 {
		t.Fatalf("interfaces = %+v", ifs)
	}
	if br := ifs[1]; br.Name != "br-pxe" || br.MTU != 9000 || len(br.Bridge.Port) != 1 || br.Bridge.Port[0].Name != "eth1.100" {
		t.Errorf("bridge = %+v", br)
	}
	// Build returns a copy: changing it does not change the builder.
	b := NewBridgePolicy("pxe", "br-pxe").WithPort("eth1").WithIPv4Address(netip.MustParsePrefix("192.0.2.1/24"))
	first, _ := b.Build()
	first.Spec.DesiredState.Interfaces[0].Bridge.Port[0].Name = "x"
	first.Spec.DesiredState.Interfaces[0].IPv4.Address[0].IP = "192.0.2.9"
	again, _ := b.Build()
	second := again.Spec.DesiredState.Interfaces[0]
	if second.Bridge.Port[0].Name != "eth1" || second.IPv4.Address[0].IP != "192.0.2.1" {
		t.Errorf("builder state shared with its output: %+v", second)
	}
}

// A desired state validates on its own with paths relative to it, as
// netattach/host and hostnet take it.
func TestStateValidate(t *testing.T) {
	s := State{Interfaces: []Interface{{Name: "br1", Type: TypeLinuxBridge, Bridge: &BridgeConfig{Port: []BridgePort{{Name: "eth1", VLAN: &BridgePortVLAN{Mode: VLANModeAccess}}}}}}}
	assertFindings(t, "error", errStrings(s.Validate()), []string{"interfaces[0].bridge.port[0].vlan.tag: Required value"})
	assertFindings(t, "error", errStrings(State{}.Validate()), []string{"interfaces: Required value"})
}
