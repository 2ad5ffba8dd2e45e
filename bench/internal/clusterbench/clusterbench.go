// Package clusterbench is the comparison's cluster part: relayed DORA/s at
// ≤ 1 % loss, from one client run that relays every request to each
// server of a pair (bench/internal/dhcpload, as a relay agent with several
// helper addresses), for one pxekit on bbolt, two pxekit sharing their
// leases in a three-member etcd, Kea memfile and a Kea HA hot-standby
// pair, each found by the same search (doubling, then bisecting, the best
// rate confirmed by a second run); then the active server of each pair
// killed with SIGKILL under load, every exchange retransmitted as
// firmware does, and what the clients saw: how long the dead server's
// clients, new and rebinding, went without an ACK, the ACKed leases the
// survivor no longer renews (lost), and the addresses ACKed to two
// clients (duplicates).
package clusterbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pxekit/pxekit/bench/internal/dhcpload"
	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/internal/etcdlab"
)

// SecondServerIP is the second server of a pair, beside harness.ServerIP
// on the server's link.
const SecondServerIP = "192.0.2.3"

// etcdAddr is where the etcd members listen, in the servers' namespace:
// the servers reach it over loopback, the clients cannot.
const etcdAddr = "127.0.0.1"

// clients is how many simulated clients every run spreads its exchanges
// over: fewer than the pool's 241 addresses, as perfdhcp -R 240.
const clients = 240

// load runs the dhcpload role from the client namespace against servers.
func load(ctx context.Context, h *harness.Harness, servers []string, args ...string) (*dhcpload.Report, error) {
	cmd := h.SelfCmd(ctx, roles.DHCPLoad, append([]string{"-servers", strings.Join(servers, ","), "-clients", strconv.Itoa(clients), "-drop", "2s"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := h.Cli.Run(cmd); err != nil {
		return nil, fmt.Errorf("dhcpload: %v: %s", err, harness.Tail(errb.String(), 600))
	}
	var r dhcpload.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("dhcpload report %q: %w", harness.Tail(out.String(), 200), err)
	}
	return &r, nil
}

// loss is the share of requests of both halves left unanswered.
func loss(r *dhcpload.Report) float64 {
	if r.Discovers == 0 {
		return 1
	}
	return float64(r.Discovers-r.Offers+r.Requests-r.Acks) / float64(r.Discovers+r.Requests)
}

// rung is one rate tried.
type rung struct {
	rate int
	dora float64
	loss float64
}

// passes is whether a rung lost at most 1 %.
func (g rung) passes() bool { return g.loss <= 0.01 }

// searchPlan is how the rate is searched, the same for every setup:
// doubling from start until a rate fails (or up to top), then bisecting
// between the last rate that passed and the first that failed until they
// are at most max(fine, lo/16) apart, then the best rate run again to
// confirm it.
type searchPlan struct {
	start, top, fine, secs int
}

// search finds the best DORA/s at ≤ 1 % loss along p. A rate that loses
// more is run again once before it counts as failed (the machine is
// shared). The figure is the confirmed one: the lower of the best rate's
// two runs; when the confirmation fails, that rate counts as failed and
// the bisection goes on below it.
func search(ctx context.Context, h *harness.Harness, name string, servers []string, p searchPlan, alive func() error) (best rung, tried []rung, err error) {
	try := func(rate int) (rung, error) {
		if err := alive(); err != nil {
			return rung{}, err
		}
		var g rung
		for range 2 {
			r, err := load(ctx, h, servers, "-rate", strconv.Itoa(rate), "-secs", strconv.Itoa(p.secs))
			if err != nil {
				return rung{}, err
			}
			g = rung{rate: rate, dora: float64(r.Acks) / float64(p.secs), loss: loss(r)}
			if g.passes() {
				break
			}
		}
		tried = append(tried, g)
		h.Log.Info("cluster", "server", name, "rate", rate, "dora/s", int(g.dora), "loss%", fmt.Sprintf("%.2f", 100*g.loss))
		return g, nil
	}
	best, err = p.run(try)
	return best, tried, err
}

// run is the search of p, try running one rate (twice when it fails).
func (p searchPlan) run(try func(rate int) (rung, error)) (rung, error) {
	var pass []rung // passing rungs
	lo, hi := 0, 0  // last rate passed, first failed (0: none yet)
	for rate := p.start; rate <= p.top; rate *= 2 {
		g, err := try(rate)
		if err != nil {
			return rung{}, err
		}
		if !g.passes() {
			hi = rate
			break
		}
		lo, pass = rate, append(pass, g)
	}
	if hi == 0 {
		hi = lo
	}
	for {
		for hi-lo > max(p.fine, lo/16) {
			mid := (lo + hi) / 2
			g, err := try(mid)
			if err != nil {
				return rung{}, err
			}
			if g.passes() {
				lo, pass = mid, append(pass, g)
			} else {
				hi = mid
			}
		}
		if len(pass) == 0 {
			return rung{}, nil
		}
		slices.SortFunc(pass, func(a, b rung) int { return a.rate - b.rate })
		top := pass[len(pass)-1]
		g, err := try(top.rate)
		if err != nil {
			return rung{}, err
		}
		if g.passes() {
			if g.dora > top.dora {
				g = top
			}
			return g, nil
		}
		// Unconfirmed: it is the first failing rate now, and the search
		// goes on below it.
		pass, hi, lo = pass[:len(pass)-1], top.rate, 0
		if len(pass) > 0 {
			lo = pass[len(pass)-1].rate
		}
	}
}

// note says where a search ended.
func note(best rung, tried []rung) string {
	s := "no rate passed"
	if best.rate > 0 {
		s = fmt.Sprintf("best at %d/s offered, confirmed, %.2f%% lost", best.rate, 100*best.loss)
	}
	var r []string
	for _, g := range tried {
		m := ""
		if !g.passes() {
			m = " ✗"
		}
		r = append(r, fmt.Sprintf("%d→%.0f%s", g.rate, g.dora, m))
	}
	return s + " (tried " + strings.Join(r, ", ") + ")"
}

// Failover is what the clients saw when one server of a pair was killed.
type Failover struct {
	// DORAGap and RebindGap are how long the dead server's clients, new
	// and rebinding, went without an answer (see gaps).
	DORAGap, RebindGap Gap
	// Lost are the clients ACKed an address during the run that the
	// survivor no longer renews (a rebind afterwards gets a NAK or no
	// answer, or another address); Leases how many were checked.
	Lost, Leases int
	// Duplicates are the addresses ACKed to two clients.
	Duplicates int
	// Unanswered are the exchanges of the run that got no ACK.
	Unanswered, Exchanges int
}

// Gap is the spread over clients of the time each went unserved.
type Gap struct {
	Max, P99, Median time.Duration
	// Clients is how many clients it is over.
	Clients int
}

// String is the gap for a table's note.
func (g Gap) String() string {
	return fmt.Sprintf("max %.2f s, p99 %.2f s, median %.2f s over %d clients", g.Max.Seconds(), g.P99.Seconds(), g.Median.Seconds(), g.Clients)
}

// gaps is what the clients the dead server (victim) had served saw in
// exchanges of kind after the kill: for each of them that tried again,
// the time from its first attempt after the kill (or the kill, for one
// under way then) to its first ACK of that kind afterwards, or to the
// end of the run when none came. The exchanges retransmit as firmware
// does (dhcpload.Config.Retry), so a client's gap is its own retries'
// and not how soon the load picks it again.
func gaps(r *dhcpload.Report, kind dhcpload.Kind, victim netip.Addr, kill, end int64) Gap {
	theirs := map[uint16]bool{}
	for _, e := range r.Exchanges {
		if e.Result == dhcpload.ResultACK && e.Done > 0 && e.Done <= kill && e.Server == victim {
			theirs[e.Client] = true
		}
	}
	first, back := map[uint16]int64{}, map[uint16]int64{}
	for _, e := range r.Exchanges {
		if e.Kind != kind || !theirs[e.Client] || (e.Done != 0 && e.Done <= kill) {
			continue
		}
		if t, ok := first[e.Client]; !ok || max(e.Sent, kill) < t {
			first[e.Client] = max(e.Sent, kill)
		}
		if e.Result == dhcpload.ResultACK {
			if t, ok := back[e.Client]; !ok || e.Done < t {
				back[e.Client] = e.Done
			}
		}
	}
	var d []time.Duration
	for c, t0 := range first {
		t, ok := back[c]
		if !ok {
			t = end
		}
		d = append(d, time.Duration(t-t0))
	}
	if len(d) == 0 {
		return Gap{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Gap{Max: d[len(d)-1], P99: at(0.99), Median: at(0.5), Clients: len(d)}
}

// judge reads a recorded run, the kill at kill (Unix ns), and the verify
// run of its leases.
func judge(r *dhcpload.Report, victim netip.Addr, kill int64, leases []dhcpload.Lease, v *dhcpload.Report) Failover {
	var f Failover
	end := int64(0)
	holder := map[netip.Addr]uint16{}
	dup := map[netip.Addr]bool{}
	for _, e := range append(slices.Clone(r.Exchanges), r.Extra...) {
		end = max(end, e.Sent, e.Done)
		if e.Result != dhcpload.ResultACK {
			continue
		}
		if c, ok := holder[e.IP]; ok && c != e.Client {
			dup[e.IP] = true
		}
		holder[e.IP] = e.Client
	}
	f.Duplicates = len(dup)
	for _, e := range r.Exchanges {
		f.Exchanges++
		if e.Result != dhcpload.ResultACK {
			f.Unanswered++
		}
	}
	f.DORAGap, f.RebindGap = gaps(r, dhcpload.KindDORA, victim, kill, end), gaps(r, dhcpload.KindRebind, victim, kill, end)
	want := map[uint16]netip.Addr{}
	for _, l := range leases {
		want[l.Client] = l.IP
	}
	f.Leases = len(want)
	renewed := map[uint16]bool{}
	for _, e := range v.Exchanges {
		if e.Result == dhcpload.ResultACK && e.IP == want[e.Client] {
			renewed[e.Client] = true
		}
	}
	f.Lost = f.Leases - len(renewed)
	return f
}

// heldLeases is the last address each client was ACKed in r.
func heldLeases(r *dhcpload.Report) []dhcpload.Lease {
	last := map[uint16]netip.Addr{}
	for _, e := range r.Exchanges {
		if e.Result == dhcpload.ResultACK {
			last[e.Client] = e.IP
		}
	}
	var out []dhcpload.Lease
	for c, ip := range last {
		out = append(out, dhcpload.Lease{Client: c, IP: ip})
	}
	slices.SortFunc(out, func(a, b dhcpload.Lease) int { return int(a.Client) - int(b.Client) })
	return out
}

// retry is how long a client of the kill runs retransmits an unanswered
// exchange (1 s, then every 2 s) before it gives up.
const retry = 10 * time.Second

// killUnderLoad runs a recorded load of rate DORA/s (and rebinds) for
// secs against servers, every exchange retransmitted as firmware does
// until answered (for retry at most), kills victim with SIGKILL after killAfter, then
// rebinds every lease the run ACKed against the survivors. victimIP is
// the victim's server identifier.
func killUnderLoad(ctx context.Context, h *harness.Harness, dir string, servers []string, victim *harness.Proc, victimIP string, rate, secs int, killAfter time.Duration) (Failover, error) {
	type res struct {
		r   *dhcpload.Report
		err error
	}
	ch := make(chan res, 1)
	go func() {
		r, err := load(ctx, h, servers, "-rate", strconv.Itoa(rate), "-rebind-rate", strconv.Itoa(rate/4), "-secs", strconv.Itoa(secs), "-record", "-retry", retry.String())
		ch <- res{r, err}
	}()
	time.Sleep(killAfter)
	kill := time.Now().UnixNano()
	victim.Kill9()
	<-victim.Done()
	got := <-ch
	if got.err != nil {
		return Failover{}, got.err
	}
	leases := heldLeases(got.r)
	b, err := json.Marshal(leases)
	if err != nil {
		return Failover{}, err
	}
	path := filepath.Join(dir, "verify.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return Failover{}, err
	}
	v, err := load(ctx, h, servers, "-rate", "500", "-verify", path)
	if err != nil {
		return Failover{}, err
	}
	return judge(got.r, netip.MustParseAddr(victimIP), kill, leases, v), nil
}

// loadAvg is the machine's 1, 5 and 15 minute load averages, for the
// notes: the comparison's figures mean little on a busy machine.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// etcdPair starts a three-member etcd in the servers' namespace and two
// pxekit servers sharing it, on harness.ServerIP and SecondServerIP.
func etcdPair(ctx context.Context, h *harness.Harness, dir string) (*etcdlab.Cluster, [2]*harness.Proc, func(), error) {
	var ps [2]*harness.Proc
	lab, err := etcdlab.Start(ctx, etcdlab.Config{NS: h.Srv, Addr: netip.MustParseAddr(etcdAddr), Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		return nil, ps, nil, err
	}
	stop := func() {
		for _, p := range ps {
			if p != nil {
				p.Stop()
			}
		}
		lab.Close()
	}
	for i, ip := range []string{harness.ServerIP, SecondServerIP} {
		args := []string{"-iface", h.SrvIf, "-etcd", strings.Join(lab.Endpoints(), ","), "-member", ip, "-addr", ip}
		// The first is killed with SIGKILL at the end and leaves an empty
		// profile; the second's covers the whole run.
		args = append(args, roles.CPUProfile(h.Options, fmt.Sprintf("cluster-pxekit-%d", i+1))...)
		if ps[i], err = h.StartSelf(h.Srv, roles.DHCPEtcd, args...); err != nil {
			stop()
			return nil, ps, nil, err
		}
	}
	return lab, ps, stop, nil
}

// ready waits until servers answer a short load of the part's clients.
func ready(ctx context.Context, h *harness.Harness, servers []string, procs ...*harness.Proc) error {
	return harness.WaitReady(ctx, func() error {
		r, err := load(ctx, h, servers, "-rate", "50", "-secs", "1")
		if err == nil && r.Acks == 0 {
			err = fmt.Errorf("no ACK")
		}
		return err
	}, procs...)
}

// Run is the cluster part.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	if m := harness.Missing("kea-dhcp4"); m != "" {
		return nil, fmt.Errorf("missing %s (package kea-dhcp4-server)", m)
	}
	if _, err := os.Stat(etcdlab.Binary); err != nil {
		return nil, fmt.Errorf("missing %s (package etcd-server)", etcdlab.Binary)
	}
	plan, killSecs := searchPlan{start: 500, top: 32000, fine: 125, secs: 5}, 10
	if h.Quick {
		plan, killSecs = searchPlan{start: 500, top: 2000, fine: 1000, secs: 2}, 5
	}
	dir := filepath.Join(h.Dir, "cluster")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := harness.Run(ctx, h.Srv, "ip", "addr", "add", SecondServerIP+"/24", "dev", h.SrvIf); err != nil {
		return nil, fmt.Errorf("second server address: %w", err)
	}
	defer harness.Run(context.Background(), h.Srv, "ip", "addr", "del", SecondServerIP+"/24", "dev", h.SrvIf)
	one, two := []string{harness.ServerIP}, []string{harness.ServerIP, SecondServerIP}
	loadStart := loadAvg()

	// One pxekit, leases in bbolt.
	bdir := filepath.Join(dir, "bbolt")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return nil, err
	}
	px, err := h.StartSelf(h.Srv, roles.DHCP, "-iface", h.SrvIf, "-dir", bdir)
	if err != nil {
		return nil, err
	}
	if err := ready(ctx, h, one, px); err != nil {
		px.Stop()
		return nil, err
	}
	pxBest, pxTried, err := search(ctx, h, "pxekit bbolt", one, plan, px.Exited)
	px.Stop()
	if err != nil {
		return nil, err
	}

	// Two pxekit on etcd, relayed to both.
	_, pair, stop, err := etcdPair(ctx, h, filepath.Join(dir, "pair"))
	if err != nil {
		return nil, err
	}
	alive := func() error {
		if err := pair[0].Exited(); err != nil {
			return err
		}
		return pair[1].Exited()
	}
	if err := ready(ctx, h, two, pair[0], pair[1]); err != nil {
		stop()
		return nil, err
	}
	pairBest, pairTried, err := search(ctx, h, "pxekit pair on etcd", two, plan, alive)
	if err != nil {
		stop()
		return nil, err
	}
	killRate := max(pairBest.rate/2, 250)
	fo, err := killUnderLoad(ctx, h, dir, two, pair[0], harness.ServerIP, killRate, killSecs, time.Duration(killSecs)*time.Second/3)
	stop()
	if err != nil {
		return nil, err
	}

	// Kea HA hot-standby, relayed to both; the primary killed.
	kps, kstop, err := keaHAPair(ctx, h, filepath.Join(dir, "kea-ha"), two)
	if err != nil {
		return nil, err
	}
	haBest, haTried, err := search(ctx, h, "kea HA hot-standby", two, plan, func() error {
		if err := kps[0].Exited(); err != nil {
			return err
		}
		return kps[1].Exited()
	})
	if err != nil {
		kstop()
		return nil, err
	}
	haKillRate := max(haBest.rate/2, 250)
	hfo, err := killUnderLoad(ctx, h, filepath.Join(dir, "kea-ha"), two, kps[0], harness.ServerIP, haKillRate, killSecs, time.Duration(killSecs)*time.Second/3)
	kstop()
	if err != nil {
		return nil, err
	}

	// Kea memfile, one server.
	kdir := filepath.Join(dir, "kea")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return nil, err
	}
	cmd, err := peers.Kea{Interface: h.SrvIf, Dir: kdir, Subnet: harness.Prefix, PoolStart: harness.PoolStart, PoolEnd: harness.PoolEnd}.Command()
	if err != nil {
		return nil, err
	}
	kea, err := harness.Start(h.Srv, cmd)
	if err != nil {
		return nil, err
	}
	if err := ready(ctx, h, one, kea); err != nil {
		kea.Stop()
		return nil, err
	}
	keaBest, keaTried, err := search(ctx, h, "kea memfile", one, plan, kea.Exited)
	kea.Stop()
	if err != nil {
		return nil, err
	}

	killNote := func(f Failover, rate int) string {
		return fmt.Sprintf("%d DORA/s and %d rebinds/s for %d s, killed at a third; %d of %d exchanges unanswered", rate, rate/4, killSecs, f.Unanswered, f.Exchanges)
	}
	bad := func(p, k Failover) bool { return p.Lost > 0 || p.Duplicates > 0 || k.Lost > 0 || k.Duplicates > 0 }
	rows := []report.Row{
		{Group: "Cluster", Case: "relayed DORA, ≤1% loss, one server", Unit: "DORA/s", Peer: "kea memfile", PeerV: keaBest.dora, Pxekit: pxBest.dora,
			Note: "pxekit on bbolt (fsync before each ACK) " + note(pxBest, pxTried) + "; kea " + note(keaBest, keaTried)},
		{Group: "Cluster", Case: "relayed DORA, ≤1% loss, pair", Unit: "DORA/s", Peer: "kea HA hot-standby", PeerV: haBest.dora, Pxekit: pairBest.dora, Target: 1.5,
			Note: "two pxekit sharing a three-member etcd (every ACK a claim by transaction; clients split by a hash of their MAC) " + note(pairBest, pairTried) +
				"; Kea HA hot-standby (HA+MT, 2 threads each, lease updates to the standby before each ACK) " + note(haBest, haTried) + "; every request relayed to both servers" +
				"; durability differs: each etcd member fsyncs its WAL (on the scratch directory's disk, the three members on one disk) before a claim commits, " +
				"while Kea's memfile appends its CSV without fsync and HA waits only for the standby's answer; load average at the part's start " + loadStart + ", at its end " + loadAvg()},
		{Group: "Cluster", Case: "kill -9 of the active server: gap, new clients, max", Unit: "s", Lower: true, Peer: "kea HA hot-standby", PeerV: hfo.DORAGap.Max.Seconds(), Pxekit: fo.DORAGap.Max.Seconds(),
			Failed: fo.DORAGap.Max > 4*time.Second, Note: "target ≤ 4 s; for each client the dead server had served, from its first attempt after the kill to its ACK, every exchange retransmitted as firmware does (1 s, then every 2 s, for " + retry.String() + "); pxekit (one of the pair, member TTL 2 s): " + killNote(fo, killRate) +
				fmt.Sprintf("; kea (primary; heartbeat-delay %d ms, max-response-delay %d ms, max-unacked-clients 0): ", haHeartbeatDelay, haMaxResponseDelay) + killNote(hfo, haKillRate) +
				"; pxekit " + fo.DORAGap.String() + "; kea " + hfo.DORAGap.String()},
		{Group: "Cluster", Case: "kill -9 of the active server: gap, new clients, median", Unit: "s", Lower: true, Peer: "kea HA hot-standby", PeerV: hfo.DORAGap.Median.Seconds(), Pxekit: fo.DORAGap.Median.Seconds()},
		{Group: "Cluster", Case: "kill -9 of the active server: gap, rebinding clients, max", Unit: "s", Lower: true, Peer: "kea HA hot-standby", PeerV: hfo.RebindGap.Max.Seconds(), Pxekit: fo.RebindGap.Max.Seconds(),
			Failed: fo.RebindGap.Max > 4*time.Second, Note: "target ≤ 4 s; pxekit " + fo.RebindGap.String() + "; kea " + hfo.RebindGap.String()},
		{Group: "Cluster", Case: "kill -9 of the active server: gap, rebinding clients, median", Unit: "s", Lower: true, Peer: "kea HA hot-standby", PeerV: hfo.RebindGap.Median.Seconds(), Pxekit: fo.RebindGap.Median.Seconds()},
		{Group: "Cluster", Case: "kill -9 of the active server: leases lost", Unit: "leases", Lower: true, Peer: "kea HA hot-standby", PeerV: float64(hfo.Lost), Pxekit: float64(fo.Lost), Failed: bad(fo, hfo),
			Note: fmt.Sprintf("clients ACKed during the run the survivor does not renew (rebinding REQUEST, 3 tries): pxekit %d of %d, kea %d of %d", fo.Lost, fo.Leases, hfo.Lost, hfo.Leases)},
		{Group: "Cluster", Case: "kill -9 of the active server: addresses ACKed to two clients", Unit: "addresses", Lower: true, Peer: "kea HA hot-standby", PeerV: float64(hfo.Duplicates), Pxekit: float64(fo.Duplicates), Failed: bad(fo, hfo),
			Note: fmt.Sprintf("pxekit %d, kea %d", fo.Duplicates, hfo.Duplicates)},
	}
	return rows, nil
}
