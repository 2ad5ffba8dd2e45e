package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// series is one stack's figures in a scaling chart: value by machines.
type series struct {
	name string
	pts  map[int]float64
}

// scaleSeries gathers, from the rows keep selects (Machines set), one
// series for pxekit and one for each peer, in the order first seen.
func scaleSeries(rows []Row, keep func(Row) bool) []series {
	var out []series
	add := func(name string, x int, v float64) {
		if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		for i := range out {
			if out[i].name == name {
				out[i].pts[x] = v
				return
			}
		}
		out = append(out, series{name: name, pts: map[int]float64{x: v}})
	}
	for _, r := range rows {
		if r.Machines <= 0 || !keep(r) {
			continue
		}
		add("pxekit", r.Machines, r.Pxekit)
		if r.Peer != "" {
			add(r.Peer, r.Machines, r.PeerV)
		}
	}
	return out
}

// stormTime selects the storm's completion rows (seconds, with a target);
// stormRSS its peak-RSS rows.
func stormTime(r Row) bool { return r.Group == "Storm" && r.Unit == "s" && r.Target > 0 }
func stormRSS(r Row) bool  { return r.Group == "Memory" && r.Unit == "MB" }

// seriesColors are the lines' colours, pxekit's first.
var seriesColors = []string{"#3c9d4e", "#d9534f", "#4a90d9", "#f0ad4e", "#777"}

// scalePanels is the scaling chart (completion time and peak RSS against
// machines, every stack one line) as SVG elements for a region width wide
// starting at y, and its height; "" and 0 when no row has Machines.
func (res *Results) scalePanels(y, width float64) (string, float64) {
	time, rss := scaleSeries(res.Rows, stormTime), scaleSeries(res.Rows, stormRSS)
	if len(time) == 0 && len(rss) == 0 {
		return "", 0
	}
	const panelH = 260.0
	var b strings.Builder
	fmt.Fprintf(&b, `<text x="10" y="%.1f" font-size="15" font-weight="bold">Boot storm over relayed subnets: growth with the number of machines</text>`+"\n", y+20)
	// One legend for both: the stacks, in the order first seen, each
	// its colour in both panels.
	var order []string
	for _, s := range append(slices.Clone(time), rss...) {
		if !slices.Contains(order, s.name) {
			order = append(order, s.name)
		}
	}
	color := func(name string) string {
		return seriesColors[min(slices.Index(order, name), len(seriesColors)-1)]
	}
	pw := (width - 30) / 2
	b.WriteString(linePanel(10, y+35, pw, panelH, "completion time (s)", time, color))
	b.WriteString(linePanel(20+pw, y+35, pw, panelH, "peak RSS of the server processes (MB)", rss, color))
	lx := 10.0
	ly := y + 35 + panelH + 22
	for _, n := range order {
		c := color(n)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			lx, ly-4, lx+20, ly-4, c, lx+24, ly, esc(n))
		lx += 34 + 7*float64(len(n))
	}
	return b.String(), 35 + panelH + 40
}

// linePanel draws ss as lines on linear axes from 0, at x0,y0, w by h,
// each in its colour.
func linePanel(x0, y0, w, h float64, title string, ss []series, color func(string) string) string {
	var b strings.Builder
	const padL, padB, padT, padR = 50.0, 30.0, 20.0, 10.0
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-weight="bold">%s</text>`+"\n", x0+padL, y0+12, esc(title))
	var xs []int
	maxY := 0.0
	for _, s := range ss {
		for x, v := range s.pts {
			if !slices.Contains(xs, x) {
				xs = append(xs, x)
			}
			maxY = max(maxY, v)
		}
	}
	slices.Sort(xs)
	if len(xs) == 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555">no figures</text>`+"\n", x0+padL, y0+h/2)
		return b.String()
	}
	maxX := float64(xs[len(xs)-1])
	maxY = niceCeil(maxY * 1.05)
	px := func(x int) float64 { return x0 + padL + (w-padL-padR)*float64(x)/maxX }
	py := func(v float64) float64 { return y0 + h - padB - (h-padB-padT)*v/maxY }
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", px(0), py(0), px(xs[len(xs)-1]), py(0))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", px(0), py(0), px(0), py(maxY))
	for i := 1; i <= 5; i++ {
		v := maxY * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n",
			px(0), py(v), px(xs[len(xs)-1]), py(v), px(0)-4, py(v)+4, fmtV(v))
	}
	for _, x := range xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%d</text>`+"\n", px(x), py(0)+16, x)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">machines</text>`+"\n", px(0)+(w-padL-padR)/2, y0+h+2)
	for _, s := range ss {
		c := color(s.name)
		var pts []string
		for _, x := range slices.Sorted(maps.Keys(s.pts)) {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(s.pts[x])))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, %d machines: %s</title></circle>`+"\n", px(x), py(s.pts[x]), c, esc(s.name), x, fmtV(s.pts[x]))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), c)
	}
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
