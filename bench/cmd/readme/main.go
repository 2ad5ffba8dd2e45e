// Command readme writes the README's figures table and the chart from a
// comparison's results.json, so neither is ever edited by hand (make
// bench-readme):
//
//	go run ./bench/cmd/readme -results bench/out/results.json -readme README.md -chart bench/out/chart.svg
//
// -results may name several runs (compare -only of some parts each),
// comma-separated: each run gets its own table with its own time and
// machine, and the chart draws all their rows.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pxekit/pxekit/bench/internal/report"
)

func main() {
	results := flag.String("results", "bench/out/results.json", "the run's results.json, or several runs' (comma-separated; each gets its own table)")
	readme := flag.String("readme", "README.md", "the README whose figures table is rewritten")
	chart := flag.String("chart", "bench/out/chart.svg", "the chart to write (empty: none)")
	flag.Parse()
	if err := run(*results, *readme, *chart); err != nil {
		fmt.Fprintln(os.Stderr, "readme:", err)
		os.Exit(1)
	}
}

func run(results, readme, chart string) error {
	var runs []*report.Results
	for f := range strings.SplitSeq(results, ",") {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		res, err := report.Decode(b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		runs = append(runs, res)
	}
	old, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	next, err := report.RewriteReadme(old, runs...)
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if err := os.WriteFile(readme, next, 0o644); err != nil {
		return err
	}
	if chart != "" {
		return os.WriteFile(chart, []byte(report.Merge(runs...).SVG()), 0o644)
	}
	return nil
}
