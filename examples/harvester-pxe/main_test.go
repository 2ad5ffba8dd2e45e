package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe/harvester"
	"github.com/pxekit/pxekit/pxe/iscdhcp"
)

func TestRenderRedactsUnlessAsked(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"render", "--cluster", "testdata/cluster.yaml"}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Contains(s, "p@ssword") || strings.Contains(s, "token: token") || strings.Count(s, "REDACTED") != 4 {
		t.Errorf("secrets not redacted:\n%s", s)
	}
	for _, want := range []string{
		"# node1 (create, management): iPXE script, efi",
		"kernel http://192.0.2.1/assets/harvester-v1.1.0-vmlinuz-amd64 initrd=harvester-v1.1.0-initrd-amd64 ip=dhcp",
		"harvester.install.config_url=http://192.0.2.1/machines/52:54:00:69:d5:92/config-join.yaml",
		"server_url: https://10.100.0.99:443",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("render lacks %q:\n%s", want, s)
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"render", "--cluster", "testdata/cluster.yaml", "--show-secrets"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "password: p@ssword") || strings.Contains(out.String(), "REDACTED") {
		t.Errorf("--show-secrets:\n%s", out.String())
	}
}

// With --dhcpd-conf, the hosts of the install guide's dhcpd.conf become the nodes
// (node1 creates because its group boots ipxe-create), and the policy
// points the guide's nginx URLs at this server.
func TestDHCPDConf(t *testing.T) {
	src, err := os.ReadFile("testdata/harvester-dhcpd-httpboot.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := iscdhcp.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := nodesFromDHCPD(conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Hostname != "node1" || nodes[1].MAC != "52:54:00:69:d5:92" {
		t.Errorf("nodes %+v", nodes)
	}
	pol := conf.Policy(harvester.ServerURL)
	for _, tc := range []struct {
		cl   dhcp.Client
		want string
		vc   string
	}{
		{dhcp.Client{MAC: []byte{0x52, 0x54, 0, 0x6b, 0x13, 0xe2}, Archs: []dhcp.Arch{16}, VendorClass: "HTTPClient:Arch:00016"}, "{base}/ipxe/ipxe.efi", "HTTPClient"},
		{dhcp.Client{MAC: []byte{0x52, 0x54, 0, 0x6b, 0x13, 0xe2}, Archs: []dhcp.Arch{7}, UserClasses: []string{"iPXE"}}, "{base}/boot.ipxe?mac={mac}&fw=efi", ""},
		{dhcp.Client{MAC: []byte{0x52, 0x54, 0, 0x69, 0xd5, 0x92}, Archs: []dhcp.Arch{0}, UserClasses: []string{"iPXE"}}, "{base}/boot.ipxe?mac={mac}", ""},
		{dhcp.Client{MAC: []byte{0x52, 0x54, 0, 0x69, 0xd5, 0x92}, Archs: []dhcp.Arch{0}, VendorClass: "PXEClient"}, "undionly.kpxe", ""},
	} {
		if d := pol(tc.cl); d.Filename != tc.want || d.VendorClass != tc.vc {
			t.Errorf("%+v: %+v, want %s %s", tc.cl, d, tc.want, tc.vc)
		}
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"render", "--cluster", "testdata/cluster.yaml", "--dhcpd-conf", "testdata/harvester-dhcpd-httpboot.conf"}, &out)
	if err != nil || !strings.Contains(out.String(), "note: line 29") {
		t.Errorf("render with dhcpd.conf: %v\n%s", err, out.String())
	}
}

func TestErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"render"}, {"bogus", "--cluster", "testdata/cluster.yaml"}, {"serve", "--cluster", "testdata/cluster.yaml"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
