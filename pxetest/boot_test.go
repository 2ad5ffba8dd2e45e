package pxetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// standIn is a minimal boot server for the harness test: dnsmasq for DHCP
// (and TFTP) plus net/http for the iPXE script, kernel, initramfs and the
// phone-home URL. The project's own servers replace it in the pxe tests.
type standIn struct {
	base    string // http://192.0.2.1:PORT
	cmdline string // kernel arguments the script passes
	token   string // random, in the config URL and the config
	dnsmasq *Process
	homes   PhoneHomes

	mu     sync.Mutex
	served []string
}

func startStandIn(t *testing.T, lab *BootLab) *standIn {
	t.Helper()
	ln, err := lab.NS.Listen("tcp", netip.AddrPortFrom(lab.ServerAddr(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	s := &standIn{base: "http://" + ln.Addr().String(), homes: PhoneHomes{NS: lab.NS}}
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
	mux.HandleFunc("/ipxe.efi", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, IPXEEFI) })
	mux.HandleFunc("/vmlinuz", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, lab.Kernel.Vmlinuz) })
	mux.HandleFunc("/initrd.gz", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "initrd.gz", time.Time{}, strings.NewReader(string(lab.Initrd)))
	})
	mux.HandleFunc("/config/{token}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "config-for-%s\n", r.PathValue("token"))
	})
	mux.Handle("/phonehome", &s.homes)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.served = append(s.served, r.URL.Path)
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	efi, err := os.ReadFile(IPXEEFI)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ipxe.efi"), efi, 0o644); err != nil {
		t.Fatal(err)
	}
	s.dnsmasq = StartDnsmasq(t, lab.NS, lab.Bridge,
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
	return s
}

// TestFirmwareBootPhonesHome boots real firmware in a netns against
// dnsmasq + net/http, with the Debian cloud kernel and the busybox
// initramfs built here: SeaBIOS + QEMU's iPXE ROM; OVMF PXE → TFTP
// ipxe.efi → iPXE; OVMF HTTP boot → ipxe.efi by URL → iPXE. It checks from
// the console that /init ran with exactly the script's kernel arguments,
// and from the server that the phone-home request came from the VM's MAC.
func TestFirmwareBootPhonesHome(t *testing.T) {
	RequireFile(t, IPXEEFI, "ipxe")
	for _, fw := range []Firmware{BIOS, UEFIPXE, UEFIHTTP} {
		t.Run(fw.String(), func(t *testing.T) { testFirmwareBoot(t, fw) })
	}
}

func testFirmwareBoot(t *testing.T, fw Firmware) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	// Commands is how an installer-like guest (Harvester) fetches its
	// config from a kernel argument.
	lab := NewBootLab(t, Initramfs{Commands: []string{
		`cfg=$(arg pxekit.config) && timeout 60 wget -q -O /tmp/cfg "$cfg" && echo "CONFIG: $(cat /tmp/cfg)"`,
	}})
	srv := startStandIn(t, lab)
	mac := NewMAC()
	vm := lab.StartVM(t, ctx, VMConfig{MAC: mac, Firmware: fw})

	if _, err := vm.WaitFor(ctx, regexp.MustCompile(MarkerStart+"$")); err != nil {
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

	homes := srv.homes.All()
	srv.mu.Lock()
	served := srv.served
	srv.mu.Unlock()
	if len(homes) != 1 {
		t.Fatalf("phone-home requests: %+v, want 1", homes)
	}
	h := homes[0]
	if !DefaultPrefix().Contains(h.Remote) {
		t.Errorf("phone-home from %s, outside the lab subnet", h.Remote)
	}
	if h.Neighbor.String() != mac.String() {
		t.Errorf("phone-home from %s whose neighbour entry is %q, want the VM's MAC %s", h.Remote, h.Neighbor, mac)
	}
	if h.MAC.String() != mac.String() {
		t.Errorf("guest reported mac=%q, want %s", h.MAC, mac)
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
		if !slices.Contains(served, want) {
			t.Errorf("HTTP requests %v: %s missing", served, want)
		}
	}
	if log := srv.dnsmasq.Output(); !strings.Contains(strings.ToLower(log), "dhcpack(br0)") || !strings.Contains(strings.ToLower(log), strings.ToLower(mac.String())) {
		t.Errorf("dnsmasq log shows no DHCPACK for %s:\n%s", mac, log)
	}
}
