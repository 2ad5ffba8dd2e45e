package dhcp6bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/pxetest"
)

func TestMain(m *testing.M) { roles.RunTests(m) }

// perfdhcp -6's report, as Kea 2.2's perfdhcp printed it for a relayed
// run (-A 1, -r 20 for 2 s) against dnsmasq in the lab namespaces.
var (
	testdataSent  = [2]int{39, 39}
	testdataRecv  = [2]int{39, 39}
	testdataDrops = [2]int{0, 0}
)

func TestParse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "perfdhcp6.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r := parse(string(b))
	if r.sent[0] == 0 || r.sent[1] == 0 || r.recv[1] == 0 {
		t.Fatalf("parse = %+v: both halves of the exchange must be read", r)
	}
	if r.sent != testdataSent || r.recv != testdataRecv || r.drops != testdataDrops {
		t.Errorf("parse = sent %v recv %v drops %v, want %v %v %v", r.sent, r.recv, r.drops, testdataSent, testdataRecv, testdataDrops)
	}
	if r := parse("perfdhcp: no such interface"); r.sent != [2]int{} || r.loss() != 1 {
		t.Errorf("parse of an error = %+v, loss %v", r, r.loss())
	}
}

func TestRunFigures(t *testing.T) {
	r := run{rate: 1000, secs: 4, sent: [2]int{4000, 3990}, recv: [2]int{3990, 3980}, drops: [2]int{10, 10}, srvCPU: 398 * time.Millisecond}
	if r.sarr() != 995 {
		t.Errorf("sarr = %v", r.sarr())
	}
	if l := r.loss(); l < 0.0024 || l > 0.0026 {
		t.Errorf("loss = %v, want 20 of 7990", l)
	}
	if !r.ok() || r.clientBound() {
		t.Errorf("ok %v clientBound %v", r.ok(), r.clientBound())
	}
	if u := r.usPerSARR(); u != 100 {
		t.Errorf("µs/SARR = %v", u)
	}
	if bound := (run{rate: 10000, secs: 4, sent: [2]int{30000, 30000}, recv: [2]int{30000, 30000}}); !bound.clientBound() {
		t.Error("sending 75 % of the offered rate is client-bound")
	}
	if lossy := (run{rate: 1000, secs: 4, sent: [2]int{4000, 3000}, recv: [2]int{3000, 2900}, drops: [2]int{1000, 100}}); lossy.ok() {
		t.Error("16 % lost passed")
	}
	if (run{}).sarr() != 0 || (run{}).usPerSARR() != 0 {
		t.Error("an empty run has figures")
	}
}

// fake answers a search: rates in fail lose 5 %, the rest nothing; rates
// at or above bound are sent at 90 % only.
func fake(fail map[int]int, bound int, calls *[]int) func(int) (run, error) {
	return func(rate int) (run, error) {
		*calls = append(*calls, rate)
		r := run{rate: rate, secs: 1, sent: [2]int{rate, rate}, recv: [2]int{rate, rate}}
		if rate >= bound {
			r.sent, r.recv = [2]int{rate * 9 / 10, rate * 9 / 10}, [2]int{rate * 9 / 10, rate * 9 / 10}
		}
		if fail[rate] > 0 {
			fail[rate]--
			r.drops = [2]int{rate / 20, rate / 20}
			r.recv[1] -= rate / 20
		}
		return r, nil
	}
}

func TestLadderSearch(t *testing.T) {
	ladder := []int{100, 200, 300, 400, 500, 600}
	// One failure at 200 is run again and passes; 400 and 500 fail twice
	// each: two failing rates in a row end the search.
	var calls []int
	best, tried, err := ladderSearch(ladder, fake(map[int]int{200: 1, 400: 2, 500: 2}, 1000, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if best.rate != 300 || len(tried) != 5 || !slices.Equal(calls, []int{100, 200, 200, 300, 400, 400, 500, 500}) {
		t.Errorf("best %d, tried %d, calls %v", best.rate, len(tried), calls)
	}
	if n := note(best, tried); !strings.Contains(n, "best at -r 300") || !strings.Contains(n, "at -r 400") || !strings.Contains(n, "at -r 500") {
		t.Errorf("note %q", n)
	}
	// One failing rate between passing ones does not end it.
	calls = nil
	if best, _, _ = ladderSearch(ladder, fake(map[int]int{300: 2}, 1000, &calls)); best.rate != 600 {
		t.Errorf("best %d after one failing rate, calls %v", best.rate, calls)
	}
	// perfdhcp that cannot send the offered rate at two rates in a row
	// ends it; the best is the higher of the two.
	calls = nil
	best, _, _ = ladderSearch(ladder, fake(nil, 400, &calls))
	if best.rate != 500 || calls[len(calls)-1] != 500 || !strings.Contains(note(best, nil), "client-bound") {
		t.Errorf("client-bound: best %d, calls %v", best.rate, calls)
	}
	// Nothing passes.
	calls = nil
	best, _, _ = ladderSearch(ladder, fake(map[int]int{100: 2, 200: 2}, 1000, &calls))
	if best.rate != 0 || note(best, nil) != "no rate passed" {
		t.Errorf("best %+v", best)
	}
	boom := errors.New("boom")
	if _, _, err := ladderSearch(ladder, func(int) (run, error) { return run{}, boom }); !errors.Is(err, boom) {
		t.Errorf("err %v", err)
	}
}

func TestPeerConfigs(t *testing.T) {
	b, err := keaConfig("veth0", "/tmp/d")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Dhcp6 struct {
			Lease struct {
				Type    string `json:"type"`
				Persist bool   `json:"persist"`
			} `json:"lease-database"`
			Subnets []struct {
				Subnet string `json:"subnet"`
				Pools  []struct {
					Pool string `json:"pool"`
				} `json:"pools"`
			} `json:"subnet6"`
		}
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Dhcp6.Lease.Type != "memfile" || !c.Dhcp6.Lease.Persist || len(c.Dhcp6.Subnets) != 1 || c.Dhcp6.Subnets[0].Subnet != "2001:db8::/64" ||
		c.Dhcp6.Subnets[0].Pools[0].Pool != "2001:db8::100 - 2001:db8::ffff" {
		t.Errorf("kea config %s", b)
	}
	a := dnsmasqArgs("veth0", "/tmp/d")
	if !slices.Contains(a, "--dhcp-range=2001:db8::100,2001:db8::ffff,64,1h") || !slices.Contains(a, "--port=0") {
		t.Errorf("dnsmasq args %q", a)
	}
}

// pxekit's DHCPv6 role in the harness answers perfdhcp -6's relayed
// exchanges, every one of a short, slow run.
func TestPxekitAnswersPerfdhcp(t *testing.T) {
	h := harness.Setup(t)
	pxetest.RequireCmd(t, "perfdhcp", "kea-admin")
	ctx := context.Background()
	if err := addIPv6(ctx, h); err != nil {
		t.Fatal(err)
	}
	p, err := h.StartSelf(h.Srv, roles.DHCP6, "-iface", h.SrvIf, "-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	// The first run may come before the server listens.
	if err := harness.WaitReady(ctx, func() error { _, err := perfdhcp(ctx, h, p, 10, 1); return err }, p); err != nil {
		t.Fatal(err)
	}
	r, err := perfdhcp(ctx, h, p, 20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.recv[1] == 0 || r.drops != [2]int{} || r.recv[0] != r.sent[0] || r.recv[1] != r.sent[1] {
		t.Errorf("perfdhcp -6 against pxekit: sent %v received %v dropped %v", r.sent, r.recv, r.drops)
	}
}
