package pxe

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/dhcp"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, string(b)
}

// The operational routes beside the boot routes: health, readiness, the
// dashboard and its state, and clear refusals for what they do not serve.
func TestServiceRoutes(t *testing.T) {
	inv, err := NewStaticInventory(testInventory())
	must(t, err)
	ls := startLoopServer(t, Config{Subnets: relayedSubnets(), Inventory: inv,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "a_metric 1\n") })})
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{PathHealthz, 200, "ok"},
		{PathReadyz, 200, "ready"},
		{PathMetrics, 200, "a_metric 1"},
		{PathDashboard, 200, `"mac":"` + macA.String() + `"`}, // the listed machines, before any boots
		{PathDashboardState, 200, `"hostname":"node2"`},
		{"/no/such/page", 404, ""},
	} {
		code, body := get(t, ls.http+c.path)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("GET %s: %d %.200q, want %d with %q", c.path, code, body, c.code, c.body)
		}
	}
	resp, err := http.Post(ls.http+PathDashboard, "text/plain", strings.NewReader("x"))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST %s: %d Allow=%q, want 405 with Allow: GET, HEAD", PathDashboard, resp.StatusCode, resp.Header.Get("Allow"))
	}
	var st DashboardState
	_, body := get(t, ls.http+PathDashboardState)
	must(t, json.Unmarshal([]byte(body), &st))
	if !st.Server.Ready || len(st.Machines) != 2 || len(st.Counters.DHCP.Subnets) != 2 {
		t.Errorf("dashboard state %+v", st)
	}
	// A refusal shows among the dashboard's denials.
	if code, _ := get(t, ls.http+PathScript); code != http.StatusBadRequest {
		t.Errorf("script without a MAC: %d, want 400", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ls.srv.DashboardState().Denials) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the refused script request is not among the dashboard's denials")
		}
		time.Sleep(10 * time.Millisecond)
	}
	counts := map[HTTPRoute]map[int]uint64{}
	for _, c := range ls.srv.HTTPStats() {
		if counts[c.Route] == nil {
			counts[c.Route] = map[int]uint64{}
		}
		counts[c.Route][c.Status] = c.Requests
	}
	if counts[RouteHealth][200] != 1 || counts[RouteDashboard][200] != 1 || counts[RouteDashboard][405] != 1 ||
		counts[RouteOther][404] != 1 || counts[RouteMetrics][200] != 1 {
		t.Errorf("HTTP counts by route and status %v", counts)
	}
}

func TestMetricsRouteWithoutMetrics(t *testing.T) {
	ls := startLoopServer(t, Config{Subnets: relayedSubnets()})
	if code, body := get(t, ls.http+PathMetrics); code != 404 || !strings.Contains(body, "pxe.Config.Metrics") {
		t.Errorf("GET /metrics without Config.Metrics: %d %q, want a 404 that says why", code, body)
	}
}

// Readiness is refused before Serve listens and once it stops.
func TestReadyzFollowsServe(t *testing.T) {
	srv, err := New(Config{Interface: "lo", IPXE: fstest.MapFS{}, Subnets: relayedSubnets()})
	must(t, err)
	defer srv.Close()
	w := do(srv.ServiceHandler(), "GET", PathReadyz, "127.0.0.1:5000", nil)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "not ready") {
		t.Errorf("readyz before Serve: %d %q", w.Code, w.Body.String())
	}
}

// A reload in the middle of serving: a new pool, new options and a new
// inventory take effect for the next request, while the lease taken before
// is renewed as it was, and an event stream opened before keeps flowing.
// A reload with errors is refused whole and the old config keeps serving.
func TestReloadWhileServing(t *testing.T) {
	spec := testInventory()
	inv, err := NewStaticInventory(spec)
	must(t, err)
	nets := relayedSubnets()
	cfg := Config{Subnets: nets, Inventory: inv}
	ls := startLoopServer(t, cfg)
	relay := newRelay(t, ls.dhcp)
	link := nets[1].Prefix.Addr()
	_, ack := relay.dora(macA, link)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ls.http+PathEvents, nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)

	next := cfg
	next.Subnets = relayedSubnets()
	next.Subnets[1].Pools = []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.200"), End: netip.MustParseAddr("192.0.2.209")}}
	next.Subnets[1].DNS = []netip.Addr{netip.MustParseAddr("192.0.2.53")}
	spec.Default = "join"
	next.Inventory, err = NewStaticInventory(spec)
	must(t, err)
	// Reload is given the same fixed fields the server runs with.
	next.Interface, next.HTTPPort = "lo", ls.srv.cfg.HTTPPort
	start := time.Now()
	must(t, ls.srv.Reload(next))
	t.Logf("reload took %v", time.Since(start))

	renew, err := dhcpv4.NewRenewFromAck(ack)
	must(t, err)
	if r := relay.exchange(renew, link); r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Errorf("renewal after the reload: %s %s, want an ACK of %s", r.MessageType(), r.YourIPAddr, ack.YourIPAddr)
	}
	_, ack2 := relay.dora(net.HardwareAddr{0x52, 0x54, 0, 0, 0x0b, 1}, link)
	if !inRange(ack2.YourIPAddr, next.Subnets[1].Pools[0]) || len(ack2.DNS()) != 1 {
		t.Errorf("a new client after the reload got %s, DNS %v; want the new pool and DNS", ack2.YourIPAddr, ack2.DNS())
	}
	// The new inventory: an unknown machine now gets the default profile.
	if code, body := get(t, ls.http+PathScript+"?mac=52:54:00:00:0b:01"); code != 200 || !strings.Contains(body, "mode=join") {
		t.Errorf("script for an unknown machine after the reload: %d %q, want the new default profile", code, body)
	}
	// The stream opened before the reload carries events from after it.
	lines.Scan()
	if !strings.Contains(lines.Text(), `"kind"`) {
		t.Errorf("event stream after the reload: %q", lines.Text())
	}

	bad := next
	bad.Subnets = []dhcp.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/25"), Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.250"), End: netip.MustParseAddr("192.0.2.251")}}}}
	bad.HTTPPort = 1
	err = ls.srv.Reload(bad)
	if err == nil {
		t.Fatal("a reload with errors was taken")
	}
	for _, want := range []string{"httpPort: Forbidden", "restart to apply", "subnets[0].pools[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refused reload: %v\nwant it to name %q", err, want)
		}
	}
	_, ack3 := relay.dora(net.HardwareAddr{0x52, 0x54, 0, 0, 0x0b, 2}, link)
	if !inRange(ack3.YourIPAddr, next.Subnets[1].Pools[0]) {
		t.Errorf("after a refused reload a client got %s, want the pool of the config still serving", ack3.YourIPAddr)
	}
}
