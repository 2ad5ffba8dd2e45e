// Command compare measures pxekit against the servers users run today —
// Kea and dnsmasq for DHCP, tftpd-hpa and atftpd for TFTP, nginx for HTTP —
// with the same client and the same load, back to back in one run, and
// prints a table of absolute figures and ratios, writes it as Markdown and
// JSON, and draws an SVG chart of the ratios.
//
// Everything runs in two network namespaces it creates and removes
// (bench/internal/harness): the servers in one (192.0.2.1 on a veth), the
// clients in the other (192.0.2.2). The pxekit servers and the harness's
// own clients run as child processes of this binary (-role ..., see
// bench/internal/roles), so a server's peak RSS is its own and kill -9
// hits only it. Each part is a package of its own: dhcpbench, tftpbench,
// httpbench, stormbench, memorybench, qemubench; clusterbench (-only
// cluster: a pxekit pair on etcd against a Kea HA pair, kill -9 of one).
//
// Usage (root):
//
//	go run ./bench/cmd/compare -out bench/out            # everything
//	go run ./bench/cmd/compare -only dhcp,tftp -quick    # a subset, shorter runs
//	go run ./bench/cmd/compare -only storm -storm-machines 1000,10000   # the storm at two sizes
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pxekit/pxekit/bench/internal/abusebench"
	"github.com/pxekit/pxekit/bench/internal/clusterbench"
	"github.com/pxekit/pxekit/bench/internal/dhcp6bench"
	"github.com/pxekit/pxekit/bench/internal/dhcpbench"
	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/httpbench"
	"github.com/pxekit/pxekit/bench/internal/leasesbench"
	"github.com/pxekit/pxekit/bench/internal/lossybench"
	"github.com/pxekit/pxekit/bench/internal/memorybench"
	"github.com/pxekit/pxekit/bench/internal/qemubench"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/bench/internal/soakbench"
	"github.com/pxekit/pxekit/bench/internal/stormbench"
	"github.com/pxekit/pxekit/bench/internal/tftpbench"
)

// part is one part of a run, by the name -only knows it by.
type part struct {
	name string
	run  func(context.Context, *harness.Harness) ([]report.Row, error)
}

// stormMachines is -storm-machines, the storm part's sizes.
var stormMachines = flag.String("storm-machines", "", "storm: comma-separated machine counts (default 1000,2500,5000,10000; 200 with -quick)")

// stormSteps is the storm's sizes from -storm-machines, nil for its
// default; the flag is checked before any part runs.
func stormSteps() []int {
	if *stormMachines == "" {
		return nil
	}
	s, _ := stormbench.ParseSteps(*stormMachines)
	return s
}

// parts are every part, in the order a run runs them.
var parts = []part{
	{"dhcp", dhcpbench.Run},
	{"tftp", tftpbench.Run},
	{"http", httpbench.Run},
	{"storm", stormbench.Part(stormSteps)},
	{"memory", memorybench.Run},
	{"qemu", qemubench.Run},
	// Several servers sharing one state: pxekit on etcd, Kea.
	{"cluster", clusterbench.Run},
	// DHCPv6, relayed, on 2001:db8::/64: pxekit, Kea dhcp6, dnsmasq.
	{"dhcp6", dhcp6bench.Run},
	// QEMU boots on an IPv6-only lab: pxekit vs dnsmasq + nginx.
	{"qemu6", qemubench.Run6},
	// DHCP and TFTP through the impairment relay: pxekit, dnsmasq, tftpd-hpa.
	{"lossy", lossybench.Run},
	// pxelab serve under churn through an impaired link; -soak long.
	{"soak", func(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
		return soakbench.Run(ctx, h, *soakFor)
	}},
	// A well-behaved client's rate while one socket floods the server.
	{"abuse", abusebench.Run},
	// A /12 pool with a million bound leases: start-up, memory, DORA/s.
	{"leases1m", leasesbench.Run},
}

// soakFor is -soak, the soak part's length.
var soakFor = flag.Duration("soak", soakbench.DefaultDuration, "how long the soak part runs")

func main() {
	// A child role (-role NAME as the first argument) has its own flags.
	if code, ok := roles.Child(os.Args); ok {
		os.Exit(code)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.name)
	}
	out := flag.String("out", "bench/out", "directory for results.md, results.json, chart.svg and profiles")
	only := flag.String("only", strings.Join(names, ","), "comma-separated parts to run")
	quick := flag.Bool("quick", false, "shorter runs (for a smoke test of the harness)")
	pprof := flag.Bool("pprof", true, "write CPU profiles of the pxekit servers to -out")
	timeout := flag.Duration("timeout", 0, "the whole run stops after this (0: 90m, plus -soak when the soak part runs)")
	flag.Parse()

	if *stormMachines != "" {
		if _, err := stormbench.ParseSteps(*stormMachines); err != nil {
			fmt.Fprintln(os.Stderr, "compare: -storm-machines:", err)
			os.Exit(2)
		}
	}
	selected := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if !slices.Contains(names, p) {
				fmt.Fprintf(os.Stderr, "compare: -only: no part %q (parts: %s)\n", p, strings.Join(names, ", "))
				os.Exit(2)
			}
			selected[p] = true
		}
	}
	if *timeout == 0 {
		// Every part but the soak fits in 90 minutes; the soak runs as
		// long as it is told to on top of that.
		*timeout = 90 * time.Minute
		if selected["soak"] {
			*timeout += *soakFor
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	err := run(ctx, harness.Options{Out: *out, Quick: *quick, PProf: *pprof}, selected)
	cancelT()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// run runs the selected parts in one harness, writing the results after
// each so partial results survive a later failure or a timeout.
func run(ctx context.Context, o harness.Options, selected map[string]bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces, servers on port 67/69/80)")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := harness.New(ctx, o, log)
	if err != nil {
		return err
	}
	defer h.Close()

	res := report.Results{Started: time.Now().UTC(), Host: report.Host(), Machine: report.Machine()}
	for _, p := range parts {
		if !selected[p.name] {
			continue
		}
		if ctx.Err() != nil {
			res.Errors = append(res.Errors, p.name+": not run: "+ctx.Err().Error())
			continue
		}
		start := time.Now()
		log.Info("part", "name", p.name)
		rows, err := p.run(ctx, h)
		res.Rows = append(res.Rows, rows...)
		if err != nil {
			log.Error("part failed", "name", p.name, "err", err)
			res.Errors = append(res.Errors, p.name+": "+err.Error())
		}
		log.Info("part done", "name", p.name, "took", time.Since(start).Round(time.Second))
		if err := res.Write(o.Out); err != nil {
			return err
		}
	}
	res.Finished = time.Now().UTC()
	if err := res.Write(o.Out); err != nil {
		return err
	}
	fmt.Print(res.Table())
	fmt.Printf("\nwrote %s/results.md, results.json, chart.svg\n", o.Out)
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d part(s) failed: %s", len(res.Errors), strings.Join(res.Errors, "; "))
	}
	if slices.ContainsFunc(res.Rows, func(r report.Row) bool { return r.Failed }) {
		return fmt.Errorf("a correctness check failed (see the table)")
	}
	return nil
}
