// Package report is the comparison's results: one Row per measurement,
// pxekit beside the peer it is compared with, and the three renderings a
// run writes (results.md, results.json, chart.svg) plus the plain-text
// table it prints.
package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one measurement: pxekit and (when there is one) the peer, under
// the same client and load.
type Row struct {
	Group  string  `json:"group"` // DHCP, TFTP, HTTP, Storm, QEMU, Memory
	Case   string  `json:"case"`
	Unit   string  `json:"unit"`
	Peer   string  `json:"peer,omitempty"`
	PeerV  float64 `json:"peerValue,omitempty"`
	Pxekit float64 `json:"pxekit"`
	// Lower says smaller is better (seconds, bytes).
	Lower bool `json:"lowerIsBetter,omitempty"`
	// Target is the ratio pxekit must reach against the peer (0: none).
	Target float64 `json:"target,omitempty"`
	Note   string  `json:"note,omitempty"`
	// Failed marks a correctness check that did not hold (failures in
	// the storm, leases lost after kill -9).
	Failed bool `json:"failed,omitempty"`
	// Machines is how many machines a row of a scaling series was
	// measured with (the storm at 1k … 10k), its x in the chart; 0 for
	// other rows.
	Machines int `json:"machines,omitempty"`
}

// Ratio is pxekit's advantage over the peer: > 1 means pxekit is better,
// whichever way the unit points. 0 when there is no peer figure.
func (r Row) Ratio() float64 {
	if r.Peer == "" || r.PeerV == 0 || r.Pxekit == 0 {
		return 0
	}
	if r.Lower {
		return r.PeerV / r.Pxekit
	}
	return r.Pxekit / r.PeerV
}

// Verdict is "FAIL" (a correctness check failed), "ok" or "MISS" (the
// target ratio reached or not), or "" (no target).
func (r Row) Verdict() string {
	switch {
	case r.Failed:
		return "FAIL"
	case r.Target == 0:
		return ""
	case r.Ratio() >= r.Target:
		return "ok"
	default:
		return "MISS"
	}
}

// Results is one run: what it measured and which parts failed. It is
// results.json as written.
type Results struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"` // zero while the run goes on
	Host     string    `json:"host"`
	// Machine is the CPU model, cores and kernel (Machine()); empty in
	// results written before it was recorded.
	Machine string   `json:"machine,omitempty"`
	Rows    []Row    `json:"rows"`
	Errors  []string `json:"errors,omitempty"` // "part: error" of every part that failed
}

// Host describes the machine a run is on: OS, CPUs, Go version and load
// average, since the figures depend on all of them.
func Host() string {
	load, _ := os.ReadFile("/proc/loadavg")
	avg := strings.Fields(string(load))
	return fmt.Sprintf("%s/%s, %d CPUs, %s, loadavg %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), strings.Join(avg[:min(3, len(avg))], " "))
}

// Decode reads results.json.
func Decode(b []byte) (*Results, error) {
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return &res, nil
}

// fmtV prints a figure with three significant digits at most, none
// after the point from 100 up; 0 is "-", a missing figure.
func fmtV(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// counted are the units of rows that count failures or survivors.
var counted = map[string]bool{"machines": true, "count": true, "leases": true, "%": true}

func (r Row) cells() []string {
	ratio, target := "", ""
	if x := r.Ratio(); x != 0 {
		ratio = fmt.Sprintf("%.2f×", x)
	}
	if r.Target != 0 {
		target = fmt.Sprintf("≥ %.2g×", r.Target)
	}
	peer, peerV, pxV := r.Peer, fmtV(r.PeerV), fmtV(r.Pxekit)
	if peer == "" {
		peer = "-"
	}
	// A count of failures is a result when it is zero, not a missing one.
	if counted[r.Unit] {
		if r.Pxekit == 0 {
			pxV = "0"
		}
		if r.PeerV == 0 && r.Peer != "" {
			peerV = "0"
		}
	}
	return []string{r.Group, r.Case, r.Unit, peer, peerV, pxV, ratio, target, r.Verdict(), r.Note}
}

var header = []string{"group", "case", "unit", "peer", "peer value", "pxekit", "ratio", "target", "", "note"}

// Table is the plain-text table printed at the end of a run, then one
// line per part that failed.
func (res *Results) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range res.Rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t"))
	}
	tw.Flush()
	for _, e := range res.Errors {
		fmt.Fprintln(&b, "error:", e)
	}
	return b.String()
}

// Markdown is results.md: the same table, with the host and start time
// above it.
func (res *Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# pxekit vs peers\n\n%s, started %s\n\nRatio > 1 means pxekit is better (faster, or smaller when lower is better).\n\n", res.Host, res.Started.Format(time.RFC3339))
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
	for _, r := range res.Rows {
		c := r.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", "\\|")
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(c, " | "))
	}
	for _, e := range res.Errors {
		fmt.Fprintf(&b, "\nerror: %s\n", e)
	}
	return b.String()
}

// Write writes results.json, results.md and chart.svg into dir. A run
// writes them after every part, so partial results survive a later
// failure or a timeout.
func (res *Results) Write(dir string) error {
	j, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"results.json": j,
		"results.md":   []byte(res.Markdown()),
		"chart.svg":    []byte(res.SVG()),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// esc is s as XML character data: markup escaped, and what XML cannot
// carry (control characters, invalid UTF-8 from a peer's output in a
// note) replaced, so the chart always opens.
func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// SVG is chart.svg: one horizontal bar per compared row, pxekit's ratio
// to the peer on a log scale, with the 1× line and the row's target
// marked. Rows without a peer are listed as text under the bars. Under
// them, when rows carry Machines (the storm at several sizes), the
// storm's completion time and peak RSS against machines, one line per
// stack.
func (res *Results) SVG() string {
	var rows, solo []Row
	for _, r := range res.Rows {
		if r.Ratio() != 0 {
			rows = append(rows, r)
		} else {
			solo = append(solo, r)
		}
	}
	const (
		left, barW, rowH, top = 430.0, 420.0, 22.0, 60.0
		minR, maxR            = 0.05, 50.0 // log scale bounds
	)
	lg := func(v float64) float64 {
		if !(v >= minR) { // NaN too
			v = minR
		}
		if v > maxR {
			v = maxR
		}
		return left + barW*(math.Log10(v)-math.Log10(minR))/(math.Log10(maxR)-math.Log10(minR))
	}
	h := top + rowH*float64(len(rows)) + 40 + 18*float64(len(solo)) + 20
	// The storm's scaling chart, when the run has one, goes under the
	// ratios.
	scale, scaleH := res.scalePanels(h, left+barW+140)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", int(left+barW+140), int(h+scaleH))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">pxekit vs peers — ratio (log scale, &gt; 1 = pxekit better)</text>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s</text>`+"\n", esc(res.Host))
	for _, t := range []float64{0.1, 0.5, 1, 2, 5, 10, 20} {
		x := lg(t)
		stroke := "#ddd"
		if t == 1 {
			stroke = "#000"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x, top-8, x, top+rowH*float64(len(rows)), stroke)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%g×</text>`+"\n", x, top-12, t)
	}
	for i, r := range rows {
		y := top + rowH*float64(i)
		ratio := r.Ratio()
		color := "#4a90d9"
		switch r.Verdict() {
		case "ok":
			color = "#3c9d4e"
		case "MISS", "FAIL":
			color = "#d9534f"
		}
		x0, x1 := lg(1), lg(ratio)
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		label := fmt.Sprintf("%s %s vs %s", r.Group, r.Case, r.Peer)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+14, esc(label))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x0, y+3, max(x1-x0, 1), rowH-6, color)
		if r.Target != 0 {
			tx := lg(r.Target)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-dasharray="3,2"/>`+"\n", tx, y+1, tx, y+rowH-1)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%.2f× (%s vs %s %s)</text>`+"\n", left+barW+4, y+14, ratio, fmtV(r.Pxekit), fmtV(r.PeerV), esc(r.Unit))
	}
	y := top + rowH*float64(len(rows)) + 30
	for _, r := range solo {
		fmt.Fprintf(&b, `<text x="10" y="%.1f">%s</text>`+"\n", y, esc(fmt.Sprintf("%s %s: %s %s %s %s", r.Group, r.Case, fmtV(r.Pxekit), r.Unit, r.Verdict(), r.Note)))
		y += 18
	}
	b.WriteString(scale)
	b.WriteString("</svg>\n")
	return b.String()
}
