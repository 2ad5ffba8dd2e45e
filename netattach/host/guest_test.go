//go:build linux

package host

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/internal/vmtest"
	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/pxetest"
)

// TestGuestKernel boots the Debian cloud kernel (which has 8021q and bridge
// VLAN filtering, unlike the host's) and runs the TestGuest* tests in it.
func TestGuestKernel(t *testing.T) {
	if vmtest.InGuest() {
		t.Skip("host-side driver")
	}
	vmtest.Run(t, vmtest.Config{
		Kernel:  pxetest.GuestKernel(t),
		Modules: []string{"llc", "stp", "garp", "mrp", "8021q", "bridge", "veth"},
		TestRun: "^TestGuest[A-Z]",
	}, nil)
}

// guestNetns makes a named namespace inside the guest (the guest has no
// iproute2) and a netlink handle in it for setting up and checking.
func guestNetns(t *testing.T) (string, *netlink.Handle) {
	t.Helper()
	name, h, _ := guestNetnsNamed(t, t.Name()[len("TestGuest"):])
	return name, h
}

// guestNetnsNamed is guestNetns with a name suffix; it also returns the
// namespace's handle (closed when the test ends).
func guestNetnsNamed(t *testing.T, suffix string) (string, *netlink.Handle, netns.NsHandle) {
	t.Helper()
	name := fmt.Sprintf("g%d-%s", os.Getpid(), suffix)
	ns, err := func() (netns.NsHandle, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return 0, err
		}
		defer orig.Close()
		ns, err := netns.NewNamed(name) // moves this thread into it
		if serr := netns.Set(orig); serr != nil {
			panic("cannot return to the original namespace: " + serr.Error())
		}
		return ns, err
	}()
	if err != nil {
		t.Fatalf("new netns %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if lo, err := h.LinkByName("lo"); err == nil {
		_ = h.LinkSetUp(lo)
	}
	return name, h, ns
}

func guestVeth(t *testing.T, h *netlink.Handle, name, peer string) {
	t.Helper()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
		t.Fatalf("veth %s: %v", name, err)
	}
}

// guestVLANs reads a port's VLANs straight from the kernel.
func guestVLANs(t *testing.T, h *netlink.Handle, port string) map[uint16]vlanFlags {
	t.Helper()
	l, err := h.LinkByName(port)
	if err != nil {
		t.Fatal(err)
	}
	all, err := h.BridgeVlanList()
	if err != nil {
		t.Fatal(err)
	}
	return vlanInfoSet(all[int32(l.Attrs().Index)])
}

func guestLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return l
}

// vlanPolicy is the documented bridge with what a VLAN-carrying node needs: eth1
// an access port in VLAN 100, eth2 a trunk of 200-202, the host on VLAN 100
// through an 8021q link on the bridge, jumbo frames throughout.
func vlanPolicy() netattach.State {
	return netattach.State{Interfaces: []netattach.Interface{
		{Name: "eth1", Type: netattach.TypeEthernet, State: netattach.StateUp, MTU: 9000},
		{Name: "eth2", Type: netattach.TypeEthernet, State: netattach.StateUp, MTU: 9000},
		{Name: "br1", Type: netattach.TypeLinuxBridge, State: netattach.StateUp, MTU: 9000,
			IPv4: &netattach.IPConfig{Enabled: false},
			Bridge: &netattach.BridgeConfig{
				Options: &netattach.BridgeOptions{STP: &netattach.STPOptions{Enabled: false}},
				Port: []netattach.BridgePort{
					{Name: "eth1", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 100}},
					{Name: "eth2", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeTrunk,
						TrunkTags: []netattach.TrunkTag{{IDRange: &netattach.IDRange{Min: 200, Max: 202}}}}},
				}}},
		{Name: "br1.100", Type: netattach.TypeVLAN, State: netattach.StateUp, MTU: 9000,
			VLAN: &netattach.VLANConfig{BaseIface: "br1", ID: 100},
			IPv4: &netattach.IPConfig{Enabled: true, Address: []netattach.IPAddress{{IP: "192.0.2.1", PrefixLength: 24}}}},
	}}
}

func TestGuestVLANPolicy(t *testing.T) {
	vmtest.GuestOnly(t, "TestGuestKernel")
	ns, nh := guestNetns(t)
	guestVeth(t, nh, "eth1", "eth1p")
	guestVeth(t, nh, "eth2", "eth2p")
	h := &Host{NetNS: ns}
	ctx := context.Background()
	plan, err := h.Plan(ctx, vlanPolicy())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan:\n%s", plan)
	if _, err := h.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}

	br := guestLink(t, nh, "br1").(*netlink.Bridge)
	if br.VlanFiltering == nil || !*br.VlanFiltering {
		t.Error("br1: VLAN filtering is off")
	}
	if got, want := guestVLANs(t, nh, "eth1"), map[uint16]vlanFlags{100: {PVID: true, Untagged: true}}; !maps.Equal(got, want) {
		t.Errorf("eth1 VLANs %s, want %s (VLAN 1 gone)", describeVLANs(got), describeVLANs(want))
	}
	if got, want := guestVLANs(t, nh, "eth2"), map[uint16]vlanFlags{200: {}, 201: {}, 202: {}}; !maps.Equal(got, want) {
		t.Errorf("eth2 VLANs %s, want %s", describeVLANs(got), describeVLANs(want))
	}
	v, ok := guestLink(t, nh, "br1.100").(*netlink.Vlan)
	if !ok || v.VlanId != 100 || v.ParentIndex != br.Index {
		t.Errorf("br1.100 = %+v, want VLAN 100 on br1", v)
	}
	for _, name := range []string{"eth1", "eth2", "br1", "br1.100"} {
		if l := guestLink(t, nh, name); l.Attrs().MTU != 9000 || l.Attrs().Flags&unix.IFF_UP == 0 {
			t.Errorf("%s: mtu %d flags %v, want 9000 and up", name, l.Attrs().MTU, l.Attrs().Flags)
		}
	}
	addrs, err := nh.AddrList(guestLink(t, nh, "br1.100"), netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != "192.0.2.1/24" {
		t.Errorf("br1.100 IPv4 %v (%v), want 192.0.2.1/24", addrs, err)
	}

	again, err := h.Plan(ctx, vlanPolicy())
	if err != nil || !again.Empty() {
		t.Errorf("second plan: %v %v", again, err)
	}

	removed, err := h.Remove(ctx, vlanPolicy())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("removed: %q", actions(removed))
	for _, name := range []string{"br1", "br1.100"} {
		if _, err := nh.LinkByName(name); err == nil {
			t.Errorf("%s survived Remove", name)
		}
	}
	if l := guestLink(t, nh, "eth1"); l.Attrs().MasterIndex != 0 {
		t.Error("eth1 still enslaved")
	}
}

// TestGuestAttachCNI attaches VM ports the bridge CNI way (the documented NAD:
// vlan 100, preserveDefaultVlan false) and with the CNI defaults.
func TestGuestAttachCNI(t *testing.T) {
	vmtest.GuestOnly(t, "TestGuestKernel")
	ns, nh := guestNetns(t)
	guestVeth(t, nh, "vm0", "vm0p")
	guestVeth(t, nh, "vm1", "vm1p")
	if err := nh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br1"}}); err != nil {
		t.Fatal(err)
	}
	h := &Host{NetNS: ns}
	ctx := context.Background()
	no := false
	for _, tc := range []struct {
		a    PortAttachment
		want map[uint16]vlanFlags
	}{
		{PortAttachment{Bridge: "br1", Port: "vm0", VLAN: 100, PreserveDefaultVLAN: &no,
			Trunk: []VLANRange{{Min: 300, Max: 301}}, Up: true},
			map[uint16]vlanFlags{100: {PVID: true, Untagged: true}, 300: {}, 301: {}}},
		// preserveDefaultVlan defaults to true: VLAN 1 stays, untagged, no
		// longer the PVID.
		{PortAttachment{Bridge: "br1", Port: "vm1", VLAN: 100, Up: true},
			map[uint16]vlanFlags{1: {Untagged: true}, 100: {PVID: true, Untagged: true}}},
	} {
		plan, err := h.PlanAttach(ctx, tc.a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Apply(ctx, plan); err != nil {
			t.Fatalf("%s: %v", tc.a.Port, err)
		}
		if got := guestVLANs(t, nh, tc.a.Port); !maps.Equal(got, tc.want) {
			t.Errorf("%s VLANs %s, want %s", tc.a.Port, describeVLANs(got), describeVLANs(tc.want))
		}
		if again, err := h.PlanAttach(ctx, tc.a); err != nil || !again.Empty() {
			t.Errorf("%s: second attach plan %v %v", tc.a.Port, again, err)
		}
	}
	br := guestLink(t, nh, "br1").(*netlink.Bridge)
	if br.VlanFiltering == nil || !*br.VlanFiltering {
		t.Error("attach with a VLAN left VLAN filtering off")
	}
}

// TestGuestRollbackVLANs: a step the kernel refuses after port VLANs were
// changed puts back exactly the VLANs the ports had (eth1: the kernel
// default, VLAN 1), releases the ports, restores MTUs and deletes the 8021q
// link made before.
func TestGuestRollbackVLANs(t *testing.T) {
	vmtest.GuestOnly(t, "TestGuestKernel")
	ns, nh := guestNetns(t)
	guestVeth(t, nh, "eth1", "eth1p")
	guestVeth(t, nh, "eth2", "eth2p")
	f := true
	if err := nh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br1"}, VlanFiltering: &f}); err != nil {
		t.Fatal(err)
	}
	if err := nh.LinkSetMaster(guestLink(t, nh, "eth1"), guestLink(t, nh, "br1")); err != nil {
		t.Fatal(err)
	}
	before := guestVLANs(t, nh, "eth1")
	policy := vlanPolicy()
	h := &Host{NetNS: ns}
	h.beforeStep = func(i int, st Step) {
		if st.String() == "add-address br1.100 192.0.2.1/24" {
			// Someone else got there first: the kernel answers EEXIST.
			a, _ := netlink.ParseAddr("192.0.2.1/24")
			if err := nh.AddrAdd(guestLink(t, nh, "br1.100"), a); err != nil {
				t.Errorf("injecting the conflict: %v", err)
			}
		}
	}
	ctx := context.Background()
	plan, err := h.Plan(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Apply(ctx, plan)
	var se *StepError
	if !errors.As(err, &se) || se.RollbackErr != nil || !errors.Is(err, unix.EEXIST) {
		t.Fatalf("apply: %v, want EEXIST and a clean rollback", err)
	}
	t.Logf("error: %v", err)
	if got := guestVLANs(t, nh, "eth1"); !maps.Equal(got, before) {
		t.Errorf("eth1 VLANs after rollback %s, want %s", describeVLANs(got), describeVLANs(before))
	}
	if _, err := nh.LinkByName("br1.100"); err == nil {
		t.Error("br1.100 survived the rollback")
	}
	for _, name := range []string{"eth1", "eth2"} {
		if l := guestLink(t, nh, name); l.Attrs().MTU != 1500 {
			t.Errorf("%s MTU %d after rollback, want 1500", name, l.Attrs().MTU)
		}
	}
	if l := guestLink(t, nh, "eth2"); l.Attrs().MasterIndex != 0 {
		t.Error("eth2 still enslaved after rollback")
	}
}

// inNetns runs fn on a thread inside ns (sockets made there stay there).
func inNetns(t *testing.T, ns netns.NsHandle, fn func() error) {
	t.Helper()
	err := func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			return err
		}
		defer func() {
			if err := netns.Set(orig); err != nil {
				panic("cannot return to the original namespace: " + err.Error())
			}
		}()
		return fn()
	}()
	if err != nil {
		t.Fatal(err)
	}
}

// vmNetns is a "VM": a namespace holding the far end of a veth whose near
// end (port) is in the host namespace, with addr on it.
func vmNetns(t *testing.T, hostNH *netlink.Handle, port, suffix, addr string) netns.NsHandle {
	t.Helper()
	_, vh, vns := guestNetnsNamed(t, suffix)
	peer := port + "p"
	if err := hostNH.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port}, PeerName: peer,
		PeerNamespace: netlink.NsFd(int(vns))}); err != nil {
		t.Fatalf("veth %s: %v", port, err)
	}
	l := guestLink(t, vh, peer)
	a, err := netlink.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := vh.AddrAdd(l, a); err != nil {
		t.Fatal(err)
	}
	if err := vh.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return vns
}

// TestGuestVLANTraffic is the point of the documented "the PXE server must be on
// the same VLAN as the bridge": with the policy applied, a VM on the VLAN
// 100 access port reaches the host's address on br1.100 (UDP both ways),
// and a VM on another VLAN's access port does not.
func TestGuestVLANTraffic(t *testing.T) {
	vmtest.GuestOnly(t, "TestGuestKernel")
	ns, nh, hostNS := guestNetnsNamed(t, "Traffic")
	vm100 := vmNetns(t, nh, "vm100", "vm100", "192.0.2.2/24")
	vm200 := vmNetns(t, nh, "vm200", "vm200", "192.0.2.3/24")
	policy := netattach.State{Interfaces: []netattach.Interface{
		{Name: "br1", Type: netattach.TypeLinuxBridge, IPv4: &netattach.IPConfig{Enabled: false},
			Bridge: &netattach.BridgeConfig{
				Options: &netattach.BridgeOptions{STP: &netattach.STPOptions{Enabled: false}},
				Port: []netattach.BridgePort{
					{Name: "vm100", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 100}},
					{Name: "vm200", VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 200}},
				}}},
		{Name: "br1.100", Type: netattach.TypeVLAN, VLAN: &netattach.VLANConfig{BaseIface: "br1", ID: 100},
			IPv4: &netattach.IPConfig{Enabled: true, Address: []netattach.IPAddress{{IP: "192.0.2.1", PrefixLength: 24}}}},
	}}
	h := &Host{NetNS: ns}
	ctx := context.Background()
	plan, err := h.Plan(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan:\n%s", plan)
	if _, err := h.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}

	server := netip.MustParseAddrPort("192.0.2.1:7000")
	var srv *net.UDPConn
	inNetns(t, hostNS, func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(server))
		return err
	})
	defer srv.Close()
	dial := func(vm netns.NsHandle) *net.UDPConn {
		var c *net.UDPConn
		inNetns(t, vm, func() (err error) {
			c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
			return err
		})
		return c
	}

	c100 := dial(vm100)
	defer c100.Close()
	buf := make([]byte, 64)
	// ARP may drop the first datagram while it resolves; send until the
	// server hears one (bounded).
	var from netip.AddrPort
	for try := 0; try < 30 && !from.IsValid(); try++ {
		if _, err := c100.Write([]byte("dhcp-discover-ish")); err != nil {
			t.Fatal(err)
		}
		_ = srv.SetReadDeadline(time.Now().Add(time.Second))
		if _, a, err := srv.ReadFromUDPAddrPort(buf); err == nil {
			from = a
		}
	}
	if from.Addr() != netip.MustParseAddr("192.0.2.2") {
		t.Fatalf("the host on br1.100 never heard the VM on the VLAN 100 access port (from %v)", from)
	}
	if _, err := srv.WriteToUDPAddrPort([]byte("offer"), from); err != nil {
		t.Fatal(err)
	}
	_ = c100.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c100.Read(buf); err != nil || string(buf[:n]) != "offer" {
		t.Fatalf("VM did not get the reply: %q %v", buf[:n], err)
	}

	// VLAN 200 is another broadcast domain: nothing from it reaches br1.100.
	c200 := dial(vm200)
	defer c200.Close()
	for range 3 {
		if _, err := c200.Write([]byte("wrong-vlan")); err != nil {
			t.Fatal(err)
		}
	}
	// Late copies of the VLAN 100 VM's retries (queued while ARP resolved)
	// may still arrive; only a datagram from the VLAN 200 VM is a leak.
	deadline := time.Now().Add(2 * time.Second)
	_ = srv.SetReadDeadline(deadline)
	for time.Now().Before(deadline) {
		n, a, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		if a.Addr() == netip.MustParseAddr("192.0.2.3") || string(buf[:n]) == "wrong-vlan" {
			t.Errorf("a VM on VLAN 200 reached the VLAN 100 address: %q from %v", buf[:n], a)
		}
	}
}
