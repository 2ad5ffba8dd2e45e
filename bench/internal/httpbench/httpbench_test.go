package httpbench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wrk --latency's report, as wrk 4.1 prints it: a clean run, one with
// every response a 404, and one with socket errors.
func TestParseWrk(t *testing.T) {
	r, err := parseWrk(fixture(t, "wrk-ok.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 64232.36 || r.reqs != 67243 || r.p50 != 0.142 || r.p99 != 219.29 || r.non2xx != 0 || r.sockErr != 0 {
		t.Errorf("clean run: %+v", r)
	}
	r, err = parseWrk(fixture(t, "wrk-404.txt"))
	if err != nil || r.non2xx != 41448 || r.p99 != 4.22 {
		t.Errorf("404s: %+v, %v", r, err)
	}
	withErrs := strings.Replace(fixture(t, "wrk-ok.txt"), "Requests/sec:", "  Socket errors: connect 1, read 12, write 0, timeout 3\nRequests/sec:", 1)
	if r, err = parseWrk(withErrs); err != nil || r.sockErr != 16 {
		t.Errorf("socket errors: %+v, %v", r, err)
	}
	// A latency of whole seconds.
	secs := strings.Replace(fixture(t, "wrk-ok.txt"), "99%  219.29ms", "99%    1.20s", 1)
	if r, err = parseWrk(secs); err != nil || r.p99 != 1200 {
		t.Errorf("p99 in seconds: %+v, %v", r, err)
	}
	if _, err := parseWrk("unable to connect to 192.0.2.1:80 Connection refused"); err == nil {
		t.Error("took wrk's connect error for a report")
	}
	if _, err := parseWrk(strings.Replace(fixture(t, "wrk-ok.txt"), "Latency Distribution", "", 1)[:200] + "\nRequests/sec: 5\n"); err == nil {
		t.Error("took a report without the latency distribution")
	}
}

func TestParseCurl(t *testing.T) {
	if v, err := parseCurl("104857600 0.050000", 100<<20); err != nil || v < 2097 || v > 2098 {
		t.Errorf("parseCurl = %v, %v; want 2097.152 MB/s", v, err)
	}
	for _, bad := range []string{"", "104857600", "1000 0.05", "104857600 0", "104857600 x", "1.5e8 1"} {
		if _, err := parseCurl(bad, 100<<20); err == nil {
			t.Errorf("parseCurl(%q) took it", bad)
		}
	}
}

func TestScriptMAC(t *testing.T) {
	if got := scriptMAC(1); got != "52:54:00:00:00:01" {
		t.Errorf("scriptMAC(1) = %s", got)
	}
	if got := scriptMAC(4097); got != "52:54:00:00:10:01" {
		t.Errorf("scriptMAC(4097) = %s", got)
	}
	// The Lua script names the same family.
	if !strings.Contains(wrkMACs, `"%s?mac=52:54:00:00:%02x:%02x"`) {
		t.Error("wrk's MACs are not scriptMAC's family")
	}
}

func FuzzParseWrk(f *testing.F) {
	f.Add(fixture(f, "wrk-ok.txt"))
	f.Add(fixture(f, "wrk-404.txt"))
	f.Fuzz(func(t *testing.T, out string) {
		r, err := parseWrk(out)
		if err == nil && (r.p50 <= 0 || r.p99 <= 0 || r.rps < 0) {
			t.Fatalf("took %+v from %q", r, out)
		}
	})
}

func FuzzParseCurl(f *testing.F) {
	f.Add("104857600 0.050000")
	f.Fuzz(func(t *testing.T, out string) {
		v, err := parseCurl(out, 100<<20)
		if err == nil && !(v > 0) {
			t.Fatalf("%v MB/s from %q", v, out)
		}
	})
}
