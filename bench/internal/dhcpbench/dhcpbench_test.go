package dhcpbench

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/dhcp"
)

// perfdhcp's final report, as Kea 2.2's perfdhcp prints it.
func TestParsePerf(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "perfdhcp.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r := parsePerf(string(b))
	if r.sent != [2]int{194, 194} || r.recv != [2]int{194, 194} || r.drops != [2]int{0, 0} {
		t.Errorf("parsePerf = %+v", r)
	}
	if r := parsePerf("perfdhcp: no such interface"); r.sent != [2]int{} {
		t.Errorf("parsePerf of an error = %+v", r)
	}
}

func TestPerfResult(t *testing.T) {
	r := perfResult{rate: 1000, secs: 5, sent: [2]int{5000, 4990}, recv: [2]int{4990, 4980}, drops: [2]int{10, 10}, srvCPU: 249 * time.Millisecond}
	if r.dora() != 996 {
		t.Errorf("dora = %v", r.dora())
	}
	if l := r.loss(); l < 0.0019 || l > 0.0021 {
		t.Errorf("loss = %v, want 20 of 9990", l)
	}
	if r.clientBound() {
		t.Error("client-bound at the offered rate")
	}
	if got := perDORA(r.srvCPU, r); got != 50 {
		t.Errorf("perDORA = %v µs", got)
	}
	// perfdhcp sent less than 97 % of what it was asked to.
	if slow := (perfResult{rate: 1000, secs: 5, sent: [2]int{4800}}); !slow.clientBound() {
		t.Error("perfdhcp's 960/s at -r 1000 is not client-bound")
	}
	// dhcpload took longer than the run to send its DISCOVERs.
	if slow := (perfResult{rate: 1000, secs: 5, sendSecs: 5.2}); !slow.clientBound() {
		t.Error("dhcpload sending for 5.2 s of a 5 s run is not client-bound")
	}
	if (perfResult{}).loss() != 1 || perDORA(time.Second, perfResult{}) != 0 {
		t.Error("an empty run")
	}
}

// sleeper is a server that stays up for the search.
func sleeper(t *testing.T) *harness.Proc {
	t.Helper()
	p, err := harness.Start(nil, harness.Command{Name: "sleep", Args: []string{"600"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill9)
	return p
}

func TestSearch(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ok := func(rate int) perfResult {
		return perfResult{rate: rate, secs: 1, sent: [2]int{rate, rate}, recv: [2]int{rate, rate}}
	}
	lossy := func(rate int) perfResult {
		r := ok(rate)
		r.drops = [2]int{rate / 10, 0}
		return r
	}
	// Rate 3 fails twice (run again), 4 passes, 5 and 6 fail: the search
	// goes past one failing rate and stops after two in a row.
	runs := map[int]int{}
	best, tried, err := searchWith(log, sleeper(t), []int{1, 2, 3, 4, 5, 6, 7}, "test", func(rate int) (perfResult, error) {
		runs[rate]++
		if rate == 3 || rate >= 5 {
			return lossy(rate * 100), nil
		}
		return ok(rate * 100), nil
	})
	if err != nil || best.rate != 400 || len(tried) != 6 || runs[3] != 2 || runs[7] != 0 {
		t.Errorf("best %d, %d tried, runs %v, %v", best.rate, len(tried), runs, err)
	}
	// A client that cannot send faster ends the search.
	best, tried, _ = searchWith(log, sleeper(t), []int{1, 2, 3}, "test", func(rate int) (perfResult, error) {
		r := ok(rate * 1000)
		if rate == 2 {
			r.sent[0] = 1000
		}
		return r, nil
	})
	if best.rate != 2000 || len(tried) != 2 {
		t.Errorf("client-bound: best %d after %d rates", best.rate, len(tried))
	}
	// A failing client ends it with its error; so does a dead server.
	if _, _, err := searchWith(log, sleeper(t), []int{1}, "test", func(int) (perfResult, error) { return perfResult{}, errors.New("boom") }); err == nil {
		t.Error("a client error was not returned")
	}
	dead := sleeper(t)
	dead.Kill9()
	if _, _, err := searchWith(log, dead, []int{1}, "test", func(rate int) (perfResult, error) { return ok(rate), nil }); err == nil {
		t.Error("searched against a dead server")
	}
}

func TestAtSameRate(t *testing.T) {
	pass := func(rate int) perfResult {
		return perfResult{rate: rate, secs: 1, sent: [2]int{rate, rate}, recv: [2]int{rate, rate}}
	}
	fail := func(rate int) perfResult { r := pass(rate); r.drops[0] = rate; return r }
	a := []perfResult{pass(1000), pass(2000), pass(4000), fail(8000)}
	b := []perfResult{pass(1000), pass(2000), fail(4000)}
	if x, y, ok := atSameRate(a, b); !ok || x.rate != 2000 || y.rate != 2000 {
		t.Errorf("atSameRate = %d, %d, %v; want 2000", x.rate, y.rate, ok)
	}
	if _, _, ok := atSameRate([]perfResult{fail(1)}, b); ok {
		t.Error("a common rate where one failed")
	}
}

func TestCountBoltLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	st, err := dhcp.OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	mac := func(b byte) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 0, b} }
	err = st.Apply([]dhcp.Op{
		{Lease: dhcp.Lease{IP: netip.MustParseAddr("192.0.2.10"), MAC: mac(1), Expiry: exp, State: dhcp.Bound}},
		{Lease: dhcp.Lease{IP: netip.MustParseAddr("192.0.2.11"), MAC: mac(2), Expiry: exp, State: dhcp.Bound}},
		{Lease: dhcp.Lease{IP: netip.MustParseAddr("192.0.2.12"), MAC: mac(2), Expiry: exp, State: dhcp.Bound}},
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	bound, distinct, err := countBoltLeases(path)
	if err != nil || bound != 3 || distinct != 2 {
		t.Errorf("countBoltLeases = %d bound, %d MACs, %v; want 3, 2", bound, distinct, err)
	}
	if _, _, err := countBoltLeases(filepath.Join(t.TempDir(), "no", "such.db")); err == nil {
		t.Error("counted a lease file that does not exist")
	}
}

func FuzzParsePerf(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "perfdhcp.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Fuzz(func(t *testing.T, out string) {
		r := parsePerf(out)
		for i := range 2 {
			if r.sent[i] < 0 || r.recv[i] < 0 || r.drops[i] < 0 {
				t.Fatalf("negative count in %+v from %q", r, out)
			}
		}
	})
}
