package pxetest

import (
	"os"
	"testing"
)

// BootLab is what a firmware boot test serves and boots: a lab network,
// the guest kernel, and the busybox initramfs built for that kernel.
type BootLab struct {
	*Network
	Kernel  Kernel
	Vmlinuz []byte // the kernel image, to serve as an asset
	Initrd  []byte // the gzip-compressed initramfs
}

// NewBootLab checks that the lab can boot every Firmware here (root, QEMU,
// SeaBIOS's iPXE ROM, OVMF, busybox, the guest kernel: skipping outside CI
// and failing in CI without them), builds guest's initramfs for the guest
// kernel (its ModulesDir filled in when empty) and creates the network
// (TempNetwork with the default config).
func NewBootLab(tb testing.TB, guest Initramfs) *BootLab {
	tb.Helper()
	return NewBootLabOn(tb, guest, NetworkConfig{})
}

// NewBootLabOn is NewBootLab on the network cfg describes: an IPv6 lab
// (Server6: DefaultServer6(), NoIPv4 for IPv6 only), say.
func NewBootLabOn(tb testing.TB, guest Initramfs, cfg NetworkConfig) *BootLab {
	tb.Helper()
	RequireFirmware(tb, BIOS, UEFIPXE, UEFIHTTP)
	RequireFile(tb, Busybox, debianPackage[Busybox])
	k := GuestKernel(tb)
	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		tb.Fatal(err)
	}
	if guest.ModulesDir == "" {
		guest.ModulesDir = k.ModulesDir
	}
	initrd, err := guest.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	return &BootLab{Network: TempNetwork(tb, cfg), Kernel: k, Vmlinuz: vmlinuz, Initrd: initrd}
}
