package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/testenv"
)

// phoneHome is one request the guest's /init made to the phone-home URL.
type phoneHome struct {
	remote  netip.Addr
	claimed string           // ?mac= the guest sent
	arpMAC  net.HardwareAddr // what the server's neighbour table says
}

// standIn is a minimal boot server for the harness test: dnsmasq for DHCP
// (and TFTP) plus net/http for the iPXE script, kernel, initramfs and the
// phone-home URL. The project's own servers replace it in the pxe tests.
type standIn struct {
	base    string // http://192.0.2.1:PORT
	cmdline string // kernel arguments the script passes
	token   string // random, in the config URL and the config

	mu     sync.Mutex
	homes  []phoneHome
	served []string
	dnsLog strings.Builder
}

func startStandIn(t *testing.T, ctx context.Context, lnet *Network, kernel testenv.Kernel, initrd []byte) *standIn {
	t.Helper()
	dnsmasq := testenv.RequireCmd(t, "dnsmasq", "dnsmasq-base")
	ln, err := lnet.NS.Listen("tcp", netip.AddrPortFrom(lnet.ServerAddr(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	s := &standIn{base: "http://" + ln.Addr().String()}
	var tok [6]byte
	_, _ = rand.Read(tok[:])
	s.token = hex.EncodeToString(tok[:])
	s.cmdline = "console=ttyS0 quiet panic=-1 " + DefaultPhoneHomeArg + "=" + s.base + "/phonehome pxekit.config=" + s.base + "/config/" + s.token

	mux := http.NewServeMux()
	mux.HandleFunc("/boot.ipxe", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "#!ipxe\nkernel %s/vmlinuz %s\ninitrd %s/initrd.gz\nboot\n", s.base, s.cmdline, s.base)
	})
	// iPXE on UEFI starts the kernel's EFI stub, which loads the initrd
	// named by initrd= from iPXE's virtual file system.
	mux.HandleFunc("/boot-efi.ipxe", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "#!ipxe\nkernel %s/vmlinuz initrd=initrd.gz %s\ninitrd %s/initrd.gz\nboot\n", s.base, s.cmdline, s.base)
	})
	mux.HandleFunc("/ipxe.efi", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, ipxeEFI) })
	mux.HandleFunc("/vmlinuz", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, kernel.Vmlinuz) })
	mux.HandleFunc("/initrd.gz", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "initrd.gz", time.Time{}, strings.NewReader(string(initrd)))
	})
	mux.HandleFunc("/config/{token}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "config-for-%s\n", r.PathValue("token"))
	})
	mux.HandleFunc("/phonehome", func(w http.ResponseWriter, r *http.Request) {
		ap, _ := netip.ParseAddrPort(r.RemoteAddr)
		mac, err := lnet.NS.MACOf(ap.Addr())
		if err != nil {
			t.Logf("phone-home from %s: %v", ap.Addr(), err)
		}
		s.mu.Lock()
		s.homes = append(s.homes, phoneHome{remote: ap.Addr(), claimed: r.URL.Query().Get("mac"), arpMAC: mac})
		s.mu.Unlock()
		fmt.Fprintln(w, "welcome")
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.served = append(s.served, r.URL.Path)
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	efi, err := os.ReadFile(ipxeEFI)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ipxe.efi"), efi, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := CommandContext(ctx, dnsmasq,
		"--no-daemon", "--conf-file=/dev/null", "--user=root", "--port=0", "--log-dhcp",
		"--interface="+lnet.Bridge, "--bind-interfaces",
		"--pid-file="+filepath.Join(dir, "dnsmasq.pid"),
		"--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--dhcp-range=192.0.2.100,192.0.2.199,255.255.255.0,10m",
		// iPXE (user class "iPXE") gets the script URL; UEFI HTTP clients
		// (vendor class HTTPClient, answered with option 60 HTTPClient) get
		// ipxe.efi by URL; OVMF's PXE (arch 7) TFTPs ipxe.efi; BIOS PXE
		// would TFTP undionly.kpxe (unused: QEMU's BIOS ROM is iPXE).
		"--dhcp-userclass=set:ipxe,iPXE",
		"--dhcp-vendorclass=set:httpclient,HTTPClient",
		"--dhcp-match=set:efi64,option:client-arch,7",
		"--dhcp-option-force=tag:httpclient,tag:!ipxe,60,HTTPClient",
		"--dhcp-boot=tag:ipxe,tag:efi64,"+s.base+"/boot-efi.ipxe",
		"--dhcp-boot=tag:ipxe,tag:!efi64,"+s.base+"/boot.ipxe",
		"--dhcp-boot=tag:!ipxe,tag:httpclient,"+s.base+"/ipxe.efi",
		"--dhcp-boot=tag:!ipxe,tag:!httpclient,tag:efi64,ipxe.efi",
		"--dhcp-boot=tag:!ipxe,tag:!httpclient,tag:!efi64,undionly.kpxe",
		"--enable-tftp", "--tftp-root="+dir,
	)
	cmd.Stdout = &lockedWriter{mu: &s.mu, w: &s.dnsLog}
	cmd.Stderr = cmd.Stdout
	if err := lnet.NS.Start(cmd); err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return s
}

// ipxeEFI is Debian's (package ipxe) iPXE for x86-64 UEFI.
const ipxeEFI = "/usr/lib/ipxe/ipxe.efi"

func (s *standIn) dnsmasqLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dnsLog.String()
}

// TestFirmwareBootPhonesHome boots real firmware in a netns against
// dnsmasq + net/http, with the Debian cloud kernel and the busybox
// initramfs built here: SeaBIOS + QEMU's iPXE ROM; OVMF PXE → TFTP
// ipxe.efi → iPXE; OVMF HTTP boot → ipxe.efi by URL → iPXE. It checks from
// the console that /init ran with exactly the script's kernel arguments,
// and from the server that the phone-home request came from the VM's MAC.
func TestFirmwareBootPhonesHome(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCmd(t, "qemu-system-x86_64", "qemu-system-x86")
	testenv.RequireFile(t, "/usr/lib/ipxe/qemu/efi-virtio.rom", "ipxe-qemu")
	testenv.RequireFile(t, ipxeEFI, "ipxe")
	testenv.RequireFile(t, OVMFImage, "ovmf")
	testenv.RequireFile(t, "/bin/busybox", "busybox-static")
	kernel := testenv.GuestKernel(t)
	for _, fw := range []Firmware{BIOS, UEFIPXE, UEFIHTTP} {
		t.Run(fw.String(), func(t *testing.T) { testFirmwareBoot(t, fw, kernel) })
	}
}

func testFirmwareBoot(t *testing.T, fw Firmware, kernel testenv.Kernel) {

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	lnet := Setup(t)
	// Commands is how an installer-like guest (Harvester) fetches its
	// config from a kernel argument.
	initrd, err := Initramfs{ModulesDir: kernel.ModulesDir, Commands: []string{
		`cfg=$(arg pxekit.config) && timeout 60 wget -q -O /tmp/cfg "$cfg" && echo "CONFIG: $(cat /tmp/cfg)"`,
	}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	srv := startStandIn(t, ctx, lnet, kernel, initrd)
	tap, err := lnet.AddTap()
	if err != nil {
		t.Fatal(err)
	}
	mac := NewMAC()
	vm, err := StartVM(ctx, VMConfig{NetNS: lnet.NS, Tap: tap, MAC: mac, Firmware: fw,
		OnLine: func(l string) { t.Log("vm: " + l) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Stop)
	defer func() {
		if t.Failed() {
			t.Logf("dnsmasq:\n%s\nQEMU stderr:\n%s", srv.dnsmasqLog(), vm.Stderr())
		}
	}()

	if _, err := vm.WaitFor(ctx, regexp.MustCompile("^"+MarkerStart+"$")); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: power-on to /init in %v", fw, time.Since(vm.Started()).Round(100*time.Millisecond))
	m, err := vm.WaitFor(ctx, CmdlineRE)
	if err != nil {
		t.Fatal(err)
	}
	want := srv.cmdline
	if fw != BIOS {
		// iPXE on UEFI hands the EFI stub "<image name> <args>" as load
		// options, and the stub keeps the name: seen here with Debian's
		// iPXE 1.0.0+git-20190125 and the 6.1 kernel.
		want = "vmlinuz initrd=initrd.gz " + want
	}
	if got := strings.TrimSpace(m[1]); got != want {
		t.Errorf("/proc/cmdline = %q, want the script's arguments %q", got, want)
	}
	if _, err := vm.WaitFor(ctx, regexp.MustCompile(`^CONFIG: config-for-`+srv.token+`$`)); err != nil {
		t.Fatalf("guest did not fetch its config through Initramfs.Commands: %v", err)
	}
	if m, err = vm.WaitFor(ctx, PhoneHomeRE); err != nil {
		t.Fatal(err)
	} else if m[1] != "ok" {
		t.Errorf("guest says phone-home %s (%s)", m[1], m[2])
	}
	if err := vm.Wait(ctx); err != nil {
		t.Errorf("QEMU after guest power-off: %v", err)
	}
	t.Logf("%s: power-on to power-off in %v", fw, time.Since(vm.Started()).Round(100*time.Millisecond))

	srv.mu.Lock()
	homes, served := srv.homes, srv.served
	srv.mu.Unlock()
	if len(homes) != 1 {
		t.Fatalf("phone-home requests: %+v, want 1", homes)
	}
	h := homes[0]
	if !DefaultPrefix().Contains(h.remote) {
		t.Errorf("phone-home from %s, outside the lab subnet", h.remote)
	}
	if h.arpMAC.String() != mac.String() {
		t.Errorf("phone-home from %s whose neighbour entry is %q, want the VM's MAC %s", h.remote, h.arpMAC, mac)
	}
	if h.claimed != mac.String() {
		t.Errorf("guest reported mac=%q, want %s", h.claimed, mac)
	}
	paths := []string{"/boot.ipxe", "/vmlinuz", "/initrd.gz", "/phonehome"}
	switch fw {
	case UEFIPXE:
		paths[0] = "/boot-efi.ipxe"
	case UEFIHTTP:
		paths = append(paths, "/ipxe.efi")
		paths[0] = "/boot-efi.ipxe"
	}
	for _, want := range paths {
		found := false
		for _, p := range served {
			found = found || p == want
		}
		if !found {
			t.Errorf("HTTP requests %v: %s missing", served, want)
		}
	}
	if log := srv.dnsmasqLog(); !strings.Contains(strings.ToLower(log), "dhcpack(br0)") || !strings.Contains(strings.ToLower(log), strings.ToLower(mac.String())) {
		t.Errorf("dnsmasq log shows no DHCPACK for %s:\n%s", mac, log)
	}
}
