package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/ipxe"
)

// Sizes of the storm's boot assets: a distribution kernel and a small
// netboot initrd.
const (
	stormKernelSize = 10 << 20
	stormInitrdSize = 4 << 20
)

// benchStorm boots 1,000 simulated machines at once against the whole
// pxekit boot server (role pxe: DHCP + TFTP + HTTP in one process) and
// reports completion time, per-step p50/p99, failures by step, the
// server's own counters and its peak RSS.
func benchStorm(ctx context.Context, h *harness) ([]Row, error) {
	n := 1000
	if h.o.quick {
		n = 200
	}
	dir := filepath.Join(h.dir, "storm")
	assets := filepath.Join(dir, "assets")
	if err := os.MkdirAll(assets, 0o755); err != nil {
		return nil, err
	}
	want := map[string]fileSum{}
	for name, size := range map[string]int{"vmlinuz": stormKernelSize, "initrd.gz": stormInitrdSize} {
		b := make([]byte, size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(assets, name), b, 0o644); err != nil {
			return nil, err
		}
		want[name] = fileSum{Size: int64(size), CRC: crc32.ChecksumIEEE(b)}
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
	want[string(ipxe.IPXEEFI)] = fileSum{Size: int64(len(efi)), CRC: crc32.ChecksumIEEE(efi)}

	// Every pool address on the client's veth, so each machine talks from
	// the address it leased.
	if err := h.poolAddrs(ctx, "add"); err != nil {
		return nil, err
	}
	defer func() { _ = h.poolAddrs(context.WithoutCancel(ctx), "del") }()

	statsPath := filepath.Join(dir, "pxe-stats.json")
	args := []string{"-iface", h.srvIf, "-dir", dir, "-stats", statsPath}
	if h.o.pprof {
		args = append(args, "-cpuprofile", filepath.Join(h.o.out, "storm.cpu.pprof"))
	}
	px, err := h.startSelf(h.srv, "pxe", args...)
	if err != nil {
		return nil, err
	}
	defer px.stop()
	if err := h.waitTCP(ctx, px, serverIP+":80"); err != nil {
		return nil, err
	}
	rep, err := h.runStormClients(ctx, n, want, filepath.Join(dir, "storm-pxekit.json"))
	if err != nil {
		return nil, err
	}
	// The server must have come through it alive, and VmHWM is only
	// readable while it runs.
	if err := px.exited(); err != nil {
		return nil, fmt.Errorf("pxe server died in the storm: %w", err)
	}
	rss, rssErr := px.peakRSS()
	px.stop()
	var st dhcp.Stats
	b, err := os.ReadFile(statsPath)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return nil, fmt.Errorf("pxe server's DHCP counters: %w", err)
	}
	logErrs := serverLogErrors(px.out.String())

	s := summarize(rep)
	h.log.Info("storm", "clients", n, "elapsed", rep.Elapsed.Round(time.Millisecond), "failed", s.failed,
		"maxInFlight", rep.MaxInFlight, "maxLeased", rep.MaxLeased, "peakRSS MB", rss>>20)

	pool := int(poolEnd.As4()[3]) - int(poolStart.As4()[3]) + 1
	shape := fmt.Sprintf("%d machines powered on over 1 s, %d booting at once at most, ≤ %d holding an address at once (pool %d)",
		n, rep.MaxInFlight, rep.MaxLeased, pool)
	rows := []Row{{Group: "Storm", Case: fmt.Sprintf("%d clients: DHCP→TFTP ipxe.efi→DHCP iPXE→script→kernel+initrd", n), Unit: "s", Lower: true,
		Pxekit: rep.Elapsed.Seconds(), Note: shape}}
	steps := []struct{ key, name string }{
		{stepWait, "waiting for a free address (DISCOVERs unanswered, pool full)"},
		{stepDHCP, "DHCP, firmware DORA"},
		{stepTFTP, fmt.Sprintf("TFTP ipxe.efi (%d KB, blksize 1468)", len(efi)>>10)},
		{stepIPXE, "DHCP, iPXE DORA"},
		{stepScript, "HTTP script"},
		{stepKernel, fmt.Sprintf("HTTP kernel (%d MB)", stormKernelSize>>20)},
		{stepInitrd, fmt.Sprintf("HTTP initrd (%d MB)", stormInitrdSize>>20)},
	}
	for _, sp := range steps {
		d := s.times[sp.key]
		if len(d) == 0 {
			continue
		}
		rows = append(rows,
			Row{Group: "Storm", Case: sp.name + " p50", Unit: "ms", Lower: true, Pxekit: ms(pct(d, 50))},
			Row{Group: "Storm", Case: sp.name + " p99", Unit: "ms", Lower: true, Pxekit: ms(pct(d, 99)),
				Note: fmt.Sprintf("max %.0f ms over %d machines", ms(d[len(d)-1]), len(d))})
	}
	rows = append(rows, Row{Group: "Storm", Case: "machines that did not boot", Unit: "machines", Pxekit: float64(s.failed), Failed: s.failed > 0,
		Note: s.failNote()})

	// The server's side of the same storm: every machine ACKed twice and
	// released once, no NAK, nothing dropped by the per-MAC rate limit,
	// no error in its log.
	drops := dropsNote(st.Dropped)
	bad := st.Naks > 0 || st.Dropped[dhcp.DropClientRate] > 0 || len(logErrs) > 0 ||
		(s.failed == 0 && (st.Acks != uint64(2*n) || st.Releases != uint64(n)))
	note := fmt.Sprintf("ACKs %d, releases %d, NAKs %d, dropped: %s; %d REQUEST/TFTP resends by clients; %d stray replies",
		st.Acks, st.Releases, st.Naks, drops, s.resent, rep.Stray)
	if len(logErrs) > 0 {
		note += "; server log: " + strings.Join(logErrs[:min(3, len(logErrs))], " | ")
	}
	rows = append(rows, Row{Group: "Storm", Case: "pxe server: NAKs, rate-limit drops, log errors", Unit: "count",
		Pxekit: float64(st.Naks + st.Dropped[dhcp.DropClientRate] + uint64(len(logErrs))), Failed: bad, Note: note})

	if rssErr != nil {
		return rows, fmt.Errorf("peak RSS: %w", rssErr)
	}
	rows = append(rows, Row{Group: "Memory", Case: fmt.Sprintf("pxe server peak RSS during the %d-client storm", n), Unit: "MB", Lower: true,
		Pxekit: float64(rss) / (1 << 20), Note: "VmHWM of the boot server process (DHCP+TFTP+HTTP)"})
	return rows, nil
}

// runStormClients runs the storm role in the client namespace and reads
// its report.
func (h *harness) runStormClients(ctx context.Context, n int, want map[string]fileSum, out string) (*stormReport, error) {
	args := []string{"-clients", fmt.Sprint(n), "-want", formatWant(want), "-out", out}
	if h.o.pprof {
		args = append(args, "-cpuprofile", filepath.Join(h.o.out, "storm-clients.cpu.pprof"))
	}
	cl, err := h.startSelf(h.cli, "storm", args...)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	select {
	case <-cl.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Minute):
		return nil, fmt.Errorf("storm clients still running after 10 min: %s", tail(cl.out.String(), 600))
	}
	if cl.err != nil {
		return nil, fmt.Errorf("storm clients: %v: %s", cl.err, tail(cl.out.String(), 600))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var rep stormReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("storm report: %w", err)
	}
	if len(rep.Clients) != n {
		return nil, fmt.Errorf("storm report has %d machines, want %d", len(rep.Clients), n)
	}
	return &rep, nil
}

// poolAddrs adds (op "add") or removes ("del") every pool address as a /32
// on the client's veth.
func (h *harness) poolAddrs(ctx context.Context, op string) error {
	var b bytes.Buffer
	for a := poolStart; a.Compare(poolEnd) <= 0; a = a.Next() {
		fmt.Fprintf(&b, "addr %s %s/32 dev %s\n", op, a, h.cliIf)
	}
	cmd := exec.CommandContext(ctx, "ip", "-n", h.cli.Name(), "-force", "-batch", "-")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip addr %s pool on %s: %v: %s", op, h.cliIf, err, tail(string(out), 300))
	}
	return nil
}

// stormSummary is the report folded per step.
type stormSummary struct {
	times  map[string][]time.Duration // sorted, booted machines only
	failed int
	byStep map[string]int
	first  map[string]string // first error per step
	resent int
}

func summarize(rep *stormReport) stormSummary {
	s := stormSummary{times: map[string][]time.Duration{}, byStep: map[string]int{}, first: map[string]string{}}
	for _, c := range rep.Clients {
		s.resent += c.Resent
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

func (s stormSummary) failNote() string {
	if s.failed == 0 {
		return "failure = NAK, TFTP/HTTP error, wrong or short file, or not booted within 150 s"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.byStep)) {
		parts = append(parts, fmt.Sprintf("%s: %d (first: %s)", k, s.byStep[k], tail(s.first[k], 160)))
	}
	return strings.Join(parts, "; ")
}

// pct is the nearest-rank percentile of sorted d.
func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	return d[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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

// serverLogErrors returns the ERROR lines of a pxekit server's log (its
// roles log at WARN and above).
func serverLogErrors(out string) []string {
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") {
			errs = append(errs, tail(l, 200))
		}
	}
	return errs
}
