// Command compare measures pxekit against the servers users run today —
// Kea and dnsmasq for DHCP, tftpd-hpa and atftpd for TFTP, nginx for HTTP —
// with the same client and the same load, back to back in one run, and
// prints a table of absolute figures and ratios, writes it as Markdown and
// JSON, and draws an SVG chart of the ratios (issue 11).
//
// Everything runs in two network namespaces it creates and removes: the
// servers in one (192.0.2.1 on a veth), the clients in the other
// (192.0.2.2). The pxekit servers run as child processes of this binary
// (-role ...), so their peak RSS is their own and kill -9 hits only them.
//
// Usage (root):
//
//	go run ./bench/cmd/compare -out bench/out            # everything
//	go run ./bench/cmd/compare -only dhcp,tftp -quick    # a subset, shorter runs
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

	"github.com/pxekit/pxekit/bench/internal/dhcpbench"
	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/httpbench"
	"github.com/pxekit/pxekit/bench/internal/memorybench"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/bench/internal/stormbench"
	"github.com/pxekit/pxekit/bench/internal/tftpbench"
)

// options are the command-line settings of a comparison run.
type options struct {
	out     string
	only    map[string]bool
	quick   bool
	pprof   bool
	timeout time.Duration
}

func main() {
	// A child role (-role NAME as the first argument) has its own flags.
	if code, ok := roles.Child(os.Args); ok {
		os.Exit(code)
	}
	out := flag.String("out", "bench/out", "directory for results.md, results.json, chart.svg and profiles")
	only := flag.String("only", "dhcp,tftp,http,storm,memory,qemu", "comma-separated parts to run")
	quick := flag.Bool("quick", false, "shorter runs (for a smoke test of the harness)")
	pprof := flag.Bool("pprof", true, "write CPU profiles of the pxekit servers to -out")
	timeout := flag.Duration("timeout", 45*time.Minute, "the whole run stops after this")
	flag.Parse()

	o := options{out: *out, only: map[string]bool{}, quick: *quick, pprof: *pprof, timeout: *timeout}
	for _, p := range strings.Split(*only, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.only[p] = true
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancelT := context.WithTimeout(ctx, o.timeout)
	err := run(ctx, o)
	cancelT()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces, servers on port 67/69/80)")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := harness.New(ctx, harness.Options{Out: o.out, Quick: o.quick, PProf: o.pprof}, log)
	if err != nil {
		return err
	}
	defer h.Close()

	var res report.Results
	res.Started = time.Now().UTC()
	res.Host = report.Host()
	parts := []struct {
		name string
		fn   func(context.Context, *harness.Harness) ([]report.Row, error)
	}{
		{"dhcp", dhcpbench.Run},
		{"tftp", tftpbench.Run},
		{"http", httpbench.Run},
		{"storm", stormbench.Run},
		{"memory", memorybench.Run},
		{"qemu", benchQEMU},
	}
	for _, p := range parts {
		if !o.only[p.name] {
			continue
		}
		if ctx.Err() != nil {
			res.Errors = append(res.Errors, p.name+": not run: "+ctx.Err().Error())
			continue
		}
		start := time.Now()
		log.Info("part", "name", p.name)
		rows, err := p.fn(ctx, h)
		res.Rows = append(res.Rows, rows...)
		if err != nil {
			log.Error("part failed", "name", p.name, "err", err)
			res.Errors = append(res.Errors, p.name+": "+err.Error())
		}
		log.Info("part done", "name", p.name, "took", time.Since(start).Round(time.Second))
		// Partial results survive a later failure or a timeout.
		if err := res.Write(o.out); err != nil {
			return err
		}
	}
	res.Finished = time.Now().UTC()
	if err := res.Write(o.out); err != nil {
		return err
	}
	fmt.Print(res.Table())
	fmt.Printf("\nwrote %s/results.md, results.json, chart.svg\n", o.out)
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d part(s) failed: %s", len(res.Errors), strings.Join(res.Errors, "; "))
	}
	if slices.ContainsFunc(res.Rows, func(r report.Row) bool { return r.Failed }) {
		return fmt.Errorf("a correctness check failed (see the table)")
	}
	return nil
}
