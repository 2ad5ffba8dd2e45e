package pxetest

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (the environment variable CI is
// "true"), where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test outside CI and fails it in CI, saying what is
// missing and how to get it. A machine without QEMU or root can still run
// the rest of a test suite; CI, which installs everything, cannot pass by
// skipping.
func Missing(tb testing.TB, what, howToGet string) {
	tb.Helper()
	msg := what + " is missing; " + howToGet
	if InCI() {
		tb.Fatal(msg + " (CI must provide it)")
	}
	tb.Skip(msg)
}

// RequireRoot needs euid 0 (network namespaces, veths, taps, raw DHCP
// sockets).
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "root", "run the tests as root (sudo go test ...)")
	}
}

// RequireCmd needs program name on PATH and returns its path; pkg is the
// Debian package that ships it.
func RequireCmd(tb testing.TB, name, pkg string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, name, "apt-get install "+pkg)
	}
	return p
}

// RequireFile needs a file that Debian package pkg ships and returns its
// path.
func RequireFile(tb testing.TB, path, pkg string) string {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(tb, path, "apt-get install "+pkg)
	}
	return path
}

// Files the lab uses, where Debian's packages put them.
const (
	// OVMFImage is the combined OVMF (UEFI) image of package ovmf. QEMU 10
	// boots it with -bios; the variable store is then volatile, which a
	// network-booting lab VM does not mind.
	OVMFImage = "/usr/share/ovmf/OVMF.fd"
	// IPXEROM is QEMU's iPXE option ROM for virtio-net (package
	// ipxe-qemu), which SeaBIOS runs to network-boot.
	IPXEROM = "/usr/lib/ipxe/qemu/efi-virtio.rom"
	// IPXEEFI is iPXE for x86-64 UEFI (package ipxe), what a UEFI PXE or
	// HTTP boot usually chainloads.
	IPXEEFI = "/usr/lib/ipxe/ipxe.efi"
	// IPXEBIOS is iPXE for BIOS PXE ROMs (package ipxe).
	IPXEBIOS = "/usr/lib/ipxe/undionly.kpxe"
	// Busybox is the static busybox of package busybox-static, the whole
	// userland of the Initramfs guest.
	Busybox = "/bin/busybox"
	// OVMFSecureBootCode is OVMF built for Secure Boot (package ovmf; the
	// .ms.fd name is a link to OVMF_CODE_4M.secboot.fd), booted as
	// read-only pflash with SMM.
	OVMFSecureBootCode = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd"
	// OVMFSecureBootVars is its variable store with Secure Boot enforced:
	// PK and KEK Debian's and Microsoft's KEK CA 2011, db Microsoft's
	// Windows Production PCA 2011 and UEFI CA 2011 (which signed shim).
	OVMFSecureBootVars = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
)

// debianPackage names the package that ships each of the files above.
var debianPackage = map[string]string{
	OVMFImage: "ovmf",
	IPXEROM:   "ipxe-qemu",
	IPXEEFI:   "ipxe",
	IPXEBIOS:  "ipxe",
	Busybox:   "busybox-static",

	OVMFSecureBootCode: "ovmf",
	OVMFSecureBootVars: "ovmf",
}

// RequireFirmware needs root, qemu-system-x86_64 and the firmware images
// each of fws boots with (IPXEROM for BIOS, OVMFImage for UEFI PXE and UEFI
// HTTP).
func RequireFirmware(tb testing.TB, fws ...Firmware) {
	tb.Helper()
	RequireRoot(tb)
	RequireCmd(tb, "qemu-system-x86_64", "qemu-system-x86")
	for _, fw := range fws {
		for _, p := range fw.images() {
			RequireFile(tb, p, debianPackage[p])
		}
	}
}
