package pxe_test

import (
	"fmt"
	"net"

	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
)

// The script a UEFI machine gets: seed 002's CREATE node, its installer
// config served to it alone under /machines/<mac>/.
func ExampleRenderScript() {
	mac, _ := net.ParseMAC("52:54:00:6b:13:e2")
	inv := pxe.Inventory{
		Machines: []pxe.Machine{{MAC: mac, Hostname: "node1", Profile: "create"}},
		Profiles: map[string]pxe.Profile{"create": {
			Kernel: "harvester-v1.6.0-vmlinuz-amd64",
			Initrd: "harvester-v1.6.0-initrd-amd64",
			Args: []string{"ip=dhcp", "net.ifnames=1", "rd.cos.disable", "rd.noverifyssl", "console=tty1",
				"root=live:{{.BaseURL}}/assets/harvester-v1.6.0-rootfs-amd64.squashfs",
				"harvester.install.automatic=true",
				"harvester.install.config_url={{.BaseURL}}/machines/{{.MAC}}/config-create.yaml"},
		}},
	}
	if err := inv.Validate(); err != nil {
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
