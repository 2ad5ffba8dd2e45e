package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

func TestRatioAndVerdict(t *testing.T) {
	for _, c := range []struct {
		name    string
		row     Row
		ratio   float64
		verdict string
	}{
		{"faster", Row{Peer: "p", PeerV: 100, Pxekit: 250, Target: 1.5}, 2.5, "ok"},
		{"slower", Row{Peer: "p", PeerV: 100, Pxekit: 50, Target: 1}, 0.5, "MISS"},
		{"lower is better", Row{Peer: "p", PeerV: 30, Pxekit: 10, Lower: true, Target: 2}, 3, "ok"},
		{"no peer", Row{PeerV: 30, Pxekit: 10}, 0, ""},
		{"no peer figure", Row{Peer: "p", Pxekit: 10, Target: 1}, 0, "MISS"},
		{"no target", Row{Peer: "p", PeerV: 1, Pxekit: 2}, 2, ""},
		{"failed beats the target", Row{Peer: "p", PeerV: 1, Pxekit: 9, Target: 1, Failed: true}, 9, "FAIL"},
	} {
		if got := c.row.Ratio(); got != c.ratio {
			t.Errorf("%s: Ratio = %v, want %v", c.name, got, c.ratio)
		}
		if got := c.row.Verdict(); got != c.verdict {
			t.Errorf("%s: Verdict = %q, want %q", c.name, got, c.verdict)
		}
	}
}

func fixture(t *testing.T) *Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The three renderings of a fixed run, and what a reader checks in each.
func TestRenderings(t *testing.T) {
	res := fixture(t)
	md, table, svg := res.Markdown(), res.Table(), res.SVG()
	pxetest.CheckGolden(t, "results.md", []byte(md))
	pxetest.CheckGolden(t, "table.txt", []byte(table))
	pxetest.CheckGolden(t, "chart.svg", []byte(svg))

	// One Markdown line per row, the pipe inside a note escaped.
	if n := strings.Count(md, "\n| "); n != len(res.Rows)+2 {
		t.Errorf("results.md has %d table lines, want a header, its rule and %d rows", n, len(res.Rows))
	}
	if !strings.Contains(md, "(first: 02:50:58:00:00:07: tftp: ipxe.efi: no answer after 6 tries (server log: \x01\x02) \\| at 0") {
		t.Error("results.md does not escape a | inside a note")
	}
	for _, want := range []string{
		// A zero count is a result.
		"| DHCP | first exchanges of new clients lost | % | dnsmasq as shipped (ping check) | 99.0 | 0 | ",
		"| Storm | machines that did not boot | machines | dnsmasq+tftpd-hpa+nginx | 0 | 3 |  |  | FAIL |",
		"| TFTP | 1m blksize 512 | MB/s | tftpd-hpa | 18.7 | 78.2 | 4.17× | ≥ 1× | ok |",
		"| DHCP | perfdhcp relayed DORA, ≤1% loss | DORA/s | kea memfile | 11000 | 11000 | 1.00× | ≥ 1.5× | MISS |",
		"\nerror: qemu: uefi pxekit #1: not run",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	if !strings.HasSuffix(table, "error: qemu: uefi pxekit #1: not run: part budget 9m0s used up\n") {
		t.Errorf("the table does not end with the part's error:\n%s", table)
	}

	// The chart is XML a browser opens, with a bar for every compared
	// row and a text line for every other.
	d := xml.NewDecoder(strings.NewReader(svg))
	bars, texts := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("chart.svg is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "rect":
				bars++
			case "text":
				texts++
			}
		}
	}
	compared := 0
	for _, r := range res.Rows {
		if r.Ratio() != 0 {
			compared++
		}
	}
	if bars != compared+1 { // and the background
		t.Errorf("chart.svg has %d bars, want %d", bars-1, compared)
	}
	// Title, host, 7 scale labels, 2 per bar, 1 per other row.
	if want := 2 + 7 + 2*compared + len(res.Rows) - compared; texts != want {
		t.Errorf("chart.svg has %d texts, want %d", texts, want)
	}
	if !strings.Contains(svg, "a &lt;case&gt; &amp; &#34;quotes&#34; vs nginx") {
		t.Error("chart.svg does not escape a case's markup")
	}
}

// results.json round-trips, and a run still going has no finish time.
func TestWrite(t *testing.T) {
	res := fixture(t)
	dir := t.TempDir()
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, res) {
		t.Errorf("results.json does not read back as written:\n%+v\n%+v", back, res)
	}
	for _, name := range []string{"results.md", "chart.svg"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	running := Results{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Host: "h"}
	if err := running.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "results.json"))
	if strings.Contains(string(b), "finished") {
		t.Errorf("a run without a finish time writes one: %s", b)
	}
}

func TestHost(t *testing.T) {
	if h := Host(); !strings.Contains(h, "CPUs, go") {
		t.Errorf("Host() = %q", h)
	}
}

// FuzzDecode: whatever results.json holds, every rendering works and the
// chart stays well-formed XML.
func FuzzDecode(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "results.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"host":"\u0000<","rows":[{"case":"\ud800","peer":"x","peerValue":-1,"pxekit":1e308,"target":-3}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Decode(b)
		if err != nil {
			return
		}
		_ = res.Table()
		_ = res.Markdown()
		d := xml.NewDecoder(strings.NewReader(res.SVG()))
		for {
			_, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("chart.svg of %q is not well-formed: %v", b, err)
			}
		}
	})
}

func ExampleRow_Ratio() {
	dhcp := Row{Group: "DHCP", Case: "DORA/s", Peer: "kea", PeerV: 12000, Pxekit: 27600, Target: 1.5}
	boot := Row{Group: "QEMU", Case: "power-on → /init", Unit: "s", Peer: "dnsmasq+nginx", PeerV: 22.6, Pxekit: 6.4, Lower: true}
	for _, r := range []Row{dhcp, boot} {
		fmt.Printf("%s: %.2f× %s\n", r.Group, r.Ratio(), r.Verdict())
	}
	// Output:
	// DHCP: 2.30× ok
	// QEMU: 3.53×
}
