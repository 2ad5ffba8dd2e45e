package vmspec

import (
	"os"
	"strings"
	"testing"
)

// The documented oc describe vmi output: the status it comes from
// (testdata/vmi-status.yaml) gives per interface the name,
// guest interface name, MAC and every IP, and renders back to the documentation's
// lines exactly.
func TestInterfaceAddressesDescribeVMI(t *testing.T) {
	doc, err := os.ReadFile("testdata/vmi-status.yaml")
	if err != nil {
		t.Fatal(err)
	}
	nics, errs := InterfaceAddressesYAML(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(nics) != 3 {
		t.Fatalf("%d interfaces, want 3", len(nics))
	}
	if n := nics[0]; n.Name != "default" || n.InterfaceName != "eth0" || n.MAC.String() != "0a:58:0a:f4:00:25" || len(n.IPs) != 2 || n.IPs[0].String() != "10.244.0.37/24" {
		t.Errorf("eth0: %+v", n)
	}
	if n := nics[2]; n.Name != "" || n.InterfaceName != "v1" || len(n.IPs) != 6 || n.IPs[4].String() != "2001:db8:0:f101::1/64" {
		t.Errorf("v1: %+v", n)
	}
	documented, err := os.ReadFile("testdata/describe-vmi.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The page indents the block by four spaces and elides what comes
	// before it with "# ...".
	var want []string
	for _, l := range strings.Split(strings.TrimRight(string(documented), "\n"), "\n") {
		l = strings.TrimPrefix(l, "    ")
		if l != "# ..." {
			want = append(want, l)
		}
	}
	if got := DescribeInterfaces(nics); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("describe output\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

func TestInterfaceAddressesErrors(t *testing.T) {
	doc := `apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: a}
status:
  interfaces:
  - name: default
    mac: 0a:58:zz:f4:00:25
    ipAddress: 10.0.0.2
    ipAddresses: [10.0.0.3, 300.1.1.1/24, fd00::1]
`
	nics, errs := InterfaceAddressesYAML([]byte(doc))
	want := []string{
		`status.interfaces[0].mac: Invalid value: "0a:58:zz:f4:00:25"`,
		`status.interfaces[0].ipAddresses[1]: Invalid value: "300.1.1.1/24"`,
		`status.interfaces[0].ipAddress: Invalid value: "10.0.0.2": must be the first of ipAddresses`,
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %v", errs, want)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %q, want %q", errs[i].Error(), w)
		}
	}
	// Bare addresses get a full-length prefix; the rest is still read.
	if len(nics) != 1 || len(nics[0].IPs) != 2 || nics[0].IPs[1].String() != "fd00::1/128" || nics[0].IPs[0].String() != "10.0.0.3/32" {
		t.Errorf("nics: %+v", nics)
	}
	if _, errs := InterfaceAddressesYAML([]byte("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: a}\n")); len(errs) == 0 {
		t.Error("a VirtualMachine has no interface status; want an error")
	}
	if _, errs := InterfaceAddresses(nil); len(errs) == 0 {
		t.Error("nil VMI accepted")
	}
}

// FuzzInterfaceAddressesYAML: any document either fails cleanly or gives
// interfaces whose addresses are valid.
func FuzzInterfaceAddressesYAML(f *testing.F) {
	if b, err := os.ReadFile("testdata/vmi-status.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nstatus:\n  interfaces:\n  - ipAddresses: [\"::1/200\"]\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 8<<10 {
			return
		}
		nics, _ := InterfaceAddressesYAML(doc)
		for _, n := range nics {
			for _, p := range n.IPs {
				if !p.IsValid() {
					t.Fatalf("invalid prefix returned: %+v", n)
				}
			}
		}
		_ = DescribeInterfaces(nics)
	})
}
