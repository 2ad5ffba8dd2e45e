package vmtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/pxetest"
)

// vlanModules is the load order TESTING.md verified for VLAN and bridge
// tests; Resolve would find llc, stp, garp and mrp by itself.
var vlanModules = []string{"8021q", "bridge", "veth"}

// TestBridgeVLANInGuest creates what the host kernel cannot: a bridge with
// vlan_filtering=1, a VLAN 100 access port and an 8021q link, checked by
// reading them back through netlink in the guest kernel.
func TestBridgeVLANInGuest(t *testing.T) {
	Run(t, Config{
		Kernel:  pxetest.GuestKernel(t),
		Modules: vlanModules,
		Append:  "pxekit.vmtest=append-works",
	}, func(t *testing.T) {
		cmdline, err := os.ReadFile("/proc/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(cmdline), "pxekit.vmtest=append-works") {
			t.Errorf("/proc/cmdline = %q, want Config.Append in it", cmdline)
		}
		// The package's testdata is there, relative to the working dir.
		if b, err := os.ReadFile("testdata/guest.txt"); err != nil || string(b) != "copied into the guest by vmtest\n" {
			t.Errorf("testdata/guest.txt in the guest: %q, %v", b, err)
		}
		// Only NETLINK_ROUTE: the default families also open XFRM and
		// NETFILTER sockets, which fail without those modules.
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()

		yes, pvid0 := true, uint16(0)
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br-vt"}, VlanFiltering: &yes, VlanDefaultPVID: &pvid0}
		if err := h.LinkAdd(br); err != nil {
			t.Fatalf("bridge with vlan_filtering: %v", err)
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vt-port"}, PeerName: "vt-peer"}
		if err := h.LinkAdd(veth); err != nil {
			t.Fatalf("veth: %v", err)
		}
		port, err := h.LinkByName("vt-port")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetMaster(port, br); err != nil {
			t.Fatalf("enslave: %v", err)
		}
		if err := h.BridgeVlanAdd(port, 100, true, true, false, true); err != nil {
			t.Fatalf("VLAN 100 pvid untagged: %v", err)
		}
		peer, err := h.LinkByName("vt-peer")
		if err != nil {
			t.Fatal(err)
		}
		vl := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "vt-peer.100", ParentIndex: peer.Attrs().Index}, VlanId: 100}
		if err := h.LinkAdd(vl); err != nil {
			t.Fatalf("8021q link: %v", err)
		}
		for _, l := range []netlink.Link{br, port, peer, vl} {
			if err := h.LinkSetUp(l); err != nil {
				t.Fatalf("up %s: %v", l.Attrs().Name, err)
			}
		}

		got, err := h.LinkByName("br-vt")
		if err != nil {
			t.Fatal(err)
		}
		gb, ok := got.(*netlink.Bridge)
		if !ok || gb.VlanFiltering == nil || !*gb.VlanFiltering {
			t.Errorf("br-vt: vlan_filtering not on: %#v", got)
		}
		if b, err := os.ReadFile("/sys/class/net/br-vt/bridge/vlan_filtering"); err != nil || strings.TrimSpace(string(b)) != "1" {
			t.Errorf("sysfs vlan_filtering = %q, %v; want 1", b, err)
		}
		gv, err := h.LinkByName("vt-peer.100")
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := gv.(*netlink.Vlan); !ok || v.VlanId != 100 || v.Attrs().ParentIndex != peer.Attrs().Index {
			t.Errorf("vt-peer.100 = %#v, want an 8021q link with VLAN 100 on vt-peer", gv)
		}
		vlans, err := h.BridgeVlanList()
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			t.Fatal(err)
		}
		var found []string
		for _, v := range vlans[int32(port.Attrs().Index)] {
			found = append(found, strconv.Itoa(int(v.Vid))+" pvid="+strconv.FormatBool(v.PortVID())+" untagged="+strconv.FormatBool(v.EngressUntag()))
		}
		if len(found) != 1 || found[0] != "100 pvid=true untagged=true" {
			t.Errorf("VLANs on vt-port = %v, want exactly [100 pvid=true untagged=true] (default PVID 0: no VLAN 1)", found)
		}
	})
}

// TestIGBSRIOVInGuest boots the backports kernel with QEMU's emulated
// Intel 82576 (-device igb, QEMU ≥ 8.0) behind an emulated VT-d IOMMU
// (what vfio-pci needs) and checks the PF offers 7 VFs and sits in an
// IOMMU group.
func TestIGBSRIOVInGuest(t *testing.T) {
	if testing.Short() && !pxetest.InCI() {
		t.Skip("about a minute under TCG; skipped with -short")
	}
	if !InGuest() {
		requireQEMUDevice(t, "igb")
	}
	Run(t, Config{
		Kernel:  pxetest.GuestKernelFlavor(t, "bpo"),
		Modules: []string{"igb", "vfio-pci"},
		// No netdev: the NIC needs no link for SR-IOV.
		QEMUArgs: []string{"-device", "intel-iommu", "-device", "igb"},
		Append:   "intel_iommu=on",
	}, func(t *testing.T) {
		groups, _ := filepath.Glob("/sys/kernel/iommu_groups/*/devices/*")
		if len(groups) == 0 {
			t.Error("no IOMMU groups: intel-iommu + intel_iommu=on did not enable VT-d")
		}
		paths, _ := filepath.Glob("/sys/class/net/*/device/sriov_totalvfs")
		if len(paths) == 0 {
			t.Fatal("no network device with SR-IOV (sriov_totalvfs) in the guest")
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != "7" {
				t.Errorf("%s = %s, want 7 (82576)", p, got)
			}
			dev := filepath.Dir(p)
			drv, _ := os.Readlink(filepath.Join(dev, "driver"))
			grp, err := os.Readlink(filepath.Join(dev, "iommu_group"))
			if err != nil {
				t.Errorf("%s: no iommu_group: %v", dev, err)
			}
			t.Logf("%s = 7, driver %s, IOMMU group %s", p, filepath.Base(drv), filepath.Base(grp))
		}
	})
}

// TestGuestFailureIsReported proves the host notices a failing guest test:
// the exit code comes back through the console marker, with the failure.
func TestGuestFailureIsReported(t *testing.T) {
	if InGuest() {
		t.Skip("host-side driver")
	}
	res, err := boot(t, Config{Kernel: pxetest.GuestKernel(t), Quiet: true}, "^TestGuestFailsOnPurpose$", "")
	if err == nil {
		t.Fatalf("boot of a failing guest test returned no error; console:\n%s", res.Console)
	}
	if res.ExitCode != 1 {
		t.Errorf("exit code = %d, want 1; console:\n%s", res.ExitCode, res.Console)
	}
	if !strings.Contains(res.Console, "--- FAIL: TestGuestFailsOnPurpose") || !strings.Contains(res.Console, "deliberate guest failure") {
		t.Errorf("console lacks the guest failure; console:\n%s", res.Console)
	}
	if !strings.Contains(err.Error(), "exit code 1") {
		t.Errorf("error %q does not give the exit code", err)
	}
}

// TestGuestFailsOnPurpose is the failing guest test behind
// TestGuestFailureIsReported.
func TestGuestFailsOnPurpose(t *testing.T) {
	GuestOnly(t, "TestGuestFailureIsReported")
	t.Error("deliberate guest failure")
}
