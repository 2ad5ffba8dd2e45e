package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sysfs is a sysfs tree: "/sys" on a host, a temp dir in tests.
type Sysfs struct {
	// Root is the sysfs mount point; empty means "/sys".
	Root string

	// write replaces writes to sysfs attributes in tests, where a fake
	// kernel must answer them: a temp dir has no driver to refuse a value.
	write func(path, value string) error
}

func (s Sysfs) writeAttr(path, value string) error {
	if s.write != nil {
		return s.write(path, value)
	}
	return writeSysfs(path, value)
}

// ErrNotSRIOV is returned for a PCI device without SR-IOV capability (no
// sriov_totalvfs).
var ErrNotSRIOV = errors.New("device has no SR-IOV capability (no sriov_totalvfs)")

func (s Sysfs) root() string {
	if s.Root == "" {
		return "/sys"
	}
	return s.Root
}

// PCIDevicePath is <root>/bus/pci/devices/<addr>.
func (s Sysfs) PCIDevicePath(addr string) string {
	return filepath.Join(s.root(), "bus", "pci", "devices", addr)
}

// NetPath is <root>/class/net/<name>.
func (s Sysfs) NetPath(name string) string {
	return filepath.Join(s.root(), "class", "net", name)
}

// PF is a physical function with SR-IOV capability.
type PF struct {
	// PCIAddress is the PF's address, e.g. 0000:19:00.2.
	PCIAddress string
	// Netdevs are the PF's network interfaces (usually one).
	Netdevs []string
	Vendor  string // hex, e.g. "8086"
	Device  string // hex, e.g. "10c9"
	Driver  string // "" when unbound
	// NUMANode is -1 when the platform does not say.
	NUMANode int
	// TotalVFs is sriov_totalvfs, the most VFs the device can have.
	TotalVFs int
	// NumVFs is sriov_numvfs, the VFs it has now.
	NumVFs int
	// VFs are the VFs that exist now, by index.
	VFs []VF
}

// Name is the PF's first netdev, or "".
func (p PF) Name() string {
	if len(p.Netdevs) == 0 {
		return ""
	}
	return p.Netdevs[0]
}

// VF is a virtual function of a PF.
type VF struct {
	// Index is the VF's number on its PF (virtfnN).
	Index int
	// PCIAddress is the VF's own PCI address.
	PCIAddress string
	// Vendor and Device are the VF's hex PCI ids.
	Vendor string
	Device string
	Driver string // "" when unbound, "vfio-pci", "igbvf", ...
	// Netdevs are the VF's interfaces; none when bound to vfio-pci.
	Netdevs []string
}

func readTrim(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func readInt(p string) (int, error) {
	v, err := readTrim(p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", p, v)
	}
	return n, nil
}

func readHexID(p string) (string, error) {
	v, err := readTrim(p)
	if err != nil {
		return "", err
	}
	return strings.ToLower(strings.TrimPrefix(v, "0x")), nil
}

// linkBase is the last element of a symlink's target, "" if p is no link.
func linkBase(p string) string {
	t, err := os.Readlink(p)
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

func listDir(p string) []string {
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// PCIAddressOf returns the PCI address behind a netdev
// (<root>/class/net/<name>/device).
func (s Sysfs) PCIAddressOf(netdev string) (string, error) {
	dev := filepath.Join(s.NetPath(netdev), "device")
	if _, err := os.Stat(s.NetPath(netdev)); err != nil {
		return "", fmt.Errorf("sriov/host: no network interface %q: %w", netdev, err)
	}
	addr := linkBase(dev)
	if addr == "" {
		return "", fmt.Errorf("sriov/host: %s is not a PCI device (no %s link)", netdev, dev)
	}
	return addr, nil
}

// PFByName reads the PF behind netdev.
func (s Sysfs) PFByName(netdev string) (PF, error) {
	addr, err := s.PCIAddressOf(netdev)
	if err != nil {
		return PF{}, err
	}
	return s.PF(addr)
}

// PF reads the PF at PCI address addr. A device without SR-IOV capability
// gives an error wrapping ErrNotSRIOV.
func (s Sysfs) PF(addr string) (PF, error) {
	dir := s.PCIDevicePath(addr)
	if _, err := os.Stat(dir); err != nil {
		return PF{}, fmt.Errorf("sriov/host: no PCI device %s: %w", addr, err)
	}
	total, err := readInt(filepath.Join(dir, "sriov_totalvfs"))
	if errors.Is(err, os.ErrNotExist) {
		return PF{}, fmt.Errorf("sriov/host: %s: %w", addr, ErrNotSRIOV)
	}
	if err != nil {
		return PF{}, fmt.Errorf("sriov/host: %s: %w", addr, err)
	}
	pf := PF{PCIAddress: addr, TotalVFs: total, NUMANode: -1}
	if pf.NumVFs, err = readInt(filepath.Join(dir, "sriov_numvfs")); err != nil {
		return PF{}, fmt.Errorf("sriov/host: %s: %w", addr, err)
	}
	if pf.Vendor, err = readHexID(filepath.Join(dir, "vendor")); err != nil {
		return PF{}, fmt.Errorf("sriov/host: %s: %w", addr, err)
	}
	if pf.Device, err = readHexID(filepath.Join(dir, "device")); err != nil {
		return PF{}, fmt.Errorf("sriov/host: %s: %w", addr, err)
	}
	if n, err := readInt(filepath.Join(dir, "numa_node")); err == nil {
		pf.NUMANode = n
	}
	pf.Driver = linkBase(filepath.Join(dir, "driver"))
	pf.Netdevs = listDir(filepath.Join(dir, "net"))
	for i := 0; ; i++ {
		vaddr := linkBase(filepath.Join(dir, "virtfn"+strconv.Itoa(i)))
		if vaddr == "" {
			break
		}
		vf, err := s.vf(i, vaddr)
		if err != nil {
			return PF{}, err
		}
		pf.VFs = append(pf.VFs, vf)
	}
	return pf, nil
}

func (s Sysfs) vf(i int, addr string) (VF, error) {
	dir := s.PCIDevicePath(addr)
	vf := VF{Index: i, PCIAddress: addr}
	var err error
	if vf.Vendor, err = readHexID(filepath.Join(dir, "vendor")); err != nil {
		return VF{}, fmt.Errorf("sriov/host: VF %d %s: %w", i, addr, err)
	}
	if vf.Device, err = readHexID(filepath.Join(dir, "device")); err != nil {
		return VF{}, fmt.Errorf("sriov/host: VF %d %s: %w", i, addr, err)
	}
	vf.Driver = linkBase(filepath.Join(dir, "driver"))
	vf.Netdevs = listDir(filepath.Join(dir, "net"))
	return vf, nil
}

// ListPFs reads every SR-IOV capable PCI device, sorted by PCI address.
func (s Sysfs) ListPFs() ([]PF, error) {
	dir := filepath.Join(s.root(), "bus", "pci", "devices")
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sriov/host: %w", err)
	}
	var out []PF
	for _, e := range names {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "sriov_totalvfs")); err != nil {
			continue
		}
		pf, err := s.PF(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, pf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PCIAddress < out[j].PCIAddress })
	return out, nil
}
