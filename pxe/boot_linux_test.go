package pxe

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/internal/lab"
	"github.com/pxekit/pxekit/internal/testenv"
	"github.com/pxekit/pxekit/ipxe"
)

// bootLab is the project's own boot server in a lab netns, with a kernel
// and busybox initramfs as assets, recording every boot event.
type bootLab struct {
	net    *lab.Network
	srv    *Server
	mu     sync.Mutex
	events []Event
}

// labProfiles are two profiles whose kernel arguments differ, so a test can
// tell from the guest's /proc/cmdline which one it booted.
func labProfiles() map[string]Profile {
	common := []string{"console=ttyS0", "panic=-1", "quiet", lab.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"}
	return map[string]Profile{
		"alpha": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: append([]string{"pxekit.profile=alpha"}, common...)},
		"beta":  {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: append([]string{"pxekit.profile=beta", "pxekit.host={{.Hostname}}"}, common...)},
	}
}

func startBootLab(t *testing.T, ctx context.Context, machines []Machine) *bootLab {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCmd(t, "qemu-system-x86_64", "qemu-system-x86")
	testenv.RequireFile(t, "/usr/lib/ipxe/ipxe.efi", "ipxe")
	testenv.RequireFile(t, "/usr/lib/ipxe/qemu/efi-virtio.rom", "ipxe-qemu")
	testenv.RequireFile(t, lab.OVMFImage, "ovmf")
	testenv.RequireFile(t, "/bin/busybox", "busybox-static")
	kernel := testenv.GuestKernel(t)
	vmlinuz, err := os.ReadFile(kernel.Vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := lab.Initramfs{ModulesDir: kernel.ModulesDir}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	lnet := lab.Setup(t)
	bl := &bootLab{net: lnet}
	srv, err := New(Config{
		Interface: lnet.Bridge,
		NetNS:     filepath.Join("/var/run/netns", lnet.NS.Name()),
		Subnet: dhcp.Subnet{
			Pools:     []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}},
			LeaseTime: 10 * time.Minute,
		},
		LeaseFile: filepath.Join(t.TempDir(), "leases.db"),
		HTTPPort:  8080,
		Assets: fstest.MapFS{
			"vmlinuz":   {Data: vmlinuz, ModTime: time.Now()},
			"initrd.gz": {Data: initrd, ModTime: time.Now()},
		},
		Inventory: Inventory{Machines: machines, Profiles: labProfiles()},
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	bl.srv = srv
	sctx, cancel := context.WithCancel(ctx)
	events := srv.Subscribe(sctx)
	go func() {
		for e := range events {
			bl.mu.Lock()
			bl.events = append(bl.events, e)
			bl.mu.Unlock()
		}
	}()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("boot server: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("boot server: %v", err)
	case <-ctx.Done():
		t.Fatal("boot server not ready")
	}
	return bl
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// kindsFor returns the kinds of events seen for mac, in order.
func (bl *bootLab) kindsFor(mac net.HardwareAddr) []EventKind {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	var kinds []EventKind
	for _, e := range bl.events {
		if e.MAC == mac.String() {
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

func (bl *bootLab) dump(t *testing.T) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	for _, e := range bl.events {
		t.Logf("event %s %s %s", e.MAC, e.Kind, e.Detail)
	}
}

// boot powers on one VM and checks, from its console, that /init ran with
// exactly the profile's kernel arguments and phoned home, and from the event
// stream that the whole boot path was walked for its MAC.
func (bl *bootLab) boot(t *testing.T, ctx context.Context, fw lab.Firmware, m Machine) {
	t.Helper()
	tap, err := bl.net.AddTap()
	if err != nil {
		t.Fatal(err)
	}
	vm, err := lab.StartVM(ctx, lab.VMConfig{NetNS: bl.net.NS, Tap: tap, MAC: m.MAC, Firmware: fw,
		OnLine: func(l string) { t.Logf("%s: %s", m.Hostname, l) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Stop)
	defer func() {
		if t.Failed() {
			bl.dump(t)
			t.Logf("QEMU stderr: %s", vm.Stderr())
		}
	}()
	if _, err := vm.WaitFor(ctx, regexp.MustCompile("^"+lab.MarkerStart+"$")); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s: power-on to /init in %v", fw, m.MAC, time.Since(vm.Started()).Round(100*time.Millisecond))
	got, err := vm.WaitFor(ctx, lab.CmdlineRE)
	if err != nil {
		t.Fatal(err)
	}
	want := wantCmdline(t, bl.srv.BaseURL(), m, fw)
	if strings.TrimSpace(got[1]) != want {
		t.Errorf("/proc/cmdline = %q\nwant the profile's %q", strings.TrimSpace(got[1]), want)
	}
	ph, err := vm.WaitFor(ctx, lab.PhoneHomeRE)
	if err != nil {
		t.Fatal(err)
	}
	if ph[1] != "ok" {
		t.Fatalf("guest phone-home %s (%s)", ph[1], ph[2])
	}
	if err := vm.Wait(ctx); err != nil {
		t.Errorf("QEMU after power-off: %v", err)
	}
	// The phone-home must come from the address the DHCP server leased to
	// this MAC: the server ties it to the machine, not the guest's claim.
	lease, ok := bl.srv.DHCP().LeaseByMAC(m.MAC)
	if !ok {
		t.Fatalf("no lease for %s", m.MAC)
	}
	wantKinds := []EventKind{EventDiscovered, EventOffered, EventAcked}
	if fw == lab.UEFIPXE {
		wantKinds = append(wantKinds, EventTFTPSent)
	}
	wantKinds = append(wantKinds, EventScriptServed, EventAssetSent, EventAssetSent, EventPhonedHome)
	waitEvents(t, ctx, bl, m.MAC, wantKinds)
	bl.mu.Lock()
	for _, e := range bl.events {
		if e.MAC == m.MAC.String() && e.Kind == EventPhonedHome && !strings.Contains(e.Detail, lease.IP.String()) {
			t.Errorf("phoned home %q, not from its lease %s", e.Detail, lease.IP)
		}
	}
	bl.mu.Unlock()
}

// wantCmdline renders the profile's arguments as the guest must see them.
// Under UEFI, iPXE hands the EFI stub load options that start with the
// image's name, then initrd=<name> (the stub loads the initrd by that name);
// the kernel keeps both in /proc/cmdline.
func wantCmdline(t *testing.T, base string, m Machine, fw lab.Firmware) string {
	p := labProfiles()[m.Profile]
	var args []string
	if fw != lab.BIOS {
		args = append(args, ipxe.ImageName(p.Kernel), "initrd="+ipxe.ImageName(p.Initrd))
	}
	for _, a := range p.Args {
		v, err := execTemplate("want", a, ScriptData{MAC: m.MAC.String(), Hostname: m.Hostname, BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, v)
	}
	return strings.Join(args, " ")
}

// waitEvents waits until mac's events contain want as a subsequence.
func waitEvents(t *testing.T, ctx context.Context, bl *bootLab, mac net.HardwareAddr, want []EventKind) {
	t.Helper()
	for {
		got := bl.kindsFor(mac)
		i := 0
		for _, k := range got {
			if i < len(want) && k == want[i] {
				i++
			}
		}
		if i == len(want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("events for %s: %v\nwant in order: %v", mac, got, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestBootBIOS: SeaBIOS with QEMU's iPXE ROM. Two machines with different
// profiles boot at once; each gets its own kernel arguments.
func TestBootBIOS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x0a, 0x00, 0x01}, Hostname: "alpha1", Profile: "alpha"}
	b := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x0b, 0x00, 0x02}, Hostname: "beta2", Profile: "beta"}
	bl := startBootLab(t, ctx, []Machine{a, b})
	var wg sync.WaitGroup
	for _, m := range []Machine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(m.Hostname, func(t *testing.T) { bl.boot(t, ctx, lab.BIOS, m) })
		}()
	}
	wg.Wait()
}

// TestBootUEFIPXE: OVMF's own PXE (no iPXE ROM) → TFTP ipxe.efi → iPXE →
// HTTP script, kernel and initrd.
func TestBootUEFIPXE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2}, Hostname: "node1", Profile: "beta"}
	startBootLab(t, ctx, []Machine{m}).boot(t, ctx, lab.UEFIPXE, m)
}

// TestBootUEFIHTTP: OVMF's UEFI HTTP boot; DHCP answers HTTPClient with
// the ipxe.efi URL.
func TestBootUEFIHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x69, 0xd5, 0x92}, Hostname: "node2", Profile: "alpha"}
	startBootLab(t, ctx, []Machine{m}).boot(t, ctx, lab.UEFIHTTP, m)
}
