package hco

import "testing"

// FuzzDecode: any input decodes without panicking, and what decodes without
// errors validates without panicking and prints back.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("apiVersion: hco.kubevirt.io/v1beta1\nkind: HyperConverged\nmetadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}\nspec:\n  featureGates: {deployKubeSecondaryDNS: true}\n  kubeSecondaryDNSNameServerIP: 192.0.2.53\n"))
	f.Add([]byte("spec: {featureGates: 3}"))
	f.Add([]byte("spec: [1]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hc, errs := Decode(b)
		if hc == nil {
			t.Fatal("nil CR")
		}
		Validate(hc)
		if len(errs) == 0 {
			if _, err := ToYAML(hc); err != nil {
				t.Fatalf("ToYAML of a decoded CR: %v", err)
			}
		}
	})
}
