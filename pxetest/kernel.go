package pxetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Kernel is an unpacked Debian kernel package: the bootable image and the
// directory of its modules.
type Kernel struct {
	Vmlinuz    string // boot/vmlinuz-*
	ModulesDir string // lib/modules/<release>
}

// KernelDirEnv names the environment variable holding the directory of
// unpacked guest kernels, one subdirectory per flavor ($PXEKIT_KERNEL_DIR/cloud).
const KernelDirEnv = "PXEKIT_KERNEL_DIR"

// pxekitModule is this module's path: inside its checkout, kernels are
// looked for in the checkout's .cache/kernel, where make testdeps puts them.
const pxekitModule = "github.com/pxekit/pxekit"

// kernelPackages is how each flavor's package is resolved: the Debian
// metapackage to follow, with the apt options it needs.
var kernelPackages = map[string]string{
	// Debian 12's cloud kernel: small, quick to boot, virtio, bridge, 8021q.
	"cloud": "linux-image-cloud-amd64",
	// bookworm-backports' generic 6.12 kernel: igb/igbvf SR-IOV, vfio-pci;
	// modules are .ko.xz.
	"bpo": "-t bookworm-backports linux-image-amd64",
}

// KernelAt reads an unpacked Debian kernel package at dir (dpkg -x
// linux-image-*.deb dir): boot/vmlinuz-* and lib/modules/<release>.
func KernelAt(dir string) (Kernel, error) {
	vm, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(dir, "lib", "modules", "*"))
	if len(vm) == 0 || len(mods) == 0 {
		return Kernel{}, fmt.Errorf("pxetest: no unpacked Debian kernel in %s (want boot/vmlinuz-* and lib/modules/*)", dir)
	}
	return Kernel{Vmlinuz: vm[0], ModulesDir: mods[0]}, nil
}

// FindKernel finds the guest kernel of a flavor ("cloud" or "bpo"): in
// $PXEKIT_KERNEL_DIR/<flavor> when that is set, else, when the tests run
// inside a pxekit checkout, in its .cache/kernel/<flavor>. The error says how
// to get one.
func FindKernel(flavor string) (Kernel, error) {
	root := os.Getenv(KernelDirEnv)
	inRepo := false
	if root == "" {
		if dir, mod, err := findModule(); err == nil && mod == pxekitModule {
			root, inRepo = filepath.Join(dir, ".cache", "kernel"), true
		}
	}
	if root == "" {
		return Kernel{}, fmt.Errorf("pxetest: no guest kernel: %s is not set; %s", KernelDirEnv, kernelRecipe(flavor, "$"+KernelDirEnv))
	}
	dir := filepath.Join(root, flavor)
	k, err := KernelAt(dir)
	if err == nil {
		return k, nil
	}
	if inRepo {
		return Kernel{}, fmt.Errorf("%w; run `make testdeps` (scripts/fetch-kernel.sh %s)", err, flavor)
	}
	return Kernel{}, fmt.Errorf("%w; %s", err, kernelRecipe(flavor, root))
}

// kernelRecipe is the shell recipe that unpacks flavor's kernel under root.
func kernelRecipe(flavor, root string) string {
	pkg, ok := kernelPackages[flavor]
	if !ok {
		return fmt.Sprintf("unpack a Debian kernel package into %s/%s (dpkg -x linux-image-*.deb %s/%s)", root, flavor, root, flavor)
	}
	return fmt.Sprintf("unpack one (Debian or Ubuntu, as root for apt-get): "+
		"d=$(mktemp -d) && chmod 755 $d && (cd $d && apt-get download $(apt-cache depends %s | awk '/Depends: linux-image-[0-9]/{print $2; exit}')) && "+
		"mkdir -p %s/%s && dpkg -x $d/linux-image-*.deb %s/%s && rm -rf $d", pkg, root, flavor, root, flavor)
}

// GuestKernel returns Debian's cloud kernel (6.1: virtio, bridge, 8021q),
// found as FindKernel says; when there is none the test skips, or fails in
// CI, with the recipe to unpack one.
func GuestKernel(tb testing.TB) Kernel {
	tb.Helper()
	return GuestKernelFlavor(tb, "cloud")
}

// GuestKernelFlavor is GuestKernel for another flavor: "bpo" is
// bookworm-backports' generic 6.12 kernel, with igb/igbvf SR-IOV and
// vfio-pci.
func GuestKernelFlavor(tb testing.TB, flavor string) Kernel {
	tb.Helper()
	k, err := FindKernel(flavor)
	if err != nil {
		Missing(tb, "the "+flavor+" guest kernel", err.Error())
	}
	return k
}

// ModuleRoot returns the root directory of the Go module under test (the
// nearest go.mod above the package directory go test runs in).
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	dir, _, err := findModule()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// findModule walks up from the working directory to the nearest go.mod and
// returns its directory and module path.
func findModule() (dir, module string, err error) {
	dir, err = os.Getwd()
	if err != nil {
		return "", "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			return dir, modulePath(b), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", errors.New("pxetest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// modulePath returns the module path a go.mod declares ("" if none): the
// first module directive, quoted or not, comments aside.
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		line, _, _ = strings.Cut(line, "//")
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" {
			if p, err := strconv.Unquote(f[1]); err == nil {
				return p
			}
			return f[1]
		}
	}
	return ""
}
