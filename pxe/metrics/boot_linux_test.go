package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/metrics"
	"github.com/pxekit/pxekit/pxetest"
)

// ArtifactsEnv names a directory where tests keep what a person looks at
// afterwards (the dashboard's screenshots); unset, they go to a temporary
// directory the test names in its log.
const ArtifactsEnv = "PXEKIT_ARTIFACTS"

// chromium runs Debian's headless Chromium in the lab namespace (where the
// boot server listens) with a profile of its own, and returns its stdout.
func chromium(t *testing.T, ns *pxetest.NetNS, bin string, args ...string) string {
	t.Helper()
	out, err := tryChromium(t, ns, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryChromium is chromium for a goroutine other than the test's.
func tryChromium(t *testing.T, ns *pxetest.NetNS, bin string, args ...string) (string, error) {
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.Command(bin, append(base, args...)...)
	var out, errb pxetest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if _, err := pxetest.Run(t, ns, cmd); err != nil {
		return "", fmt.Errorf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), nil
}

func artifactsDir(t *testing.T) string {
	if d := os.Getenv(ArtifactsEnv); d != "" {
		d = filepath.Join(d, "dashboard")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// One real QEMU network boot (SeaBIOS with iPXE) serves three checks: a
// headless Chromium that opened the dashboard before power-on sees the VM's
// MAC and its boot steps arrive live over SSE; the dashboard after the boot
// shows it phoned home (screenshots kept for a person to look at); and the
// /metrics scrape, with the boot's phase histograms, passes promtool check
// metrics.
func TestBootMetricsAndDashboard(t *testing.T) {
	promtool := pxetest.RequireCmd(t, "promtool", "prometheus")
	browser := pxetest.RequireCmd(t, "chromium", "chromium")
	curl := pxetest.RequireCmd(t, "curl", "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := pxetest.NewBootLab(t, pxetest.Initramfs{})
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{Default: "lab", Profiles: map[string]pxe.Profile{"lab": {
		Kernel: "vmlinuz", Initrd: "initrd.gz",
		Args: []string{"console=ttyS0", "panic=-1", "quiet", pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	srv, err := pxe.New(pxe.Config{
		Interface: lab.Bridge,
		NetNS:     lab.NS.Path(),
		Subnets: []dhcp.Subnet{{Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}},
			LeaseTime: 10 * time.Minute}},
		LeaseFile: filepath.Join(t.TempDir(), "leases.db"),
		HTTPPort:  8080,
		Assets: fstest.MapFS{"vmlinuz": {Data: lab.Vmlinuz, ModTime: time.Now()},
			"initrd.gz": {Data: lab.Initrd, ModTime: time.Now()}},
		Inventory:           inv,
		RouterAdvertisement: true,
		Metrics:             m,
		Logger:              pxetest.Logger(t, slog.LevelWarn),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Start(ctx, srv)
	pxetest.Serve(t, srv)
	base := srv.BaseURL()

	// The dashboard is open before the VM exists; the page follows the
	// stream until the first phone-home, then Chromium prints its DOM.
	live := make(chan string, 1)
	go func() {
		out, err := tryChromium(t, lab.NS, browser, "--virtual-time-budget=1000", "--dump-dom", base+"/?until=phoned-home")
		if err != nil {
			t.Error(err)
		}
		live <- out
	}()
	// Power on once the page was served (then its stream opens at once).
	for deadline := time.Now().Add(time.Minute); !served(srv, pxe.RouteDashboard); {
		if time.Now().After(deadline) {
			t.Fatal("Chromium never loaded the dashboard")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)

	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0xda, 0x5b, 0x01}
	vm := lab.StartVM(t, ctx, pxetest.VMConfig{MAC: mac, Firmware: pxetest.BIOS})
	if ph, err := vm.WaitFor(ctx, pxetest.PhoneHomeRE); err != nil || ph[1] != "ok" {
		t.Fatalf("guest phone-home: %v %v", ph, err)
	}
	var dom string
	select {
	case dom = <-live:
	case <-time.After(2 * time.Minute):
		t.Fatal("the live dashboard never finished loading after the phone-home")
	}
	row := regexp.MustCompile(`<tr data-mac="` + mac.String() + `">.*?</tr>`).FindString(dom)
	if row == "" {
		t.Fatalf("the live dashboard has no row for %s:\n%s", mac, dom)
	}
	n := regexp.MustCompile(`id="live-events">(\d+)<`).FindStringSubmatch(dom)
	if n == nil || n[1] == "0" {
		t.Errorf("the page counted no live events (%v): SSE did not reach it", n)
	}
	for _, kind := range []pxe.EventKind{pxe.EventDiscovered, pxe.EventAcked, pxe.EventScriptServed, pxe.EventAssetSent, pxe.EventPhonedHome} {
		if !strings.Contains(dom, `data-timeline="`+mac.String()+`"`) || !strings.Contains(dom, `<li data-kind="`+string(kind)+`"`) {
			t.Errorf("the live timeline of %s lacks %s", mac, kind)
		}
	}

	// After the boot: the page as a person opens it, and what it looks like.
	dom = chromium(t, lab.NS, browser, "--dump-dom", base+"/")
	row = regexp.MustCompile(`(?s)<tr data-mac="` + mac.String() + `">.*?</tr>`).FindString(dom)
	for _, want := range []string{`class="phase">phone-home<`, `class="firmware" data-label="Firmware">ipxe<`,
		`class="profile" data-label="Profile">lab<`, `class="address" data-label="Address">192.0.2.1`} {
		if !strings.Contains(row, want) {
			t.Errorf("dashboard row for %s lacks %s:\n%s", mac, want, row)
		}
	}
	dir := artifactsDir(t)
	for _, shot := range []struct{ name, size string }{{"dashboard-desktop.png", "1280,900"}, {"dashboard-phone.png", "390,844"}} {
		p := filepath.Join(dir, shot.name)
		chromium(t, lab.NS, browser, "--hide-scrollbars", "--window-size="+shot.size, "--screenshot="+p, base+"/")
		if st, err := os.Stat(p); err != nil || st.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", p, err)
		}
	}
	t.Logf("dashboard screenshots in %s (kept when $%s is set)", dir, ArtifactsEnv)

	// The scrape, over the boot server's own HTTP.
	cmd := exec.Command(curl, "-sS", "--fail", base+pxe.PathMetrics)
	var scrape pxetest.Buffer
	cmd.Stdout = &scrape
	if _, err := pxetest.Run(t, lab.NS, cmd); err != nil {
		t.Fatalf("curl /metrics: %v", err)
	}
	out := scrape.String()
	for _, phase := range pxe.Phases() {
		want := fmt.Sprintf(`pxekit_boot_phase_duration_seconds_count{firmware="ipxe",phase="%s"} 1`, phase)
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, want := range []string{
		`pxekit_dhcp_replies_total{type="ack"}`,
		`pxekit_dhcp_active_leases{subnet="192.0.2.0/24"} 1`,
		`pxekit_http_requests_total{code="200",route="assets"}`,
		`pxekit_http_requests_total{code="200",route="dashboard"}`,
		`pxekit_http_requests_total{code="200",route="events"}`,
		`pxekit_ra_replies_total`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = strings.NewReader(out)
	if msg, err := lint.CombinedOutput(); err != nil || len(strings.TrimSpace(string(msg))) > 0 {
		t.Errorf("promtool check metrics on the scrape after a boot: %v\n%s", err, msg)
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", out)
	}
}

// served reports whether route has answered a request with 200.
func served(srv *pxe.Server, route pxe.HTTPRoute) bool {
	for _, c := range srv.HTTPStats() {
		if c.Route == route && c.Status == 200 && c.Requests > 0 {
			return true
		}
	}
	return false
}
