package pxe

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/pxekit/pxekit/ipxe"
)

// stormMAC is the n-th machine of a simulated rack.
func stormMAC(n int) net.HardwareAddr {
	return net.HardwareAddr{0x52, 0x54, 0x00, 0x00, byte(n >> 8), byte(n)}
}

// The handler keeps parsed templates across requests; each machine must
// still get its own values, never the previous requester's.
func TestScriptTemplatesCachedPerMachine(t *testing.T) {
	h, _ := testHandler(t, nil)
	must(t, staticInv(h).SetDefault("create"))
	for range 2 { // the second round renders from the cache
		for _, n := range []int{1, 2, 3} {
			mac := stormMAC(n)
			w := do(h, "GET", "/boot.ipxe?mac="+mac.String(), "192.0.2.99:4000", nil)
			want := "pxekit.phonehome=http://192.0.2.1:8080/phonehome?mac=" + mac.String() + " "
			if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
				t.Fatalf("machine %s: %d, want %q in\n%s", mac, w.Code, want, w.Body)
			}
			if n != 1 && strings.Contains(w.Body.String(), stormMAC(1).String()) {
				t.Fatalf("machine %s got machine 1's script:\n%s", mac, w.Body)
			}
		}
	}
	if got := h.tmpl.n.Load(); got != 1 {
		// create has one templated argument; console=ttyS0, ip=dhcp and
		// quiet are plain text and never parsed.
		t.Errorf("%d templates cached, want 1", got)
	}
}

// A profile edited in place (a new text under the same name) renders the new
// text, not the cached old one.
func TestScriptTemplateCacheFollowsProfileText(t *testing.T) {
	h, _ := testHandler(t, nil)
	for _, mode := range []string{"join", "rescue"} {
		must(t, staticInv(h).SetProfile("join", Profile{Script: "#!ipxe\nkernel {{.BaseURL}}/assets/vmlinuz mode=" + mode + "\nboot\n"}))
		w := do(h, "GET", "/boot.ipxe?mac="+macB.String(), "192.0.2.99:4000", nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "mode="+mode+"\n") {
			t.Fatalf("mode %s: %d\n%s", mode, w.Code, w.Body)
		}
	}
}

// A broken template fails on every request, with the profile and argument
// named, cached or not.
func TestScriptTemplateErrorsRepeat(t *testing.T) {
	h, _ := testHandler(t, nil)
	must(t, staticInv(h).SetProfile("create", Profile{Kernel: "vmlinuz", Args: []string{"quiet", "x={{.Vars.nope}}"}}))
	must(t, staticInv(h).SetProfile("join", Profile{Kernel: "vmlinuz", Args: []string{"x={{.Vars"}}))
	for range 2 {
		for _, mac := range []net.HardwareAddr{macA, macB} {
			w := do(h, "GET", "/boot.ipxe?mac="+mac.String(), "192.0.2.99:4000", nil)
			if w.Code != 500 {
				t.Fatalf("%s: status %d, want 500: %s", mac, w.Code, w.Body)
			}
		}
		m, p, _ := h.inv.Lookup(macA)
		_, err := renderScript(&h.tmpl, m, p, newScriptData(m, h.baseURL, ipxe.BIOS), ipxe.BIOS)
		if err == nil || !strings.Contains(err.Error(), "profile create: args[1]") || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("missing key: %v", err)
		}
		m, p, _ = h.inv.Lookup(macB)
		_, err = renderScript(&h.tmpl, m, p, newScriptData(m, h.baseURL, ipxe.BIOS), ipxe.BIOS)
		if err == nil || !strings.Contains(err.Error(), "profile join: args[0]") {
			t.Fatalf("parse error: %v", err)
		}
	}
}

// Many machines at once (run with -race): each script names its machine.
func TestScriptRenderConcurrent(t *testing.T) {
	h, _ := testHandler(t, nil)
	must(t, staticInv(h).SetDefault("create"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				mac := stormMAC(g*100 + i)
				w := do(h, "GET", fmt.Sprintf("/boot.ipxe?mac=%s&fw=efi", mac), "192.0.2.99:4000", nil)
				if w.Code != 200 || !strings.Contains(w.Body.String(), "?mac="+mac.String()+" ") {
					errs <- fmt.Errorf("machine %s: %d\n%s", mac, w.Code, w.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The package-level renderers (no handler, no cache) agree with the
// handler's cached ones.
func TestRenderScriptMatchesHandler(t *testing.T) {
	h, _ := testHandler(t, nil)
	for _, mac := range []net.HardwareAddr{macA, macB} {
		m, p, err := h.inv.Lookup(mac)
		if err != nil {
			t.Fatal(err)
		}
		for _, fw := range []ipxe.Firmware{ipxe.BIOS, ipxe.EFI} {
			want, err := RenderScript(m, p, h.baseURL, fw)
			if err != nil {
				t.Fatal(err)
			}
			q := ""
			if fw == ipxe.EFI {
				q = "&fw=efi"
			}
			for range 2 {
				w := do(h, "GET", "/boot.ipxe?mac="+mac.String()+q, "192.0.2.99:4000", nil)
				if w.Code != 200 || w.Body.String() != string(want) {
					t.Fatalf("%s %s: handler %d\n%s\nRenderScript\n%s", mac, fw, w.Code, w.Body, want)
				}
			}
		}
	}
}

// BenchmarkScriptRender is the script-render hot path of a boot storm: one
// /boot.ipxe request for another machine each time, through the handler
// (MAC parse, inventory lookup, template execution, argument quoting, event).
func BenchmarkScriptRender(b *testing.B) {
	for _, tc := range []struct {
		name    string
		profile string
	}{
		{"args", "create"}, // kernel + initrd + templated args
		{"script", "join"}, // a whole-script template
	} {
		b.Run(tc.name, func(b *testing.B) {
			spec := testInventory()
			spec.Default, spec.Machines = tc.profile, nil
			inv, err := NewStaticInventory(spec)
			if err != nil {
				b.Fatal(err)
			}
			h := &handler{inv: inv, bus: &Bus{}, baseURL: "http://192.0.2.1:8080", log: slog.New(slog.DiscardHandler)}
			targets := make([]string, 4096)
			for i := range targets {
				targets[i] = "/boot.ipxe?mac=" + stormMAC(i).String()
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				w := do(h, "GET", targets[i%len(targets)], "192.0.2.99:4000", nil)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				i++
			}
		})
	}
}

// BenchmarkRenderScript renders without HTTP: the exported renderer, which
// parses its templates on every call (it has no server to keep them), and
// the server's, which parses each once.
func BenchmarkRenderScript(b *testing.B) {
	inv, err := NewStaticInventory(testInventory())
	if err != nil {
		b.Fatal(err)
	}
	m, p, err := inv.Lookup(macA)
	if err != nil {
		b.Fatal(err)
	}
	const base = "http://192.0.2.1:8080"
	b.Run("parse-each-time", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := RenderScript(m, p, base, ipxe.EFI); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		var c templateCache
		b.ReportAllocs()
		for b.Loop() {
			if _, err := renderScript(&c, m, p, newScriptData(m, base, ipxe.EFI), ipxe.EFI); err != nil {
				b.Fatal(err)
			}
		}
	})
}
