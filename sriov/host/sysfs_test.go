package host

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// An igb-like PF (QEMU's 82576: 7 VFs), an X710-like PF on NUMA node 1,
// and an e1000e with no SR-IOV.
func lab(t *testing.T) *fakeKernel {
	k := newFakeKernel(t)
	k.addPF(fakePF{addr: "0000:01:00.0", netdev: "ens1", vendor: "8086", device: "10c9", driver: "igb", total: 7, numa: -1, vfDevice: "10ca", vfDriver: "igbvf"})
	k.addPF(fakePF{addr: "0000:19:00.2", netdev: "eno3", vendor: "8086", device: "1572", driver: "igb", total: 64, numa: 1, vfDevice: "154c", vfDriver: "igbvf"})
	k.addPF(fakePF{addr: "0000:02:00.0", netdev: "enp2s0", vendor: "8086", device: "10d3", driver: "igb", total: -1})
	return k
}

func TestDiscover(t *testing.T) {
	k := lab(t)
	s := k.sysfs()
	pfs, err := s.ListPFs()
	if err != nil {
		t.Fatal(err)
	}
	if len(pfs) != 2 || pfs[0].PCIAddress != "0000:01:00.0" || pfs[1].PCIAddress != "0000:19:00.2" {
		t.Fatalf("ListPFs = %+v, want the two SR-IOV PFs only", pfs)
	}
	p := pfs[1]
	if p.Name() != "eno3" || p.Vendor != "8086" || p.Device != "1572" || p.Driver != "igb" || p.NUMANode != 1 || p.TotalVFs != 64 || p.NumVFs != 0 || len(p.VFs) != 0 {
		t.Errorf("eno3 = %+v", p)
	}
	if err := s.SetNumVFs("0000:01:00.0", 2); err != nil {
		t.Fatal(err)
	}
	p, err = s.PFByName("ens1")
	if err != nil {
		t.Fatal(err)
	}
	if p.NumVFs != 2 || len(p.VFs) != 2 || p.NUMANode != -1 {
		t.Fatalf("ens1 = %+v", p)
	}
	vf := p.VFs[1]
	if vf.Index != 1 || vf.PCIAddress != "0000:01:10.2" || vf.Device != "10ca" || vf.Driver != "igbvf" || len(vf.Netdevs) != 1 {
		t.Errorf("VF1 = %+v", vf)
	}
}

func TestNotSRIOV(t *testing.T) {
	s := lab(t).sysfs()
	_, err := s.PFByName("enp2s0")
	if !errors.Is(err, ErrNotSRIOV) {
		t.Fatalf("want ErrNotSRIOV, got %v", err)
	}
	if !strings.Contains(err.Error(), "0000:02:00.0") {
		t.Errorf("error does not name the device: %v", err)
	}
	if _, err := s.PFByName("nope0"); err == nil {
		t.Error("a missing netdev was found")
	}
	if err := s.SetNumVFs("0000:02:00.0", 1); !errors.Is(err, ErrNotSRIOV) {
		t.Errorf("SetNumVFs on a non-SR-IOV device: %v", err)
	}
}

func TestSetNumVFsOverTotal(t *testing.T) {
	k := lab(t)
	err := k.sysfs().SetNumVFs("0000:01:00.0", 8)
	var ne *NumVFsError
	if !errors.As(err, &ne) || ne.Total != 7 || ne.Want != 8 {
		t.Fatalf("want a NumVFsError 8 > 7, got %v", err)
	}
	if !strings.Contains(err.Error(), "exceeds sriov_totalvfs 7") {
		t.Errorf("message: %v", err)
	}
	if len(k.writes) != 0 {
		t.Errorf("wrote %v before refusing", k.writes)
	}
}

// The kernel only changes a non-zero count through 0; the fake kernel
// answers EBUSY otherwise, as drivers/pci/iov.c does.
func TestSetNumVFsThroughZero(t *testing.T) {
	k := lab(t)
	s := k.sysfs()
	for _, n := range []int{2, 5, 5, 0} {
		if err := s.SetNumVFs("0000:01:00.0", n); err != nil {
			t.Fatalf("numvfs %d: %v", n, err)
		}
		if got := k.read("bus/pci/devices/0000:01:00.0/sriov_numvfs"); got != string(rune('0'+n)) {
			t.Fatalf("numvfs reads %s, want %d", got, n)
		}
	}
	want := []string{"=2", "=0", "=5", "=0"}
	if len(k.writes) != len(want) {
		t.Fatalf("writes %v", k.writes)
	}
	for i, w := range want {
		if !strings.HasSuffix(k.writes[i], "sriov_numvfs"+w) {
			t.Errorf("write %d = %s, want sriov_numvfs%s", i, k.writes[i], w)
		}
	}
}

func TestSetNumVFsDriverRefuses(t *testing.T) {
	k := lab(t)
	k.refuseNumVFs = syscall.ENOMEM
	err := k.sysfs().SetNumVFs("0000:01:00.0", 2)
	var ne *NumVFsError
	if !errors.As(err, &ne) || !errors.Is(err, syscall.ENOMEM) || ne.Got != 0 {
		t.Fatalf("want the driver's ENOMEM, got %v", err)
	}
	if !strings.Contains(err.Error(), "the driver refused sriov_numvfs=2") {
		t.Errorf("message: %v", err)
	}
}

func TestBindVfioAndBack(t *testing.T) {
	k := lab(t)
	s := k.sysfs()
	if err := s.SetNumVFs("0000:01:00.0", 2); err != nil {
		t.Fatal(err)
	}
	vf1 := "0000:01:10.2"
	if err := s.BindDriver(vf1, VfioPCI); err != nil {
		t.Fatal(err)
	}
	pf, _ := s.PF("0000:01:00.0")
	if pf.VFs[1].Driver != VfioPCI || len(pf.VFs[1].Netdevs) != 0 || pf.VFs[0].Driver != "igbvf" {
		t.Fatalf("after bind: %+v", pf.VFs)
	}
	if got := k.read("bus/pci/devices/" + vf1 + "/driver_override"); got != VfioPCI {
		t.Errorf("driver_override = %s", got)
	}
	if err := s.BindDefaultDriver(vf1); err != nil {
		t.Fatal(err)
	}
	if d := s.Driver(vf1); d != "igbvf" {
		t.Errorf("back to %q, want igbvf", d)
	}
	if got := k.read("bus/pci/devices/" + vf1 + "/driver_override"); got != "(null)" {
		t.Errorf("driver_override not cleared: %s", got)
	}
}

func TestBindVfioRefused(t *testing.T) {
	k := lab(t)
	k.noVfio = true
	s := k.sysfs()
	if err := s.SetNumVFs("0000:01:00.0", 1); err != nil {
		t.Fatal(err)
	}
	err := s.BindDriver("0000:01:10.0", VfioPCI)
	var de *DriverError
	if !errors.As(err, &de) || de.Got != "" || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("want a DriverError with the probe's EINVAL, got %v", err)
	}
	if !strings.Contains(err.Error(), "IOMMU") || !strings.Contains(err.Error(), "now bound to no driver") {
		t.Errorf("message does not explain: %v", err)
	}
}
