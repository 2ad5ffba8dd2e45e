// Package stormbench is the comparison's storm part: 1,000 simulated UEFI
// machines (bench/internal/stormclient) boot at once against pxekit's
// whole boot server (the pxe role: DHCP + TFTP + HTTP in one process),
// then against dnsmasq + tftpd-hpa + nginx; completion time, per-step
// p50/p99, failures by step, the server's own counters and its peak RSS.
package stormbench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// Sizes of the storm's boot assets: a distribution kernel and a small
// netboot initrd.
const (
	stormKernelSize = 10 << 20
	stormInitrdSize = 4 << 20
)

// Run is the storm part: 1,000 machines, 200 with h.Quick.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	n := 1000
	if h.Quick {
		n = 200
	}
	dir := filepath.Join(h.Dir, "storm")
	assets := filepath.Join(dir, "assets")
	if err := os.MkdirAll(assets, 0o755); err != nil {
		return nil, err
	}
	want := map[string]stormclient.File{}
	for name, size := range map[string]int{"vmlinuz": stormKernelSize, "initrd.gz": stormInitrdSize} {
		b := make([]byte, size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(assets, name), b, 0o644); err != nil {
			return nil, err
		}
		want[name] = stormclient.File{Size: int64(size), CRC: crc32.ChecksumIEEE(b)}
	}
	// The pxe role serves the iPXE builds it locates itself (Debian's
	// ipxe package): the machines must get exactly that ipxe.efi.
	found, err := ipxe.Locate()
	if found[ipxe.IPXEEFI] == "" {
		return nil, fmt.Errorf("no ipxe.efi (package ipxe): %v", err)
	}
	efi, err := os.ReadFile(found[ipxe.IPXEEFI])
	if err != nil {
		return nil, err
	}
	want[string(ipxe.IPXEEFI)] = stormclient.File{Size: int64(len(efi)), CRC: crc32.ChecksumIEEE(efi)}

	// Every pool address on the client's veth, so each machine talks from
	// the address it leased.
	removePool, err := h.AddPool(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = removePool() }()

	statsPath := filepath.Join(dir, "pxe-stats.json")
	args := []string{"-iface", h.SrvIf, "-dir", dir, "-stats", statsPath}
	args = append(args, roles.CPUProfile(h.Options, "storm")...)
	px, err := h.StartSelf(h.Srv, roles.PXE, args...)
	if err != nil {
		return nil, err
	}
	defer px.Stop()
	if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, harness.ServerIP+":80"), px); err != nil {
		return nil, err
	}
	// The server's thread count, sampled through the storm: blocking
	// sockets cost one OS thread each.
	sampled := make(chan int, 1)
	sctx, stopSampling := context.WithCancel(ctx)
	go func() { sampled <- procfs.MaxThreads(sctx, px.PID()) }()
	rep, err := runClients(ctx, h, n, want, filepath.Join(dir, "storm-pxekit.json"))
	stopSampling()
	threads := <-sampled
	if err != nil {
		return nil, err
	}
	// The server must have come through it alive, and VmHWM is only
	// readable while it runs.
	if err := px.Exited(); err != nil {
		return nil, fmt.Errorf("pxe server died in the storm: %w", err)
	}
	rss, rssErr := procfs.PeakRSS(px.PID())
	px.Stop()
	var ps0 roles.PXEStats
	b, err := os.ReadFile(statsPath)
	if err == nil {
		err = json.Unmarshal(b, &ps0)
	}
	if err != nil {
		return nil, fmt.Errorf("pxe server's counters: %w", err)
	}
	st, ev := ps0.DHCP, ps0.Events
	// The server's log goes beside the results for whoever reads them.
	_ = os.WriteFile(filepath.Join(h.Out, "storm-pxe-server.log"), []byte(px.Output()), 0o644)
	logErrs := logErrors(px.Output())

	s := summarize(rep, true)
	h.Log.Info("storm", "server", "pxekit", "clients", n, "elapsed", rep.Elapsed.Round(time.Millisecond), "failed", s.failed,
		"maxInFlight", rep.MaxInFlight, "maxLeased", rep.MaxLeased, "peakRSS MB", rss>>20)

	// The same storm against the peers' stack, back to back. It is a
	// comparison, not a requirement: when it cannot run, pxekit's figures
	// stand alone and the note says why.
	peerRep, perr := runPeer(ctx, h, dir, n, want, efi)
	var ps summary
	peerNote := ""
	if perr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		h.Log.Warn("storm: no peer figures", "err", perr)
		peerNote = "; no " + peerName + " run: " + harness.Tail(perr.Error(), 200)
		peerRep = nil
	} else {
		ps = summarize(peerRep, false)
		h.Log.Info("storm", "server", peerName, "clients", n, "elapsed", peerRep.Elapsed.Round(time.Millisecond), "failed", ps.failed)
	}
	// row pairs pxekit's figure with the peer's when there is one.
	row := func(r report.Row, peer float64) report.Row {
		if peerRep != nil {
			r.Peer, r.PeerV = peerName, peer
		}
		return r
	}

	pool := int(netip.MustParseAddr(harness.PoolEnd).As4()[3]) - int(netip.MustParseAddr(harness.PoolStart).As4()[3]) + 1
	shape := fmt.Sprintf("%d machines powered on over 1 s share %d addresses (a DISCOVER that finds the pool full is sent again after 1, 2, 4, 4 … s); pxekit: %d booting at once at most, ≤ %d holding an address at once",
		n, pool, rep.MaxInFlight, rep.MaxLeased)
	peerTime := 0.0
	if peerRep != nil {
		peerTime = peerRep.Elapsed.Seconds()
		shape += fmt.Sprintf("; peer: ≤ %d holding an address, dnsmasq with --no-ping (the clients' veth answers ping for every pool address)", peerRep.MaxLeased)
		if ps.failed > 0 {
			// Machines that gave up leave the peer less work: its time
			// would flatter it.
			peerTime = 0
			shape += fmt.Sprintf("; no peer time: %d of its machines did not boot", ps.failed)
		}
	}
	rows := []report.Row{row(report.Row{Group: "Storm", Case: fmt.Sprintf("%d clients: DHCP→TFTP ipxe.efi→DHCP iPXE→script→kernel+initrd", n), Unit: "s", Lower: true,
		Pxekit: rep.Elapsed.Seconds(), Note: shape + peerNote}, peerTime)}
	steps := []struct{ key, name string }{
		{stormclient.StepWait, "waiting for a free address (DISCOVERs unanswered, pool full)"},
		{stormclient.StepDHCP, "DHCP, firmware DORA"},
		{stormclient.StepTFTP, fmt.Sprintf("TFTP ipxe.efi (%d KB, blksize 1468)", len(efi)>>10)},
		{stormclient.StepIPXE, "DHCP, iPXE DORA"},
		{stormclient.StepScript, "HTTP script"},
		{stormclient.StepKernel, fmt.Sprintf("HTTP kernel (%d MB)", stormKernelSize>>20)},
		{stormclient.StepInitrd, fmt.Sprintf("HTTP initrd (%d MB)", stormInitrdSize>>20)},
	}
	for _, sp := range steps {
		d, pd := s.times[sp.key], ps.times[sp.key]
		if len(d) == 0 {
			continue
		}
		// Whole milliseconds: a wait that did not happen is 0 (no
		// ratio), not a few nanoseconds of bookkeeping.
		v := func(d []time.Duration, p int) float64 { return math.Round(ms(stats.Percentile(d, p))) }
		note50 := ""
		if sp.key == stormclient.StepDHCP && peerRep != nil {
			note50 = "each stack's step times are under the load its own pace made: a faster TFTP puts more machines into HTTP at once"
		}
		rows = append(rows,
			row(report.Row{Group: "Storm", Case: sp.name + " p50", Unit: "ms", Lower: true, Pxekit: v(d, 50), Note: note50}, v(pd, 50)),
			row(report.Row{Group: "Storm", Case: sp.name + " p99", Unit: "ms", Lower: true, Pxekit: v(d, 99),
				Note: fmt.Sprintf("max %.0f ms over %d machines", ms(d[len(d)-1]), len(d))}, v(pd, 99)))
	}
	failNote := s.failNote()
	if peerRep != nil && (s.failed > 0 || ps.failed > 0) {
		failNote = "pxekit: " + failNote + "; peer: " + ps.failNote()
	}
	if peerRep != nil && ps.failed > 0 {
		failNote += fmt.Sprintf("; peer run: %d REQUEST/TFTP resends, %d stray and %d overflowed DHCP replies", ps.resent, peerRep.Stray, peerRep.Overflow)
	}
	if ps.naks > 0 {
		failNote += fmt.Sprintf("; the peer NAKed %d REQUESTs (an address offered twice: the machine went back to DISCOVER after 1–2 s), first: %s", ps.naks, harness.Tail(ps.nak, 120))
	}
	rows = append(rows, row(report.Row{Group: "Storm", Case: "machines that did not boot", Unit: "machines", Pxekit: float64(s.failed), Failed: s.failed > 0,
		Note: failNote}, float64(ps.failed)))

	// The server's side of the same storm: every machine ACKed twice and
	// released once, no NAK, nothing dropped by the per-MAC rate limit,
	// no error in its log.
	drops := dropsNote(st.Dropped)
	// Once every machine released, the whole pool is free again.
	bad := st.Naks > 0 || st.Dropped[dhcp.DropClientRate] > 0 || len(logErrs) > 0 || ev[pxe.EventDenied] > 0 ||
		(s.failed == 0 && (st.Acks < uint64(2*n) || st.Releases != uint64(n) || st.ActiveLeases != 0 || st.PoolFree != st.PoolSize))
	note := fmt.Sprintf("ACKs %d, releases %d, NAKs %d, dropped: %s; after the storm %d leases active, %d of %d addresses free; %d REQUEST/TFTP resends by clients; %d stray and %d overflowed replies; log in storm-pxe-server.log",
		st.Acks, st.Releases, st.Naks, drops, st.ActiveLeases, st.PoolFree, st.PoolSize, s.resent, rep.Stray, rep.Overflow)
	note += fmt.Sprintf("; events: %d TFTP transfers, %d scripts, %d assets sent, %d requests denied",
		ev[pxe.EventTFTPSent], ev[pxe.EventScriptServed], ev[pxe.EventAssetSent], ev[pxe.EventDenied])
	if len(logErrs) > 0 {
		note += "; server log: " + strings.Join(logErrs[:min(3, len(logErrs))], " | ")
	}
	rows = append(rows, report.Row{Group: "Storm", Case: "pxe server: NAKs, rate-limit drops, denials, log errors", Unit: "count",
		Pxekit: float64(st.Naks + st.Dropped[dhcp.DropClientRate] + ev[pxe.EventDenied] + uint64(len(logErrs))), Failed: bad, Note: note})

	if rssErr != nil {
		return rows, fmt.Errorf("peak RSS: %w", rssErr)
	}
	rows = append(rows, report.Row{Group: "Memory", Case: fmt.Sprintf("pxe server peak RSS during the %d-client storm", n), Unit: "MB", Lower: true,
		Pxekit: float64(rss) / (1 << 20), Note: fmt.Sprintf("VmHWM of the boot server process (DHCP+TFTP+HTTP); up to %d OS threads during the storm", threads)})
	return rows, nil
}

// runClients runs the storm role in the client namespace and reads
// its report.
func runClients(ctx context.Context, h *harness.Harness, n int, want map[string]stormclient.File, out string) (*stormclient.Report, error) {
	args := []string{"-clients", fmt.Sprint(n), "-want", stormclient.FormatWant(want), "-out", out}
	args = append(args, roles.CPUProfile(h.Options, strings.TrimSuffix(filepath.Base(out), ".json")+"-clients")...)
	cl, err := h.StartSelf(h.Cli, roles.Storm, args...)
	if err != nil {
		return nil, err
	}
	defer cl.Stop()
	select {
	case <-cl.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Minute):
		return nil, fmt.Errorf("storm clients still running after 10 min: %s", harness.Tail(cl.Output(), 600))
	}
	if cl.Err() != nil {
		return nil, fmt.Errorf("storm clients: %v: %s", cl.Err(), harness.Tail(cl.Output(), 600))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var rep stormclient.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("storm report: %w", err)
	}
	if len(rep.Clients) != n {
		return nil, fmt.Errorf("storm report has %d machines, want %d", len(rep.Clients), n)
	}
	return &rep, nil
}

// summary is the report folded per step.
type summary struct {
	times  map[string][]time.Duration // sorted, booted machines only
	failed int
	byStep map[string]int
	first  map[string]string // first error per step
	resent int
	naks   int    // NAKs to REQUESTs, over all machines
	nak    string // the first of them
}

// summarize folds rep. With nakFails, a machine that got a NAK
// failed even though it went back to DISCOVER and booted: pxekit holds its
// offers, so a NAK from it is a bug, and the storm counts it as a failure.
func summarize(rep *stormclient.Report, nakFails bool) summary {
	s := summary{times: map[string][]time.Duration{}, byStep: map[string]int{}, first: map[string]string{}}
	for _, c := range rep.Clients {
		s.resent += c.Resent
		s.naks += c.Naks
		if s.nak == "" && c.FirstNak != "" {
			s.nak = c.MAC + ": " + c.FirstNak
		}
		if c.Step == "" && nakFails && c.Naks > 0 {
			c.Step, c.Err = "nak", c.FirstNak
		}
		if c.Step != "" {
			s.failed++
			s.byStep[c.Step]++
			if s.first[c.Step] == "" {
				s.first[c.Step] = c.MAC + ": " + c.Err
			}
			continue
		}
		for k, d := range c.Times {
			s.times[k] = append(s.times[k], d)
		}
	}
	for _, d := range s.times {
		slices.Sort(d)
	}
	return s
}

// failNote says what failed, by step, with the first error of each; or,
// when nothing did, what would have.
func (s summary) failNote() string {
	if s.failed == 0 {
		return "failure = NAK, TFTP/HTTP error, wrong or short file, or not booted within 150 s"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.byStep)) {
		parts = append(parts, fmt.Sprintf("%s: %d (first: %s)", k, s.byStep[k], harness.Tail(s.first[k], 160)))
	}
	return strings.Join(parts, "; ")
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// dropsNote lists the DHCP server's drops by reason, "none" for none.
func dropsNote(m map[dhcp.DropReason]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// logErrors returns the ERROR lines of a pxekit server's log (its
// roles log at WARN and above).
func logErrors(out string) []string {
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") {
			errs = append(errs, harness.Tail(l, 200))
		}
	}
	return errs
}
