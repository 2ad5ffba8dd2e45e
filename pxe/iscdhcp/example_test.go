package iscdhcp_test

import (
	"fmt"
	"os"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe/iscdhcp"
)

// The Harvester PXE install guide's dhcpd.conf with the UEFI HTTP boot group: what node1 gets at
// each step of its UEFI HTTP boot, and what an unknown machine gets.
func Example() {
	src, err := os.ReadFile("testdata/harvester-dhcpd-httpboot.conf")
	if err != nil {
		panic(err)
	}
	conf, err := iscdhcp.Parse(src)
	if err != nil {
		panic(err)
	}
	policy := conf.Policy(nil)
	node1, _ := macaddr.Parse("52:54:00:6b:13:e2")
	stranger, _ := macaddr.Parse("52:54:00:12:34:56")
	for _, c := range []dhcp.Client{
		{MAC: node1, Archs: []dhcp.Arch{16}, VendorClass: "HTTPClient:Arch:00016:UNDI:003001"},
		{MAC: node1, Archs: []dhcp.Arch{7}, VendorClass: "PXEClient:Arch:00007:UNDI:003001", UserClasses: []string{"iPXE"}},
		{MAC: stranger, Archs: []dhcp.Arch{7}, VendorClass: "PXEClient:Arch:00007:UNDI:003001"},
	} {
		d := policy(c)
		fmt.Printf("%s arch %d: %q option60=%q\n", c.MAC, c.Arch(), d.Filename, d.VendorClass)
	}
	// The guide's TFTP file names come with no next-server.
	fmt.Println(conf.Warnings[0].Line, len(conf.Warnings))
	// Output:
	// 52:54:00:6b:13:e2 arch 16: "http://10.100.0.10/harvester/ipxe.efi" option60="HTTPClient"
	// 52:54:00:6b:13:e2 arch 7: "http://10.100.0.10/harvester/ipxe-create-efi" option60=""
	// 52:54:00:12:34:56 arch 7: "" option60=""
	// 29 4
}
