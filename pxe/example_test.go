package pxe_test

import (
	"fmt"
	"net"

	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
)

// The script a UEFI machine gets: a Harvester CREATE node, its installer
// config served to it alone under /machines/<mac>/.
func ExampleRenderScript() {
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2}
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{
		Machines: []pxe.Machine{{MAC: mac, Hostname: "node1", Profile: "create"}},
		Profiles: map[string]pxe.Profile{"create": {
			Kernel: "harvester-v1.6.0-vmlinuz-amd64",
			Initrd: "harvester-v1.6.0-initrd-amd64",
			Args: []string{"ip=dhcp", "net.ifnames=1", "rd.cos.disable", "rd.noverifyssl", "console=tty1",
				"root=live:{{.BaseURL}}/assets/harvester-v1.6.0-rootfs-amd64.squashfs",
				"harvester.install.automatic=true",
				"harvester.install.config_url={{.BaseURL}}/machines/{{.MAC}}/config-create.yaml"},
		}},
	})
	if err != nil {
		panic(err)
	}
	m, p, _ := inv.Lookup(mac)
	script, err := pxe.RenderScript(m, p, "http://192.0.2.1", ipxe.EFI)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(script))
	// Output:
	// #!ipxe
	// kernel http://192.0.2.1/assets/harvester-v1.6.0-vmlinuz-amd64 initrd=harvester-v1.6.0-initrd-amd64 ip=dhcp net.ifnames=1 rd.cos.disable rd.noverifyssl console=tty1 root=live:http://192.0.2.1/assets/harvester-v1.6.0-rootfs-amd64.squashfs harvester.install.automatic=true harvester.install.config_url=http://192.0.2.1/machines/52:54:00:6b:13:e2/config-create.yaml
	// initrd http://192.0.2.1/assets/harvester-v1.6.0-initrd-amd64
	// boot
}

// A static inventory changes while a server uses it: each change bumps the
// revision, and the next lookup sees it.
func ExampleStaticInventory() {
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{
		Profiles: map[string]pxe.Profile{
			"install": {Kernel: "vmlinuz", Args: []string{"auto=true"}},
			"rescue":  {Kernel: "vmlinuz", Args: []string{"rescue"}},
		},
	})
	if err != nil {
		panic(err)
	}
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	show := func() {
		m, _, err := inv.Lookup(mac)
		fmt.Printf("revision %d: %s %v\n", inv.Revision(), m.Profile, err)
	}
	show()
	_ = inv.SetMachine(pxe.Machine{MAC: mac, Hostname: "node1", Profile: "install"})
	show()
	_ = inv.SetMachine(pxe.Machine{MAC: mac, Hostname: "node1", Profile: "rescue"})
	show()
	inv.RemoveMachine(mac)
	_ = inv.SetDefault("rescue")
	show()
	fmt.Println(inv.SetMachine(pxe.Machine{MAC: mac, Profile: "nope"}))
	// Output:
	// revision 1:  unknown machine and no default profile
	// revision 2: install <nil>
	// revision 3: rescue <nil>
	// revision 5: rescue <nil>
	// inventory: profile: Invalid value: "nope": is not a profile (have install, rescue)
}

// What a machine gets once it is installed: a script that hands it back
// to its firmware, which boots its disk (the next device of its boot
// order).
func ExampleLocalBoot() {
	m := pxe.Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2}, Hostname: "vm1", Profile: pxe.LocalBootProfile}
	script, err := pxe.RenderScript(m, pxe.LocalBoot(), "http://192.0.2.1", ipxe.BIOS)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(script))
	// Output:
	// #!ipxe
	// echo pxekit: installed, booting the next boot device
	// exit 1
}

// A config file is decoded strictly and checked at once: each problem
// with its path, and with LoadConfig its line.
func ExampleParseConfig() {
	_, errs := pxe.ParseConfig([]byte(`apiVersion: pxekit/v1alpha1
kind: BootServer
interface: br0
subnets:
  - prefix: 192.0.2.0/24
    pools: [{start: 192.0.2.100, end: 192.0.2.199}]
    leasetime: 1h
profiles:
  lab: {kernel: vmlinuz, initrd: initrd.gz}
defaultProfile: lab
machines:
  - {mac: "52:54:00:12:34:56", profile: installer}
`))
	for _, e := range errs {
		fmt.Println(e)
	}
	// Output:
	// subnets[0].leasetime: Forbidden: unknown field "leasetime"; did you mean "leaseTime"?
	// machines[0].profile: Invalid value: "installer": is not a profile (have lab)
}
