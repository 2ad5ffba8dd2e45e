package pxetest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
)

func TestVMConfigArgs(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xde}
	has := func(args []string, want ...string) bool {
		for i := range args {
			if slices.Equal(args[i:min(i+len(want), len(args))], want) {
				return true
			}
		}
		return false
	}
	bios, err := VMConfig{Tap: "tap0", MAC: mac, Firmware: BIOS}.Args()
	if err != nil {
		t.Fatal(err)
	}
	if !has(bios, "-boot", "n") || !has(bios, "-device", "virtio-net-pci,netdev=n0,mac=02:00:00:00:00:de") ||
		!has(bios, "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no") || has(bios, "-bios", OVMFImage) {
		t.Errorf("BIOS args: %q", bios)
	}
	uefi, err := VMConfig{Tap: "tap0", MAC: mac, Firmware: UEFIPXE, MemoryMB: 1024}.Args()
	if err != nil {
		t.Fatal(err)
	}
	if !has(uefi, "-bios", OVMFImage) || !has(uefi, "-device", "virtio-net-pci,netdev=n0,mac=02:00:00:00:00:de,romfile=") ||
		!has(uefi, "-m", "1024") || !has(uefi, "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n") ||
		has(uefi, "-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n") {
		t.Errorf("UEFI PXE args: %q", uefi)
	}
	// A KubeVirt boot order: the NIC's bootindex, no -boot n.
	indexed, err := VMConfig{Tap: "tap0", MAC: mac, Firmware: BIOS, NICBootIndex: 1}.Args()
	if err != nil {
		t.Fatal(err)
	}
	if has(indexed, "-boot", "n") || !has(indexed, "-device", "virtio-net-pci,netdev=n0,mac=02:00:00:00:00:de,bootindex=1") {
		t.Errorf("BIOS args with NICBootIndex: %q", indexed)
	}
	if uefi, _ := (VMConfig{Tap: "tap0", MAC: mac, Firmware: UEFIPXE, NICBootIndex: 1}).Args(); !has(uefi, "-device", "virtio-net-pci,netdev=n0,mac=02:00:00:00:00:de,bootindex=1,romfile=") {
		t.Errorf("UEFI args with NICBootIndex: %q", uefi)
	}
	http, err := VMConfig{Tap: "tap0", MAC: mac, Firmware: UEFIHTTP}.Args()
	if err != nil {
		t.Fatal(err)
	}
	if !has(http, "-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n") {
		t.Errorf("UEFI HTTP args: %q", http)
	}
	sb, err := VMConfig{Tap: "tap0", MAC: mac, Firmware: UEFISecureBootHTTP, OVMFVars: "/tmp/vars.fd", HTTPSCACerts: "/tmp/ca.esl"}.Args()
	if err != nil {
		t.Fatal(err)
	}
	if !has(sb, "-machine", "q35,smm=on") || !has(sb, "-global", "driver=cfi.pflash01,property=secure,value=on") ||
		!has(sb, "-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+OVMFSecureBootCode) ||
		!has(sb, "-drive", "if=pflash,format=raw,unit=1,file=/tmp/vars.fd") || has(sb, "-bios", OVMFImage) ||
		!has(sb, "-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n") ||
		!has(sb, "-fw_cfg", "name=etc/edk2/https/cacerts,file=/tmp/ca.esl") {
		t.Errorf("Secure Boot HTTP args: %q", sb)
	}
	if !UEFISecureBoot.SecureBoot() || UEFIPXE.SecureBoot() {
		t.Error("SecureBoot() is wrong")
	}
	// IPv6: IPv4 off (PXEv4 and HTTPv4 would each wait 60 s), PXEv6 kept
	// (HTTPv6 only works after it), and the UUID iPXE's DUID is made of.
	pxe6, err := VMConfig{Tap: "tap0", MAC: mac, Firmware: UEFIPXE6, UUID: "2f6b2b5c-0d5e-4c53-9d36-1c6bd7c8a001"}.Args()
	if err != nil {
		t.Fatal(err)
	}
	if !has(pxe6, "-fw_cfg", "name=opt/org.tianocore/IPv4Support,string=n") || has(pxe6, "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n") ||
		!has(pxe6, "-uuid", "2f6b2b5c-0d5e-4c53-9d36-1c6bd7c8a001") || !has(pxe6, "-bios", OVMFImage) ||
		!has(pxe6, "-device", "virtio-net-pci,netdev=n0,mac=02:00:00:00:00:de,romfile=") {
		t.Errorf("UEFI PXE over IPv6 args: %q", pxe6)
	}
	if u := newUUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) || u == newUUID() {
		t.Errorf("newUUID: %s", u)
	}
	for name, bad := range map[string]VMConfig{
		"no vars":   {Tap: "tap0", MAC: mac, Firmware: UEFISecureBoot},
		"no tap":    {MAC: mac},
		"short MAC": {Tap: "tap0", MAC: mac[:5]},
		"multicast": {Tap: "tap0", MAC: net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}},
		"firmware":  {Tap: "tap0", MAC: mac, Firmware: Firmware(9)},
	} {
		if _, err := bad.Args(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseFirmware(t *testing.T) {
	for _, f := range []Firmware{BIOS, UEFIPXE, UEFIHTTP, UEFISecureBoot, UEFISecureBootHTTP, UEFIPXE6, UEFIHTTP6} {
		if got, err := ParseFirmware(f.String()); err != nil || got != f {
			t.Errorf("ParseFirmware(%q) = %v, %v", f, got, err)
		}
	}
	if _, err := ParseFirmware("coreboot"); err == nil || !strings.Contains(err.Error(), "coreboot") {
		t.Errorf("unknown firmware: %v", err)
	}
}

func TestNewMAC(t *testing.T) {
	a, b := NewMAC(), NewMAC()
	if len(a) != 6 || a[0] != 0x02 || a.String() == b.String() {
		t.Errorf("NewMAC: %s, %s; want distinct locally administered unicast MACs", a, b)
	}
}

// TestInitramfsContents reads the archive back: busybox, the /init script,
// the udhcpc script and the virtio modules in dependency order.
func TestInitramfsContents(t *testing.T) {
	RequireFile(t, "/bin/busybox", "busybox-static")
	k := GuestKernel(t)
	c := Initramfs{ModulesDir: k.ModulesDir, Commands: []string{`echo "EXTRA: $(arg pxekit.extra)"`},
		Files: map[string][]byte{"/etc/motd": []byte("hi\n")}}
	data, err := c.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(zr)
	files := map[string][]byte{}
	modes := map[string]cpio.FileMode{}
	var mods []string
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		files[h.Name], modes[h.Name] = b, h.Mode
		if strings.HasPrefix(h.Name, "lib/modules/") && strings.HasSuffix(h.Name, ".ko") {
			mods = append(mods, strings.TrimSuffix(filepath.Base(h.Name), ".ko")[3:])
		}
	}
	if string(files["init"]) != c.Script() || modes["init"]&0o111 == 0 {
		t.Errorf("/init is not the executable script")
	}
	bb, _ := os.ReadFile("/bin/busybox")
	if !bytes.Equal(files["bin/busybox"], bb) {
		t.Error("bin/busybox differs from /bin/busybox")
	}
	if string(files["etc/motd"]) != "hi\n" || modes["etc/udhcpc.script"]&0o111 == 0 {
		t.Error("extra file or executable udhcpc script missing")
	}
	// The same set as NICModules, in the order .modinfo dictates
	// (virtio_ring before virtio on 6.1), virtio_net last; then efivarfs,
	// for the firmware's SecureBoot variable, apart (/init loads it under
	// UEFI only).
	sorted, want := slices.Sorted(slices.Values(mods)), slices.Sorted(slices.Values(append(NICModules(), "efivarfs")))
	if !slices.Equal(sorted, want) || mods[len(mods)-2] != "virtio_net" || mods[len(mods)-1] != "efivarfs" ||
		slices.Index(mods, "virtio_ring") > slices.Index(mods, "virtio") {
		t.Errorf("modules in archive order %v, want %v in dependency order", mods, want)
	}
	if _, ok := files["lib/modules/efi/00-efivarfs.ko"]; !ok {
		t.Error("efivarfs is not in lib/modules/efi")
	}
	script := c.Script()
	if i, j := strings.Index(script, "EXTRA:"), strings.Index(script, "arg pxekit.phonehome"); i < 0 || j < 0 || i > j {
		t.Error("Commands must run before the phone-home")
	}
}

// TestInitScriptRuns runs the generated /init's helper function with the
// real busybox sh: arg NAME extracts kernel arguments.
func TestInitScriptArgFunction(t *testing.T) {
	bb := RequireFile(t, "/bin/busybox", "busybox-static")
	script := Initramfs{}.Script()
	i := strings.Index(script, "arg() {")
	fn := script[i : i+strings.Index(script[i:], "\n")]
	dir := t.TempDir()
	cmdline := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(cmdline, []byte("console=ttyS0 quiet harvester.install.config_url=http://192.0.2.1/c.yaml?mac=x pxekit.phonehome=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fn = strings.ReplaceAll(fn, "/proc/cmdline", cmdline)
	out, err := exec.Command(bb, "sh", "-c", fn+`; arg harvester.install.config_url; arg quiet || echo none; arg console`).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, want := string(out), "http://192.0.2.1/c.yaml?mac=x\nnone\nttyS0\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestNetNS checks the namespace plumbing: links are created inside (not on
// the host), commands and listeners run inside, and Close removes it.
func TestNetNS(t *testing.T) {
	lnet := TempNetwork(t, NetworkConfig{})
	name := lnet.NS.Name()
	if _, err := os.Stat("/run/netns/" + name); err != nil {
		t.Fatalf("netns %s not mounted: %v", name, err)
	}
	tap, err := lnet.AddTap()
	if err != nil {
		t.Fatal(err)
	}
	if err := lnet.NS.AddVeth(Veth{Name: "vhost0", Peer: "vpeer0", Bridge: lnet.Bridge}); err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParsePrefix("192.0.2.2/24")
	if err := lnet.NS.AddAddr("vpeer0", peer); err != nil {
		t.Fatal(err)
	}
	// A real peer inside the namespace: ip(8) from iproute2 lists the links.
	ipBin := RequireCmd(t, "ip", "iproute2")
	var out bytes.Buffer
	cmd := exec.Command(ipBin, "-o", "link", "show")
	cmd.Stdout = &out
	if err := lnet.NS.Run(cmd); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lo:", "br0:", tap + ":", "master br0", "vpeer0@vhost0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ip link in netns lacks %q:\n%s", want, out.String())
		}
	}
	host, _ := exec.Command(ipBin, "-o", "link", "show").Output()
	if strings.Contains(string(host), "vpeer0@vhost0") {
		t.Error("veth leaked into the host namespace")
	}
	// TCP across the bridge inside the namespace.
	ln, err := lnet.NS.Listen("tcp", "192.0.2.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	var got []byte
	err = lnet.NS.Do(func() error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		got, err = io.ReadAll(c)
		return err
	})
	if err != nil || string(got) != "hello" {
		t.Errorf("dial inside netns: %q, %v", got, err)
	}
	mac, err := lnet.NS.HardwareAddr("br0")
	if err != nil || len(mac) != 6 {
		t.Errorf("br0 MAC %v, %v", mac, err)
	}
	if err := lnet.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("netns %s still there after Close: %v", name, err)
	}
}

func TestCheckIfName(t *testing.T) {
	lnet := TempNetwork(t, NetworkConfig{})
	if err := lnet.NS.AddTap("a-name-longer-than-15", ""); err == nil || !strings.Contains(err.Error(), "15 bytes") {
		t.Errorf("long name: %v", err)
	}
}
