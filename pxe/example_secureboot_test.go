package pxe_test

import (
	"fmt"
	"net"

	"github.com/pxekit/pxekit/pxe"
)

// The grub.cfg a Secure Boot profile's UEFI machine reads (from
// /grub/<mac>.cfg, through /grub/grub.cfg): the same kernel, initrd and
// arguments as its boot.ipxe, every value single-quoted, and a report to
// the server if GRUB refuses the kernel.
func ExampleRenderGRUB() {
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	m := pxe.Machine{MAC: mac, Hostname: "web1", Profile: "debian"}
	p := pxe.Profile{Kind: pxe.ProfileSecureBoot, Kernel: "vmlinuz", Initrd: "initrd.gz",
		Args: []string{"console=ttyS0", "hostname={{.Hostname}}"}}
	cfg, err := pxe.RenderGRUB(m, p, "http://192.0.2.1")
	if err != nil {
		panic(err)
	}
	fmt.Print(string(cfg))
	// Output:
	// # pxekit: web1 (52:54:00:12:34:56), profile debian
	// set timeout='0'
	// echo 'pxekit: booting web1 (52:54:00:12:34:56), profile debian'
	// if linux '/assets/vmlinuz' 'console=ttyS0' 'hostname=web1' ; then
	// 	if initrd '/assets/initrd.gz' ; then
	// 		boot
	// 		echo 'boot of /assets/vmlinuz failed'
	// 		source '/pxekit/report/52:54:00:12:34:56/boot-failed'
	// 	else
	// 		echo 'cannot load the initrd /assets/initrd.gz'
	// 		source '/pxekit/report/52:54:00:12:34:56/initrd-failed'
	// 	fi
	// else
	// 	echo 'GRUB refused the kernel /assets/vmlinuz: no signature shim trusts under Secure Boot, or it cannot be read'
	// 	source '/pxekit/report/52:54:00:12:34:56/kernel-refused'
	// fi
	// sleep 5
	// exit
}
