package host

import (
	_ "embed"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/internal/vmtest"
	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/sriov"
)

// The documented dpdk-sriovnetwork, embedded: the guest has no testdata dir.
//
//go:embed testdata/dpdk-sriovnetwork.yaml
var dpdkNetworkDoc []byte

// TestIgbSRIOV runs against real SR-IOV: QEMU 10's igb (an emulated Intel
// 82576, 8086:10c9, 7 VFs) under the backports 6.12 kernel's igb, igbvf and
// vfio-pci drivers, with an emulated Intel IOMMU so that a VF gets an IOMMU
// group and vfio-pci can take it. One boot runs the whole sequence (each
// step needs the state of the one before).
func TestIgbSRIOV(t *testing.T) {
	vmtest.Run(t, vmtest.Config{
		Kernel:  pxetest.GuestKernelFlavor(t, "bpo"),
		Modules: []string{"igb", "igbvf", "vfio-pci"},
		// intel-iommu before the NIC so the NIC sits behind it. vfio-pci
		// needs only DMA remapping (it gives each VF an IOMMU group, and
		// /dev/vfio/<group>); interrupt remapping is not needed, so it is
		// off. This works under TCG: no KVM, no kernel-irqchip=split.
		QEMUArgs: []string{"-device", "intel-iommu,intremap=off", "-device", "igb"},
		Append:   "intel_iommu=on",
		Timeout:  8 * time.Minute,
	}, guestIgb)
}

func guestIgb(t *testing.T) {
	s := Sysfs{}
	h, err := Netlink(netns.None())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	var pf PF
	t.Run("discover", func(t *testing.T) {
		pfs, err := s.ListPFs()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(pfs, func(p PF) bool { return p.Vendor == "8086" && p.Device == "10c9" })
		if i < 0 {
			t.Fatalf("no igb PF in %+v", pfs)
		}
		pf = pfs[i]
		t.Logf("PF %s %s driver %s NUMA %d totalvfs %d numvfs %d", pf.PCIAddress, pf.Name(), pf.Driver, pf.NUMANode, pf.TotalVFs, pf.NumVFs)
		if pf.TotalVFs != 7 || pf.NumVFs != 0 || pf.Driver != "igb" || pf.Name() == "" {
			t.Fatalf("igb PF = %+v, want 7 total VFs, 0 enabled, driver igb, a netdev", pf)
		}
	})
	if pf.PCIAddress == "" {
		t.FailNow()
	}

	t.Run("apply netdevice policy", func(t *testing.T) {
		p, err := sriov.NewNodePolicy("igb-netdevice", "igb_vfs").WithNumVFs(2).
			WithNIC("8086", "10c9").WithPFNames(pf.Name()).
			WithNodeSelector(map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"}).Build()
		if err != nil {
			t.Fatal(err)
		}
		res, err := ApplyNodePolicy(s, p, ApplyOptions{Netlink: h})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].PF.NumVFs != 2 || len(res[0].PF.VFs) != 2 {
			t.Fatalf("applied %+v", res)
		}
		for _, vf := range res[0].PF.VFs {
			t.Logf("VF%d %s %s:%s driver %s netdevs %v", vf.Index, vf.PCIAddress, vf.Vendor, vf.Device, vf.Driver, vf.Netdevs)
			if vf.Device != "10ca" || vf.Driver != "igbvf" || len(vf.Netdevs) != 1 {
				t.Errorf("VF%d = %+v, want 8086:10ca on igbvf with a netdev", vf.Index, vf)
			}
		}
		pf = res[0].PF
	})

	t.Run("numvfs changes through 0", func(t *testing.T) {
		p := filepath.Join(s.PCIDevicePath(pf.PCIAddress), "sriov_numvfs")
		// The kernel's own rule, shown directly: 2 -> 3 is refused.
		err := os.WriteFile(p, []byte("3"), 0)
		if !errors.Is(err, unix.EBUSY) {
			t.Errorf("writing 3 over 2 VFs: %v, want EBUSY", err)
		}
		if err := s.SetNumVFs(pf.PCIAddress, 3); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.PF(pf.PCIAddress); got.NumVFs != 3 || len(got.VFs) != 3 {
			t.Fatalf("after 3: %+v", got)
		}
		err = s.SetNumVFs(pf.PCIAddress, 8)
		var ne *NumVFsError
		if !errors.As(err, &ne) || ne.Total != 7 {
			t.Errorf("8 VFs: %v", err)
		}
		// Stay at 3: every change costs seconds of VF teardown under TCG.
		pf, _ = s.PF(pf.PCIAddress)
	})

	mac, _ := net.ParseMAC("02:00:00:00:03:fb")
	t.Run("VF0 as the documented dpdk-sriovnetwork", func(t *testing.T) {
		n, errs := sriov.DecodeNetwork(dpdkNetworkDoc)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		cfg := VFConfigFromNetwork(n, mac)
		st, err := ConfigureVF(h, pf.Name(), 0, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("VF0 read back: %+v", st)
		if st.VLAN != 1019 || st.QoS != 0 || st.SpoofChk || !st.Trust || st.MAC.String() != mac.String() {
			t.Errorf("VF0 = %+v, want vlan 1019, spoofchk off, trust on, MAC %s", st, mac)
		}
		// And back to the defaults, read back again.
		zero, on, off := 0, true, false
		st, err = ConfigureVF(h, pf.Name(), 0, VFConfig{VLAN: &zero, SpoofChk: &on, Trust: &off})
		if err != nil || st.VLAN != 0 || !st.SpoofChk || st.Trust {
			t.Errorf("reset: %+v %v", st, err)
		}
	})

	t.Run("refusals per field", func(t *testing.T) {
		// igb's ndo_set_vf_bw: a max rate needs the PF link up (it is
		// checked against the link speed), a min rate is always EINVAL —
		// The documented "Intel NICs do not support minTxRate" — and igb
		// has no ndo_set_vf_link_state at all.
		l, err := h.LinkByName(pf.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetDown(l); err != nil {
			t.Fatal(err)
		}
		rate, minRate, vlan := 100, 10, 1019
		_, err = ConfigureVF(h, pf.Name(), 0, VFConfig{MAC: mac, MaxTxRate: &rate, LinkState: sriov.LinkStateEnable})
		var ve *VFError
		if !errors.As(err, &ve) {
			t.Fatalf("want a VFError, got %v", err)
		}
		t.Logf("igb, PF link down: %v", err)
		if _, ok := ve.Field("macAddress"); ok {
			t.Errorf("MAC refused: %v", err)
		}
		if r, ok := ve.Field("maxTxRate"); !ok || !errors.Is(r.Err, unix.EINVAL) {
			t.Errorf("maxTxRate with the link down: %+v, want EINVAL", r)
		}
		if r, ok := ve.Field("linkState"); !ok || !IsNotSupported(r.Err) {
			t.Errorf("linkState: %+v, want EOPNOTSUPP (igb has no ndo_set_vf_link_state)", r)
		}

		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		waitCarrier(t, h, pf.Name())
		st, err := ConfigureVF(h, pf.Name(), 0, VFConfig{MaxTxRate: &rate})
		if err != nil || st.MaxTxRate != rate {
			t.Errorf("maxTxRate with the link up: %+v %v, want %d read back", st, err, rate)
		}
		_, err = ConfigureVF(h, pf.Name(), 0, VFConfig{MinTxRate: &minRate, MaxTxRate: &rate})
		if !errors.As(err, &ve) {
			t.Fatalf("minTxRate: want a VFError, got %v", err)
		}
		t.Logf("igb, PF link up: %v", err)
		if r, ok := ve.Field("minTxRate"); !ok || !errors.Is(r.Err, unix.EINVAL) {
			t.Errorf("minTxRate: %+v, want EINVAL", r)
		}
		if r, ok := ve.Field("maxTxRate"); ok {
			t.Errorf("maxTxRate blamed with the min rate: %+v", r)
		}
		zero := 0
		if _, err := ConfigureVF(h, pf.Name(), 0, VFConfig{MaxTxRate: &zero}); err != nil {
			t.Errorf("clearing the rate: %v", err)
		}

		_, err = ConfigureVF(h, pf.Name(), 0, VFConfig{VLAN: &vlan, Proto: VLANProto8021AD})
		if !errors.As(err, &ve) {
			t.Fatalf("802.1ad: want a VFError, got %v", err)
		}
		t.Logf("igb: %v", err)
		if r, ok := ve.Field("vlanProto"); !ok || !errors.Is(r.Err, unix.EPROTONOSUPPORT) {
			t.Errorf("802.1ad: %+v, want EPROTONOSUPPORT", r)
		}
	})

	t.Run("VF1 to vfio-pci and back", func(t *testing.T) {
		vf1 := pf.VFs[1].PCIAddress
		group := linkBase(filepath.Join(s.PCIDevicePath(vf1), "iommu_group"))
		t.Logf("VF1 %s IOMMU group %q", vf1, group)
		if err := s.BindDriver(vf1, VfioPCI); err != nil {
			t.Fatal(err)
		}
		got, _ := s.PF(pf.PCIAddress)
		if got.VFs[1].Driver != VfioPCI || len(got.VFs[1].Netdevs) != 0 {
			t.Fatalf("VF1 = %+v, want vfio-pci without a netdev", got.VFs[1])
		}
		if _, err := os.Stat("/dev/vfio/" + group); err != nil {
			t.Errorf("vfio group device: %v", err)
		}
		if err := s.BindDefaultDriver(vf1); err != nil {
			t.Fatal(err)
		}
		if d := s.Driver(vf1); d != "igbvf" {
			t.Errorf("VF1 back on %q, want igbvf", d)
		}
	})

	t.Run("apply vfio-pci policy with a VF range", func(t *testing.T) {
		p, err := sriov.NewNodePolicy("igb-dpdk", "igb_dpdk").WithNumVFs(3).
			WithDeviceType(sriov.DeviceTypeVfioPCI).WithNIC("8086", "10c9").
			WithPFNames(pf.Name() + "#1-1").WithRootDevices(pf.PCIAddress).
			WithNodeSelector(map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"}).Build()
		if err != nil {
			t.Fatal(err)
		}
		res, err := ApplyNodePolicy(s, p, ApplyOptions{Netlink: h})
		if err != nil {
			t.Fatal(err)
		}
		vfs := res[0].PF.VFs
		if vfs[0].Driver != "igbvf" || vfs[1].Driver != VfioPCI || !slices.Equal(res[0].Selected, []int{1}) {
			t.Errorf("drivers %s/%s selected %v, want igbvf/vfio-pci [1]", vfs[0].Driver, vfs[1].Driver, res[0].Selected)
		}
		// The mismatch OpenShift's documentation warns about, caught on
		// the node.
		p.Spec.NicSelector.RootDevices = []string{"0000:00:1f.0"}
		if _, err := ApplyNodePolicy(s, p, ApplyOptions{Netlink: h}); err == nil {
			t.Error("pfNames and rootDevices naming different devices was applied")
		} else {
			t.Logf("%v", err)
		}
	})
}

// waitCarrier waits for the PF's link to come up (igb checks the link
// before it takes a rate). Not a timing assertion: it only bounds the wait.
func waitCarrier(t *testing.T, h *netlink.Handle, name string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		l, err := h.LinkByName(name)
		if err == nil && l.Attrs().RawFlags&unix.IFF_RUNNING != 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s has no carrier", name)
}
