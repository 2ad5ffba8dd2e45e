package lab_test

import (
	"fmt"
	"net"
	"strings"

	"github.com/pxekit/pxekit/internal/lab"
)

// The QEMU command line for a UEFI HTTP boot on tap0: OVMF as -bios, the
// NIC without its iPXE ROM, and PXE switched off so OVMF goes straight to
// HTTP boot.
func ExampleVMConfig_Args() {
	fw, _ := lab.ParseFirmware("uefi-http")
	mac, _ := net.ParseMAC("52:54:00:6b:13:e2")
	args, err := lab.VMConfig{Tap: "tap0", MAC: mac, Firmware: fw}.Args()
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Join(args, " "))
	// Output:
	// -machine q35 -accel tcg -m 512 -nographic -no-reboot -monitor none -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -bios /usr/share/ovmf/OVMF.fd -device virtio-net-pci,netdev=n0,mac=52:54:00:6b:13:e2,romfile= -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n
}

// A guest that, like an installer, fetches its config from a URL given on
// the kernel command line before phoning home.
func ExampleInitramfs_Script() {
	script := lab.Initramfs{Commands: []string{
		`url=$(arg harvester.install.config_url) && timeout 60 wget -q -O /tmp/config.yaml "$url" && echo CONFIG-FETCHED`,
	}}.Script()
	for _, l := range strings.Split(script, "\n") {
		if strings.Contains(l, "CONFIG-FETCHED") || strings.HasPrefix(l, "url=$(arg pxekit") || l == "poweroff -f" {
			fmt.Println(l)
		}
	}
	// Output:
	// url=$(arg harvester.install.config_url) && timeout 60 wget -q -O /tmp/config.yaml "$url" && echo CONFIG-FETCHED
	// url=$(arg pxekit.phonehome)
	// poweroff -f
}
