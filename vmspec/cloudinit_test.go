package vmspec

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// sameYAML reports whether two YAML documents hold the same data.
func sameYAML(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := yaml.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("generated YAML does not parse: %v\n%s", err, got)
	}
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected YAML does not parse: %v\n%s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

// The documented networkData examples (callout numbers removed: as printed,
// "eth1: 1" makes them invalid YAML, see TestDocumentationManifests) are what the
// builders render.
func TestNetworkDataDocs(t *testing.T) {
	tests := []struct {
		name string
		nd   func() (NetworkData, error)
		want string
	}{
		{"dhcp", func() (NetworkData, error) {
			return NetworkData{Ethernets: []Ethernet{{Name: "eth1", DHCP4: true}}}, nil
		}, "version: 2\nethernets:\n  eth1:\n    dhcp4: true\n"},
		{"static", func() (NetworkData, error) {
			return NetworkData{Ethernets: []Ethernet{{Name: "eth1", Addresses: []netip.Prefix{netip.MustParsePrefix("10.10.10.14/24")}}}}, nil
		}, "version: 2\nethernets:\n  eth1:\n    addresses:\n    - 10.10.10.14/24\n"},
		// The dual-stack VM example-vm-ipv6, from the default
		// vmIPv6NetworkCIDR.
		{"dual-stack default", func() (NetworkData, error) { return DualStackNetworkData("", "") },
			"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    addresses: [ fd10:0:2::2/120 ]\n    gateway6: fd10:0:2::1\n"},
		// The documentation names the default fd10:0:2::2/120: the same
		// network.
		{"dual-stack as the documentation writes the CIDR", func() (NetworkData, error) { return DualStackNetworkData("eth0", "fd10:0:2::2/120") },
			"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    addresses: [ fd10:0:2::2/120 ]\n    gateway6: fd10:0:2::1\n"},
	}
	for _, tc := range tests {
		nd, err := tc.nd()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := nd.Render()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !sameYAML(t, got, tc.want) {
			t.Errorf("%s: rendered\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

func TestPodIPv6(t *testing.T) {
	tests := []struct {
		cidr, addr, gw, err string
	}{
		{"", "fd10:0:2::2/120", "fd10:0:2::1", ""},
		{"fd10:0:2::/120", "fd10:0:2::2/120", "fd10:0:2::1", ""},
		{"fd10:0:2::2/120", "fd10:0:2::2/120", "fd10:0:2::1", ""},
		{"fd00:abcd::80/121", "fd00:abcd::82/121", "fd00:abcd::81", ""},
		{"fd00::/126", "fd00::2/126", "fd00::1", ""},
		{"fd00::/127", "", "", "no room"},
		{"10.0.2.0/24", "", "", "not an IPv6 prefix"},
		{"fd10::2", "", "", "vmIPv6NetworkCIDR"},
	}
	for _, tc := range tests {
		addr, gw, err := PodIPv6(tc.cidr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("PodIPv6(%q) error = %v, want %q", tc.cidr, err, tc.err)
			}
			continue
		}
		if err != nil || addr.String() != tc.addr || gw.String() != tc.gw {
			t.Errorf("PodIPv6(%q) = %s, %s, %v; want %s, %s", tc.cidr, addr, gw, err, tc.addr, tc.gw)
		}
	}
}

func TestNetworkDataRules(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	p := func(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }
	tests := []struct {
		nd   NetworkData
		errs []string
	}{
		{NetworkData{Ethernets: []Ethernet{{Name: "eth1"}}}, []string{"networkData.ethernets[0]: Required value: needs dhcp4, dhcp6 or static addresses"}},
		{NetworkData{Ethernets: []Ethernet{{DHCP4: true}}}, []string{"networkData.ethernets[0].name: Required value"}},
		{NetworkData{Ethernets: []Ethernet{{Name: "eth0", DHCP4: true}, {Name: "eth0", DHCP4: true}}}, []string{`networkData.ethernets[1].name: Duplicate value: "eth0"`}},
		{NetworkData{Ethernets: []Ethernet{{Name: "a-very-long-interface", DHCP4: true}}}, []string{"networkData.ethernets[0].name: Invalid value"}},
		{NetworkData{Ethernets: []Ethernet{{Name: "eth1", Addresses: p("10.10.10.14/24"), Gateway4: a("fd00::1")}}}, []string{"gateway4: Invalid value: \"fd00::1\": must be an IPv4 address"}},
		{NetworkData{Ethernets: []Ethernet{{Name: "eth1", Addresses: p("10.10.10.14/24"), Gateway4: a("10.10.11.1")}}}, []string{"gateway4: Invalid value: \"10.10.11.1\": is in none of the interface's static subnets"}},
		{NetworkData{Ethernets: []Ethernet{{Name: "eth1", Addresses: p("10.10.10.14/24"), Gateway4: a("10.10.10.1")}}}, nil},
		{NetworkData{Ethernets: []Ethernet{{Name: "eth0", DHCP4: true, Gateway6: a("10.0.0.1")}}}, []string{"gateway6: Invalid value: \"10.0.0.1\": must be an IPv6 address"}},
	}
	for i, tc := range tests {
		errs := tc.nd.Validate()
		if len(errs) != len(tc.errs) {
			t.Errorf("%d: got %v, want %v", i, errs, tc.errs)
			continue
		}
		for j, w := range tc.errs {
			if !strings.Contains(errs[j].Error(), w) {
				t.Errorf("%d: error %q, want %q", i, errs[j].Error(), w)
			}
		}
		if _, err := tc.nd.Render(); (err != nil) != (len(tc.errs) > 0) {
			t.Errorf("%d: Render error %v", i, err)
		}
	}
}

// The documented cloud-config for the RHEL VM, and the web console's fields.
func TestCloudConfigRHELTemplate(t *testing.T) {
	f := false
	got, err := CloudConfig{User: "cloud-user", Password: "changeme", ExpirePassword: &f}.Render()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "#cloud-config\n") {
		t.Errorf("no #cloud-config header:\n%s", got)
	}
	// As the RHEL template writes it (placeholder filled in, callout
	// removed).
	want := "#cloud-config\nuser: cloud-user\npassword: 'changeme'\nchpasswd: { expire: False }\n"
	if !sameYAML(t, got, want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got, err = CloudConfig{Hostname: "web-1", User: "fedora", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl lab@host"}, RunCmd: []string{"systemctl enable --now qemu-guest-agent"}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	want = "hostname: web-1\nuser: fedora\nssh_authorized_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl lab@host]\nruncmd: [systemctl enable --now qemu-guest-agent]\n"
	if !sameYAML(t, got, want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The documented script.
	if s := ShellScript("echo \"fedora\" | passwd fedora --stdin\n"); s != "#!/bin/bash\necho \"fedora\" | passwd fedora --stdin\n" {
		t.Errorf("ShellScript = %q", s)
	}
	if s := ShellScript("#!/bin/sh\ntrue\n"); s != "#!/bin/sh\ntrue\n" {
		t.Errorf("ShellScript kept no shebang: %q", s)
	}
}

func TestCloudConfigRules(t *testing.T) {
	tests := []struct {
		c    CloudConfig
		want string
	}{
		{CloudConfig{Hostname: "Web_1"}, "userData.hostname: Invalid value: \"Web_1\""},
		{CloudConfig{Password: "x"}, "userData.user: Required value"},
		{CloudConfig{User: "a b"}, "userData.user: Invalid value"},
		{CloudConfig{SSHAuthorizedKeys: []string{"AAAAB3Nza"}}, "userData.ssh_authorized_keys[0]: Invalid value"},
		{CloudConfig{SSHAuthorizedKeys: []string{"ssh-rsa AAAA\nruncmd: [reboot]"}}, "userData.ssh_authorized_keys[0]: Invalid value"},
		{CloudConfig{RunCmd: []string{" "}}, "userData.runcmd[0]: Required value"},
	}
	for _, tc := range tests {
		if _, err := tc.c.Render(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.c, err, tc.want)
		}
	}
}

// Data over KubeVirt's 2048-byte inline limit moves to a Secret; what fits
// stays inline; the VM validates either way.
func TestCloudInitSecretFallback(t *testing.T) {
	small := "#cloud-config\nuser: fedora\n"
	big := "#cloud-config\nruncmd:\n" + strings.Repeat("- echo padding padding padding\n", 80)
	src, sec, err := CloudInitNoCloudSource(small, "", "")
	if err != nil || sec != nil || src.UserData != small {
		t.Fatalf("small data: %v %v %+v", err, sec, src)
	}
	if _, _, err := CloudInitNoCloudSource(big, "", ""); err == nil || !strings.Contains(err.Error(), "2048-byte") {
		t.Errorf("big data without a Secret name: %v", err)
	}
	if _, _, err := CloudInitNoCloudSource(big, "", "Bad_Name"); err == nil {
		t.Error("bad Secret name accepted")
	}
	nd, _ := DualStackNetworkData("", "")
	ndYAML, _ := nd.Render()
	src, sec, err = CloudInitNoCloudSource(big, ndYAML, "web-cloudinit")
	if err != nil {
		t.Fatal(err)
	}
	if src.UserData != "" || src.UserDataSecretRef == nil || src.UserDataSecretRef.Name != "web-cloudinit" {
		t.Errorf("user data not moved to the Secret: %+v", src)
	}
	if src.NetworkData != ndYAML || src.NetworkDataSecretRef != nil {
		t.Errorf("network data should stay inline: %+v", src)
	}
	if string(sec.Data[SecretKeyUserData]) != big || sec.Name != "web-cloudinit" || sec.Kind != "Secret" {
		t.Errorf("Secret: %+v", sec)
	}
	vm, err := NewVM("web").WithPodNetwork().WithContainerDisk("root", "quay.io/containerdisks/fedora", Bootable()).
		WithCloudInitSource("cloudinitdisk", src).WithMemory("1Gi").Build()
	if err != nil {
		t.Fatal(err)
	}
	// Inline, the same data is refused with the limit named.
	vm.Spec.Template.Spec.Volumes[1].CloudInitNoCloud = &kubevirtv1.CloudInitNoCloudSource{UserData: big}
	errs, _ := ValidateVM(vm)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "spec.template.spec.volumes[1].cloudInitNoCloud: Too long: userData has 2502 bytes") {
		t.Errorf("inline big data: %v", errs)
	}
}
