package sriov

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/validation"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errFields(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func hasField(errs field.ErrorList, f string) bool {
	for _, e := range errs {
		if e.Field == f {
			return true
		}
	}
	return false
}

func TestPolicy1(t *testing.T) {
	p, errs := DecodeNodePolicy(readFile(t, "policy-1.yaml"))
	if len(errs) > 0 {
		t.Fatalf("decode: %v", errs)
	}
	verrs, warns := ValidateNodePolicy(p, Options{})
	if len(verrs) > 0 {
		t.Fatalf("the documented policy-1 must be valid: %v", verrs)
	}
	// pfNames and rootDevices both given: the documentation says they must
	// name the same device, which only the node can check.
	if len(warns) != 1 || warns[0].Field != "spec.nicSelector" || !strings.Contains(warns[0].Message, "same devices") {
		t.Errorf("warnings = %q, want the pfNames/rootDevices one", warns)
	}
	if p.Spec.DeviceType != DeviceTypeVfioPCI || p.Spec.NumVfs != 4 || p.Spec.Mtu != 9000 || p.Spec.NicSelector.DeviceID != "1572" {
		t.Errorf("decoded %+v", p.Spec)
	}
	out, err := MarshalYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	pxetest.CheckGolden(t, "policy-1.yaml", out)
	// What we print decodes back to the same policy.
	back, errs := DecodeNodePolicy(out)
	if len(errs) > 0 {
		t.Fatalf("re-decode: %v", errs)
	}
	a, _ := json.Marshal(p)
	b, _ := json.Marshal(back)
	if string(a) != string(b) {
		t.Errorf("round trip changed the policy:\n%s\n%s", a, b)
	}
}

func TestBuilderMatchesPolicy1(t *testing.T) {
	built, err := NewNodePolicy("policy-1", "intel_nics_dpdk").
		WithNumVFs(4).WithMTU(9000).WithPriority(99).
		WithDeviceType(DeviceTypeVfioPCI).
		WithNIC("8086", "1572").WithPFNames("eno3").WithRootDevices("0000:19:00.2").
		WithNodeSelector(map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"}).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	documented, _ := DecodeNodePolicy(readFile(t, "policy-1.yaml"))
	a, _ := MarshalYAML(built)
	b, _ := MarshalYAML(documented)
	if string(a) != string(b) {
		t.Errorf("builder output differs from the documented:\n%s\n---\n%s", a, b)
	}
}

// The NAD the operator renders from the documented dpdk-sriovnetwork. The
// expected config is derived by hand from the operator's template
// (bindata/manifests/cni-config/sriov/sriov-cni-config.yaml): the template
// sits in a single-quoted YAML scalar, so its line breaks fold to spaces,
// and the {{- -}} actions eat the rest.
func TestDPDKNetworkNAD(t *testing.T) {
	n, errs := DecodeNetwork(readFile(t, "dpdk-sriovnetwork.yaml"))
	if len(errs) > 0 {
		t.Fatalf("decode: %v", errs)
	}
	if verrs, warns := ValidateNetwork(n, Options{}); len(verrs) > 0 || len(warns) > 0 {
		t.Fatalf("the documented dpdk-sriovnetwork must be valid: %v %q", verrs, warns)
	}
	nad, err := RenderNAD(n, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nad.Name != "dpdk-sriovnetwork" || nad.Namespace != "dpdk-checkup-ns" {
		t.Errorf("NAD %s/%s, want dpdk-checkup-ns/dpdk-sriovnetwork", nad.Namespace, nad.Name)
	}
	if got := nad.Annotations["k8s.v1.cni.cncf.io/resourceName"]; got != "openshift.io/intel_nics_dpdk" {
		t.Errorf("resourceName annotation %q", got)
	}
	want := `{ "cniVersion":"1.0.0", "name":"dpdk-sriovnetwork","type":"sriov","vlan":1019,"spoofchk":"off","trust":"on","vlanQoS":0,` +
		`"ipam":{"type":"host-local","subnet":"10.56.217.0/24","rangeStart":"10.56.217.171","rangeEnd":"10.56.217.181","routes":[{"dst":"0.0.0.0/0"}],"gateway":"10.56.217.1"} }`
	if nad.Spec.Config != want {
		t.Errorf("config\n got %s\nwant %s", nad.Spec.Config, want)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(nad.Spec.Config), &cfg); err != nil {
		t.Fatalf("config is not JSON: %v", err)
	}
	out, err := MarshalYAML(nad)
	if err != nil {
		t.Fatal(err)
	}
	pxetest.CheckGolden(t, "dpdk-sriovnetwork-nad.yaml", out)
}

func TestAllFieldsNAD(t *testing.T) {
	n, errs := DecodeNetwork(readFile(t, "sriovnetwork-all-fields.yaml"))
	if len(errs) > 0 {
		t.Fatalf("decode: %v", errs)
	}
	verrs, warns := ValidateNetwork(n, Options{})
	if len(verrs) > 0 {
		t.Fatal(verrs)
	}
	if len(warns) != 1 || warns[0].Field != "spec.minTxRate" || !strings.Contains(warns[0].Message, "Intel") {
		t.Errorf("want the Intel minTxRate warning, got %q", warns)
	}
	nad, err := RenderNAD(n, RenderOptions{ResourcePrefix: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{ "cniVersion":"1.0.0", "name":"nic1-net","type":"sriov","vlan":100,"spoofchk":"on","trust":"off","vlanQoS":3,` +
		`"min_tx_rate":100,"max_tx_rate":1000,"capabilities":{"mac": true},"link_state":"auto","ipam":{} }`
	if nad.Spec.Config != want {
		t.Errorf("config\n got %s\nwant %s", nad.Spec.Config, want)
	}
	if nad.Namespace != "vm-ns" || nad.Annotations[AnnotationResourceName] != "example.com/intel_nics" {
		t.Errorf("NAD meta %+v", nad.ObjectMeta)
	}
	if got := nad.Annotations[AnnotationOwnerRef]; got != "SriovNetwork.sriovnetwork.openshift.io/openshift-sriov-network-operator/nic1-net" {
		t.Errorf("owner-ref %q", got)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(nad.Spec.Config), &cfg); err != nil {
		t.Fatalf("config is not JSON: %v", err)
	}
}

func TestMetaPluginsNAD(t *testing.T) {
	n := &SriovNetwork{Spec: SriovNetworkSpec{ResourceName: "r", MetaPluginsConfig: "{\n  \"type\": \"tuning\",\n  \"sysctl\": {}\n}"}}
	n.Name, n.Namespace = "m", "default"
	cfg, err := RenderCNIConfig(n)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Name    string
		Plugins []map[string]any
	}
	if err := json.Unmarshal([]byte(cfg), &v); err != nil {
		t.Fatalf("%s: %v", cfg, err)
	}
	if v.Name != "m" || len(v.Plugins) != 2 || v.Plugins[0]["type"] != "sriov" || v.Plugins[1]["type"] != "tuning" {
		t.Errorf("config %s", cfg)
	}
}

func TestUnquotedOnOff(t *testing.T) {
	_, errs := DecodeNetwork(readFile(t, "unquoted-spoofchk.yaml"))
	if !hasField(errs, "spec.spoofChk") || !hasField(errs, "spec.trust") {
		t.Fatalf("want errors at spec.spoofChk and spec.trust, got %v", errs)
	}
	for _, e := range errs {
		if !strings.Contains(e.Detail, `quoted string "on" or "off"`) {
			t.Errorf("%s: %q does not tell the user to quote", e.Field, e.Detail)
		}
	}
}

func TestDecodeUnknownField(t *testing.T) {
	doc := strings.Replace(string(readFile(t, "policy-1.yaml")), "numVfs:", "numVF:", 1)
	_, errs := DecodeNodePolicy([]byte(doc))
	if !hasField(errs, "spec.numVF") {
		t.Errorf("want an unknown-field error at spec.numVF, got %v", errs)
	}
}

func validPolicy() *SriovNetworkNodePolicy {
	p, _ := NewNodePolicy("p", "intel_nics").WithNumVFs(8).WithNIC("8086", "158b").
		WithNodeSelector(map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"}).Build()
	return p
}

func TestValidateNodePolicyRules(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*SriovNetworkNodePolicy)
		field string
	}{
		{"resource name chars", func(p *SriovNetworkNodePolicy) { p.Spec.ResourceName = "intel-nics" }, "spec.resourceName"},
		{"no resource name", func(p *SriovNetworkNodePolicy) { p.Spec.ResourceName = "" }, "spec.resourceName"},
		{"no node selector", func(p *SriovNetworkNodePolicy) { p.Spec.NodeSelector = nil }, "spec.nodeSelector"},
		{"priority 100", func(p *SriovNetworkNodePolicy) { p.Spec.Priority = 100 }, "spec.priority"},
		{"priority -1", func(p *SriovNetworkNodePolicy) { p.Spec.Priority = -1 }, "spec.priority"},
		{"numVfs 0", func(p *SriovNetworkNodePolicy) { p.Spec.NumVfs = 0 }, "spec.numVfs"},
		{"mtu -1", func(p *SriovNetworkNodePolicy) { p.Spec.Mtu = -1 }, "spec.mtu"},
		{"empty selector", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector = NicSelector{} }, "spec.nicSelector"},
		{"vendor unsupported", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.Vendor = "abcd" }, "spec.nicSelector.vendor"},
		{"device unsupported for vendor", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.DeviceID = "1017" }, "spec.nicSelector.deviceID"},
		{"device unsupported", func(p *SriovNetworkNodePolicy) {
			p.Spec.NicSelector.Vendor = ""
			p.Spec.NicSelector.DeviceID = "ffff"
		}, "spec.nicSelector.deviceID"},
		{"vfio-pci with rdma", func(p *SriovNetworkNodePolicy) { p.Spec.DeviceType = DeviceTypeVfioPCI; p.Spec.IsRdma = true }, "spec.isRdma"},
		{"deviceType", func(p *SriovNetworkNodePolicy) { p.Spec.DeviceType = "uio" }, "spec.deviceType"},
		{"mellanox 128 VFs", func(p *SriovNetworkNodePolicy) {
			p.Spec.NicSelector = NicSelector{Vendor: "15b3", DeviceID: "1017"}
			p.Spec.NumVfs = 128
		}, "spec.numVfs"},
		{"mellanox by device only", func(p *SriovNetworkNodePolicy) {
			p.Spec.NicSelector = NicSelector{DeviceID: "101b"}
			p.Spec.NumVfs = 200
		}, "spec.numVfs"},
		{"pf range end beyond numVfs", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.PfNames = []string{"eno3#0-8"} }, "spec.nicSelector.pfNames[0]"},
		{"pf range reversed", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.PfNames = []string{"eno3", "eno4#5-2"} }, "spec.nicSelector.pfNames[1]"},
		{"pf range two hashes", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.PfNames = []string{"eno3#0-1#2"} }, "spec.nicSelector.pfNames[0]"},
		{"pf range no dash", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.PfNames = []string{"eno3#2"} }, "spec.nicSelector.pfNames[0]"},
		{"pf duplicate", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.PfNames = []string{"eno3#0-1", "eno3#2-3"} }, "spec.nicSelector.pfNames[1]"},
		{"pf name too long", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.PfNames = []string{"enp1234567890abc#0-1"} }, "spec.nicSelector.pfNames[0]"},
		{"root device format", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.RootDevices = []string{"19:00.2"} }, "spec.nicSelector.rootDevices[0]"},
		{"netFilter", func(p *SriovNetworkNodePolicy) { p.Spec.NicSelector.NetFilter = "gcp/x" }, "spec.nicSelector.netFilter"},
		{"switchdev on ib", func(p *SriovNetworkNodePolicy) { p.Spec.LinkType = "ib"; p.Spec.ESwitchMode = ESwitchModeSwitchdev }, "spec.eSwitchMode"},
		{"vdpa without switchdev", func(p *SriovNetworkNodePolicy) { p.Spec.DeviceType = DeviceTypeNetdevice; p.Spec.VdpaType = "virtio" }, "spec.vdpaType"},
		{"bridge without switchdev", func(p *SriovNetworkNodePolicy) { p.Spec.Bridge = json.RawMessage(`{"ovs":{}}`) }, "spec.bridge"},
		{"bad apiVersion", func(p *SriovNetworkNodePolicy) { p.APIVersion = "v1" }, "apiVersion"},
		{"bad name", func(p *SriovNetworkNodePolicy) { p.Name = "Policy_1" }, "metadata.name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPolicy()
			if errs, _ := ValidateNodePolicy(p, Options{}); len(errs) > 0 {
				t.Fatalf("base policy invalid: %v", errs)
			}
			c.mod(p)
			errs, _ := ValidateNodePolicy(p, Options{})
			if !hasField(errs, c.field) {
				t.Errorf("want an error at %s, got %v", c.field, errs)
			}
		})
	}
}

// The webhook's findings come all at once; the CRD schema's, which the API
// server checks first, end the check as they end the request.
func TestValidateNodePolicyAllAtOnce(t *testing.T) {
	p := validPolicy()
	p.Spec.ResourceName = "a-b"
	p.Spec.DeviceType = DeviceTypeVfioPCI
	p.Spec.IsRdma = true
	p.Spec.NicSelector.PfNames = []string{"ens1f0#3-1"}
	errs, _ := ValidateNodePolicy(p, Options{})
	if len(errs) != 3 {
		t.Errorf("want 3 errors at once, got %v", errs)
	}
	p.Spec.Priority = 120
	if errs, _ := ValidateNodePolicy(p, Options{}); len(errs) != 1 || errs[0].Field != "spec.priority" {
		t.Errorf("with a schema error: %v, want only spec.priority", errs)
	}
}

func TestDevModeAndCustomNICs(t *testing.T) {
	p := validPolicy()
	p.Spec.NicSelector = NicSelector{Vendor: "1af4", DeviceID: "abcd"}
	if errs, _ := ValidateNodePolicy(p, Options{}); !hasField(errs, "spec.nicSelector.deviceID") {
		t.Errorf("unsupported device admitted: %v", errs)
	}
	if errs, _ := ValidateNodePolicy(p, Options{DevMode: true}); len(errs) > 0 {
		t.Errorf("DevMode must admit any NIC: %v", errs)
	}
	nics := append(DefaultSupportedNICs(), NIC{"lab", "1af4", "abcd", "abce"})
	if errs, _ := ValidateNodePolicy(p, Options{SupportedNICs: nics}); len(errs) > 0 {
		t.Errorf("a NIC added to the list must be admitted: %v", errs)
	}
}

func TestPolicyWarnings(t *testing.T) {
	p := validPolicy()
	p.Namespace = "default"
	p.Spec.NicSelector = NicSelector{RootDevices: []string{"0000:19:00.2"}}
	errs, warns := ValidateNodePolicy(p, Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(warns) != 2 || warns[0].Field != "metadata.namespace" || warns[1].Field != "spec.nicSelector" {
		t.Errorf("want the namespace and the rootDevices-alone warnings, got %q", warns)
	}
}

func TestValidateNodePolicies(t *testing.T) {
	a := *validPolicy()
	a.Name = "a"
	a.Spec.NicSelector.PfNames = []string{"eno3#0-3"}
	a.Spec.NicSelector.RootDevices = []string{"0000:19:00.2"}
	b := *validPolicy()
	b.Name = "b"
	b.Spec.NicSelector.PfNames = []string{"eno3#4-7"}
	if errs := ValidateNodePolicies([]SriovNetworkNodePolicy{a, b}); len(errs) > 0 {
		t.Errorf("disjoint ranges must pass: %v", errs)
	}
	b.Spec.NicSelector.PfNames = []string{"eno3#3-7"}
	b.Spec.NicSelector.RootDevices = []string{"0000:19:00.2"}
	b.Spec.ExcludeTopology = true
	errs := ValidateNodePolicies([]SriovNetworkNodePolicy{a, b})
	for _, f := range []string{"items[1].spec.nicSelector.pfNames[0]", "items[1].spec.nicSelector.rootDevices[0]", "items[1].spec.excludeTopology"} {
		if !hasField(errs, f) {
			t.Errorf("want an error at %s, got %v", f, errFields(errs))
		}
	}
	// Policies for disjoint node sets never conflict.
	b.Spec.NodeSelector = map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "false"}
	if errs := ValidateNodePolicies([]SriovNetworkNodePolicy{a, b}); len(errs) > 0 {
		t.Errorf("disjoint node selectors must pass: %v", errs)
	}
}

func intp(i int) *int { return &i }

func TestValidateNetworkRules(t *testing.T) {
	base := func() *SriovNetwork {
		n := &SriovNetwork{Spec: SriovNetworkSpec{ResourceName: "intel_nics", Vlan: 10}}
		n.Name, n.Namespace = "net", DefaultOperatorNamespace
		return n
	}
	// later: the API server takes it, the operator's rendering or the CNI
	// fails: a warning, and RenderNAD refuses it.
	cases := []struct {
		name  string
		mod   func(*SriovNetwork)
		field string
		later bool
	}{
		{"no resource", func(n *SriovNetwork) { n.Spec.ResourceName = "" }, "spec.resourceName", true},
		{"vlan 4095", func(n *SriovNetwork) { n.Spec.Vlan = 4095 }, "spec.vlan", false},
		{"vlanQoS 8", func(n *SriovNetwork) { n.Spec.VlanQoS = 8 }, "spec.vlanQoS", false},
		{"vlanQoS without vlan", func(n *SriovNetwork) { n.Spec.Vlan = 0; n.Spec.VlanQoS = 2 }, "spec.vlanQoS", true},
		{"vlanProto", func(n *SriovNetwork) { n.Spec.VlanProto = "qinq" }, "spec.vlanProto", false},
		{"spoofChk true", func(n *SriovNetwork) { n.Spec.SpoofChk = "true" }, "spec.spoofChk", false},
		{"trust yes", func(n *SriovNetwork) { n.Spec.Trust = "yes" }, "spec.trust", false},
		{"linkState up", func(n *SriovNetwork) { n.Spec.LinkState = "up" }, "spec.linkState", false},
		{"min over max", func(n *SriovNetwork) { n.Spec.MinTxRate, n.Spec.MaxTxRate = intp(200), intp(100) }, "spec.minTxRate", true},
		{"max negative", func(n *SriovNetwork) { n.Spec.MaxTxRate = intp(-1) }, "spec.maxTxRate", false},
		{"capabilities not bools", func(n *SriovNetwork) { n.Spec.Capabilities = `{"mac":"yes"}` }, "spec.capabilities", true},
		{"ipam not JSON", func(n *SriovNetwork) { n.Spec.IPAM = `{type: host-local}` }, "spec.ipam", true},
		{"ipam no type", func(n *SriovNetwork) { n.Spec.IPAM = `{"subnet":"192.0.2.0/24"}` }, "spec.ipam[type]", true},
		{"metaPlugins no type", func(n *SriovNetwork) { n.Spec.MetaPluginsConfig = `{"a":1}` }, "spec.metaPlugins", true},
		{"logFile quote", func(n *SriovNetwork) { n.Spec.LogFile = `/tmp/"x` }, "spec.logFile", true},
		{"networkNamespace outside operator ns", func(n *SriovNetwork) { n.Namespace = "default"; n.Spec.NetworkNamespace = "vms" }, "spec.networkNamespace", true},
		{"bad kind", func(n *SriovNetwork) { n.Kind = "SriovIBNetwork" }, "kind", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := base()
			if errs, _ := ValidateNetwork(n, Options{}); len(errs) > 0 {
				t.Fatalf("base network invalid: %v", errs)
			}
			c.mod(n)
			errs, warns := ValidateNetwork(n, Options{})
			switch {
			case c.later && (len(errs) > 0 || !slices.ContainsFunc(warns, func(w validation.Warning) bool { return w.Field == c.field })):
				t.Errorf("want only a warning at %s, got %v %v", c.field, errs, warns)
			case !c.later && !hasField(errs, c.field):
				t.Errorf("want an error at %s, got %v", c.field, errs)
			}
			if _, err := RenderNAD(n, RenderOptions{}); err == nil {
				t.Error("an invalid network was rendered")
			}
		})
	}
}

func TestParsePFName(t *testing.T) {
	p, err := ParsePFName("ens1f0#2-5", 8)
	if err != nil || p.Name != "ens1f0" || !p.HasRange || p.First != 2 || p.Last != 5 || p.String() != "ens1f0#2-5" {
		t.Fatalf("%+v %v", p, err)
	}
	if !p.Contains(2) || !p.Contains(5) || p.Contains(1) || p.Contains(6) {
		t.Error("Contains is wrong at the range ends")
	}
	for _, bad := range []string{"", "#0-1", "e#", "e#a-1", "e#1-b", "e#-1-2", "e#1-2-3", "e#3-1", "e#0-8"} {
		if _, err := ParsePFName(bad, 8); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The builders take JSON as json.RawMessage, VLAN and QoS separately, add
// node-selector labels, and hand out objects the builder no longer
// changes.
func TestBuilderOptions(t *testing.T) {
	sel := map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"}
	pb := NewNodePolicy("p", "intel_nics").WithNumVFs(8).WithNIC("8086", "158b").
		WithNodeSelector(sel).WithNodeSelector(map[string]string{"node-role.kubernetes.io/worker-dpdk": ""}).
		WithPFNames("eno3#0-3")
	p, err := pb.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.NodeSelector) != 2 || len(sel) != 1 {
		t.Errorf("nodeSelector %v (caller's map now %v): want both labels, the caller's map untouched", p.Spec.NodeSelector, sel)
	}
	pb.WithPFNames("eno4").WithNodeSelector(map[string]string{"x": "y"})
	if len(p.Spec.NicSelector.PfNames) != 1 || len(p.Spec.NodeSelector) != 2 {
		t.Errorf("the built policy changed with the builder: %+v", p.Spec)
	}

	n, err := NewNetwork("net", "intel_nics").WithNamespace("sriov").WithNetworkNamespace("vms").
		WithVLAN(100).WithVLANQoS(3).WithMACSpoofCheck(true).
		WithCapabilities(json.RawMessage(`{"mac": true}`)).
		WithIPAM(json.RawMessage(`{"type": "static"}`)).Build()
	if err != nil {
		t.Fatal(err)
	}
	if n.Namespace != "sriov" || n.Spec.Vlan != 100 || n.Spec.VlanQoS != 3 || n.Spec.SpoofChk != On ||
		n.Spec.Capabilities != `{"mac": true}` || n.Spec.IPAM != `{"type": "static"}` {
		t.Errorf("network %+v %+v", n.ObjectMeta, n.Spec)
	}
	// The namespace given is the operator's: another one may not name a
	// networkNamespace.
	if _, err := NewNetwork("net", "intel_nics").WithNetworkNamespace("vms").WithOptions(Options{OperatorNamespace: "sriov"}).Build(); err == nil ||
		!strings.Contains(err.Error(), "spec.networkNamespace") {
		t.Errorf("networkNamespace outside the operator's namespace: %v", err)
	}
	if _, err := NewNetwork("net", "intel_nics").WithVLANQoS(2).Build(); err == nil || !strings.Contains(err.Error(), "spec.vlanQoS") {
		t.Errorf("QoS without a VLAN: %v", err)
	}
}
