//go:build linux

package host

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/pxekit/pxekit/netattach"
)

// hostLacks reports whether this (host) kernel refuses what the feature
// needs, probed in the test's namespace with iproute2.
func hostLacks(t *testing.T, ns string, args ...string) bool {
	t.Helper()
	err := exec.Command("ip", append([]string{"-n", ns}, args...)...).Run()
	return err != nil
}

// TestUnsupportedKernelFeatures runs on the host kernel, which (like CI's)
// has neither bridge VLAN filtering nor 8021q: the errors must say so, name
// the step, and leave the namespace as it was.
func TestUnsupportedKernelFeatures(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	ctx := context.Background()
	h := &Host{NetNS: ns}

	t.Run("vlan-filtering", func(t *testing.T) {
		if !hostLacks(t, ns, "link", "add", "probebr", "type", "bridge", "vlan_filtering", "1") {
			ipIn(t, ns, "link", "del", "probebr")
			t.Skip("this kernel has bridge VLAN filtering; the guest-kernel tests cover it")
		}
		policy := netattach.State{Interfaces: []netattach.Interface{{
			Name: "br1", Type: netattach.TypeLinuxBridge,
			Bridge: &netattach.BridgeConfig{Port: []netattach.BridgePort{{Name: "eth1",
				VLAN: &netattach.BridgePortVLAN{Mode: netattach.VLANModeAccess, Tag: 100}}}},
		}}}
		plan, err := h.Plan(ctx, policy)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.Apply(ctx, plan)
		if !errors.Is(err, ErrNoVLANFiltering) {
			t.Fatalf("error %v, want ErrNoVLANFiltering", err)
		}
		for _, want := range []string{"set-vlan-filtering br1 on", "kernel lacks bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)", "not supported"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if _, ok := links(t, ns)["br1"]; ok {
			t.Error("br1 left behind after the failed apply")
		}

		// The bridge CNI way fails the same way, on an existing bridge.
		ipIn(t, ns, "link", "add", "br2", "type", "bridge")
		ap, err := h.PlanAttach(ctx, PortAttachment{Bridge: "br2", Port: "eth1", VLAN: 100})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Apply(ctx, ap); !errors.Is(err, ErrNoVLANFiltering) {
			t.Errorf("attach with VLAN: %v, want ErrNoVLANFiltering", err)
		}
		if l := links(t, ns); l["eth1"].Master != "" {
			t.Errorf("eth1 left enslaved to %s", l["eth1"].Master)
		}
	})

	t.Run("8021q", func(t *testing.T) {
		if !hostLacks(t, ns, "link", "add", "link", "eth1", "name", "probe.7", "type", "vlan", "id", "7") {
			ipIn(t, ns, "link", "del", "probe.7")
			t.Skip("this kernel has 8021q; the guest-kernel tests cover it")
		}
		policy := netattach.State{Interfaces: []netattach.Interface{{
			Name: "eth1.100", Type: netattach.TypeVLAN, VLAN: &netattach.VLANConfig{BaseIface: "eth1", ID: 100},
		}}}
		plan, err := h.Plan(ctx, policy)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.Apply(ctx, plan)
		if !errors.Is(err, ErrNo8021Q) {
			t.Fatalf("error %v, want ErrNo8021Q", err)
		}
		if !strings.Contains(err.Error(), "create-vlan eth1.100 id 100 on eth1") || !strings.Contains(err.Error(), "8021q") {
			t.Errorf("error %q does not name the step and the module", err)
		}
	})
}

// TestAttachPortNoVLAN attaches a VM-side veth to a bridge the CNI way, with
// no VLAN (which this kernel supports): enslaved, up, MTU set, idempotent.
func TestAttachPortNoVLAN(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "vm0", "vm0peer")
	ipIn(t, ns, "link", "add", "br1", "type", "bridge")
	h := &Host{NetNS: ns}
	ctx := context.Background()
	a := PortAttachment{Bridge: "br1", Port: "vm0", MTU: 9000, Up: true}
	plan, err := h.PlanAttach(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}
	l := links(t, ns)["vm0"]
	if l.Master != "br1" || l.MTU != 9000 || !l.up() {
		t.Errorf("vm0: master %q mtu %d up %v", l.Master, l.MTU, l.up())
	}
	if again, err := h.PlanAttach(ctx, a); err != nil || !again.Empty() {
		t.Errorf("second attach plan: %v %v", again, err)
	}
	if _, err := h.PlanAttach(ctx, PortAttachment{Bridge: "br1", Port: "nosuchport0"}); err == nil ||
		!strings.Contains(err.Error(), `port: Not found: "nosuchport0"`) {
		t.Errorf("missing port: %v", err)
	}
}

// TestPermissionDenied runs Plan+Apply of the documentation policy in a child
// process without CAP_NET_ADMIN (uid nobody), started inside the test's
// namespace, and checks the error tells the user what is missing.
func TestPermissionDenied(t *testing.T) {
	if os.Getenv("PXEKIT_HOST_NOCAP_CHILD") == "1" {
		return // the child's work is in TestPermissionChild
	}
	ns := newNetns(t)
	addVeth(t, ns, "eth1", "eth1peer")
	// The test binary sits in a 0700 build directory nobody cannot enter.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pxekit-host-nocap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "host.test")
	copyFile(t, exe, bin)
	if err := os.Mkdir(filepath.Join(dir, "testdata"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "testdata/br1-eth1-policy.yaml", filepath.Join(dir, "testdata", "br1-eth1-policy.yaml"))
	cmd := exec.Command(bin, "-test.run=^TestPermissionChild$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PXEKIT_HOST_NOCAP_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	// Fork from a thread that is inside the namespace, so the child is too.
	out, err := func() ([]byte, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return nil, err
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			return nil, err
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			return nil, err
		}
		defer func() {
			if err := netns.Set(orig); err != nil {
				panic("cannot return to the original network namespace: " + err.Error())
			}
		}()
		return cmd.CombinedOutput()
	}()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "PERMISSION-ERROR: ") {
			t.Log("child:", strings.TrimSpace(line))
		}
	}
	if !strings.Contains(string(out), "PERMISSION-ERROR: ") || !strings.Contains(string(out), "needs CAP_NET_ADMIN") {
		t.Errorf("child output lacks the permission error:\n%s", out)
	}
	if l := links(t, ns); l["eth1"].Master != "" {
		t.Errorf("the unprivileged child changed eth1")
	}
}

// TestPermissionChild is the unprivileged half of TestPermissionDenied.
func TestPermissionChild(t *testing.T) {
	if os.Getenv("PXEKIT_HOST_NOCAP_CHILD") != "1" {
		t.Skip("runs only as TestPermissionDenied's child")
	}
	h := &Host{} // the child's own namespace: the parent's test netns
	plan, err := h.Plan(context.Background(), loadBr1Eth1Policy(t))
	if err != nil {
		t.Fatalf("plan (reading needs no privilege): %v", err)
	}
	_, err = h.Apply(context.Background(), plan)
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("apply as nobody: %v, want ErrPermission", err)
	}
	t.Logf("PERMISSION-ERROR: %v", err)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
