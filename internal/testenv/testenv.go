// Package testenv decides whether a test that needs root, a network namespace,
// a program from a Debian package or a guest kernel can run here. Outside CI
// such a test skips with a message that says what is missing and how to get
// it; in CI (CI=true) it fails instead, because CI installs everything.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run in CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test outside CI and fails it in CI, with what is missing
// and how to get it.
func Missing(tb testing.TB, what, howToGet string) {
	tb.Helper()
	msg := what + " is missing; " + howToGet
	if InCI() {
		tb.Fatal(msg + " (CI must provide it: see .ci/run)")
	}
	tb.Skip(msg)
}

// RequireRoot needs euid 0 (netns, veth, tap and raw DHCP sockets).
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "root", "run the tests as root (sudo make test)")
	}
}

// RequireCmd needs program name on PATH; pkg is the Debian package that
// ships it.
func RequireCmd(tb testing.TB, name, pkg string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, name, "apt-get install "+pkg)
	}
	return p
}

// RequireFile needs a file that a Debian package ships.
func RequireFile(tb testing.TB, path, pkg string) string {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(tb, path, "apt-get install "+pkg)
	}
	return path
}

// RepoRoot is the module root (where go.mod is), found from this file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Kernel is an unpacked Debian kernel package: the bootable image and the
// directory of its modules.
type Kernel struct {
	Vmlinuz    string // boot/vmlinuz-*
	ModulesDir string // lib/modules/<release>
}

// GuestKernel returns Debian's cloud kernel (6.1: virtio, bridge, 8021q) that
// `make testdeps` (and .ci/run) unpacks into .cache/kernel/cloud.
func GuestKernel(tb testing.TB) Kernel {
	tb.Helper()
	return GuestKernelFlavor(tb, "cloud")
}

// GuestKernelFlavor returns an unpacked kernel flavor from .cache/kernel:
// "cloud" or "bpo" (bookworm-backports' generic 6.12 kernel, with igb/igbvf
// SR-IOV and vfio-pci; its modules are .ko.xz). $PXEKIT_KERNEL_DIR overrides
// the cache root.
func GuestKernelFlavor(tb testing.TB, flavor string) Kernel {
	tb.Helper()
	root := os.Getenv("PXEKIT_KERNEL_DIR")
	if root == "" {
		root = filepath.Join(RepoRoot(), ".cache", "kernel")
	}
	dir := filepath.Join(root, flavor)
	vm, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(dir, "lib", "modules", "*"))
	if len(vm) == 0 || len(mods) == 0 {
		Missing(tb, "the guest kernel in "+dir, "run `make testdeps` (scripts/fetch-kernel.sh "+flavor+")")
	}
	return Kernel{Vmlinuz: vm[0], ModulesDir: mods[0]}
}
