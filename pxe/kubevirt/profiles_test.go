package kubevirt

import (
	"slices"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/pxe"
)

func TestParseProfiles(t *testing.T) {
	got, errs := ParseProfiles(map[string]string{
		"install": "kernel: vmlinuz\ninitrd: initrd.gz\nargs: [console=ttyS0, \"pxekit.phonehome={{.BaseURL}}/phonehome\"]\n",
		"rescue":  "script: |\n  #!ipxe\n  chain http://192.0.2.1/rescue.ipxe\nfiles:\n  notes.txt: hello {{.Hostname}}\n",
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := pxe.Profile{Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0", "pxekit.phonehome={{.BaseURL}}/phonehome"}}
	if p := got["install"]; p.Kernel != want.Kernel || p.Initrd != want.Initrd || !slices.Equal(p.Args, want.Args) {
		t.Errorf("install = %+v, want %+v", p, want)
	}
	if p := got["rescue"]; !strings.HasPrefix(p.Script, "#!ipxe\nchain ") || p.Files["notes.txt"] != "hello {{.Hostname}}" {
		t.Errorf("rescue = %+v", p)
	}

	_, errs = ParseProfiles(map[string]string{
		"typo":               "kernell: vmlinuz\n",
		"empty":              "initrd: initrd.gz\n",
		"syntax":             "kernel: [vmlinuz\n",
		"types":              "kernel: vmlinuz\nargs: console=ttyS0\n",
		pxe.LocalBootProfile: "kernel: vmlinuz\n",
	})
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	for _, want := range []string{
		`data[typo].kernell: Forbidden: unknown field "kernell"; did you mean "kernel"?`,
		`data[empty]: Required value: needs a kernel or a script`,
		`data[syntax]`,
		`data[types].args: Invalid value`,
		`data[local-boot]: Forbidden: the name of the profile installed machines get`,
	} {
		found := false
		for _, m := range msgs {
			found = found || strings.HasPrefix(m, want)
		}
		if !found {
			t.Errorf("errors lack %q:\n%s", want, strings.Join(msgs, "\n"))
		}
	}
}

// A ConfigMap's data is whatever someone typed: ParseProfiles never
// panics, and what it returns without errors is a valid inventory's
// profiles.
func FuzzParseProfiles(f *testing.F) {
	f.Add("install", "kernel: vmlinuz\ninitrd: initrd.gz\nargs: [console=ttyS0]\n")
	f.Add("rescue", "script: |\n  #!ipxe\n  exit\nfiles: {a: b}\n")
	f.Add("x", "kernel: [\n")
	f.Add("local-boot", "kernel: k\n")
	f.Fuzz(func(t *testing.T, name, value string) {
		profiles, errs := ParseProfiles(map[string]string{name: value})
		if len(errs) == 0 {
			if v := (pxe.InventorySpec{Profiles: profiles}).Validate(); len(v) > 0 {
				t.Fatalf("accepted profiles do not validate: %v", v)
			}
		}
	})
}
