package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fakeKernel is a sysfs tree in a temp dir plus the kernel behaviour its
// attribute writes need: no real kernel here has SR-IOV, and some paths
// (a device with no SR-IOV capability, a driver refusing numvfs) no
// emulator reaches. It follows drivers/pci/iov.c and bus.c: sriov_numvfs
// only changes through 0 (EBUSY otherwise) and not past sriov_totalvfs
// (ERANGE); creating VFs adds virtfnN links and probes the VF driver;
// drivers_probe binds to driver_override, or to the default driver.
type fakeKernel struct {
	t    *testing.T
	root string
	// refuseNumVFs makes the PF driver fail enabling VFs, like a driver
	// whose pci_enable_sriov fails.
	refuseNumVFs error
	// noVfio: vfio-pci cannot take devices (no IOMMU group).
	noVfio bool
	writes []string
}

type fakePF struct {
	addr, netdev, vendor, device, driver string
	total, numa                          int
	vfDevice, vfDriver                   string
}

func newFakeKernel(t *testing.T) *fakeKernel {
	root := t.TempDir()
	k := &fakeKernel{t: t, root: root}
	for _, d := range []string{"bus/pci/devices", "bus/pci/drivers/igb", "bus/pci/drivers/igbvf", "bus/pci/drivers/vfio-pci", "class/net"} {
		k.mkdir(d)
	}
	k.file("bus/pci/drivers_probe", "")
	return k
}

func (k *fakeKernel) sysfs() Sysfs { return Sysfs{Root: k.root, write: k.write} }

func (k *fakeKernel) mkdir(rel string) {
	if err := os.MkdirAll(filepath.Join(k.root, rel), 0o755); err != nil {
		k.t.Fatal(err)
	}
}

func (k *fakeKernel) file(rel, v string) {
	if err := os.WriteFile(filepath.Join(k.root, rel), []byte(v), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

func (k *fakeKernel) link(rel, target string) {
	p := filepath.Join(k.root, rel)
	_ = os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		k.t.Fatal(err)
	}
}

func (k *fakeKernel) dev(addr string) string { return "bus/pci/devices/" + addr }

// addDevice adds a PCI device; total < 0 means no SR-IOV capability.
func (k *fakeKernel) addPF(p fakePF) {
	d := k.dev(p.addr)
	k.mkdir(d)
	k.file(d+"/vendor", "0x"+p.vendor+"\n")
	k.file(d+"/device", "0x"+p.device+"\n")
	k.file(d+"/numa_node", strconv.Itoa(p.numa)+"\n")
	k.file(d+"/driver_override", "(null)\n")
	if p.total >= 0 {
		k.file(d+"/sriov_totalvfs", strconv.Itoa(p.total)+"\n")
		k.file(d+"/sriov_numvfs", "0\n")
		// Where this fake puts the VF config (real sysfs has
		// sriov_vf_device too).
		k.file(d+"/sriov_vf_device", p.vfDevice+"\n")
		k.file(d+"/.vfdriver", p.vfDriver)
	}
	if p.driver != "" {
		k.link(d+"/driver", "../../drivers/"+p.driver)
	}
	if p.netdev != "" {
		k.mkdir(d + "/net/" + p.netdev)
		k.mkdir("class/net/" + p.netdev)
		k.link("class/net/"+p.netdev+"/device", "../../../"+d)
	}
}

func (k *fakeKernel) read(rel string) string {
	b, err := os.ReadFile(filepath.Join(k.root, rel))
	if err != nil {
		k.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// vfAddr: VF i of PF 0000:BB:00.F is 0000:BB:10.(2i+F), as igb lays them.
func vfAddr(pf string, i int) string {
	return fmt.Sprintf("%s:10.%d", pf[:7], 2*i)
}

func (k *fakeKernel) write(path, value string) error {
	rel, err := filepath.Rel(k.root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		k.t.Fatalf("write outside the fake sysfs: %s", path)
	}
	k.writes = append(k.writes, rel+"="+strings.TrimSpace(value))
	base := filepath.Base(rel)
	dir := filepath.Dir(rel)
	switch {
	case base == "sriov_numvfs":
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return syscall.EINVAL
		}
		cur, _ := strconv.Atoi(k.read(rel))
		total, _ := strconv.Atoi(k.read(dir + "/sriov_totalvfs"))
		if n == cur {
			return nil
		}
		if cur != 0 && n != 0 {
			return syscall.EBUSY
		}
		if n > total {
			return syscall.ERANGE
		}
		if n > 0 && k.refuseNumVFs != nil {
			return k.refuseNumVFs
		}
		pf := filepath.Base(dir)
		for i := 0; i < cur; i++ {
			os.Remove(filepath.Join(k.root, dir, "virtfn"+strconv.Itoa(i)))
			os.RemoveAll(filepath.Join(k.root, k.dev(vfAddr(pf, i))))
		}
		for i := 0; i < n; i++ {
			va := vfAddr(pf, i)
			vd := k.dev(va)
			k.mkdir(vd)
			k.file(vd+"/vendor", k.read(dir+"/vendor")+"\n")
			k.file(vd+"/device", "0x"+k.read(dir+"/sriov_vf_device")+"\n")
			k.file(vd+"/driver_override", "(null)\n")
			k.link(vd+"/physfn", "../"+pf)
			k.link(dir+"/virtfn"+strconv.Itoa(i), "../"+va)
			k.probe(va)
		}
		k.file(rel, strconv.Itoa(n)+"\n")
		return nil
	case base == "driver_override":
		v := strings.TrimSpace(value)
		if v == "" {
			v = "(null)"
		}
		k.file(rel, v+"\n")
		return nil
	case base == "unbind":
		addr := strings.TrimSpace(value)
		os.Remove(filepath.Join(k.root, k.dev(addr), "driver"))
		os.RemoveAll(filepath.Join(k.root, k.dev(addr), "net"))
		return nil
	case rel == "bus/pci/drivers_probe":
		addr := strings.TrimSpace(value)
		if _, err := os.Stat(filepath.Join(k.root, k.dev(addr))); err != nil {
			return syscall.ENODEV
		}
		return k.probe(addr)
	}
	k.t.Fatalf("the fake kernel does not know %s", rel)
	return nil
}

// probe binds addr to its override or default driver.
func (k *fakeKernel) probe(addr string) error {
	d := k.dev(addr)
	if _, err := os.Lstat(filepath.Join(k.root, d, "driver")); err == nil {
		return nil
	}
	drv := k.read(d + "/driver_override")
	if drv == "(null)" {
		phys, err := os.Readlink(filepath.Join(k.root, d, "physfn"))
		if err != nil {
			return syscall.ENODEV
		}
		drv = k.read(k.dev(filepath.Base(phys)) + "/.vfdriver")
	}
	if drv == "vfio-pci" && k.noVfio {
		return syscall.EINVAL
	}
	if _, err := os.Stat(filepath.Join(k.root, "bus/pci/drivers", drv)); err != nil {
		return syscall.ENODEV
	}
	k.link(d+"/driver", "../../drivers/"+drv)
	if drv != "vfio-pci" {
		k.mkdir(d + "/net/eth" + strings.ReplaceAll(addr[5:], ":", ""))
	}
	return nil
}
