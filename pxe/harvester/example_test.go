package harvester_test

import (
	"fmt"

	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe/harvester"
)

// The PXE install guide's UEFI script for the CREATE node, served by nginx from
// http://10.100.0.10/harvester/: initrd= is on the kernel line, and every
// file is named as the release ships it.
func ExampleScript() {
	out, err := harvester.Script(harvester.Release{Version: "v1.6.0"}, ipxe.EFI, harvester.ScriptOptions{
		AssetURL:  "http://10.100.0.10/harvester",
		ConfigURL: "http://10.100.0.10/harvester/config-create.yaml",
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// #!ipxe
	// kernel harvester-v1.6.0-vmlinuz-amd64 initrd=harvester-v1.6.0-initrd-amd64 ip=dhcp net.ifnames=1 rd.cos.disable rd.noverifyssl console=tty1 root=live:http://10.100.0.10/harvester/harvester-v1.6.0-rootfs-amd64.squashfs harvester.install.automatic=true harvester.install.config_url=http://10.100.0.10/harvester/config-create.yaml
	// initrd harvester-v1.6.0-initrd-amd64
	// boot
}

// The install guide's two nodes, and two more: the first creates the cluster, the
// rest join at the VIP, and the first two joiners become management nodes.
func ExampleCluster_Plan() {
	c := harvester.Cluster{
		Version: "v1.6.0", VIP: "10.100.0.99", VIPMode: harvester.VIPStatic,
		Token: "token", Password: "p@ssword", Device: "/dev/sda",
		Nodes: []harvester.Node{
			{Hostname: "node1", MAC: "52:54:00:6b:13:e2"},
			{Hostname: "node2", MAC: "52:54:00:69:d5:92"},
			{Hostname: "node3", MAC: "52:54:00:69:d5:93"},
			{Hostname: "node4", MAC: "52:54:00:69:d5:94"},
		},
	}
	plan, err := c.Plan()
	if err != nil {
		panic(err)
	}
	for _, n := range plan.Nodes {
		fmt.Println(n.Hostname, n.Mode, n.Role, n.ConfigFile, "server_url="+n.Config.ServerURL)
	}
	// Output:
	// node1 create management config-create.yaml server_url=
	// node2 join management config-join.yaml server_url=https://10.100.0.99:443
	// node3 join management config-join.yaml server_url=https://10.100.0.99:443
	// node4 join worker config-join.yaml server_url=https://10.100.0.99:443
}

// Validation reports every problem under its YAML path.
func ExampleConfig_Validate() {
	c := harvester.Config{Token: "t", OS: harvester.OS{Password: "p"},
		Install: harvester.Install{Mode: harvester.ModeJoin, Device: "/dev/sda", ISOURL: "http://10.100.0.10/h.iso"}}
	for _, e := range c.Validate() {
		fmt.Println(e)
	}
	c.Install.Mode, c.Install.VIPMode = harvester.ModeCreate, harvester.VIPDHCP
	for _, e := range c.Validate() {
		fmt.Println(e)
	}
	// Output:
	// server_url: Required value: JOIN mode needs the cluster's URL, https://<VIP>:443
	// install.vip_hw_addr: Required value: vip_mode dhcp leases the VIP for this MAC
}
