// Package stormbench is the comparison's storm part: simulated UEFI
// machines (bench/internal/stormclient) spread over 40 relayed /24s boot at
// once — DHCP, TFTP ipxe.efi, DHCP as iPXE, HTTP script, kernel and initrd
// — against pxekit's whole boot server (the pxe role: one process, one
// multi-subnet DHCP server, TFTP and HTTP), against dnsmasq + tftpd-hpa +
// nginx and against Kea + tftpd-hpa + nginx, at several sizes in one run:
// completion time, peak RSS of the server processes, failures, and
// pxekit's own counters.
//
// The 40 subnets are 198.18.0.0/24 … 198.18.39.0/24, data only: pools,
// and the RFC 3527 link-selection value each machine's relayed DHCP
// carries. Every packet goes between 192.0.2.x addresses: the relay
// agents' (giaddr, one per client process) and the addresses the machines
// fetch from.
package stormbench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/procfs"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/bench/internal/stats"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
)

// Sizes of the storm's boot assets: modest synthetic files, so that 10,000
// machines' downloads stay seconds of loopback time and the comparison is
// about serving many machines, not copying bytes.
const (
	stormKernelSize = 1 << 20
	stormInitrdSize = 256 << 10
)

// Subnets is how many relayed /24s the machines are spread over.
const Subnets = 40

// clientProcs is how many processes simulate the machines: each is one
// relay agent (its own giaddr) for Subnets/clientProcs of the subnets, so
// the clients' side has more than one Go runtime's worth of sockets and
// schedulers and is not what bounds the comparison.
const clientProcs = 4

// Target is how much faster than each peer stack pxekit must complete a
// storm.
const Target = 1.5

// DefaultSteps are the storm sizes of a full run, for the scaling chart.
var DefaultSteps = []int{1000, 2500, 5000, 10000}

// ParseSteps reads a comma-separated list of machine counts ("1000,2500").
func ParseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < clientProcs || n > Subnets*253 {
			return nil, fmt.Errorf("storm size %q: want %d to %d machines (%d subnets of 253 addresses)", f, clientProcs, Subnets*253, Subnets)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no storm sizes in %q", s)
	}
	return out, nil
}

// Run is the storm part at DefaultSteps; 200 machines with h.Quick.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	steps := DefaultSteps
	if h.Quick {
		steps = []int{200}
	}
	return RunSteps(ctx, h, steps)
}

// Part is the storm part at the given sizes (nil: Run's).
func Part(steps func() []int) func(context.Context, *harness.Harness) ([]report.Row, error) {
	return func(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
		if s := steps(); len(s) > 0 {
			return RunSteps(ctx, h, s)
		}
		return Run(ctx, h)
	}
}

// env is what every storm of a run shares.
type env struct {
	h      *harness.Harness
	dir    string // assets/, boot.ipxe, the servers' files
	want   map[string]stormclient.File
	efi    []byte
	relays []netip.Addr   // one per client process
	srcs   [][]netip.Addr // the addresses each process's machines fetch from
	subs   [][]netip.Prefix
}

// outcome is one stack's storm.
type outcome struct {
	rep     *stormclient.Report // merged over the client processes
	elapsed time.Duration       // first client process started → last done
	rss     int64               // peak RSS of the stack's processes, bytes
	s       summary
	note    string
	err     error
}

// RunSteps runs the storm at each size against the three stacks, smallest
// first, and returns the rows of all.
func RunSteps(ctx context.Context, h *harness.Harness, steps []int) ([]report.Row, error) {
	e, err := setup(h)
	if err != nil {
		return nil, err
	}
	// The relay and source addresses, on the clients' veth.
	removePool, err := h.AddPool(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = removePool() }()

	var rows []report.Row
	for _, n := range steps {
		px := e.runPXE(ctx, n)
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		dm := e.runPeer(ctx, n, dnsmasqStack)
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		kea := e.runPeer(ctx, n, keaStack)
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		rows = append(rows, stepRows(n, px, dm, kea)...)
		if px.err != nil {
			return rows, fmt.Errorf("%d machines: %w", n, px.err)
		}
	}
	return rows, nil
}

// setup writes the assets and works out who sends from where.
func setup(h *harness.Harness) (*env, error) {
	dir := filepath.Join(h.Dir, "storm")
	assets := filepath.Join(dir, "assets")
	if err := os.MkdirAll(assets, 0o755); err != nil {
		return nil, err
	}
	e := &env{h: h, dir: dir, want: map[string]stormclient.File{}}
	for name, size := range map[string]int{"vmlinuz": stormKernelSize, "initrd.gz": stormInitrdSize} {
		b := make([]byte, size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(assets, name), b, 0o644); err != nil {
			return nil, err
		}
		e.want[name] = stormclient.File{Size: int64(size), CRC: crc32.ChecksumIEEE(b)}
	}
	// The pxe role serves the iPXE builds it locates itself (Debian's
	// ipxe package): the machines must get exactly that ipxe.efi.
	found, err := ipxe.Locate()
	if found[ipxe.IPXEEFI] == "" {
		return nil, fmt.Errorf("no ipxe.efi (package ipxe): %v", err)
	}
	if e.efi, err = os.ReadFile(found[ipxe.IPXEEFI]); err != nil {
		return nil, err
	}
	e.want[string(ipxe.IPXEEFI)] = stormclient.File{Size: int64(len(e.efi)), CRC: crc32.ChecksumIEEE(e.efi)}
	e.relays, e.srcs, e.subs = layout(clientProcs, roles.StormSubnets(Subnets))
	return e, nil
}

// layout splits the harness pool (192.0.2.10–250, on the clients' veth)
// and the subnets among procs client processes: process k relays from
// pool address k, its machines fetch from a block of 48 others, and it
// serves every procs-th subnet from k on, so each subnet's machines (and
// the check that no address is held twice) are in one process.
func layout(procs int, subnets []netip.Prefix) (relays []netip.Addr, srcs [][]netip.Addr, subs [][]netip.Prefix) {
	var pool []netip.Addr
	for a, end := netip.MustParseAddr(harness.PoolStart), netip.MustParseAddr(harness.PoolEnd); a.Compare(end) <= 0; a = a.Next() {
		pool = append(pool, a)
	}
	per := (len(pool) - procs) / procs
	for k := range procs {
		relays = append(relays, pool[k])
		srcs = append(srcs, pool[procs+k*per:procs+(k+1)*per])
		var mine []netip.Prefix
		for i := k; i < len(subnets); i += procs {
			mine = append(mine, subnets[i])
		}
		subs = append(subs, mine)
	}
	return relays, srcs, subs
}

// deadline is how long one machine may take: 150 s, more for the largest
// storms, where the peers' queues alone are longer.
func deadline(n int) time.Duration { return max(150*time.Second, time.Duration(n)*30*time.Millisecond) }

// runClients runs the storm in clientProcs processes in the clients'
// namespace, each its share of n machines, and merges their reports. The
// completion time is from the first process started to the last done.
func (e *env) runClients(ctx context.Context, n int, name string) (*stormclient.Report, time.Duration, error) {
	type result struct {
		rep *stormclient.Report
		err error
	}
	res := make([]result, clientProcs)
	var procs []*harness.Proc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	start := time.Now()
	first := 0
	for k := range clientProcs {
		cnt := n / clientProcs
		if k < n%clientProcs {
			cnt++
		}
		out := filepath.Join(e.dir, fmt.Sprintf("storm-%s-%d-%d.json", name, n, k))
		var subs, srcs []string
		for _, p := range e.subs[k] {
			subs = append(subs, p.String())
		}
		for _, a := range e.srcs[k] {
			srcs = append(srcs, a.String())
		}
		args := []string{"-clients", fmt.Sprint(cnt), "-first", fmt.Sprint(first), "-want", stormclient.FormatWant(e.want),
			"-relay", e.relays[k].String(), "-subnets", strings.Join(subs, ","), "-sources", strings.Join(srcs, ","),
			"-deadline", deadline(n).String(), "-out", out}
		if k == 0 {
			args = append(args, roles.CPUProfile(e.h.Options, fmt.Sprintf("storm-%s-%d-clients", name, n))...)
		}
		first += cnt
		p, err := e.h.StartSelf(e.h.Cli, roles.Storm, args...)
		if err != nil {
			return nil, 0, err
		}
		procs = append(procs, p)
	}
	limit := time.After(deadline(n) + 5*time.Minute)
	for k, p := range procs {
		select {
		case <-p.Done():
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-limit:
			return nil, 0, fmt.Errorf("storm clients still running after %v: %s", deadline(n)+5*time.Minute, harness.Tail(p.Output(), 600))
		}
		if p.Err() != nil {
			res[k].err = fmt.Errorf("storm clients %d: %v: %s", k, p.Err(), harness.Tail(p.Output(), 600))
			continue
		}
		res[k].rep, res[k].err = readReport(filepath.Join(e.dir, fmt.Sprintf("storm-%s-%d-%d.json", name, n, k)))
	}
	elapsed := time.Since(start)
	merged := &stormclient.Report{}
	for _, r := range res {
		if r.err != nil {
			return nil, 0, r.err
		}
		merged.Clients = append(merged.Clients, r.rep.Clients...)
		merged.MaxInFlight += r.rep.MaxInFlight
		merged.MaxLeased += r.rep.MaxLeased
		merged.Stray += r.rep.Stray
		merged.Overflow += r.rep.Overflow
		merged.CPU += r.rep.CPU
		merged.Elapsed = max(merged.Elapsed, r.rep.Elapsed)
	}
	if len(merged.Clients) != n {
		return nil, 0, fmt.Errorf("storm reports have %d machines, want %d", len(merged.Clients), n)
	}
	return merged, elapsed, nil
}

func readReport(path string) (*stormclient.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep stormclient.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("storm report: %w", err)
	}
	return &rep, nil
}

// runPXE is the storm against pxekit's pxe role serving the subnets.
func (e *env) runPXE(ctx context.Context, n int) (o outcome) {
	h := e.h
	_ = os.Remove(filepath.Join(e.dir, "pxe-leases.db")) // every storm starts with no leases
	// The counters stay beside the results, commit latencies and all.
	statsPath := filepath.Join(h.Out, fmt.Sprintf("storm-%d-pxe-stats.json", n))
	args := []string{"-iface", h.SrvIf, "-dir", e.dir, "-stats", statsPath, "-subnets", strconv.Itoa(Subnets)}
	args = append(args, roles.CPUProfile(h.Options, fmt.Sprintf("storm-%d", n))...)
	px, err := h.StartSelf(h.Srv, roles.PXE, args...)
	if err != nil {
		return outcome{err: err}
	}
	defer px.Stop()
	if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, harness.ServerIP+":80"), px); err != nil {
		return outcome{err: err}
	}
	sampled := make(chan int, 1)
	sctx, stopSampling := context.WithCancel(ctx)
	go func() { sampled <- procfs.MaxThreads(sctx, px.PID()) }()
	rep, elapsed, err := e.runClients(ctx, n, "pxekit")
	stopSampling()
	threads := <-sampled
	if err != nil {
		return outcome{err: err}
	}
	// The server must have come through it alive, and VmHWM is only
	// readable while it runs.
	if err := px.Exited(); err != nil {
		return outcome{err: fmt.Errorf("pxe server died in the storm: %w", err)}
	}
	rss, rssErr := procfs.PeakRSS(px.PID())
	// It writes its counters as it stops: give it longer than Stop's 5 s
	// on a loaded machine before it would be killed.
	_ = syscall.Kill(px.PID(), syscall.SIGTERM)
	select {
	case <-px.Done():
	case <-time.After(30 * time.Second):
	}
	px.Stop()
	var ps roles.PXEStats
	b, err := os.ReadFile(statsPath)
	if err == nil {
		err = json.Unmarshal(b, &ps)
	}
	if err != nil {
		return outcome{err: fmt.Errorf("pxe server's counters: %w", err)}
	}
	_ = os.WriteFile(filepath.Join(h.Out, fmt.Sprintf("storm-%d-pxe-server.log", n)), []byte(px.Output()), 0o644)
	o = outcome{rep: rep, elapsed: elapsed, rss: rss, s: summarize(rep, true), err: rssErr}
	o.note = serverNote(n, ps, o.s, rep, logErrors(px.Output()), threads)
	h.Log.Info("storm", "server", "pxekit", "machines", n, "elapsed", elapsed.Round(time.Millisecond), "failed", o.s.failed,
		"peakRSS MB", rss>>20, "client CPU", rep.CPU.Round(time.Millisecond))
	return o
}

// serverBad says whether pxekit's own account of a storm of n machines
// shows a problem: a NAK, a rate-limit drop, a denial, an error in its log,
// or (when every machine booted) fewer than two ACKs a machine, a RELEASE
// missed, a lease left or an address not free again.
func serverBad(n int, ps roles.PXEStats, failed, logErrs int) bool {
	st, ev := ps.DHCP, ps.Events
	return st.Naks > 0 || st.Dropped[dhcp.DropClientRate] > 0 || logErrs > 0 || ev[pxe.EventDenied] > 0 ||
		(failed == 0 && (st.Acks < uint64(2*n) || st.Releases != uint64(n) || st.ActiveLeases != 0 || st.PoolFree != st.PoolSize))
}

// serverNote is pxekit's side of the storm, for the server row, prefixed
// "BAD: " when serverBad.
func serverNote(n int, ps roles.PXEStats, s summary, rep *stormclient.Report, logErrs []string, threads int) string {
	st, ev := ps.DHCP, ps.Events
	note := fmt.Sprintf("ACKs %d, releases %d, NAKs %d, dropped: %s; after the storm %d leases active, %d of %d addresses free; %d REQUEST/TFTP resends by clients; %d stray and %d overflowed replies; up to %d OS threads; %d lease writes in %d store commits; log in storm-%d-pxe-server.log, counters in storm-%[14]d-pxe-stats.json",
		st.Acks, st.Releases, st.Naks, dropsNote(st.Dropped), st.ActiveLeases, st.PoolFree, st.PoolSize, s.resent, rep.Stray, rep.Overflow, threads, st.LeaseWrites, st.Commits, n)
	note += fmt.Sprintf("; events: %d TFTP transfers, %d scripts, %d assets sent, %d requests denied",
		ev[pxe.EventTFTPSent], ev[pxe.EventScriptServed], ev[pxe.EventAssetSent], ev[pxe.EventDenied])
	if len(logErrs) > 0 {
		note += "; server log: " + strings.Join(logErrs[:min(3, len(logErrs))], " | ")
	}
	if serverBad(n, ps, s.failed, len(logErrs)) {
		note = "BAD: " + note
	}
	return note
}

// rssSampler tracks the largest summed proportional set size (Pss: shared
// pages split among the processes sharing them, so a thousand forked
// tftpd-hpa children are not counted as a thousand copies of libc) of
// some process trees, the roots and every descendant, sampled every
// 250 ms.
type rssSampler struct {
	mu   sync.Mutex
	peak int64
	stop context.CancelFunc
	done chan struct{}
}

func sampleRSS(ctx context.Context, roots []int) *rssSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &rssSampler{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			var sum int64
			for _, pid := range treePIDs(roots) {
				sum += pssOf(pid)
			}
			s.mu.Lock()
			s.peak = max(s.peak, sum)
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return s
}

// Peak stops sampling and returns the largest sum seen.
func (s *rssSampler) Peak() int64 {
	s.stop()
	<-s.done
	return s.peak
}

// treePIDs is roots and all their descendants alive now.
func treePIDs(roots []int) []int {
	var out []int
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out = append(out, pid)
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

// pssOf is pid's proportional set size now (Pss of smaps_rollup), 0
// when it is gone.
func pssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// stepRows are one size's rows: completion against each peer stack (the
// 1.5× target), peak RSS against each, failures of every stack, pxekit's
// server checks and its per-step times.
func stepRows(n int, px, dm, kea outcome) []report.Row {
	peers := []struct {
		name string
		o    outcome
	}{{dnsmasqStack.name, dm}, {keaStack.name, kea}}
	what := fmt.Sprintf("%d machines over %d relayed /24s: DHCP→TFTP ipxe.efi→DHCP iPXE→script→kernel+initrd", n, Subnets)
	var rows []report.Row
	if px.rep == nil {
		// No pxekit figures: the peers' still stand, beside a failed row.
		px.rep = &stormclient.Report{}
		px.s.failed = n
		px.s.first = map[string]string{"run": harness.Tail(fmt.Sprint(px.err), 300)}
		px.s.byStep = map[string]int{"run": n}
		px.note = "BAD: pxekit run failed: " + harness.Tail(fmt.Sprint(px.err), 300)
	}
	shape := fmt.Sprintf("machines power on over 1 s, each relayed by one of %d relay agents (giaddr %s…, one per client process) naming its subnet by link selection (option 82.5); TFTP/HTTP from 192.0.2.x; kernel %d KiB, initrd %d KiB; client CPU %.1f s over %d processes",
		clientProcs, harness.PoolStart, stormKernelSize>>10, stormInitrdSize>>10, px.rep.CPU.Seconds(), clientProcs)
	for _, p := range peers {
		r := report.Row{Group: "Storm", Case: what, Unit: "s", Lower: true, Machines: n, Target: Target, Pxekit: secs(px.elapsed), Note: shape}
		if p.o.rep != nil {
			r.Peer, r.PeerV = p.name, secs(p.o.elapsed)
			r.Note += fmt.Sprintf("; %s: client CPU %.1f s", p.name, p.o.rep.CPU.Seconds())
			if p.o.s.failed > 0 {
				r.Note += fmt.Sprintf("; %d of its machines did not boot (its time includes their deadline)", p.o.s.failed)
			}
		} else {
			r.Note += fmt.Sprintf("; no %s run: %s", p.name, harness.Tail(fmt.Sprint(p.o.err), 200))
		}
		rows = append(rows, r)
	}
	for _, p := range peers {
		r := report.Row{Group: "Memory", Case: fmt.Sprintf("peak RSS, %d-machine storm over %d subnets", n, Subnets), Unit: "MB", Lower: true, Machines: n,
			Pxekit: mb(px.rss), Note: "pxekit: VmHWM of its one process; peers: largest sum of Pss over the stack's processes and their children (tftpd-hpa forks one per transfer), sampled every 250 ms"}
		if p.o.rep != nil {
			r.Peer, r.PeerV = p.name, mb(p.o.rss)
		}
		rows = append(rows, r)
	}
	fails := report.Row{Group: "Storm", Case: fmt.Sprintf("%d machines: machines that did not boot", n), Unit: "machines", Machines: n,
		Pxekit: float64(px.s.failed), Failed: px.s.failed > 0, Note: "pxekit: " + px.s.failNote()}
	for _, p := range peers {
		if p.o.rep == nil {
			continue
		}
		fails.Note += fmt.Sprintf("; %s: %d (%s; %d NAKs)", p.name, p.o.s.failed, p.o.s.failNote(), p.o.s.naks)
		fails.Failed = fails.Failed || p.o.s.failed > 0
	}
	rows = append(rows, fails)
	rows = append(rows, report.Row{Group: "Storm", Case: fmt.Sprintf("%d machines: pxe server NAKs, rate-limit drops, denials, log errors", n), Unit: "count",
		Machines: n, Pxekit: float64(px.s.naks), Failed: strings.HasPrefix(px.note, "BAD: "), Note: px.note})
	for _, sp := range []struct{ key, name string }{
		{stormclient.StepDHCP, "DHCP, firmware DORA"},
		{stormclient.StepTFTP, "TFTP ipxe.efi (blksize 1468)"},
		{stormclient.StepIPXE, "DHCP, iPXE DORA"},
		{stormclient.StepKernel, "HTTP kernel"},
	} {
		d := px.s.times[sp.key]
		if len(d) == 0 {
			continue
		}
		r := report.Row{Group: "Storm", Case: fmt.Sprintf("%d machines: %s p99", n, sp.name), Unit: "ms", Lower: true, Machines: n,
			Pxekit: math.Round(ms(stats.Percentile(d, 99))), Note: fmt.Sprintf("p50 %.0f ms", ms(stats.Percentile(d, 50)))}
		if pd := dm.s.times[sp.key]; len(pd) > 0 {
			r.Peer, r.PeerV = dnsmasqStack.name, math.Round(ms(stats.Percentile(pd, 99)))
		}
		if pd := kea.s.times[sp.key]; len(pd) > 0 {
			r.Note += fmt.Sprintf("; %s p99 %.0f ms", keaStack.name, ms(stats.Percentile(pd, 99)))
		}
		rows = append(rows, r)
	}
	return rows
}

func secs(d time.Duration) float64 { return math.Round(d.Seconds()*100) / 100 }

func mb(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }
