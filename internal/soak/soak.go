// Package soak runs the boot server the way a user does — pxelab serve
// from a config file, in a lab namespace — under continuous churn for a
// bounded time, and samples what a leak would show: the server's resident
// memory, goroutines and open files. The workload is real clients (busybox
// udhcpc, ISC dhclient, tftp-hpa, atftp, curl) beside simulated relayed
// DHCP clients for volume; every operation is checked (addresses never
// ACKed to two machines at once, downloads hashed) and a failure is an
// operation that did not succeed within its retry budget.
//
// The test in examples/pxelab runs it for two minutes; the bench part
// soakbench for half an hour.
package soak

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/pxetest/impair"
)

// Lab addresses: the server, the two hosts with fixed addresses (the relay
// and the downloader), and the pool the clients lease from.
var (
	serverAddr = netip.MustParseAddr("192.0.2.1")
	relayAddr  = netip.MustParsePrefix("192.0.2.2/24")
	filesAddr  = netip.MustParsePrefix("192.0.2.3/24")
)

const (
	poolStart = "192.0.2.10"
	poolEnd   = "192.0.2.250"
	httpPort  = 8080
	// tftpFile and its size: small enough that a transfer losing a few
	// blocks to the impairment finishes in seconds (each loss costs a
	// retransmission timeout), large enough to take dozens of blocks.
	tftpFile   = "undionly.kpxe"
	tftpSize   = 16 << 10
	assetFile  = "vmlinuz"
	assetSize  = 1 << 20
	maxRecords = 20 // failure and duplicate messages kept
)

// Config is one soak.
type Config struct {
	// Pxelab is the pxelab binary (go build ./examples/pxelab).
	Pxelab string
	// Dir is scratch space: the server's config, assets and lease file,
	// the clients' downloads.
	Dir string
	// Duration is how long the load runs; Sample how often the server is
	// sampled (also once before the load and once after it).
	Duration, Sample time.Duration
	// LeaseTime is the server's lease time (default 30 s, so renewals and
	// expiries churn all through the run).
	LeaseTime time.Duration
	// RelayClients is how many simulated clients churn through the relay
	// at once (default 24).
	RelayClients int
	// Network is the lab network (its Impair field puts the clients
	// behind an impairment).
	Network pxetest.NetworkConfig
	// Settle bounds the wait, after the load, for goroutines and files to
	// come back to the baseline (default 60 s).
	Settle time.Duration
	// Slack is how far above the baseline goroutines and open files may
	// stay once the load is over (defaults 10 and 5).
	GoroutineSlack, FDSlack int
	// OnSample, when set, is called with each sample as it is taken.
	OnSample func(Sample)
	// Log receives progress (default slog.Default()).
	Log *slog.Logger
}

// Sample is the server as seen at one moment.
type Sample struct {
	// At is the time since the load started (negative: the baseline).
	At time.Duration
	// RSS is VmRSS in bytes, FDs the open file descriptors, Goroutines
	// the server's go_goroutines, Leases its dhcp_active_leases.
	RSS        int64
	FDs        int
	Goroutines int
	Leases     int
	// Ops and Failures are the client operations so far.
	Ops, Failures uint64
}

// Result is a whole soak.
type Result struct {
	Baseline Sample   // before any load
	Samples  []Sample // during the load, every Config.Sample
	Final    Sample   // after the load, once settled (or Settle ran out)
	// Ops counts successful client operations by kind; Failures the
	// operations that failed after all their retries, Errors the first
	// few of them.
	Ops      map[string]uint64
	Failures uint64
	Errors   []string
	// Duplicates are addresses ACKed to a second MAC while the first
	// still held them.
	Duplicates []string
	// ServerLog is the tail of the server's stderr.
	ServerLog string
	// Impairment is what the impairment did to the frames (AtoB: the
	// server's to the clients), zero without one.
	Impairment impair.Stats
}

// TotalOps is the sum of Ops.
func (r *Result) TotalOps() uint64 {
	var n uint64
	for _, v := range r.Ops {
		n += v
	}
	return n
}

// RSSGrowth is the resident memory gained from the second sample of the
// load to its last: the first sample still includes the heap growing to
// its working size.
func (r *Result) RSSGrowth() int64 {
	if len(r.Samples) < 2 {
		return 0
	}
	return r.Samples[len(r.Samples)-1].RSS - r.Samples[1].RSS
}

// Problems are the soak's verdicts that did not hold, with rssBound the
// resident memory growth allowed (RSSGrowth). Empty: no failure, no
// duplicate address, goroutines and files back near the baseline, memory
// flat.
func (r *Result) Problems(c Config, rssBound int64) []string {
	c.defaults()
	var p []string
	if r.Failures > 0 {
		p = append(p, fmt.Sprintf("%d client operations failed: %s", r.Failures, strings.Join(r.Errors, "; ")))
	}
	if len(r.Duplicates) > 0 {
		p = append(p, fmt.Sprintf("addresses ACKed to two MACs at once: %s", strings.Join(r.Duplicates, "; ")))
	}
	if len(r.Samples) < 2 {
		p = append(p, fmt.Sprintf("%d samples during the load, want at least 2", len(r.Samples)))
	}
	if r.TotalOps() == 0 {
		p = append(p, "no client operation succeeded")
	}
	if g, b := r.Final.Goroutines, r.Baseline.Goroutines; g > b+c.GoroutineSlack {
		p = append(p, fmt.Sprintf("goroutines %d after the load, baseline %d (slack %d)", g, b, c.GoroutineSlack))
	}
	if f, b := r.Final.FDs, r.Baseline.FDs; f > b+c.FDSlack {
		p = append(p, fmt.Sprintf("open files %d after the load, baseline %d (slack %d)", f, b, c.FDSlack))
	}
	if g := r.RSSGrowth(); g > rssBound {
		p = append(p, fmt.Sprintf("RSS grew %d KiB from the 2nd sample to the last, bound %d KiB", g>>10, rssBound>>10))
	}
	return p
}

// Defaulted is c with its defaults filled in.
func (c Config) Defaulted() Config {
	c.defaults()
	return c
}

func (c *Config) defaults() {
	if c.LeaseTime == 0 {
		c.LeaseTime = 30 * time.Second
	}
	if c.RelayClients == 0 {
		c.RelayClients = 24
	}
	if c.Sample == 0 {
		c.Sample = time.Minute
	}
	if c.Settle == 0 {
		c.Settle = 60 * time.Second
	}
	if c.GoroutineSlack == 0 {
		c.GoroutineSlack = 10
	}
	if c.FDSlack == 0 {
		c.FDSlack = 5
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Network.Name == "" {
		c.Network.Name = "pxsoak"
	}
}

// LabNetwork is the soak's lab network: every client behind an
// impairment that loses 5 % of the frames each way, duplicates 2 % and
// reorders 5 %.
func LabNetwork() pxetest.NetworkConfig {
	return pxetest.NetworkConfig{Name: "pxsoak", Impair: &impair.Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.05, Seed: 1}}
}

// soak is one run's state.
type soak struct {
	cfg         Config
	net         *pxetest.Network
	srv         *exec.Cmd
	stderr      *lockedBuf
	track       tracker
	asset, boot []byte // the HTTP asset and the TFTP file

	mu       sync.Mutex
	ops      map[string]uint64
	nops     atomic.Uint64
	failures atomic.Uint64
	errs     []string
	metrics  *metricsClient
}

// Run runs the soak: the server, Duration of load, the samples. The error
// is for a soak that could not run (no server, no network); what the
// soak found is in the Result (see Problems).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if cfg.Pxelab == "" || cfg.Dir == "" || cfg.Duration <= 0 {
		return nil, errors.New("soak: Pxelab, Dir and Duration are required")
	}
	s := &soak{cfg: cfg, ops: map[string]uint64{}, stderr: &lockedBuf{}}
	s.track.holders = map[netip.Addr][]hold{}
	n, err := pxetest.NewNetwork(cfg.Network)
	if err != nil {
		return nil, err
	}
	defer n.Close()
	s.net = n
	if err := s.startServer(ctx); err != nil {
		return &Result{ServerLog: tail(s.stderr.String(), 40)}, err
	}
	defer s.stopServer()
	res, err := s.run(ctx)
	if res != nil {
		res.ServerLog = tail(s.stderr.String(), 40)
	}
	return res, err
}

func (s *soak) run(ctx context.Context) (*Result, error) {
	res := &Result{}
	var err error
	if res.Baseline, err = s.sample(ctx, -1); err != nil {
		return nil, fmt.Errorf("soak: baseline sample: %w", err)
	}
	s.cfg.Log.Info("soak: baseline", "rss_kib", res.Baseline.RSS>>10, "goroutines", res.Baseline.Goroutines, "fds", res.Baseline.FDs)
	s.report(res.Baseline)

	load, stop := context.WithCancel(ctx)
	defer stop()
	wg, err := s.startLoad(load)
	if err != nil {
		stop()
		wg.Wait()
		return nil, err
	}
	start := time.Now()
	end := start.Add(s.cfg.Duration)
	tick := time.NewTicker(s.cfg.Sample)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case now := <-tick.C:
			smp, err := s.sample(ctx, now.Sub(start))
			if err != nil {
				s.fail("sample", err)
			} else {
				res.Samples = append(res.Samples, smp)
				s.report(smp)
			}
			done = !now.Before(end.Add(-s.cfg.Sample / 2))
		}
	}
	tick.Stop()
	stop()
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Back to idle: wait (bounded) for transfers the server still times
	// out and connections it still closes, then the final sample.
	var final Sample
	for settle := time.Now().Add(s.cfg.Settle); ; {
		final, err = s.sample(ctx, time.Since(start))
		if err != nil {
			return nil, fmt.Errorf("soak: final sample: %w", err)
		}
		settled := final.Goroutines <= res.Baseline.Goroutines+s.cfg.GoroutineSlack && final.FDs <= res.Baseline.FDs+s.cfg.FDSlack
		if settled || time.Now().After(settle) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	res.Final = final
	s.report(final)
	s.mu.Lock()
	res.Ops = s.ops
	res.Errors = append([]string(nil), s.errs...)
	s.mu.Unlock()
	res.Failures = s.failures.Load()
	res.Duplicates = s.track.duplicates()
	res.Impairment = s.net.Impairment()
	return res, nil
}

func (s *soak) report(smp Sample) {
	if s.cfg.OnSample != nil {
		s.cfg.OnSample(smp)
	}
}

// ok counts a successful operation of kind.
func (s *soak) ok(kind string) {
	s.nops.Add(1)
	s.mu.Lock()
	s.ops[kind]++
	s.mu.Unlock()
}

// fail counts an operation that failed after all its retries.
func (s *soak) fail(kind string, err error) {
	s.failures.Add(1)
	s.mu.Lock()
	if len(s.errs) < maxRecords {
		s.errs = append(s.errs, kind+": "+err.Error())
	}
	s.mu.Unlock()
	s.cfg.Log.Warn("soak: operation failed", "kind", kind, "err", err)
}

// retry runs op up to tries times until it succeeds; the error is the
// last attempt's.
func retry(ctx context.Context, tries int, op func() error) error {
	var err error
	for i := 0; i < tries; i++ {
		if err = op(); err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// between is a random duration in [lo, hi).
func between(lo, hi time.Duration) time.Duration {
	var b [8]byte
	_, _ = rand.Read(b[:])
	v := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40
	return lo + time.Duration(v%uint64(hi-lo))
}

// chance is true with probability p.
func chance(p float64) bool {
	return float64(between(0, 1<<20))/float64(1<<20) < p
}

// config is the server's config file: the lab bridge, a pool, short
// leases, the TFTP file and HTTP asset, metrics (on by default) and a
// bbolt lease store, so commits are part of what is soaked.
func (s *soak) config() string {
	return fmt.Sprintf(`apiVersion: pxekit/v1alpha1
kind: BootServer
interface: %s
address: %s
http: {port: %d}
subnets:
  - prefix: 192.0.2.0/24
    pools: [{start: %s, end: %s}]
    leaseTime: %s
directories: {assets: assets, ipxe: ipxe}
profiles:
  lab: {kernel: %s, args: [console=ttyS0]}
defaultProfile: lab
store: {bbolt: {path: leases.db}}
shutdownGrace: 5s
`, s.net.Bridge, serverAddr, httpPort, poolStart, poolEnd, s.cfg.LeaseTime, assetFile)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// startServer writes the server's directory and starts pxelab serve -c in
// the lab namespace, then waits for its metrics to answer.
func (s *soak) startServer(ctx context.Context) error {
	dir := filepath.Join(s.cfg.Dir, "server")
	s.boot, s.asset = randomBytes(tftpSize), randomBytes(assetSize)
	for name, data := range map[string][]byte{"ipxe/" + tftpFile: s.boot, "assets/" + assetFile: s.asset, "pxekit.yaml": []byte(s.config())} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	// Its own process group, killed with the soak; not bound to ctx, so
	// stopServer can stop it gracefully.
	s.srv = pxetest.CommandContext(context.WithoutCancel(ctx), s.cfg.Pxelab, "serve", "-c", filepath.Join(dir, "pxekit.yaml"))
	s.srv.Dir = dir
	s.srv.Stdout = discardLines{}
	s.srv.Stderr = s.stderr
	if err := s.net.NS.Start(s.srv); err != nil {
		return fmt.Errorf("soak: starting pxelab serve: %w", err)
	}
	s.metrics = newMetricsClient(s.net.NS, fmt.Sprintf("http://%s:%d/metrics", serverAddr, httpPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := s.metrics.get(ctx)
		if err == nil && m["pxekit_ready"] == 1 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("soak: pxelab serve not ready: %v\n%s", err, tail(s.stderr.String(), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopServer stops the server as systemd does, SIGTERM, then kills what
// is left of its group.
func (s *soak) stopServer() {
	if s.srv == nil || s.srv.Process == nil {
		return
	}
	_ = s.srv.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.srv.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.srv.Cancel()
		<-done
	}
}

// sample reads the server's memory and files from /proc and its
// goroutines and leases from /metrics.
func (s *soak) sample(ctx context.Context, at time.Duration) (Sample, error) {
	pid := s.srv.Process.Pid
	smp := Sample{At: at, Ops: s.nops.Load(), Failures: s.failures.Load()}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return smp, err
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			smp.RSS = kb << 10
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return smp, err
	}
	smp.FDs = len(fds)
	m, err := s.metrics.get(ctx)
	if err != nil {
		return smp, err
	}
	g, ok := m["go_goroutines"]
	if !ok {
		return smp, errors.New("/metrics has no go_goroutines")
	}
	smp.Goroutines = int(g)
	smp.Leases = int(m["pxekit_dhcp_active_leases"])
	return smp, nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lockedBuf is a bounded, concurrency-safe log: the last 256 KiB.
type lockedBuf struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 256<<10 {
		l.b = append([]byte(nil), l.b[len(l.b)-128<<10:]...)
	}
	return len(p), nil
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// discardLines drops the server's event lines: the soak checks what the
// clients see, and half an hour of events would only fill memory.
type discardLines struct{}

func (discardLines) Write(p []byte) (int, error) { return len(p), nil }

// hold is a MAC holding an address from one moment to another.
type hold struct {
	mac         string
	from, until time.Time
}

// tracker checks that no address is ACKed to two MACs at once. A MAC
// holds an address from the moment it saw the ACK until its lease ends —
// counted from before its request left, so never later than the server's
// own expiry — or until it decided to release it, before the release
// left. Two holds of one address by different MACs that overlap are a
// duplicate.
type tracker struct {
	mu      sync.Mutex
	holders map[netip.Addr][]hold
	dups    []string
	ndups   int
}

// ack records that mac was ACKed ip at from, for a lease until until.
func (t *tracker) ack(mac net.HardwareAddr, ip netip.Addr, from, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := mac.String()
	hs := t.holders[ip][:0]
	extended := false
	for _, h := range t.holders[ip] {
		if h.until.Before(time.Now().Add(-10 * time.Minute)) {
			continue // long over: nothing recorded later can overlap it
		}
		if h.mac == m && !h.until.Before(from) && !h.from.After(from) {
			// A renewal: the same hold, longer.
			if until.After(h.until) {
				h.until = until
			}
			extended = true
		} else if h.mac != m && from.Before(h.until) && h.from.Before(until) {
			t.ndups++
			if len(t.dups) < maxRecords {
				t.dups = append(t.dups, fmt.Sprintf("%s ACKed to %s at %s while %s held it from %s to %s", ip, m,
					from.Format("15:04:05.000"), h.mac, h.from.Format("15:04:05.000"), h.until.Format("15:04:05.000")))
			}
		}
		hs = append(hs, h)
	}
	if !extended {
		hs = append(hs, hold{mac: m, from: from, until: until})
	}
	t.holders[ip] = hs
}

// release records that mac gave ip up at at.
func (t *tracker) release(mac net.HardwareAddr, ip netip.Addr, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, h := range t.holders[ip] {
		if h.mac == mac.String() && h.until.After(at) && !h.from.After(at) {
			t.holders[ip][i].until = at
		}
	}
}

func (t *tracker) duplicates() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.dups...)
	if t.ndups > len(out) {
		out = append(out, fmt.Sprintf("and %d more", t.ndups-len(out)))
	}
	return out
}

// sameHash reports whether the file at path holds want.
func sameHash(path string, want []byte) error {
	got, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		return fmt.Errorf("%s: %d bytes, sha256 differs from the served file (%d bytes)", filepath.Base(path), len(got), len(want))
	}
	return nil
}

// SamplesTable is the samples as text: one line each.
func SamplesTable(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %9s %10s %5s %7s %8s %8s\n", "at", "RSS KiB", "goroutines", "fds", "leases", "ops", "failures")
	all := append(append([]Sample{r.Baseline}, r.Samples...), r.Final)
	for i, smp := range all {
		at := smp.At.Round(time.Second).String()
		switch i {
		case 0:
			at = "baseline"
		case len(all) - 1:
			at = "settled"
		}
		fmt.Fprintf(&b, "%-9s %9d %10d %5d %7d %8d %8d\n", at, smp.RSS>>10, smp.Goroutines, smp.FDs, smp.Leases, smp.Ops, smp.Failures)
	}
	kinds := make([]string, 0, len(r.Ops))
	for k := range r.Ops {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "ops %s: %d\n", k, r.Ops[k])
	}
	for _, d := range []struct {
		name string
		d    impair.Direction
	}{{"server→clients", r.Impairment.AtoB}, {"clients→server", r.Impairment.BtoA}} {
		if d.d.Frames > 0 {
			fmt.Fprintf(&b, "impairment %s: %d frames, %d dropped, %d duplicated, %d reordered\n", d.name, d.d.Frames, d.d.Dropped, d.d.Duplicated, d.d.Reordered)
		}
	}
	return b.String()
}
