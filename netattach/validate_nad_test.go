package netattach

import (
	"encoding/json"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/validation"
)

func nadWithConfig(name, config string) *nadv1.NetworkAttachmentDefinition {
	return &nadv1.NetworkAttachmentDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: NADAPIVersion, Kind: NADKind},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       nadv1.NetworkAttachmentDefinitionSpec{Config: config},
	}
}

// bridgeConf is a valid single-plugin bridge config with extra keys merged in.
func bridgeConf(extra string) string {
	c := `{"cniVersion":"0.3.1","name":"net","type":"cnv-bridge","bridge":"br1"`
	if extra != "" {
		c += "," + extra
	}
	return c + "}"
}

// listConf is a valid conflist: bridge then tuning, with extra keys merged
// into the tuning plugin.
func listConf(tuningExtra string) string {
	t := `{"type":"cnv-tuning"`
	if tuningExtra != "" {
		t += "," + tuningExtra
	}
	return `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"cnv-bridge","bridge":"br1","ipam":{}},` + t + `}]}`
}

// Each rule of ValidateNAD, valid and invalid. want lists "path: fragment"
// for every error, in order; warn the same for warnings.
func TestValidateNADRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nad    *nadv1.NetworkAttachmentDefinition
		want   []string
		warn   []string
		mutate func(*nadv1.NetworkAttachmentDefinition)
	}{
		{name: "single plugin ok", nad: nadWithConfig("net", bridgeConf(`"vlan":100,"macspoofchk":true`))},
		{name: "conflist ok", nad: nadWithConfig("net", listConf(`"mtu":9000,"sysctl":{"net.ipv6.conf.all.disable_ipv6":"1"}`))},
		{name: "static MAC in NAD warns", nad: nadWithConfig("net", listConf(`"mac":"de:00:00:00:00:de"`)),
			warn: []string{"spec.config.plugins[1].mac: every pod and VM attached to this NAD gets this same MAC"}},
		{name: "preserveDefaultVlan without vlan warns", nad: nadWithConfig("net", bridgeConf(`"preserveDefaultVlan":false`)),
			warn: []string{"spec.config.preserveDefaultVlan: has no effect without vlan or vlanTrunk"}},
		{name: "upstream types ok", nad: nadWithConfig("net", `{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"bridge","bridge":"br1"},{"type":"tuning"}]}`)},
		{name: "apiVersion", nad: nadWithConfig("net", bridgeConf("")), mutate: func(n *nadv1.NetworkAttachmentDefinition) { n.APIVersion = "k8s.cni.cncf.io/v1beta1" },
			want: []string{`apiVersion: Unsupported value: "k8s.cni.cncf.io/v1beta1"`}},
		{name: "kind", nad: nadWithConfig("net", bridgeConf("")), mutate: func(n *nadv1.NetworkAttachmentDefinition) { n.Kind = "NetworkAttachment" },
			want: []string{`kind: Unsupported value`}},
		{name: "name required", nad: nadWithConfig("", bridgeConf("")),
			want: []string{"metadata.name: Required value"}},
		{name: "name not DNS-1123", nad: nadWithConfig("PXE_net", `{"cniVersion":"0.3.1","name":"PXE_net","type":"bridge","bridge":"br1"}`),
			want: []string{`metadata.name: Invalid value: "PXE_net"`}},
		{name: "namespace", nad: nadWithConfig("net", bridgeConf("")), mutate: func(n *nadv1.NetworkAttachmentDefinition) { n.Namespace = "My.NS" },
			want: []string{`metadata.namespace: Invalid value: "My.NS"`}},
		{name: "empty config warns", nad: nadWithConfig("net", ""),
			warn: []string{"spec.config: empty"}},
		{name: "config not JSON", nad: nadWithConfig("net", `{"name": "net",}`),
			want: []string{"spec.config: Invalid value: line 1 column 16"}},
		{name: "config not an object", nad: nadWithConfig("net", `["a"]`),
			want: []string{"spec.config: Invalid value: must be a JSON object, not array"}},
		{name: "config missing type", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net"}`),
			want: []string{"spec.config: Invalid value: error parsing configuration: missing 'type'"}},
		{name: "conflist without plugins", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","plugins":[]}`),
			want: []string{"spec.config: Invalid value: error parsing configuration list: no plugins in list"}},
		{name: "conflist plugin missing type", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","plugins":[{"bridge":"br1"}]}`),
			want: []string{"spec.config: Invalid value: failed to parse plugin config 0"}},
		{name: "conflist name required", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","plugins":[{"type":"bridge"}]}`),
			want: []string{"spec.config: Invalid value: error parsing configuration list: no name"}},
		{name: "single name required", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","type":"bridge","bridge":"br1"}`),
			want: []string{"spec.config.name: Required value"}},
		{name: "name mismatch warns", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"other","type":"bridge","bridge":"br1"}`),
			warn: []string{`spec.config.name: "other" differs from metadata.name "net"`}},
		{name: "cniVersion missing warns", nad: nadWithConfig("net", `{"name":"net","type":"bridge","bridge":"br1"}`),
			warn: []string{"spec.config.cniVersion: not set"}},
		{name: "cniVersion bad", nad: nadWithConfig("net", `{"cniVersion":"v1","name":"net","type":"bridge","bridge":"br1"}`),
			want: []string{`spec.config.cniVersion: Invalid value: "v1"`}},
		{name: "bridge name too long", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","type":"bridge","bridge":"a-very-long-bridge"}`),
			want: []string{"spec.config.bridge: Too long: may not be more than 15 bytes"}},
		{name: "bridge name with slash", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","type":"bridge","bridge":"br/1"}`),
			want: []string{`spec.config.bridge: Invalid value: "br/1"`}},
		{name: "bridge missing warns", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","type":"bridge"}`),
			warn: []string{"spec.config.bridge: not set: the plugin creates and uses a bridge named cni0"}},
		{name: "vlan 0 ok", nad: nadWithConfig("net", bridgeConf(`"vlan":0`))},
		{name: "vlan 4094 ok", nad: nadWithConfig("net", bridgeConf(`"vlan":4094`))},
		{name: "vlan 4095", nad: nadWithConfig("net", bridgeConf(`"vlan":4095`)),
			want: []string{"spec.config.vlan: Invalid value: 4095: must be between 0 and 4094"}},
		{name: "vlan negative", nad: nadWithConfig("net", bridgeConf(`"vlan":-1`)),
			want: []string{"spec.config.vlan: Invalid value: -1"}},
		{name: "vlan wrong type in conflist", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"cnv-bridge","bridge":"br1","vlan":"100"}]}`),
			want: []string{`spec.config.plugins[0].vlan: Invalid value: "100": must be an integer, not string`}},
		{name: "macspoofchk wrong type", nad: nadWithConfig("net", bridgeConf(`"macspoofchk":"true"`)),
			want: []string{`spec.config.macspoofchk: Invalid value: "true": must be a boolean, not string`}},
		{name: "trunk ok", nad: nadWithConfig("net", bridgeConf(`"vlanTrunk":[{"id":42},{"minID":100,"maxID":200}]`))},
		{name: "vlan and trunk exclusive", nad: nadWithConfig("net", bridgeConf(`"vlan":10,"vlanTrunk":[{"id":42}]`)),
			want: []string{"spec.config.vlanTrunk: Forbidden: may not be set together with vlan"}},
		{name: "trunk range reversed", nad: nadWithConfig("net", bridgeConf(`"vlanTrunk":[{"minID":200,"maxID":100}]`)),
			want: []string{"spec.config.vlanTrunk[0].maxID: Invalid value: 100: must not be less than minID (200)"}},
		{name: "trunk min without max", nad: nadWithConfig("net", bridgeConf(`"vlanTrunk":[{"id":5},{"minID":200}]`)),
			want: []string{"spec.config.vlanTrunk[1].maxID: Required value"}},
		{name: "trunk max without min", nad: nadWithConfig("net", bridgeConf(`"vlanTrunk":[{"maxID":200}]`)),
			want: []string{"spec.config.vlanTrunk[0].minID: Required value"}},
		{name: "trunk ids out of range", nad: nadWithConfig("net", bridgeConf(`"vlanTrunk":[{"id":0},{"minID":0,"maxID":4095}]`)),
			want: []string{"spec.config.vlanTrunk[0].id: Invalid value: 0", "spec.config.vlanTrunk[1].minID: Invalid value: 0", "spec.config.vlanTrunk[1].maxID: Invalid value: 4095"}},
		{name: "trunk entry empty", nad: nadWithConfig("net", bridgeConf(`"vlanTrunk":[{}]`)),
			want: []string{"spec.config.vlanTrunk[0]: Required value: an id, or minID and maxID"}},
		{name: "trunk entry wrong type", nad: nadWithConfig("net", bridgeConf(`"vlanTrunk":[{"id":1},{"id":"7"}]`)),
			want: []string{`spec.config.vlanTrunk[1].id: Invalid value:`}},
		{name: "bridge mtu", nad: nadWithConfig("net", bridgeConf(`"mtu":67`)),
			want: []string{"spec.config.mtu: Invalid value: 67: must be between 68 and 65535"}},
		{name: "bridge mtu jumbo ok", nad: nadWithConfig("net", bridgeConf(`"mtu":9000`))},
		{name: "empty ipam ok", nad: nadWithConfig("net", bridgeConf(`"ipam":{}`))},
		{name: "ipam warns", nad: nadWithConfig("net", bridgeConf(`"ipam":{"type":"host-local","subnet":"192.0.2.0/24"}`)),
			warn: []string{"spec.config.ipam: " + IPAMWarning}},
		{name: "unknown key warns", nad: nadWithConfig("net", bridgeConf(`"macSpoofChk":true`)),
			warn: []string{"spec.config.macSpoofChk: unknown key: the cnv-bridge plugin ignores it"}},
		{name: "tuning first", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"tuning"},{"type":"bridge","bridge":"br1"}]}`),
			want: []string{`spec.config.plugins[0].type: Invalid value: "tuning": a tuning plugin changes the interface a previous plugin created`}},
		{name: "tuning alone", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","type":"cnv-tuning"}`),
			want: []string{`spec.config.type: Invalid value: "cnv-tuning"`}},
		{name: "tuning bad mac", nad: nadWithConfig("net", listConf(`"mac":"de:00:00:00:de"`)),
			want: []string{`spec.config.plugins[1].mac: Invalid value: "de:00:00:00:de"`},
			warn: []string{"spec.config.plugins[1].mac: every pod"}},
		{name: "tuning multicast mac", nad: nadWithConfig("net", listConf(`"mac":"01:00:5e:00:00:01"`)),
			want: []string{`spec.config.plugins[1].mac: Invalid value: "01:00:5e:00:00:01": must be a unicast address`},
			warn: []string{"spec.config.plugins[1].mac: every pod"}},
		{name: "tuning mtu", nad: nadWithConfig("net", listConf(`"mtu":70000`)),
			want: []string{"spec.config.plugins[1].mtu: Invalid value: 70000"}},
		{name: "tuning sysctl outside net", nad: nadWithConfig("net", listConf(`"sysctl":{"kernel.panic":"1","net.core.somaxconn":"500"}`)),
			want: []string{`spec.config.plugins[1].sysctl[kernel.panic]: Invalid value: "kernel.panic": must be a net.* sysctl`}},
		{name: "tuning sysctl wrong type", nad: nadWithConfig("net", listConf(`"sysctl":{"net.core.somaxconn":500}`)),
			want: []string{`spec.config.plugins[1].sysctl: Invalid value:`}},
		{name: "resourceName matches", nad: nadWithConfig("net", bridgeConf("")), mutate: func(n *nadv1.NetworkAttachmentDefinition) {
			n.Annotations = map[string]string{ResourceNameAnnotation: "bridge.network.kubevirt.io/br1"}
		}},
		{name: "resourceName other bridge", nad: nadWithConfig("net", bridgeConf("")), mutate: func(n *nadv1.NetworkAttachmentDefinition) {
			n.Annotations = map[string]string{ResourceNameAnnotation: "bridge.network.kubevirt.io/br2"}
		}, want: []string{`metadata.annotations[k8s.v1.cni.cncf.io/resourceName]: Invalid value: "bridge.network.kubevirt.io/br2": must name the config's bridge, "bridge.network.kubevirt.io/br1"`}},
		{name: "resourceName empty", nad: nadWithConfig("net", bridgeConf("")), mutate: func(n *nadv1.NetworkAttachmentDefinition) {
			n.Annotations = map[string]string{ResourceNameAnnotation: ""}
		}, want: []string{"metadata.annotations[k8s.v1.cni.cncf.io/resourceName]: Required value"}},
		{name: "unknown plugin type unchecked", nad: nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","type":"macvlan","master":"eth0","whatever":1}`)},
		{name: "every problem at once", nad: nadWithConfig("Bad", `{"cniVersion":"0.3.1","name":"Bad","plugins":[{"type":"bridge","bridge":"br1","vlan":5000,"mtu":1,"ipam":{"type":"dhcp"}},{"type":"tuning","mac":"zz"}]}`),
			want: []string{"metadata.name: Invalid value", "spec.config.plugins[0].vlan: Invalid value: 5000", "spec.config.plugins[0].mtu: Invalid value: 1", "spec.config.plugins[1].mac: Invalid value: \"zz\""},
			warn: []string{"spec.config.plugins[0].ipam: " + IPAMWarning, "spec.config.plugins[1].mac: every pod"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mutate != nil {
				tc.mutate(tc.nad)
			}
			errs, warns := ValidateNAD(tc.nad)
			assertFindings(t, "error", errStrings(errs), tc.want)
			assertFindings(t, "warning", warnStrings(warns), tc.warn)
		})
	}
}

func assertFindings(t *testing.T, kind string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d %ss, want %d:\n  %s", len(got), kind, len(want), strings.Join(got, "\n  "))
		return
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) && !strings.Contains(got[i], want[i]) {
			t.Errorf("%s %d = %q, want it to contain %q", kind, i, got[i], want[i])
		}
	}
}

// NADValidator runs a caller's checks for plugin types pxekit does not know
// (how the sriov package plugs in), with the plugin's path.
func TestNADValidatorPluginHook(t *testing.T) {
	v := NADValidator{Plugins: map[string]PluginValidator{
		"sriov": func(raw []byte, path *field.Path) (field.ErrorList, []validation.Warning) {
			var c struct {
				VLAN int `json:"vlan"`
			}
			if err := json.Unmarshal(raw, &c); err != nil || c.VLAN > 4095 {
				return field.ErrorList{field.Invalid(path.Child("vlan"), c.VLAN, "must be 0..4095")}, nil
			}
			return nil, []validation.Warning{validation.Warnf(path, "checked")}
		},
	}}
	errs, warns := v.Validate(nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"sriov","vlan":5000},{"type":"tuning"}]}`))
	assertFindings(t, "error", errStrings(errs), []string{"spec.config.plugins[0].vlan: Invalid value: 5000"})
	assertFindings(t, "warning", warnStrings(warns), nil)
	errs, warns = v.Validate(nadWithConfig("net", `{"cniVersion":"0.3.1","name":"net","type":"sriov","vlan":7}`))
	assertFindings(t, "error", errStrings(errs), nil)
	assertFindings(t, "warning", warnStrings(warns), []string{"spec.config: checked"})
}

// The builder's options end up in the config the plugins read, and Build
// refuses what ValidateNAD refuses, listing every problem.
func TestBridgeNADBuilder(t *testing.T) {
	nad, err := NewBridgeNAD("vlans", "br1").
		WithNamespace("lab").
		WithPluginType(PluginBridge).
		WithVLANTrunk(TrunkID(42), TrunkRange(100, 110)).
		WithMTU(9000).
		WithTuning(TuningNetConf{Mac: "de:00:00:00:00:de", SysCtl: map[string]string{"net.ipv4.conf.IFNAME.arp_notify": "1"}}).
		WithLabels(map[string]string{"app": "pxe"}).
		WithAnnotations(map[string]string{"description": "trunk"}).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	if nad.Namespace != "lab" || nad.Labels["app"] != "pxe" || nad.Annotations["description"] != "trunk" {
		t.Errorf("metadata = %+v", nad.ObjectMeta)
	}
	nc, err := ParseConfig(nad.Spec.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !nc.IsList || len(nc.Plugins) != 2 {
		t.Fatalf("config = %+v", nc)
	}
	br, tu := nc.Plugins[0].Bridge, nc.Plugins[1].Tuning
	if br == nil || br.Type != "bridge" || br.MTU != 9000 || len(br.VLANTrunk) != 2 || *br.VLANTrunk[1].MaxID != 110 {
		t.Errorf("bridge plugin = %+v", br)
	}
	// An untyped tuning plugin follows the bridge's flavour.
	if tu == nil || tu.Type != "tuning" || tu.Mac != "de:00:00:00:00:de" {
		t.Errorf("tuning plugin = %+v", tu)
	}

	single, err := NewBridgeNAD("plain", "br1").Build()
	if err != nil {
		t.Fatal(err)
	}
	if nc, _ := ParseConfig(single.Spec.Config); nc.IsList || nc.Name != "plain" || nc.CNIVersion != DefaultCNIVersion {
		t.Errorf("single config = %+v", nc)
	}
	list, _ := NewBridgeNAD("plain", "br1").WithConfList().Build()
	if nc, _ := ParseConfig(list.Spec.Config); !nc.IsList || len(nc.Plugins) != 1 {
		t.Errorf("WithConfList config = %+v", nc)
	}

	_, err = NewBridgeNAD("Bad_Name", "bridge-name-too-long").WithVLAN(4095).WithVLANTrunk(TrunkID(1)).Build()
	if err == nil {
		t.Fatal("Build accepted an invalid NAD")
	}
	for _, want := range []string{"metadata.name", "spec.config.bridge", "spec.config.vlan", "spec.config.vlanTrunk"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Build error %q does not mention %s", err, want)
		}
	}
}

// Build returns what it built even when it reports problems, so a caller
// can still print or inspect it.
func TestBuildReturnsObjectWithProblems(t *testing.T) {
	nad, err := NewBridgeNAD("pxe", "br1").WithVLAN(5000).Build()
	if err == nil || !strings.Contains(err.Error(), "spec.config.vlan") || nad == nil || nad.Name != "pxe" {
		t.Errorf("NAD %v, error %v", nad, err)
	}
	p, err := NewBridgePolicy("Bad_Name", "br1").Build()
	if err == nil || !strings.Contains(err.Error(), "metadata.name") || p == nil || p.Spec.DesiredState.Interfaces[0].Name != "br1" {
		t.Errorf("policy %v, error %v", p, err)
	}
}
