package report

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// stormRows are a storm at two sizes against two peers, as stormbench
// writes them, with rows the chart must leave out.
func stormRows() []Row {
	var rows []Row
	for _, n := range []int{1000, 10000} {
		f := float64(n) / 1000
		for _, p := range []struct {
			name string
			t, m float64
		}{{"dnsmasq+tftpd-hpa+nginx", 20 * f, 30 + f}, {"Kea+tftpd-hpa+nginx", 15 * f, 60 + 2*f}} {
			rows = append(rows,
				Row{Group: "Storm", Case: "boot", Unit: "s", Lower: true, Target: 1.5, Machines: n, Pxekit: 10 * f, Peer: p.name, PeerV: p.t},
				Row{Group: "Memory", Case: "peak RSS", Unit: "MB", Lower: true, Machines: n, Pxekit: 40 + f, Peer: p.name, PeerV: p.m})
		}
		rows = append(rows, Row{Group: "Storm", Case: "failures", Unit: "machines", Machines: n, Pxekit: 0})
	}
	// Not a scaling row: no Machines.
	return append(rows, Row{Group: "Storm", Case: "old", Unit: "s", Target: 1.5, Pxekit: 99, Peer: "x", PeerV: 1})
}

func TestScaleSeries(t *testing.T) {
	ss := scaleSeries(stormRows(), stormTime)
	if len(ss) != 3 || ss[0].name != "pxekit" || ss[1].name != "dnsmasq+tftpd-hpa+nginx" || ss[2].name != "Kea+tftpd-hpa+nginx" {
		t.Fatalf("series %+v", ss)
	}
	if ss[0].pts[1000] != 10 || ss[0].pts[10000] != 100 || ss[2].pts[10000] != 150 || len(ss[0].pts) != 2 {
		t.Errorf("time points %+v", ss)
	}
	rss := scaleSeries(stormRows(), stormRSS)
	if len(rss) != 3 || rss[1].pts[10000] != 40 || rss[0].pts[1000] != 41 {
		t.Errorf("RSS points %+v", rss)
	}
	if got := scaleSeries([]Row{{Group: "DHCP", Unit: "s", Target: 1.5, Pxekit: 1}}, stormTime); len(got) != 0 {
		t.Errorf("rows without machines gave %+v", got)
	}
	for v, want := range map[float64]float64{0: 1, 0.3: 0.5, 7: 10, 120: 200, 1000: 1000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}

// The chart has the scaling panels exactly when rows carry Machines: a
// line per stack in each of its two panels, every point labelled, and it
// is well-formed XML.
func TestScaleChart(t *testing.T) {
	res := &Results{Host: "h", Rows: stormRows()}
	svg := res.SVG()
	if n := strings.Count(svg, "<polyline"); n != 6 {
		t.Errorf("%d lines, want 3 stacks × 2 panels", n)
	}
	for _, want := range []string{"completion time (s)", "peak RSS of the server processes (MB)", "Kea+tftpd-hpa+nginx, 10000 machines: 150", "pxekit, 1000 machines: 41", ">10000<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("chart is not XML: %v", err)
		}
	}
	plain := (&Results{Host: "h", Rows: []Row{{Group: "DHCP", Case: "x", Unit: "s", Pxekit: 1, Peer: "p", PeerV: 2}}}).SVG()
	if strings.Contains(plain, "<polyline") || strings.Contains(plain, "Boot storm") {
		t.Error("a run without a scaling storm got its chart")
	}
}
