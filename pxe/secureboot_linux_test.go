package pxe

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe/labca"
	"github.com/pxekit/pxekit/pxetest"
)

// sbLab is the boot server in a lab netns serving Secure Boot profiles:
// Debian's signed cloud kernel ("signed") and a copy with its signature
// removed ("unsigned"), with the busybox guest as initrd.
type sbLab struct {
	lab    *pxetest.BootLab
	srv    *Server
	events pxetest.Recorder[Event]
}

func sbLabProfiles() map[string]Profile {
	args := func(name string) []string {
		return []string{"console=ttyS0", "panic=-1", "quiet", "pxekit.profile=" + name, pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"}
	}
	return map[string]Profile{
		"signed":   {Kind: ProfileSecureBoot, Kernel: "vmlinuz", Initrd: "initrd.gz", Args: args("signed")},
		"unsigned": {Kind: ProfileSecureBoot, Kernel: "vmlinuz-unsigned", Initrd: "initrd.gz", Args: args("unsigned")},
	}
}

func startSBLab(t *testing.T, ctx context.Context, machines []Machine, mod func(*Config)) *sbLab {
	t.Helper()
	pxetest.RequireSecureBoot(t)
	lab := pxetest.NewBootLab(t, pxetest.Initramfs{})
	unsigned, err := pxetest.StripSignature(lab.Vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := NewStaticInventory(InventorySpec{Machines: machines, Profiles: sbLabProfiles()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Interface: lab.Bridge,
		NetNS:     lab.NS.Path(),
		Subnets: []dhcp.Subnet{{
			Pools:     []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}},
			LeaseTime: 10 * time.Minute,
		}},
		HTTPPort: 8080,
		Assets: fstest.MapFS{
			"vmlinuz":          {Data: lab.Vmlinuz, ModTime: time.Now()},
			"vmlinuz-unsigned": {Data: unsigned, ModTime: time.Now()},
			"initrd.gz":        {Data: lab.Initrd, ModTime: time.Now()},
		},
		Inventory: inv,
		Logger:    pxetest.Logger(t, slog.LevelWarn),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sl := &sbLab{lab: lab, srv: srv}
	go sl.events.Record(srv.Subscribe(ctx))
	pxetest.Serve(t, srv)
	return sl
}

func (sl *sbLab) dump(t *testing.T, mac net.HardwareAddr) {
	for _, e := range sl.events.All() {
		if macaddr.Equal(e.MAC, mac) || e.MAC == nil {
			t.Logf("event %s %s %s", e.MAC, e.Kind, e.Detail)
		}
	}
}

// eventsFor are the events recorded for mac.
func (sl *sbLab) eventsFor(mac net.HardwareAddr) []Event {
	var out []Event
	for _, e := range sl.events.All() {
		if macaddr.Equal(e.MAC, mac) {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for an event of mac of this kind whose detail has all of
// parts.
func (sl *sbLab) waitEvent(t *testing.T, ctx context.Context, mac net.HardwareAddr, kind EventKind, parts ...string) Event {
	t.Helper()
	e, err := sl.events.First(ctx, func(e Event) bool {
		if !macaddr.Equal(e.MAC, mac) || e.Kind != kind {
			return false
		}
		for _, p := range parts {
			if !strings.Contains(e.Detail, p) {
				return false
			}
		}
		return true
	})
	if err != nil {
		sl.dump(t, mac)
		t.Fatalf("no %s event for %s with %q: %v", kind, mac, parts, err)
	}
	return e
}

// bootSigned powers on m's VM and checks, from its console, that Secure
// Boot was enforced all the way to /init (the kernel says so, and the
// firmware's SecureBoot variable), that GRUB passed exactly the profile's
// arguments and that the guest phoned home; and, from the events, which
// path the boot took. kernel is the kernel's path as GRUB names it.
func (sl *sbLab) bootSigned(t *testing.T, ctx context.Context, cfg pxetest.VMConfig, m Machine, kernel string, want []EventKind) {
	t.Helper()
	cfg.MAC = m.MAC
	cfg.OnLine = func(l string) { t.Logf("%s: %s", m.Hostname, l) }
	vm := sl.lab.StartVM(t, ctx, cfg)
	defer func() {
		if t.Failed() {
			sl.dump(t, m.MAC)
		}
	}()
	sb, err := vm.WaitFor(ctx, pxetest.SecureBootRE)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s: power-on to /init in %v", cfg.Firmware, m.MAC, time.Since(vm.Started()).Round(100*time.Millisecond))
	if sb[1] != "enabled" || sb[2] != "1" || !strings.Contains(sb[3], "[integrity]") {
		t.Errorf("the guest says Secure Boot %s, SecureBoot variable %s, lockdown %q; want enabled, 1, [integrity]", sb[1], sb[2], sb[3])
	}
	// GRUB puts BOOT_IMAGE=<the kernel's path> in front of the profile's
	// arguments; nothing else.
	checkGuest(t, ctx, vm, "BOOT_IMAGE="+kernel+" console=ttyS0 panic=-1 quiet pxekit.profile="+m.Profile+" "+
		pxetest.DefaultPhoneHomeArg+"="+sl.srv.BaseURL()+"/phonehome")
	waitEvents(t, ctx, &sl.events, m.MAC, want)
	for _, e := range sl.eventsFor(m.MAC) {
		if e.Kind == EventDenied {
			t.Errorf("denied during a good boot: %s", e.Detail)
		}
	}
}

// TestSecureBootPXEAndHTTP: OVMF with Secure Boot enforced and Microsoft's
// keys. Over PXE, shim → GRUB (TFTP) → the machine's grub.cfg → Debian's
// signed kernel and the initrd over TFTP → /init, Secure Boot on. Over
// UEFI HTTP, the machine's disk image → shim → GRUB → the same kernel from
// the image → /init. A kernel whose signature was removed is refused by
// GRUB ("bad shim signature") on either path, and the boot server reports
// it as a denied event. The four VMs boot at once.
func TestSecureBootPXEAndHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	pxeM := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x01, 0x01}, Hostname: "sb-pxe", Profile: "signed"}
	httpM := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x01, 0x02}, Hostname: "sb-http", Profile: "signed"}
	bad := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x01, 0x03}, Hostname: "sb-unsigned", Profile: "unsigned"}
	badHTTP := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x01, 0x04}, Hostname: "sb-unsigned-http", Profile: "unsigned"}
	sl := startSBLab(t, ctx, []Machine{pxeM, httpM, bad, badHTTP}, nil)
	var wg sync.WaitGroup
	run := func(name string, f func(t *testing.T)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, f)
		}()
	}
	run("pxe", func(t *testing.T) {
		sl.bootSigned(t, ctx, pxetest.VMConfig{Firmware: pxetest.UEFISecureBoot}, pxeM, "/assets/vmlinuz",
			[]EventKind{EventDiscovered, EventOffered, EventAcked, EventTFTPSent, EventTFTPSent, EventScriptServed, EventTFTPSent, EventTFTPSent, EventPhonedHome})
		for i, f := range []string{"shimx64.efi ", "grubx64.efi ", "assets/vmlinuz ", "assets/initrd.gz "} {
			sl.waitEvent(t, ctx, pxeM.MAC, EventTFTPSent, f)
			if i == 1 {
				sl.waitEvent(t, ctx, pxeM.MAC, EventScriptServed, "grub.cfg profile=signed over tftp")
			}
		}
	})
	run("http", func(t *testing.T) {
		sl.bootSigned(t, ctx, pxetest.VMConfig{Firmware: pxetest.UEFISecureBootHTTP}, httpM, "/VMLINUZ",
			[]EventKind{EventDiscovered, EventOffered, EventAcked, EventScriptServed, EventAssetSent, EventPhonedHome})
		sl.waitEvent(t, ctx, httpM.MAC, EventOffered, "boot=http://192.0.2.1:8080/secureboot/"+httpM.MAC.String()+".img")
		sl.waitEvent(t, ctx, httpM.MAC, EventAssetSent, "/secureboot/"+httpM.MAC.String()+".img ", "(status 200)")
	})
	refused := func(m Machine, fw pxetest.Firmware) func(t *testing.T) {
		return func(t *testing.T) {
			vm := sl.lab.StartVM(t, ctx, pxetest.VMConfig{MAC: m.MAC, Firmware: fw,
				OnLine: func(l string) { t.Logf("%s: %s", m.Hostname, l) }})
			if _, err := vm.WaitFor(ctx, regexp.MustCompile(`error: bad shim signature`)); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s: power-on to the refusal in %v", fw, m.MAC, time.Since(vm.Started()).Round(100*time.Millisecond))
			if _, err := vm.WaitFor(ctx, regexp.MustCompile(`pxekit: the boot server recorded kernel-refused`)); err != nil {
				t.Fatal(err)
			}
			e := sl.waitEvent(t, ctx, m.MAC, EventDenied, "kernel-refused", "vmlinuz-unsigned", "profile unsigned (reported over tftp)")
			t.Logf("event: %s %s", e.Kind, e.Detail)
			if strings.Contains(vm.Console(), pxetest.MarkerStart) {
				t.Error("the unsigned kernel ran")
			}
			vm.Stop()
		}
	}
	run("unsigned", refused(bad, pxetest.UEFISecureBoot))
	// From the disk image, GRUB has no network until the report asks
	// for one (net_bootp); then it reports over TFTP all the same.
	run("unsigned over http", refused(badHTTP, pxetest.UEFISecureBootHTTP))
	wg.Wait()
}

// TestSecureBootHTTPS: UEFI HTTPS boot with the boot server's lab CA
// handed to OVMF (fw_cfg etc/edk2/https/cacerts): with the right CA the
// disk image comes over TLS 1.2 and the signed chain boots to /init with
// Secure Boot on; with another CA the firmware drops the connection, boots
// nothing from this server, and the server reports the failed handshake.
func TestSecureBootHTTPS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	good := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x02, 0x01}, Hostname: "sb-https", Profile: "signed"}
	other := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x02, 0x02}, Hostname: "sb-wrong-ca", Profile: "signed"}
	caDir := filepath.Join(t.TempDir(), "ca")
	sl := startSBLab(t, ctx, []Machine{good, other}, func(c *Config) {
		c.TLSLabCA, c.HTTPSPort, c.HTTPSBoot = caDir, 8443, true
	})
	otherCA, err := labca.New("another lab CA")
	if err != nil {
		t.Fatal(err)
	}
	otherESL, err := otherCA.WriteFirmwareFiles(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		t.Run("right CA", func(t *testing.T) {
			sl.bootSigned(t, ctx, pxetest.VMConfig{Firmware: pxetest.UEFISecureBootHTTP, HTTPSCACerts: filepath.Join(caDir, labca.SignatureListFile)},
				good, "/VMLINUZ", []EventKind{EventDiscovered, EventOffered, EventAcked, EventScriptServed, EventAssetSent, EventPhonedHome})
			sl.waitEvent(t, ctx, good.MAC, EventOffered, "boot=https://192.0.2.1:8443/secureboot/"+good.MAC.String()+".img")
		})
	}()
	go func() {
		defer wg.Done()
		t.Run("wrong CA", func(t *testing.T) {
			vm := sl.lab.StartVM(t, ctx, pxetest.VMConfig{MAC: other.MAC, Firmware: pxetest.UEFISecureBootHTTP, HTTPSCACerts: otherESL,
				OnLine: func(l string) { t.Logf("%s: %s", other.Hostname, l) }})
			if _, err := vm.WaitFor(ctx, regexp.MustCompile(`Error: Could not retrieve NBP file size from HTTP server`)); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: power-on to the refusal in %v", other.MAC, time.Since(vm.Started()).Round(100*time.Millisecond))
			sl.waitEvent(t, ctx, other.MAC, EventDenied, "https: the TLS handshake with 192.0.2.", "did not complete")
			vm.Stop()
			for _, e := range sl.eventsFor(other.MAC) {
				if e.Kind == EventAssetSent || e.Kind == EventScriptServed {
					t.Errorf("a client that does not trust the server was served: %s %s", e.Kind, e.Detail)
				}
			}
		})
	}()
	wg.Wait()
}

// TestSecureBootHTTPShim: with SecureBootHTTP = SecureBootShim, UEFI HTTP
// boot loads shim itself over HTTP, and shim GRUB from beside it (asking
// for <dir>//grubx64.efi); both run under Secure Boot. Debian 12's signed
// GRUB then cannot read anything over HTTP (it has no http module): it
// never asks for its grub.cfg and drops to its command line. This is where that path ends
// until a distribution ships a signed GRUB with http; the default,
// SecureBootDiskImage, boots through.
func TestSecureBootHTTPShim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := Machine{MAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x03, 0x01}, Hostname: "sb-shim-http", Profile: "signed"}
	sl := startSBLab(t, ctx, []Machine{m}, func(c *Config) { c.SecureBootHTTP = SecureBootShim })
	vm := sl.lab.StartVM(t, ctx, pxetest.VMConfig{MAC: m.MAC, Firmware: pxetest.UEFISecureBootHTTP,
		OnLine: func(l string) { t.Logf("%s: %s", m.Hostname, l) }})
	if _, err := vm.WaitFor(ctx, regexp.MustCompile(`Welcome to GRUB!`)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: power-on to GRUB in %v", m.MAC, time.Since(vm.Started()).Round(100*time.Millisecond))
	// The banner of GRUB's command line: it read no configuration.
	if _, err := vm.WaitFor(ctx, regexp.MustCompile(`Minimal BASH-like line editing is supported`)); err != nil {
		t.Fatal(err)
	}
	sl.waitEvent(t, ctx, m.MAC, EventOffered, "boot=http://192.0.2.1:8080/secureboot/shimx64.efi")
	sl.waitEvent(t, ctx, m.MAC, EventAssetSent, "/secureboot/shimx64.efi ", "(status 200)")
	sl.waitEvent(t, ctx, m.MAC, EventAssetSent, "/secureboot//grubx64.efi ", "(status 200)")
	vm.Stop()
	for _, e := range sl.eventsFor(m.MAC) {
		if e.Kind == EventScriptServed {
			t.Errorf("GRUB read a grub.cfg over HTTP (%s): Debian 12's cannot, so this test's premise is stale", e.Detail)
		}
	}
}
