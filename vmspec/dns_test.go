package vmspec

import (
	"os"
	"strings"
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
)

// From OpenShift's documentation: ssh
// you@example-nic.example-vm.example-namespace.vm.openshift.example.com
func TestSecondaryDNSNameDocs(t *testing.T) {
	got, err := SecondaryDNSName("example-nic", "example-vm", "example-namespace", "openshift.example.com")
	if err != nil || got != "example-nic.example-vm.example-namespace.vm.openshift.example.com" {
		t.Errorf("got %q, %v", got, err)
	}
	// The documentation's oc get vm output, with the callout after the
	// network name removed, gives the same name from the VM.
	doc, err := os.ReadFile("testdata/example-vm-fqdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := Decode([]byte(strings.ReplaceAll(string(doc), "name: example-nic 1", "name: example-nic")))
	vm := obj.(*kubevirtv1.VirtualMachine)
	names, err := SecondaryDNSNames(vm, "", "openshift.example.com.")
	if err != nil || len(names) != 1 || names["example-nic"] != got {
		t.Errorf("SecondaryDNSNames = %v, %v", names, err)
	}
}

func TestSecondaryDNSNameRules(t *testing.T) {
	tests := []struct {
		iface, vm, ns, fqdn string
		want                string
	}{
		{"nic_1", "vm", "ns", "example.com", `interface: Invalid value: "nic_1"`},
		{"Nic", "vm", "ns", "example.com", `interface: Invalid value: "Nic"`},
		{"nic", "vm.a", "ns", "example.com", `vm: Invalid value: "vm.a"`},
		{"nic", "vm", "", "example.com", "namespace: Required value"},
		{"nic", "vm", "ns", "", "clusterFQDN: Required value"},
		{"nic", "vm", "ns", "exa mple.com", `clusterFQDN: Invalid value`},
		{"nic", "vm", "ns", strings.Repeat("a.", 120) + "com", "at most 253"},
	}
	for _, tc := range tests {
		if _, err := SecondaryDNSName(tc.iface, tc.vm, tc.ns, tc.fqdn); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc, err, tc.want)
		}
	}
	if _, err := SecondaryDNSNames(&kubevirtv1.VirtualMachine{}, "", "x.com"); err == nil {
		t.Error("VM without template accepted")
	}
}
