package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The README's figures table sits between these two lines; ReadmeTable's
// output replaces whatever is between them.
const (
	ReadmeBegin = "<!-- bench-figures:begin (make bench-readme writes this from bench/out/results.json; do not edit) -->"
	ReadmeEnd   = "<!-- bench-figures:end -->"
)

// Machine is the CPU model, core count and kernel of the machine this
// runs on, for the README's "measured on" line: "Intel(R) Xeon(R) ... ,
// 2 cores, Linux 6.12.57".
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	kernel := runtime.GOOS
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores, %s", model, runtime.NumCPU(), kernel)
}

// ReadmeTable is the README's figures table: when and where the run was
// measured, then one line per compared row (peer and pxekit beside each
// other, the ratio and the target's verdict), then the rows without a
// peer, then the parts that failed.
func (res *Results) ReadmeTable() string {
	var b strings.Builder
	machine := res.Machine
	if machine == "" {
		machine = "machine not recorded"
	}
	fmt.Fprintf(&b, "Measured by `make bench` from %s to %s on %s (%s). Ratio > 1 is pxekit ahead; peer and pxekit ran in the same run, back to back.\n\n",
		res.Started.UTC().Format("2006-01-02 15:04 UTC"), finished(res), machine, res.Host)
	var groups []string
	for _, r := range res.Rows {
		if !slices.Contains(groups, r.Group) {
			groups = append(groups, r.Group)
		}
	}
	// A run of some parts (compare -only) says so: the others' rows are
	// not in it.
	fmt.Fprintf(&b, "Parts in this run: %s.\n\n", strings.Join(groups, ", "))
	b.WriteString("| group | case | unit | peer | peer value | pxekit | ratio | target |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var solo []Row
	for _, r := range res.Rows {
		if r.Peer == "" {
			solo = append(solo, r)
			continue
		}
		c := r.cells()
		target := c[7]
		if v := r.Verdict(); v != "" {
			target = strings.TrimSpace(target + " " + v)
		}
		cells := []string{c[0], c[1], c[2], c[3], c[4], c[5], c[6], target}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(mdEscape(cells), " | "))
	}
	if len(solo) > 0 {
		b.WriteString("\n| group | case | unit | pxekit | target |\n| --- | --- | --- | --- | --- |\n")
		for _, r := range solo {
			c := r.cells()
			fmt.Fprintf(&b, "| %s |\n", strings.Join(mdEscape([]string{c[0], c[1], c[2], c[5], strings.TrimSpace(c[7] + " " + c[8])}), " | "))
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(&b, "\nNot measured: %s\n", e)
	}
	return b.String()
}

func finished(res *Results) string {
	if res.Finished.IsZero() {
		return "(not finished)"
	}
	if res.Finished.UTC().Format(time.DateOnly) == res.Started.UTC().Format(time.DateOnly) {
		return res.Finished.UTC().Format("15:04 UTC")
	}
	return res.Finished.UTC().Format("2006-01-02 15:04 UTC")
}

func mdEscape(c []string) []string {
	out := make([]string, len(c))
	for i, s := range c {
		out[i] = strings.ReplaceAll(s, "|", "\\|")
	}
	return out
}

// RewriteReadme returns readme with the lines between ReadmeBegin and
// ReadmeEnd replaced by the ReadmeTable of each run, in order (one run of
// make bench, or several runs of some parts each). Both markers must be
// there, once each, in that order.
func RewriteReadme(readme []byte, runs ...*Results) ([]byte, error) {
	if len(runs) == 0 {
		return nil, errors.New("readme: no results")
	}
	i := bytes.Index(readme, []byte(ReadmeBegin))
	j := bytes.Index(readme, []byte(ReadmeEnd))
	switch {
	case i < 0 || j < 0:
		return nil, errors.New("readme: no figures markers (" + ReadmeBegin + " … " + ReadmeEnd + ")")
	case j < i:
		return nil, errors.New("readme: the figures end marker comes before the begin marker")
	case bytes.Count(readme, []byte(ReadmeBegin)) > 1 || bytes.Count(readme, []byte(ReadmeEnd)) > 1:
		return nil, errors.New("readme: the figures markers appear more than once")
	}
	var out bytes.Buffer
	out.Write(readme[:i+len(ReadmeBegin)])
	out.WriteString("\n")
	for i, res := range runs {
		if i > 0 {
			out.WriteString("\n")
		}
		out.WriteString(res.ReadmeTable())
	}
	out.Write(readme[j:])
	return out.Bytes(), nil
}

// Merge is one Results holding every run's rows, in order, for a chart of
// several runs; its Host says how many runs, from when to when and where.
func Merge(runs ...*Results) *Results {
	if len(runs) == 1 {
		return runs[0]
	}
	all := &Results{}
	for _, r := range runs {
		all.Rows = append(all.Rows, r.Rows...)
		all.Errors = append(all.Errors, r.Errors...)
		if all.Started.IsZero() || r.Started.Before(all.Started) {
			all.Started = r.Started
		}
		if r.Finished.After(all.Finished) {
			all.Finished = r.Finished
		}
		if all.Machine == "" {
			all.Machine = r.Machine
		}
	}
	machine := all.Machine
	if machine == "" {
		machine = "machine not recorded"
	}
	all.Host = fmt.Sprintf("%d runs from %s to %s on %s", len(runs), all.Started.UTC().Format("2006-01-02 15:04 UTC"), finished(all), machine)
	return all
}
