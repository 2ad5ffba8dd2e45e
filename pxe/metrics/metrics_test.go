package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/metrics"
	"github.com/pxekit/pxekit/pxetest"
)

// loopback runs a boot server on loopback sockets with metrics attached.
func loopback(t *testing.T) (srv *pxe.Server, base string, dhcpAddr, tftpAddr net.Addr) {
	t.Helper()
	dc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{Default: "lab",
		Profiles: map[string]pxe.Profile{"lab": {Kernel: "vmlinuz", Initrd: "initrd.gz"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	srv, err = pxe.New(pxe.Config{
		Interface: "lo",
		Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/24"),
			Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.109")}}}},
		DHCPConn: dc, TFTPConn: tc, HTTPListener: hl, HTTPPort: hl.Addr().(*net.TCPAddr).Port,
		IPXE:      fstest.MapFS{"undionly.kpxe": {Data: make([]byte, 3000)}},
		Assets:    fstest.MapFS{"vmlinuz": {Data: []byte("kernel")}, "initrd.gz": {Data: []byte("initrd")}},
		Inventory: inv,
		Metrics:   m,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	counted := m.Start(ctx, srv)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done; <-counted })
	<-srv.Ready()
	return srv, "http://" + hl.Addr().String(), dc.LocalAddr(), tc.LocalAddr()
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + pxe.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// checkMetrics runs promtool check metrics (Debian's prometheus package)
// on a scrape: Prometheus' own linter for names, units and help.
func checkMetrics(t *testing.T, scrape string) {
	t.Helper()
	pxetest.RequireCmd(t, "promtool", "prometheus")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// A relayed DHCP exchange, a TFTP download with tftp-hpa and HTTP
// requests show in the scrape with their labels, and the scrape passes
// promtool's lint.
func TestScrapeAfterTraffic(t *testing.T) {
	srv, base, dhcpAddr, tftpAddr := loopback(t)
	d, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1})
	if _, err := pxetest.NewRelayClient(t, dhcpAddr).Exchange(d, netip.MustParseAddr("192.0.2.0")); err != nil {
		t.Fatalf("no OFFER: %v", err)
	}
	pxetest.RequireCmd(t, "tftp", "tftp-hpa")
	dir := t.TempDir()
	ta := tftpAddr.(*net.UDPAddr)
	for _, name := range []string{"undionly.kpxe", "missing"} {
		cmd := exec.Command("tftp", "127.0.0.1", strconv.Itoa(ta.Port), "-m", "binary", "-c", "get", name, filepath.Join(dir, name))
		cmd.Dir = dir
		cmd.CombinedOutput()
	}
	for _, p := range []string{pxe.PathAssets + "vmlinuz", pxe.PathScript + "?mac=52:54:00:00:00:01", "/nothing"} {
		if resp, err := http.Get(base + p); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if st := srv.Counters().TFTP; st.Sent != 1 {
		t.Fatalf("TFTP stats %+v, want one transfer sent", st)
	}
	// Boot events are counted by Start's goroutine, a moment after they
	// are published: wait for the last one before reading the rest.
	out := scrape(t, base)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out, `pxekit_boot_events_total{kind="script-served"} 1`) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		out = scrape(t, base)
	}
	for _, want := range []string{
		`pxekit_ready 1`,
		`pxekit_dhcp_requests_total{type="discover"} 1`,
		`pxekit_dhcp_replies_total{type="offer"} 1`,
		`pxekit_dhcp_pool_addresses{subnet="192.0.2.0/24"} 10`,
		`pxekit_dhcp_pool_free_addresses{subnet="192.0.2.0/24"} 9`,
		`pxekit_dhcp_store_commit_duration_seconds_bucket{le="+Inf"}`,
		`pxekit_tftp_transfers_total{outcome="sent"} 1`,
		`pxekit_tftp_sent_bytes_total 3000`,
		`pxekit_tftp_errors_sent_total{code="1"} 1`,
		`pxekit_tftp_dropped_total{reason="not-found"} 1`,
		`pxekit_http_requests_total{code="200",route="assets"} 1`,
		`pxekit_http_response_bytes_total{code="200",route="assets"} 6`,
		`pxekit_http_requests_total{code="200",route="script"} 1`,
		`pxekit_http_requests_total{code="404",route="other"} 1`,
		`pxekit_boot_events_total{kind="discovered"} 1`,
		`pxekit_ra_replies_total 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", out)
	}
	checkMetrics(t, out)

	resp, err := http.Post(base+pxe.PathMetrics, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", resp.StatusCode)
	}
}

// Embedding pxe, or any server under it, does not pull in client_golang.
func TestServersDoNotImportClientGolang(t *testing.T) {
	pxetest.RequireCmd(t, "go", "golang")
	out, err := exec.Command("go", "list", "-deps", "github.com/pxekit/pxekit/pxe", "github.com/pxekit/pxekit/dhcp",
		"github.com/pxekit/pxekit/tftp", "github.com/pxekit/pxekit/ra").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "prometheus") {
		t.Errorf("pxe, dhcp, tftp or ra depend on a prometheus package:\n%s", out)
	}
}
