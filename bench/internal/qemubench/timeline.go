package qemubench

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pxekit/pxekit/bench/internal/procfs"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/stats"
	"github.com/pxekit/pxekit/pxetest"
)

// A milestone of the boot path, found on the timeline the same way for
// both stacks: the servers' own records (dnsmasq's log, nginx's access
// log, pxekit's events) and the guest's console.
const (
	msDiscover = "discover"      // first DHCPDISCOVER reached the server
	msAck      = "ack"           // first DHCPACK (the firmware's)
	msNBP      = "nbp"           // ipxe.efi sent over TFTP (UEFI)
	msDiscIPXE = "discover-ipxe" // first DHCPDISCOVER after ipxe.efi was sent (UEFI)
	msAckIPXE  = "ack-ipxe"      // the last DHCPACK before the script (iPXE's)
	msIfconf   = "ifconf"        // iPXE's console: "Configuring (net0 ...) ok"
	msScript   = "script"        // iPXE script served
	msKernel   = "kernel"        // kernel sent
	msInitrd   = "initrd"        // initramfs sent
	msInit     = "init"          // /init printed its marker
)

// isDiscover: with --log-dhcp dnsmasq logs "available DHCP range" as a
// packet arrives, but "DHCPDISCOVER" only once it answers, after its ping
// check (3 s), so the former marks the arrival. Over IPv6 it logs that
// line for every message (releases and information requests too) and
// answers a SOLICIT at once, so there DHCPSOLICIT marks it.
func isDiscover(s stamp) bool {
	arrived := strings.Contains(s.text, "available DHCP range") && !strings.Contains(s.text, "::")
	return (s.src == "dnsmasq" && (strings.Contains(s.text, "DHCPDISCOVER(") || arrived || strings.Contains(s.text, "DHCPSOLICIT("))) ||
		(s.src == "pxekit" && strings.HasPrefix(s.text, "discovered "))
}

func isAck(s stamp) bool {
	return (s.src == "dnsmasq" && (strings.Contains(s.text, "DHCPACK(") || strings.Contains(s.text, "DHCPREPLY("))) ||
		(s.src == "pxekit" && strings.HasPrefix(s.text, "acked "))
}

// isNBP is OVMF's word that ipxe.efi arrived whole: dnsmasq logs "sent"
// for the size probe OVMF aborts too, so the servers' records would not do.
func isNBP(s stamp) bool {
	return s.src == "console" && strings.Contains(s.text, "NBP file downloaded successfully")
}

func isScript(s stamp) bool {
	return (s.src == "nginx" && strings.Contains(s.text, "GET /boot")) ||
		(s.src == "pxekit" && strings.HasPrefix(s.text, "script-served "))
}

func isAsset(name string) func(stamp) bool {
	return func(s stamp) bool {
		return (s.src == "nginx" || (s.src == "pxekit" && strings.HasPrefix(s.text, "asset-sent "))) &&
			strings.Contains(s.text, "/assets/"+name)
	}
}

// ifconfRE is iPXE's line when its network configuration (DHCPv4 and
// IPv6 autoconfiguration, run together) has finished.
var ifconfRE = regexp.MustCompile(`^Configuring \(net0 .*\bok$`)

// milestones finds each milestone's first occurrence (ack-ipxe: the last
// ACK before the script), as time since power-on.
func milestones(start time.Time, stamps []stamp, fw pxetest.Firmware) map[string]time.Duration {
	m := map[string]time.Duration{}
	first := func(name string, f func(stamp) bool) {
		if i := slices.IndexFunc(stamps, f); i >= 0 {
			m[name] = stamps[i].t.Sub(start)
		}
	}
	first(msDiscover, isDiscover)
	first(msAck, isAck)
	if fw != pxetest.BIOS {
		first(msNBP, isNBP)
	}
	first(msScript, isScript)
	first(msIfconf, func(s stamp) bool { return s.src == "console" && ifconfRE.MatchString(s.text) })
	first(msKernel, isAsset("vmlinuz"))
	first(msInitrd, isAsset("initrd.gz"))
	first(msInit, func(s stamp) bool { return s.src == "console" && s.text == pxetest.MarkerStart })
	if nbp, ok := m[msNBP]; ok {
		for _, s := range stamps {
			if d := s.t.Sub(start); d > nbp && isDiscover(s) {
				m[msDiscIPXE] = d
				break
			}
		}
	}
	if sc, ok := m[msScript]; ok {
		for _, s := range stamps {
			if d := s.t.Sub(start); d <= sc && isAck(s) {
				m[msAckIPXE] = d
			}
		}
	}
	return m
}

// phase is the time between two milestones. server says the boot server's
// answers (and the waits its answers cause) make up the phase; the others
// are the guest's own work, which only the (shared, noisy) CPU speeds up.
type phase struct {
	name, from, to string
	server         bool
}

func phases(fw pxetest.Firmware) []phase {
	if fw == pxetest.BIOS {
		// QEMU's BIOS ROM is iPXE: its DHCP is the only one.
		return []phase{
			{"firmware to DHCPDISCOVER", "", msDiscover, false},
			{"DHCP", msDiscover, msAck, true},
			{"iPXE config wait", msAck, msIfconf, false},
			{"script", msIfconf, msScript, true},
			{"kernel", msScript, msKernel, true},
			{"initrd", msKernel, msInitrd, true},
			{"Linux to /init", msInitrd, msInit, false},
		}
	}
	return []phase{
		{"firmware to DHCPDISCOVER", "", msDiscover, false},
		{"PXE DHCP", msDiscover, msAck, true},
		{"TFTP ipxe.efi", msAck, msNBP, true},
		{"iPXE start", msNBP, msDiscIPXE, false},
		{"iPXE DHCP", msDiscIPXE, msAckIPXE, true},
		{"iPXE config wait", msAckIPXE, msIfconf, false},
		{"script", msIfconf, msScript, true},
		{"kernel", msScript, msKernel, true},
		{"initrd", msKernel, msInitrd, true},
		{"Linux to /init", msInitrd, msInit, false},
	}
}

// phaseSecs is a phase's length in one run (false: a milestone missing).
func (r bootRun) phaseSecs(p phase) (float64, bool) {
	var from time.Duration
	if p.from != "" {
		var ok bool
		if from, ok = r.marks[p.from]; !ok {
			return 0, false
		}
	}
	to, ok := r.marks[p.to]
	if !ok {
		return 0, false
	}
	return (to - from).Seconds(), true
}

func byStack(runs []bootRun, stack string) []bootRun {
	var out []bootRun
	for _, r := range runs {
		if r.stack == stack {
			out = append(out, r)
		}
	}
	return out
}

// medianPhase is the median of phase p over runs (0, false: no run has it).
func medianPhase(runs []bootRun, p phase) (float64, bool) {
	var v []float64
	for _, r := range runs {
		if s, ok := r.phaseSecs(p); ok {
			v = append(v, s)
		}
	}
	return stats.Median(v), len(v) > 0
}

// serverSecs is the sum of the run's server phases (false: one missing).
func (r bootRun) serverSecs(fw pxetest.Firmware) (float64, bool) {
	var sum float64
	for _, p := range phases(fw) {
		if !p.server {
			continue
		}
		s, ok := r.phaseSecs(p)
		if !ok {
			return 0, false
		}
		sum += s
	}
	return sum, true
}

// firmwareRows are the firmware's rows: the median power-on → /init per stack
// (the target), with each phase's median for both in the note so a slower
// stack shows where it lost the time; and the sum of the phases the
// server controls, which the other helpers' load on the shared CPU
// disturbs far less than the guest's own work. Every boot must have
// started the same kernel command line, or the comparison is void.
func firmwareRows(fw pxetest.Firmware, runs []bootRun) []report.Row {
	if len(runs) == 0 {
		return nil
	}
	base, px := byStack(runs, baseline), byStack(runs, "pxekit")
	secs := func(rs []bootRun, f func(bootRun) (float64, bool)) []float64 {
		var v []float64
		for _, r := range rs {
			if x, ok := f(r); ok {
				v = append(v, x)
			}
		}
		return v
	}
	toInit := func(r bootRun) (float64, bool) { return r.toInit.Seconds(), true }
	server := func(r bootRun) (float64, bool) { return r.serverSecs(fw) }
	row := report.Row{Group: "QEMU", Case: fw.String() + ": power-on → /init", Unit: "s", Peer: baseline,
		PeerV: stats.Median(secs(base, toInit)), Pxekit: stats.Median(secs(px, toInit)), Lower: true, Target: 1.0}
	var notes []string
	notes = append(notes, fmt.Sprintf("median of %d/%d interleaved boots (%s / %s)",
		len(base), len(px), fmtSecs(secs(base, toInit)), fmtSecs(secs(px, toInit))))
	var ph []string
	for _, p := range phases(fw) {
		b, okB := medianPhase(base, p)
		x, okX := medianPhase(px, p)
		if okB || okX {
			ph = append(ph, fmt.Sprintf("%s %.1f/%.1f", p.name, b, x))
		}
	}
	notes = append(notes, "phases s, peer/pxekit: "+strings.Join(ph, ", "))
	for _, r := range runs[1:] {
		if r.cmdline != runs[0].cmdline {
			row.Failed = true
			notes = append(notes, fmt.Sprintf("kernel command lines differ: %s #%d %q vs %s #%d %q",
				runs[0].stack, runs[0].rep, runs[0].cmdline, r.stack, r.rep, r.cmdline))
			break
		}
	}
	if b, x := secs(base, toInit), secs(px, toInit); len(b) > 1 && len(x) > 1 {
		spread := max(slices.Max(b)-slices.Min(b), slices.Max(x)-slices.Min(x))
		if d := row.Pxekit - row.PeerV; d*d < spread*spread {
			notes = append(notes, fmt.Sprintf("the medians differ by %.2f s, less than one stack's own run-to-run spread (%.2f s): a tie", d, spread))
		}
	}
	share := func(r bootRun) (float64, bool) { return r.qemuShare, r.qemuShare > 0 }
	notes = append(notes, fmt.Sprintf("QEMU got %.2f/%.2f of a core (median): other work on the machine slows the guest's own steps",
		stats.Median(secs(base, share)), stats.Median(secs(px, share))))
	row.Note = strings.Join(notes, "; ")
	var names []string
	for _, p := range phases(fw) {
		if p.server {
			names = append(names, p.name)
		}
	}
	srow := report.Row{Group: "QEMU", Case: fw.String() + ": server steps", Unit: "s", Peer: baseline,
		PeerV: stats.Median(secs(base, server)), Pxekit: stats.Median(secs(px, server)), Lower: true,
		Note: "sum of " + strings.Join(names, ", ") + " (protocol waits included)"}
	rows := []report.Row{row, srow}
	return rows
}

func fmtSecs(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(s, ", ")
}

// writePhases writes qemu-<fw>-phases.md: every boot's milestones, so a
// reader can see which step of which run cost the time.
func writePhases(out string, fw pxetest.Firmware, runs []bootRun) error {
	var b strings.Builder
	ps := phases(fw)
	fmt.Fprintf(&b, "# QEMU %s boot phases (seconds)\n\nMilestones from the servers' records and the console; timelines in qemu-%s-*.log.\n\n| stack | run | power-on → /init | server CPU s | QEMU CPU share |", fw, fw)
	for _, p := range ps {
		fmt.Fprintf(&b, " %s |", p.name)
	}
	fmt.Fprintf(&b, "\n|%s\n", strings.Repeat(" --- |", len(ps)+5))
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.2f | %.2f |", r.stack, r.rep, r.toInit.Seconds(), r.serverCPU.Seconds(), r.qemuShare)
		for _, p := range ps {
			if s, ok := r.phaseSecs(p); ok {
				fmt.Fprintf(&b, " %.2f |", s)
			} else {
				b.WriteString(" - |")
			}
		}
		b.WriteString("\n")
	}
	return os.WriteFile(filepath.Join(out, fmt.Sprintf("qemu-%s-phases.md", fw)), []byte(b.String()), 0o644)
}

// qemuCPU finds the QEMU process booting the VM with mac (pxetest.VM does not
// expose it) and returns its CPU time.
func qemuCPU(mac net.HardwareAddr) (time.Duration, bool) {
	pid, ok := procfs.FindPID("qemu-system", "mac="+mac.String())
	if !ok {
		return 0, false
	}
	c, err := procfs.CPU(pid)
	return c, err == nil
}
