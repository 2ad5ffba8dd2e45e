package hco

import (
	"net/netip"
	"strings"
	"testing"
)

func TestBuildSecondaryDNS(t *testing.T) {
	hc, err := New().WithSecondaryDNS(netip.MustParseAddr("192.0.2.53")).Build()
	if err != nil {
		t.Fatal(err)
	}
	y, err := ToYAML(hc)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: hco.kubevirt.io/v1beta1
kind: HyperConverged
metadata:
  name: kubevirt-hyperconverged
  namespace: openshift-cnv
spec:
  featureGates:
    deployKubeSecondaryDNS: true
  kubeSecondaryDNSNameServerIP: 192.0.2.53
`
	if string(y) != want {
		t.Errorf("YAML:\n%s\nwant:\n%s", y, want)
	}
	p, err := MergePatch(hc)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p); got != `{"spec":{"featureGates":{"deployKubeSecondaryDNS":true},"kubeSecondaryDNSNameServerIP":"192.0.2.53"}}` {
		t.Errorf("merge patch %s", got)
	}
	if _, err := New().WithSecondaryDNS(netip.Addr{}).Build(); err == nil || !strings.Contains(err.Error(), "spec.kubeSecondaryDNSNameServerIP: Required value") {
		t.Errorf("no address: %v", err)
	}
}

// The CR as OpenShift Virtualization's documentation prints it, with its
// callout markers, and corrected; other spec fields are kept, not checked.
func TestDecodeValidate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		doc         string
		errs, warns []string
	}{
		{"documented", `apiVersion: hco.kubevirt.io/v1beta1
kind: HyperConverged
metadata:
  name: kubevirt-hyperconverged
  namespace: openshift-cnv
spec:
    featureGates:
      deployKubeSecondaryDNS: true
    kubeSecondaryDNSNameServerIP: "10.46.41.94"
    liveMigrationConfig:
      parallelMigrationsPerCluster: 5
`, nil, nil},
		{"callout after a boolean", `apiVersion: hco.kubevirt.io/v1beta1
kind: HyperConverged
metadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}
spec:
  featureGates:
    deployKubeSecondaryDNS: true 1
  kubeSecondaryDNSNameServerIP: 10.46.41.94
`, []string{`spec.featureGates.deployKubeSecondaryDNS: Invalid value: "true 1": must be of type boolean`}, nil},
		{"address without the gate", `apiVersion: hco.kubevirt.io/v1beta1
kind: HyperConverged
metadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}
spec:
  kubeSecondaryDNSNameServerIP: dns.example
`, nil, []string{`spec.kubeSecondaryDNSNameServerIP: "dns.example" is not an IP address`, "spec.featureGates.deployKubeSecondaryDNS: is not true"}},
		{"gate without the address, another name", `apiVersion: hco.kubevirt.io/v1beta1
kind: HyperConverged
metadata: {name: hco, namespace: openshift-cnv}
spec:
  featureGates: {deployKubeSecondaryDNS: true}
  kubeSecondaryDnsNameServerIP: 192.0.2.53
`, nil, []string{"metadata.name: the operator reconciles only", "spec.kubeSecondaryDNSNameServerIP: is empty", `spec.kubeSecondaryDnsNameServerIP: is not a field; did you mean "kubeSecondaryDNSNameServerIP"?`}},
		{"another version", `apiVersion: hco.kubevirt.io/v1
kind: HyperConverged
metadata: {name: kubevirt-hyperconverged}
spec: {}
`, []string{`apiVersion: Unsupported value: "hco.kubevirt.io/v1"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, errs := Decode([]byte(tc.doc))
			verrs, warns := Validate(hc)
			errs = append(errs, verrs...)
			if len(errs) != len(tc.errs) {
				t.Errorf("errors %v, want %v", errs, tc.errs)
			}
			for _, w := range tc.errs {
				if !strings.Contains(errs.ToAggregate().Error(), w) {
					t.Errorf("no error %q in %v", w, errs)
				}
			}
			if len(warns) != len(tc.warns) {
				t.Errorf("warnings %v, want %v", warns, tc.warns)
			}
			for _, w := range tc.warns {
				found := false
				for _, x := range warns {
					found = found || strings.Contains(x.String(), w)
				}
				if !found {
					t.Errorf("no warning %q in %v", w, warns)
				}
			}
		})
	}
	hc, _ := Decode([]byte("apiVersion: hco.kubevirt.io/v1beta1\nkind: HyperConverged\nmetadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}\nspec:\n  liveMigrationConfig: {parallelMigrationsPerCluster: 5}\n"))
	y, _ := ToYAML(hc)
	if !strings.Contains(string(y), "parallelMigrationsPerCluster: 5") {
		t.Errorf("a field pxekit does not model was dropped:\n%s", y)
	}
}
