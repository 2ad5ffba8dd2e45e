// The guest that stands in for Harvester's installer fetches its config
// with busybox 1.35's wget, whose TLS 1.2 ClientHello carries no
// signature_algorithms extension; Go 1.26 refuses such a client unless
// tlssha1=1 (RFC 9155 made the extension mandatory). The installer's own
// clients send it. This test binary alone allows the old client.
//go:debug tlssha1=1

package harvester

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/iscdhcp"
	"github.com/pxekit/pxekit/pxetest"
)

// The guest stands in for Harvester's installer: it reads
// harvester.install.config_url from /proc/cmdline and fetches it, then
// tries the other node's config, printing what happened on the console.
var guestCommands = []string{
	`cfg=$(arg harvester.install.config_url)`,
	`echo "HV-URL: $cfg"`,
	`if timeout 60 wget -q -O /tmp/config.yaml "$cfg"; then echo "HV-CONFIG: ok $(grep -E '^ *(hostname|mode):' /tmp/config.yaml | tr -s ' \n' ' ')"; else echo "HV-CONFIG: failed"; fi`,
	`case "$mac" in 52:54:00:6b:13:e2) other=52:54:00:69:d5:92/config-join.yaml;; *) other=52:54:00:6b:13:e2/config-create.yaml;; esac`,
	`ourl=$(echo "$cfg" | sed "s#/machines/.*#/machines/$other#")`,
	`if timeout 60 wget -q -O /tmp/other "$ourl" 2>/tmp/err; then echo "HV-OTHER: served"; else echo "HV-OTHER: refused $(tr "\n" " " </tmp/err)"; fi`,
}

var (
	configRE = regexp.MustCompile(`^HV-CONFIG: (.*)$`)
	otherRE  = regexp.MustCompile(`^HV-OTHER: (.*)$`)
)

type harvLab struct {
	lab    *pxetest.BootLab
	srv    *pxe.Server
	events pxetest.Recorder[pxe.Event]
	logs   pxetest.Buffer
	// fileBase is the root of the nodes' config URLs: the server's HTTP
	// root, or its HTTPS one when configs are served over HTTPS only.
	fileBase string
}

func startHarvLab(t *testing.T, ctx context.Context, c *Cluster, policy dhcp.BootPolicy) *harvLab {
	t.Helper()
	return startHarvLabWith(t, ctx, c, policy, guestCommands, nil)
}

// startHarvLabWith is startHarvLab with the guest's commands and a change
// to the server's configuration.
func startHarvLabWith(t *testing.T, ctx context.Context, c *Cluster, policy dhcp.BootPolicy, guest []string, mod func(*pxe.Config)) *harvLab {
	t.Helper()
	pxetest.RequireFile(t, pxetest.IPXEEFI, "ipxe")
	lab := pxetest.NewBootLab(t, pxetest.Initramfs{Commands: guest})
	// The test kernel must talk on the serial console; Harvester's
	// arguments stay as they are.
	c.Boot.Extra = []string{"console=ttyS0", "panic=-1"}
	plan, inv := planned(t, c)
	hl := &harvLab{lab: lab}
	cfg := pxe.Config{
		Interface: lab.Bridge,
		NetNS:     lab.NS.Path(),
		Subnets: []dhcp.Subnet{{
			Pools:     []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}},
			LeaseTime: 10 * time.Minute,
		}},
		HTTPPort: 8080,
		Assets: fstest.MapFS{
			plan.Release.Kernel(): {Data: lab.Vmlinuz, ModTime: time.Now()},
			plan.Release.Initrd(): {Data: lab.Initrd, ModTime: time.Now()},
		},
		Inventory: inv,
		Boot:      policy,
		Logger:    slog.New(slog.NewTextHandler(&hl.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := pxe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hl.srv = srv
	hl.fileBase = srv.BaseURL()
	if cfg.FilesHTTPSOnly {
		hl.fileBase = "https://192.0.2.1:" + strconv.Itoa(cfg.HTTPSPort)
	}
	go hl.events.Record(srv.Subscribe(ctx))
	pxetest.Serve(t, srv)
	return hl
}

// boot powers on node n and checks, from the guest's console, that it got
// its own config through the URL on its kernel command line and was
// refused the other node's.
func (hl *harvLab) boot(t *testing.T, ctx context.Context, fw pxetest.Firmware, n Node, wantMode Mode) {
	t.Helper()
	hl.bootWith(t, ctx, fw, n, wantMode, nil)
}

// bootWith is boot that also hands every console line to onLine.
func (hl *harvLab) bootWith(t *testing.T, ctx context.Context, fw pxetest.Firmware, n Node, wantMode Mode, onLine func(string)) {
	t.Helper()
	mac := mustMAC(t, n.MAC)
	vm := hl.lab.StartVM(t, ctx, pxetest.VMConfig{MAC: mac, Firmware: fw,
		OnLine: func(l string) {
			t.Logf("%s: %s", n.Hostname, l)
			if onLine != nil {
				onLine(l)
			}
		}})
	got, err := vm.WaitFor(ctx, pxetest.CmdlineRE)
	if err != nil {
		t.Fatal(err)
	}
	cmdline := got[1]
	for _, want := range []string{"ip=dhcp", "rd.cos.disable", "harvester.install.automatic=true",
		"root=live:" + hl.srv.BaseURL() + "/assets/harvester-v1.1.0-rootfs-amd64.squashfs",
		"harvester.install.config_url=" + hl.fileBase + "/machines/" + mac.String() + "/config-" + string(wantMode) + ".yaml"} {
		if !strings.Contains(" "+cmdline+" ", " "+want+" ") {
			t.Errorf("/proc/cmdline lacks %s:\n%s", want, cmdline)
		}
	}
	switch {
	case fw.SecureBoot():
		// GRUB loads the initrd itself and names the kernel BOOT_IMAGE.
		if !strings.HasPrefix(cmdline, "BOOT_IMAGE=/assets/harvester-v1.1.0-vmlinuz-amd64 ") || strings.Contains(cmdline, "initrd=") {
			t.Errorf("GRUB's kernel command line: %s", cmdline)
		}
	case fw != pxetest.BIOS && !strings.Contains(cmdline, "initrd=harvester-v1.1.0-initrd-amd64"):
		t.Errorf("UEFI boot without initrd=: %s", cmdline)
	}
	cfg, err := vm.WaitFor(ctx, configRE)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg[1], "ok ") || !strings.Contains(cfg[1], "hostname: "+n.Hostname) || !strings.Contains(cfg[1], "mode: "+string(wantMode)) {
		t.Errorf("own config: %q", cfg[1])
	}
	other, err := vm.WaitFor(ctx, otherRE)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(other[1], "refused") || !strings.Contains(other[1], "403") {
		t.Errorf("the other node's config: %q, want refused with 403", other[1])
	}
	if err := vm.Wait(ctx); err != nil {
		t.Errorf("QEMU after power-off: %v", err)
	}
	served, denied := false, false
	for _, e := range hl.events.All() {
		if macaddr.Equal(e.MAC, mac) && e.Kind == pxe.EventConfigServed {
			served = true
		}
		if e.Kind == pxe.EventDenied && !macaddr.Equal(e.MAC, mac) && strings.Contains(e.Detail, "config-") {
			denied = true
		}
	}
	if !served || !denied {
		t.Errorf("events: config served to %s %v, other config denied %v", mac, served, denied)
	}
}

// checkNoSecrets greps every log line and event for the cluster's token
// and password.
func (hl *harvLab) checkNoSecrets(t *testing.T, c *Cluster) {
	events := hl.events.All()
	var ev strings.Builder
	for _, e := range events {
		fmt.Fprintf(&ev, "%+v\n", e)
	}
	for _, s := range []string{c.Token, c.Password} {
		if strings.Contains(hl.logs.String(), s) || strings.Contains(ev.String(), s) {
			t.Errorf("secret %q in logs or events", s)
		}
	}
	if len(events) == 0 || hl.logs.Len() == 0 {
		t.Errorf("no events (%d) or logs (%d bytes) captured", len(events), hl.logs.Len())
	}
}

func labCluster(t *testing.T) *Cluster {
	c := loadCluster(t)
	c.Token, c.Password = "tok-e4c1d9-LABSECRET", "pw-90af17-LABSECRET"
	return c
}

// TestBootBIOS: the install guide's node1 (CREATE) and node2 (JOIN) boot at once
// through SeaBIOS and QEMU's iPXE ROM.
func TestBootBIOS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := labCluster(t)
	hl := startHarvLab(t, ctx, c, nil)
	var wg sync.WaitGroup
	for i, mode := range []Mode{ModeCreate, ModeJoin} {
		n := c.Nodes[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(n.Hostname, func(t *testing.T) { hl.boot(t, ctx, pxetest.BIOS, n, mode) })
		}()
	}
	wg.Wait()
	hl.checkNoSecrets(t, c)
}

// TestBootUEFIHTTP: node1 (CREATE) through OVMF's UEFI HTTP boot → iPXE →
// the UEFI script with initrd=. DHCP answers as the install guide's dhcpd.conf (UEFI
// HTTP boot variant, imported by pxe/iscdhcp) says: the elsif HTTPClient
// branch hands out ipxe.efi with option 60 "HTTPClient", then the iPXE
// branch the create script — both pointed at this server.
func TestBootUEFIHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := labCluster(t)
	src, err := os.ReadFile("testdata/install-guide/dhcpd-httpboot.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := iscdhcp.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	hl := startHarvLab(t, ctx, c, conf.Policy(ServerURL))
	hl.boot(t, ctx, pxetest.UEFIHTTP, c.Nodes[0], ModeCreate)
	hl.checkNoSecrets(t, c)
}

// TestBootSecureBoot: node1 (CREATE) with boot.secureBoot through OVMF with
// Secure Boot enforced: shim → GRUB → its grub.cfg with the Harvester
// arguments → the signed kernel, the guest confirming Secure Boot is on.
// The nodes' configs are served over HTTPS only (a lab CA): the guest
// fetches its own over HTTPS, is refused the other node's, and is refused
// its own over plain HTTP.
func TestBootSecureBoot(t *testing.T) {
	pxetest.RequireSecureBoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := labCluster(t)
	c.Boot.SecureBoot = true
	guest := append(append([]string(nil), guestCommands...),
		`plain=$(echo "$cfg" | sed 's#^https://\([^/:]*\):8443/#http://\1:8080/#')`,
		`if timeout 60 wget -q -O /tmp/plain "$plain" 2>/tmp/err; then echo "HV-PLAIN: served"; else echo "HV-PLAIN: refused $(tr "\n" " " </tmp/err)"; fi`)
	hl := startHarvLabWith(t, ctx, c, nil, guest, func(cfg *pxe.Config) {
		cfg.TLSLabCA, cfg.HTTPSPort, cfg.FilesHTTPSOnly = t.TempDir(), 8443, true
	})
	var plain []string
	var sb []string
	plainRE := regexp.MustCompile(`^HV-PLAIN: (.*)$`)
	var mu sync.Mutex
	n := c.Nodes[0]
	hl.bootWith(t, ctx, pxetest.UEFISecureBoot, n, ModeCreate, func(l string) {
		mu.Lock()
		defer mu.Unlock()
		if m := plainRE.FindStringSubmatch(l); m != nil {
			plain = append(plain, m[1])
		}
		if m := pxetest.SecureBootRE.FindStringSubmatch(l); m != nil {
			sb = append(sb, m[1]+" efivar="+m[2])
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if len(sb) != 1 || sb[0] != "enabled efivar=1" {
		t.Errorf("the guest says Secure Boot: %q, want enabled efivar=1", sb)
	}
	if len(plain) != 1 || !strings.Contains(plain[0], "refused") || !strings.Contains(plain[0], "403") {
		t.Errorf("its own config over plain HTTP: %q, want refused with 403", plain)
	}
	for _, e := range hl.events.All() {
		if e.Kind == pxe.EventScriptServed && macaddr.Equal(e.MAC, mustMAC(t, n.MAC)) && !strings.Contains(e.Detail, "grub.cfg") {
			t.Errorf("served an iPXE script to a Secure Boot node: %s", e.Detail)
		}
	}
	hl.checkNoSecrets(t, c)
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := macaddr.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
