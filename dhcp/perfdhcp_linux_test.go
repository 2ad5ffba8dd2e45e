package dhcp

import (
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pxekit/pxekit/pxetest"
)

// perfdhcpResult is perfdhcp's final report and its whole output.
type perfdhcpResult struct {
	pxetest.PerfdhcpReport
	out string
}

func parsePerfdhcp(out string) perfdhcpResult {
	return perfdhcpResult{PerfdhcpReport: pxetest.ParsePerfdhcp(out), out: out}
}

// runPerfdhcp runs perfdhcp as a relay (giaddr = its own address) in its
// own namespace against a server in another, over a veth, and returns the
// server and perfdhcp's report. Bounded by -n and -p.
func runPerfdhcp(t *testing.T, mutate func(*Config), args ...string) (*Server, perfdhcpResult) {
	t.Helper()
	perfdhcp := pxetest.RequireCmd(t, "perfdhcp", "kea-admin")
	s, cli, cif := labServer(t, func(c *Config) {
		c.Subnets[0].Pools = []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.250")}}
		if mutate != nil {
			mutate(c)
		}
	})
	if err := cli.AddAddr(cif, mustPrefix("192.0.2.2/24")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(perfdhcp, append(append([]string{"-4", "-l", "192.0.2.2", "-L", "67"}, args...), "192.0.2.1")...)
	out, _ := pxetest.Run(t, cli, cmd) // exits non-zero when anything dropped: judged below
	return s, parsePerfdhcp(out)
}

// Relayed load: every exchange perfdhcp starts completes. perfdhcp sends as
// a relay agent (giaddr 192.0.2.2) and listens on 67 for the answers.
func TestPerfdhcpRelayed(t *testing.T) {
	// Modest rate, generous drop and exit-wait times: the check is that
	// every exchange completes, on a CI machine that may be busy.
	s, r := runPerfdhcp(t, nil, "-r", "100", "-R", "200", "-n", "500", "-p", "40", "-W", "8000000", "-d", "8")
	t.Logf("perfdhcp:\n%s", r.out)
	if r.Sent[0] != 500 || r.Received[0] != r.Sent[0] || r.Sent[1] != r.Received[0] || r.Received[1] != r.Sent[1] || r.Drops != [2]int{} {
		t.Fatalf("not every exchange completed: sent %v received %v drops %v; server %+v", r.Sent, r.Received, r.Drops, s.Stats())
	}
	st := s.Stats()
	if st.Acks != uint64(r.Received[1]) || len(st.Dropped) != 0 {
		t.Errorf("server stats %+v", st)
	}
	// 200 simulated clients came back again and again: each kept one
	// address, no address was given to two of them.
	if st.ActiveLeases != 200 {
		t.Errorf("active leases %d, want 200", st.ActiveLeases)
	}
	seen := map[string]string{}
	for _, l := range s.Leases() {
		if other, dup := seen[l.IP.String()]; dup {
			t.Errorf("%s leased to %s and %s", l.IP, other, l.MAC)
		}
		seen[l.IP.String()] = l.MAC.String()
	}
}

// TestPerfdhcpRate measures what this machine sustains with persistence on
// (bbolt, group commit). Opt-in (PXEKIT_PERF=1): it is a measurement, not
// a pass/fail test; make bench runs the same load against Kea and dnsmasq.
// perfdhcp runs single-threaded: on two cores its multi-threaded mode
// starves the server it measures.
func TestPerfdhcpRate(t *testing.T) {
	if os.Getenv("PXEKIT_PERF") == "" {
		t.Skip("set PXEKIT_PERF=1 to measure perfdhcp throughput")
	}
	rate := os.Getenv("PXEKIT_PERF_RATE")
	if rate == "" {
		rate = "10000"
	}
	dir := t.TempDir()
	// CPU the server (this process; perfdhcp is a child and not counted)
	// spends per exchange does not depend on what else loads the machine.
	var ru0, ru1 unix.Rusage
	if f := os.Getenv("PXEKIT_PERF_PROFILE"); f != "" {
		pf, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(pf)
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	s, r := runPerfdhcp(t, func(c *Config) {
		c.LeaseFile = dir + "/leases.db"
		c.ClientRate = -1
	}, "-g", "single", "-r", rate, "-R", "240", "-p", "10", "-W", "2000000")
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	st := s.Stats()
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	if st.Acks > 0 {
		t.Logf("server CPU: %v for %d ACKs + %d OFFERs = %v per DORA (%.0f DORA/s per core)", cpu, st.Acks, st.Offers,
			cpu/time.Duration(st.Acks), float64(st.Acks)/cpu.Seconds())
	}
	t.Logf("rate %s: sent %v received %v drops %v; server %+v", rate, r.Sent, r.Received, r.Drops, st)
	t.Logf("perfdhcp:\n%s", strings.TrimSpace(r.out))
}
