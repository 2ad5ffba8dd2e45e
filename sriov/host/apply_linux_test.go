package host

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/sriov"
)

func igbPolicy(numVfs int, pfNames ...string) *sriov.SriovNetworkNodePolicy {
	p := &sriov.SriovNetworkNodePolicy{}
	p.Name = "igb"
	p.Spec = sriov.SriovNetworkNodePolicySpec{
		ResourceName: "igb_vfs",
		NodeSelector: map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"},
		NumVfs:       numVfs,
		NicSelector:  sriov.NicSelector{Vendor: "8086", DeviceID: "10c9", PfNames: pfNames},
	}
	return p
}

func TestApplyNodePolicyFake(t *testing.T) {
	k := lab(t)
	s := k.sysfs()
	p := igbPolicy(3, "ens1#1-2")
	p.Spec.DeviceType = sriov.DeviceTypeVfioPCI
	res, err := ApplyNodePolicy(s, p, ApplyOptions{NodeLabels: map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].PF.Name() != "ens1" || res[0].PF.NumVFs != 3 {
		t.Fatalf("applied %+v", res)
	}
	drivers := []string{}
	for _, vf := range res[0].PF.VFs {
		drivers = append(drivers, vf.Driver)
	}
	if strings.Join(drivers, ",") != "igbvf,vfio-pci,vfio-pci" {
		t.Errorf("VF drivers %v, want VF0 left alone and VF1-2 on vfio-pci", drivers)
	}
	// eno3 (another model) and enp2s0 (no SR-IOV) untouched.
	if k.read("bus/pci/devices/0000:19:00.2/sriov_numvfs") != "0" {
		t.Error("eno3 was changed")
	}
	// The same policy as netdevice brings its VFs back.
	p.Spec.DeviceType = sriov.DeviceTypeNetdevice
	res, err = ApplyNodePolicy(s, p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, vf := range res[0].PF.VFs {
		if vf.Driver != "igbvf" {
			t.Errorf("VF%d on %s after netdevice policy", vf.Index, vf.Driver)
		}
	}
}

func TestApplyNodePolicyRefusals(t *testing.T) {
	cases := []struct {
		name string
		p    func() *sriov.SriovNetworkNodePolicy
		want string
	}{
		{"numVfs over total", func() *sriov.SriovNetworkNodePolicy { return igbPolicy(8) }, "exceeds sriov_totalvfs 7"},
		{"nothing selected", func() *sriov.SriovNetworkNodePolicy { return igbPolicy(2, "ens9") }, "no SR-IOV NIC on this host matches"},
		{"pfNames and rootDevices disagree", func() *sriov.SriovNetworkNodePolicy {
			p := igbPolicy(2, "ens1")
			p.Spec.NicSelector.DeviceID = ""
			p.Spec.NicSelector.RootDevices = []string{"0000:19:00.2"}
			return p
		}, "spec.nicSelector.pfNames[0]"},
		{"invalid policy", func() *sriov.SriovNetworkNodePolicy {
			p := igbPolicy(2)
			p.Spec.IsRdma, p.Spec.DeviceType = true, sriov.DeviceTypeVfioPCI
			return p
		}, "spec.isRdma"},
		{"unsupported model", func() *sriov.SriovNetworkNodePolicy {
			p := igbPolicy(2)
			p.Spec.NicSelector = sriov.NicSelector{PfNames: []string{"ens1"}}
			return p
		}, ""},
		{"other node", func() *sriov.SriovNetworkNodePolicy { return igbPolicy(2) }, "does not select this node"},
		{"mtu without netlink", func() *sriov.SriovNetworkNodePolicy {
			p := igbPolicy(2)
			p.Spec.Mtu = 9000
			return p
		}, "Netlink is needed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := lab(t)
			opts := ApplyOptions{}
			if c.name == "other node" {
				opts.NodeLabels = map[string]string{"kubernetes.io/hostname": "worker-0"}
			}
			if c.name == "unsupported model" {
				opts.Validation.SupportedNICs = []sriov.NIC{{Name: "only-x710", Vendor: "8086", PFDevice: "1572", VFDevice: "154c"}}
				c.want = "unsupported models: 0000:01:00.0 (8086:10c9)"
			}
			_, err := ApplyNodePolicy(k.sysfs(), c.p(), opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error with %q, got %v", c.want, err)
			}
			if k.read("bus/pci/devices/0000:01:00.0/sriov_numvfs") != "0" {
				t.Error("a refused policy changed numvfs")
			}
		})
	}
}

// Every change ApplyNodePolicy makes is logged on the given logger.
func TestApplyNodePolicyLogs(t *testing.T) {
	k := lab(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	p := igbPolicy(2, "ens1")
	p.Spec.DeviceType = sriov.DeviceTypeVfioPCI
	if _, err := ApplyNodePolicy(k.sysfs(), p, ApplyOptions{Logger: log}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"msg=\"set numvfs\" policy=igb pf=", "from=0 to=2", "msg=\"bound VF\"", "driver=vfio-pci was=igbvf"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// Applied again, nothing changes and nothing is logged.
	buf.Reset()
	if _, err := ApplyNodePolicy(k.sysfs(), p, ApplyOptions{Logger: log}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("second apply logged:\n%s", buf.String())
	}
}

func TestVFConfigValidate(t *testing.T) {
	vlan, neg, lo, hi := 100, -1, 200, 100
	multicast, _ := net.ParseMAC("01:00:5e:00:00:01")
	eui64, _ := net.ParseMAC("02:00:00:00:00:00:00:01")
	unicast, _ := net.ParseMAC("02:00:00:00:03:fb")
	if errs := (VFConfig{MAC: unicast, VLAN: &vlan, QoS: 3, Proto: VLANProto8021AD, MaxTxRate: &hi, LinkState: sriov.LinkStateAuto}).Validate(); len(errs) > 0 {
		t.Errorf("valid config: %v", errs)
	}
	for _, c := range []struct {
		cfg  VFConfig
		want string
	}{
		{VFConfig{MAC: multicast}, "macAddress"},
		{VFConfig{MAC: eui64}, "macAddress"},
		{VFConfig{VLAN: &neg}, "vlan"},
		{VFConfig{QoS: 2}, "vlan"},
		{VFConfig{VLAN: &vlan, QoS: 8}, "vlanQoS"},
		{VFConfig{VLAN: &vlan, Proto: "qinq"}, "vlanProto"},
		{VFConfig{MaxTxRate: &neg}, "maxTxRate"},
		{VFConfig{MinTxRate: &lo, MaxTxRate: &hi}, "minTxRate"},
		{VFConfig{LinkState: "up"}, "linkState"},
	} {
		errs := c.cfg.Validate()
		if len(errs) != 1 || errs[0].Field != c.want {
			t.Errorf("%+v: %v, want one error at %s", c.cfg, errs, c.want)
		}
	}
	// A refused config never reaches the kernel.
	if _, err := ConfigureVF(nil, "eno3", 0, VFConfig{LinkState: "up"}); err == nil || !strings.Contains(err.Error(), "linkState") {
		t.Errorf("ConfigureVF: %v", err)
	}
}
