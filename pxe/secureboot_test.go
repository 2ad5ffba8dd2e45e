package pxe

import (
	"bytes"
	"crypto/tls"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/grub"
	"github.com/pxekit/pxekit/pxe/labca"
	"github.com/pxekit/pxekit/pxetest"
)

var (
	macSB   = net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x00, 0x01}
	macIPXE = net.HardwareAddr{0x52, 0x54, 0x00, 0x5b, 0x00, 0x02}
)

// sbLoaders stand in for shim and GRUB where only their bytes matter.
func sbLoaders() fstest.MapFS {
	return fstest.MapFS{
		"shimx64.efi": {Data: []byte("MZ shim, signed by Microsoft's UEFI CA"), ModTime: time.Now().Add(-time.Hour)},
		"grubx64.efi": {Data: []byte("MZ grubnetx64, signed by Debian"), ModTime: time.Now().Add(-time.Hour)},
	}
}

func sbAssets() fstest.MapFS {
	return fstest.MapFS{
		"vmlinuz":   {Data: bytes.Repeat([]byte("K"), 70_000), ModTime: time.Now().Add(-time.Hour)},
		"initrd.gz": {Data: bytes.Repeat([]byte("I"), 30_000), ModTime: time.Now().Add(-time.Hour)},
	}
}

func sbInventory() InventorySpec {
	return InventorySpec{
		Machines: []Machine{
			{MAC: macSB, Hostname: "node1", Profile: "signed", Vars: map[string]string{"role": "create;halt"}},
			{MAC: macIPXE, Hostname: "node2", Profile: "plain"},
		},
		Profiles: map[string]Profile{
			"signed": {Kind: ProfileSecureBoot, Kernel: "vmlinuz", Initrd: "initrd.gz",
				Args:  []string{"console=ttyS0", "pxekit.role={{.Vars.role}}", "pxekit.config={{.FileURL \"config.yaml\"}}"},
				Files: map[string]string{"config.yaml": "hostname: {{.Hostname}}\n"}},
			"plain": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0"}},
		},
	}
}

// sbServer is a boot server on lo (New only: nothing listens) with a
// Secure Boot profile.
func sbServer(t *testing.T, mod func(*Config)) *Server {
	t.Helper()
	inv, err := NewStaticInventory(sbInventory())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Interface: "lo", HTTPPort: 8080, IPXE: fstest.MapFS{"ipxe.efi": {Data: []byte("MZ ipxe")}},
		SecureBoot: sbLoaders(), Assets: sbAssets(), Inventory: inv, Logger: pxetest.Logger(t, 0)}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSecureBootProfileValidation(t *testing.T) {
	for _, tt := range []struct {
		p    Profile
		want string
	}{
		{Profile{Kind: "grubby", Kernel: "k"}, `profiles[x].kind: Unsupported value: "grubby"`},
		{Profile{Kind: ProfileSecureBoot, Script: "#!ipxe\nboot\n"}, "profiles[x].kernel: Required value: a Secure Boot profile boots a kernel"},
		{Profile{Kind: ProfileSecureBoot, Kernel: "http://192.0.2.9/vmlinuz"}, "profiles[x].kernel: Invalid value"},
		{Profile{Kind: ProfileSecureBoot, Kernel: "k", Initrd: "https://192.0.2.9/i"}, "profiles[x].initrd: Invalid value"},
	} {
		_, err := NewStaticInventory(InventorySpec{Profiles: map[string]Profile{"x": tt.p}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.p, err, tt.want)
		}
	}
	if _, err := NewStaticInventory(InventorySpec{Profiles: map[string]Profile{"x": {Kind: ProfileIPXE, Kernel: "k"}}}); err != nil {
		t.Errorf("kind ipxe: %v", err)
	}
}

// The boot policy sends a Secure Boot profile's UEFI machines to shim
// (TFTP for PXE, the disk image or shim over HTTP(S) for HTTP boot) and
// everything else where it always went.
func TestSecureBootPolicy(t *testing.T) {
	pxeClient := func(mac net.HardwareAddr, arch dhcp.Arch) dhcp.Client {
		vc := "PXEClient:Arch:0000" + map[dhcp.Arch]string{0: "0", 7: "7", 16: "16"}[arch]
		if arch == dhcp.ArchEFIx64HTTP {
			vc = "HTTPClient:Arch:00016:UNDI:003000"
		}
		return dhcp.Client{MAC: mac, Archs: []dhcp.Arch{arch}, VendorClass: vc}
	}
	s := sbServer(t, nil)
	policy := s.bootPolicy()
	for _, tt := range []struct {
		name   string
		client dhcp.Client
		file   string
		vendor string
	}{
		{"UEFI PXE", pxeClient(macSB, dhcp.ArchEFIx64), "shimx64.efi", ""},
		{"UEFI HTTP", pxeClient(macSB, dhcp.ArchEFIx64HTTP), "http://127.0.0.1:8080/secureboot/" + macSB.String() + ".img", "HTTPClient"},
		{"BIOS keeps iPXE", pxeClient(macSB, dhcp.ArchBIOS), "undionly.kpxe", ""},
		{"iPXE profile, UEFI PXE", pxeClient(macIPXE, dhcp.ArchEFIx64), "ipxe.efi", ""},
		{"iPXE profile, UEFI HTTP", pxeClient(macIPXE, dhcp.ArchEFIx64HTTP), "http://127.0.0.1:8080/ipxe/ipxe.efi", "HTTPClient"},
	} {
		d := policy(tt.client)
		if d.Filename != tt.file || d.VendorClass != tt.vendor {
			t.Errorf("%s: %+v, want %s (vendor class %q)", tt.name, d, tt.file, tt.vendor)
		}
	}
	dir := t.TempDir()
	shim := sbServer(t, func(c *Config) {
		c.SecureBootHTTP, c.TLSLabCA, c.HTTPSPort, c.HTTPSBoot = SecureBootShim, dir, 8443, true
	}).bootPolicy()
	if d := shim(pxeClient(macSB, dhcp.ArchEFIx64HTTP)); d.Filename != "https://127.0.0.1:8443/secureboot/shimx64.efi" {
		t.Errorf("shim over HTTPS: %+v", d)
	}
	if d := shim(pxeClient(macIPXE, dhcp.ArchEFIx64HTTP)); d.Filename != "https://127.0.0.1:8443/ipxe/ipxe.efi" {
		t.Errorf("ipxe.efi over HTTPS: %+v", d)
	}
}

func readFS(t *testing.T, fsys fs.FS, name string) []byte {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Over TFTP the network GRUB finds its one grub.cfg, the machine's own
// beside it, the kernel and initrd, and the report path; the loaders sit
// beside the iPXE builds.
func TestSecureBootTFTPRoot(t *testing.T) {
	s := sbServer(t, nil)
	root := s.tftp.Root
	dispatch := readFS(t, root, "grub/grub.cfg")
	if probs := grub.Lint(string(dispatch), grub.ForSecureBoot()); len(probs) > 0 {
		t.Errorf("grub/grub.cfg: %v\n%s", probs, dispatch)
	}
	if !strings.Contains(string(dispatch), `source "/grub/${net_default_mac}.cfg"`) {
		t.Errorf("grub/grub.cfg does not read the machine's own:\n%s", dispatch)
	}
	own := readFS(t, root, "grub/"+macSB.String()+".cfg")
	m, p, _ := s.cfg.Inventory.Lookup(macSB)
	want, err := RenderGRUB(m, p, s.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(own, want) {
		t.Errorf("grub/<mac>.cfg over TFTP:\n%s\nRenderGRUB:\n%s", own, want)
	}
	if probs := grub.Lint(string(own), grub.ForSecureBoot()); len(probs) > 0 {
		t.Errorf("the machine's grub.cfg: %v\n%s", probs, own)
	}
	for _, w := range []string{
		"if linux '/assets/vmlinuz' 'console=ttyS0' 'pxekit.role=create;halt' 'pxekit.config=http://127.0.0.1:8080/machines/" + macSB.String() + "/config.yaml' ; then",
		"if initrd '/assets/initrd.gz' ; then",
		"source '/pxekit/report/" + macSB.String() + "/kernel-refused'",
	} {
		if !strings.Contains(string(own), w) {
			t.Errorf("grub.cfg lacks %q:\n%s", w, own)
		}
	}
	if got := readFS(t, root, "assets/vmlinuz"); len(got) != 70_000 {
		t.Errorf("assets/vmlinuz over TFTP: %d bytes", len(got))
	}
	if got := readFS(t, root, "shimx64.efi"); !bytes.HasPrefix(got, []byte("MZ shim")) {
		t.Errorf("shimx64.efi = %q", got)
	}
	if got := readFS(t, root, "ipxe.efi"); string(got) != "MZ ipxe" {
		t.Errorf("ipxe.efi = %q", got)
	}
	if got := readFS(t, root, "pxekit/report/"+macSB.String()+"/kernel-refused"); !strings.Contains(string(got), "recorded kernel-refused") {
		t.Errorf("report answer %q", got)
	}
	for _, name := range []string{"grub/zz.cfg", "pxekit/report/" + macSB.String() + "/bogus", "grub/x86_64-efi/command.lst"} {
		if _, err := root.Open(name); err == nil {
			t.Errorf("%s opened", name)
		}
	}
	// A machine the inventory does not know has no grub.cfg.
	if _, err := root.Open("grub/52:54:00:00:99:99.cfg"); err == nil {
		t.Error("an unknown machine's grub.cfg opened")
	}
}

// The kernel arguments pass GRUB's rules on top of iPXE's: a value GRUB
// would hand to the kernel changed is refused, whatever the inventory says.
func TestRenderGRUBRefusesWhatGRUBWouldChange(t *testing.T) {
	p := Profile{Kind: ProfileSecureBoot, Kernel: "vmlinuz", Args: []string{"pxekit.role={{.Vars.role}}"}}
	for _, role := range []string{"it's", "a b", "x\nhalt"} {
		m := Machine{MAC: macSB, Profile: "signed", Vars: map[string]string{"role": role}}
		if out, err := RenderGRUB(m, p, "http://192.0.2.1"); err == nil {
			t.Errorf("role %q rendered:\n%s", role, out)
		}
	}
	if _, err := RenderGRUB(Machine{MAC: macSB, Profile: "s"}, Profile{Script: "#!ipxe\n"}, "http://192.0.2.1"); err == nil {
		t.Error("a script-only profile rendered a grub.cfg")
	}
}

func TestSecureBootHTTP(t *testing.T) {
	s := sbServer(t, nil)
	h := s.Handler()
	events := pxetest.Recorder[Event]{}
	ctx := t.Context()
	go events.Record(s.Subscribe(ctx))
	time.Sleep(10 * time.Millisecond) // the subscription is in place before the requests
	for _, tt := range []struct {
		path string
		code int
		body string
	}{
		{"/secureboot/shimx64.efi", 200, "MZ shim"},
		{"/secureboot//grubx64.efi", 200, "MZ grubnetx64"}, // as shim asks for it
		{"/secureboot/other.efi", 404, ""},
		{"/grub/grub.cfg", 200, "# pxekit: the network GRUB reads only this file"},
		{"/grub/" + macSB.String() + ".cfg", 200, "if linux '/assets/vmlinuz'"},
		{"/grub/52:54:00:00:99:99.cfg", 403, ""},
		{"/pxekit/report/" + macSB.String() + "/kernel-refused", 200, "echo 'pxekit: the boot server recorded kernel-refused'"},
		{"/pxekit/report/" + macSB.String() + "/elsewhere", 404, ""},
	} {
		w := do(h, "GET", tt.path, "192.0.2.10:4000", nil)
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tt.path, w.Code, w.Body.String(), tt.code, tt.body)
		}
	}
	_, err := events.Wait(ctx, func(all []Event) bool {
		var served, denied bool
		for _, e := range all {
			served = served || e.Kind == EventScriptServed && e.MAC.String() == macSB.String() && e.Detail == "grub.cfg profile=signed over http"
			denied = denied || e.Kind == EventDenied && e.MAC.String() == macSB.String() && strings.Contains(e.Detail, "kernel-refused: GRUB refused the kernel vmlinuz")
		}
		return served && denied
	})
	if err != nil {
		t.Errorf("events %+v: %v", events.All(), err)
	}
}

// The disk image holds the chain and the machine's files where UEFI and
// GRUB look for them, and keeps its size from HEAD to GET even when its
// grub.cfg carries a signed URL that expires later on the second request.
func TestSecureBootDiskImage(t *testing.T) {
	mtype := pxetest.RequireCmd(t, "mtype", "mtools")
	s := sbServer(t, func(c *Config) { c.URLKey = bytes.Repeat([]byte("k"), 32) })
	h := s.Handler()
	path := "/secureboot/" + macSB.String() + ".img"
	head := do(h, "HEAD", path, "192.0.2.10:4000", nil)
	time.Sleep(1100 * time.Millisecond) // the next signature's expiry is another second
	get := do(h, "GET", path, "192.0.2.10:4000", nil)
	if get.Code != 200 || head.Code != 200 || head.Header().Get("Content-Length") != get.Header().Get("Content-Length") {
		t.Fatalf("HEAD %d (%s bytes), GET %d (%s bytes)", head.Code, head.Header().Get("Content-Length"), get.Code, get.Header().Get("Content-Length"))
	}
	if ct := get.Header().Get("Content-Type"); ct != "application/vnd.efi-img" {
		t.Errorf("Content-Type %q: UEFI takes the download as a disk image by application/vnd.efi-img", ct)
	}
	img := filepath.Join(t.TempDir(), "boot.img")
	if err := os.WriteFile(img, get.Body.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		cmd := exec.Command(mtype, "-i", img, "::/"+name)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mtype %s: %v", name, err)
		}
		return string(out)
	}
	if got := read("EFI/BOOT/BOOTX64.EFI"); !strings.HasPrefix(got, "MZ shim") {
		t.Errorf("BOOTX64.EFI = %q, want shim", got)
	}
	if got := read("EFI/BOOT/GRUBX64.EFI"); !strings.HasPrefix(got, "MZ grubnetx64") {
		t.Errorf("GRUBX64.EFI = %q", got)
	}
	if got := read("VMLINUZ"); len(got) != 70_000 {
		t.Errorf("VMLINUZ: %d bytes", len(got))
	}
	cfg := strings.TrimRight(read("GRUB/GRUB.CFG"), "\n") + "\n"
	for _, w := range []string{"if linux '/VMLINUZ' 'console=ttyS0'", "if initrd '/INITRD' ; then",
		"net_bootp\n", "source '(tftp,127.0.0.1)/pxekit/report/" + macSB.String() + "/kernel-refused'", "&sig="} {
		if !strings.Contains(cfg, w) {
			t.Errorf("the image's grub.cfg lacks %q:\n%s", w, cfg)
		}
	}
	if probs := grub.Lint(cfg, grub.ForSecureBoot()); len(probs) > 0 {
		t.Errorf("the image's grub.cfg: %v", probs)
	}
	if w := do(h, "GET", "/secureboot/52:54:00:00:99:99.img", "192.0.2.10:4000", nil); w.Code != 403 {
		t.Errorf("an unknown machine's image: %d", w.Code)
	}
}

// Per-machine files restricted to HTTPS: FileURL hands out https, plain
// HTTP is denied, HTTPS serves them.
func TestFilesHTTPSOnly(t *testing.T) {
	s := sbServer(t, func(c *Config) { c.TLSLabCA, c.HTTPSPort, c.FilesHTTPSOnly = t.TempDir(), 8443, true })
	h := s.Handler()
	cfg := do(h, "GET", "/grub/"+macSB.String()+".cfg", "192.0.2.10:4000", nil).Body.String()
	url := "https://127.0.0.1:8443/machines/" + macSB.String() + "/config.yaml"
	if !strings.Contains(cfg, "'pxekit.config="+url+"'") {
		t.Fatalf("FileURL is not %s:\n%s", url, cfg)
	}
	events := pxetest.Recorder[Event]{}
	go events.Record(s.Subscribe(t.Context()))
	time.Sleep(10 * time.Millisecond)
	// 127.0.0.1 has no lease here: the handler's lease map is the DHCP
	// server's, so ask as the machine would from its leased address.
	s.http.Load().macForIP = func(netip.Addr) (net.HardwareAddr, bool) { return macSB, true }
	plain := do(h, "GET", "/machines/"+macSB.String()+"/config.yaml", "192.0.2.10:4000", nil)
	if plain.Code != http.StatusForbidden {
		t.Errorf("over plain HTTP: %d %q", plain.Code, plain.Body)
	}
	r := httptest.NewRequest("GET", "/machines/"+macSB.String()+"/config.yaml", nil)
	r.RemoteAddr = "192.0.2.10:4000"
	r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "hostname: node1\n" {
		t.Errorf("over HTTPS: %d %q", w.Code, w.Body)
	}
	if _, err := events.Wait(t.Context(), func(all []Event) bool {
		for _, e := range all {
			if e.Kind == EventDenied && strings.Contains(e.Detail, "over plain HTTP: per-machine files are served over HTTPS only") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("no denied event for plain HTTP: %v", err)
	}
}

func TestSecureConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Interface: "lo", SecureBootHTTP: "floppy"}, "secureBootHTTP: Unsupported value"},
		{Config{Interface: "lo", TLSCertFile: "c.pem"}, "tlsKeyFile: Required value"},
		{Config{Interface: "lo", TLSCertFile: "c", TLSKeyFile: "k", TLSLabCA: "/tmp/x"}, "give the certificate one way"},
		{Config{Interface: "lo", HTTPSBoot: true}, "httpsBoot: Invalid value: true: needs HTTPS"},
		{Config{Interface: "lo", FilesHTTPSOnly: true}, "filesHTTPSOnly: Invalid value: true: needs HTTPS"},
		{Config{Interface: "lo", TLSLabCA: "/tmp/x", HTTPPort: 8443, HTTPSPort: 8443}, "httpsPort: Duplicate value: 8443"},
		{Config{Interface: "lo", HTTPSPort: 70000}, "httpsPort: Invalid value"},
	} {
		errs := tt.cfg.Validate()
		if !strings.Contains(errs.ToAggregate().Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, errs, tt.want)
		}
	}
	// A certificate that does not name the server is refused at New.
	ca, err := labca.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	crt, err := ca.Issue(netip.MustParseAddr("192.0.2.99"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Interface: "lo", IPXE: fstest.MapFS{}, TLSCertificate: &crt}); err == nil || !strings.Contains(err.Error(), "does not name 127.0.0.1") {
		t.Errorf("New with a certificate for another address: %v", err)
	}
}
