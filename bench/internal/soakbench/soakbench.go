// Package soakbench is the comparison's soak part: pxelab serve under
// continuous DHCP, TFTP and HTTP churn through an impaired link for a long
// run (internal/soak), its memory, goroutines and open files sampled every
// minute. There is no peer: the rows are the samples and the verdicts.
package soakbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/internal/soak"
)

// DefaultDuration is the soak's length unless -soak says otherwise.
const DefaultDuration = 30 * time.Minute

// rssBound is the resident memory the server may gain from the second
// sample to the last. Half an hour of the soak's load is some tens of
// thousands of requests (the ops row says how many): a leak of even 1 KB
// a request would be well over it.
const rssBound = 16 << 20

// Run soaks for d (two minutes with -quick), sampling every minute (10 s
// with -quick), and returns a row per sample and the verdicts.
func Run(ctx context.Context, h *harness.Harness, d time.Duration) ([]report.Row, error) {
	if m := harness.Missing(commands()...); m != "" {
		return nil, fmt.Errorf("soak: missing %s", m)
	}
	sample := time.Minute
	if h.Quick {
		d, sample = 2*time.Minute, 10*time.Second
	}
	dir := filepath.Join(h.Dir, "soak")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "pxelab")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/pxelab").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("soak: go build ./examples/pxelab (run from the repository's top): %v\n%s", err, out)
	}
	cfg := soak.Config{Pxelab: bin, Dir: dir, Duration: d, Sample: sample, Network: soak.LabNetwork(), Log: h.Log,
		OnSample: func(s soak.Sample) {
			h.Log.Info("soak sample", "at", s.At.Round(time.Second), "rss_kib", s.RSS>>10, "goroutines", s.Goroutines,
				"fds", s.FDs, "leases", s.Leases, "ops", s.Ops, "failures", s.Failures)
		}}
	res, err := soak.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h.Log.Info("soak done\n" + soak.SamplesTable(res))
	return Rows(res, cfg, d), nil
}

func commands() []string {
	var c []string
	for _, p := range soak.Commands() {
		c = append(c, p[0])
	}
	return c
}

// Rows are the soak's rows: one a sample (RSS, with goroutines, files,
// leases, ops and failures in the note), then the verdicts.
func Rows(res *soak.Result, cfg soak.Config, d time.Duration) []report.Row {
	cfg = cfg.Defaulted()
	var rows []report.Row
	row := func(name string, s soak.Sample) report.Row {
		return report.Row{Group: "Soak", Case: name + " RSS", Unit: "MiB", Lower: true, Pxekit: float64(s.RSS) / (1 << 20),
			Note: fmt.Sprintf("goroutines %d, fds %d, leases %d, ops %d, failures %d", s.Goroutines, s.FDs, s.Leases, s.Ops, s.Failures)}
	}
	rows = append(rows, row("baseline", res.Baseline))
	for _, s := range res.Samples {
		rows = append(rows, row(fmt.Sprintf("at %v", s.At.Round(time.Second)), s))
	}
	rows = append(rows, row("after the load, settled", res.Final))
	problems := res.Problems(cfg, rssBound)
	imp := res.Impairment
	rows = append(rows,
		report.Row{Group: "Soak", Case: fmt.Sprintf("%v: client operations", d), Unit: "ops", Pxekit: float64(res.TotalOps()),
			Note: fmt.Sprintf("%v; impairment dropped %d/%d frames server→clients, %d/%d clients→server", res.Ops,
				imp.AtoB.Dropped, imp.AtoB.Frames, imp.BtoA.Dropped, imp.BtoA.Frames)},
		report.Row{Group: "Soak", Case: "failed operations", Unit: "ops", Lower: true, Pxekit: float64(res.Failures), Failed: res.Failures > 0},
		report.Row{Group: "Soak", Case: "addresses ACKed to two MACs", Unit: "addresses", Lower: true, Pxekit: float64(len(res.Duplicates)), Failed: len(res.Duplicates) > 0},
		report.Row{Group: "Soak", Case: "RSS growth, 2nd sample to last", Unit: "MiB", Lower: true, Pxekit: float64(res.RSSGrowth()) / (1 << 20),
			Note: fmt.Sprintf("bound %d MiB", rssBound>>20), Failed: res.RSSGrowth() > rssBound},
		report.Row{Group: "Soak", Case: "goroutines after the load − baseline", Unit: "goroutines", Lower: true, Pxekit: float64(res.Final.Goroutines - res.Baseline.Goroutines),
			Note: fmt.Sprintf("slack %d", cfg.GoroutineSlack), Failed: res.Final.Goroutines > res.Baseline.Goroutines+cfg.GoroutineSlack},
		report.Row{Group: "Soak", Case: "open files after the load − baseline", Unit: "fds", Lower: true, Pxekit: float64(res.Final.FDs - res.Baseline.FDs),
			Note: fmt.Sprintf("slack %d", cfg.FDSlack), Failed: res.Final.FDs > res.Baseline.FDs+cfg.FDSlack},
	)
	if len(problems) > 0 {
		rows[len(rows)-1].Note += "; problems: " + fmt.Sprint(problems)
	}
	return rows
}
