package harvester

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
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
	`if timeout 60 wget -q -O /tmp/other "$ourl" 2>/tmp/err; then echo "HV-OTHER: served"; else echo "HV-OTHER: refused $(cat /tmp/err)"; fi`,
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
}

func startHarvLab(t *testing.T, ctx context.Context, c *Cluster, policy dhcp.BootPolicy) *harvLab {
	t.Helper()
	pxetest.RequireFile(t, pxetest.IPXEEFI, "ipxe")
	lab := pxetest.NewBootLab(t, pxetest.Initramfs{Commands: guestCommands})
	// The test kernel must talk on the serial console; Harvester's
	// arguments stay as they are.
	c.Boot.Extra = []string{"console=ttyS0", "panic=-1"}
	plan, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := plan.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	hl := &harvLab{lab: lab}
	srv, err := pxe.New(pxe.Config{
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
	})
	if err != nil {
		t.Fatal(err)
	}
	hl.srv = srv
	go hl.events.Record(srv.Subscribe(ctx))
	pxetest.Serve(t, srv)
	return hl
}

// boot powers on node n and checks, from the guest's console, that it got
// its own config through the URL on its kernel command line and was
// refused the other node's.
func (hl *harvLab) boot(t *testing.T, ctx context.Context, fw pxetest.Firmware, n Node, wantMode Mode) {
	t.Helper()
	mac := mustMAC(t, n.MAC)
	vm := hl.lab.StartVM(t, ctx, pxetest.VMConfig{MAC: mac, Firmware: fw,
		OnLine: func(l string) { t.Logf("%s: %s", n.Hostname, l) }})
	got, err := vm.WaitFor(ctx, pxetest.CmdlineRE)
	if err != nil {
		t.Fatal(err)
	}
	cmdline := got[1]
	for _, want := range []string{"ip=dhcp", "rd.cos.disable", "harvester.install.automatic=true",
		"root=live:" + hl.srv.BaseURL() + "/assets/harvester-v1.1.0-rootfs-amd64.squashfs",
		"harvester.install.config_url=" + hl.srv.BaseURL() + "/machines/" + mac.String() + "/config-" + string(wantMode) + ".yaml"} {
		if !strings.Contains(" "+cmdline+" ", " "+want+" ") {
			t.Errorf("/proc/cmdline lacks %s:\n%s", want, cmdline)
		}
	}
	if fw != pxetest.BIOS && !strings.Contains(cmdline, "initrd=harvester-v1.1.0-initrd-amd64") {
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

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := macaddr.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
