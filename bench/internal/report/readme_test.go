package report

import (
	"strings"
	"testing"
	"time"
)

// The README's table comes from results.json: every compared row with
// both figures and the ratio, the time and the machine of the run, and
// nothing outside the markers changes; rewriting twice gives the same
// README.
func TestRewriteReadme(t *testing.T) {
	res := fixture(t)
	res.Machine = "Example CPU @ 2.00GHz, 2 cores, Linux 6.12.57"
	readme := []byte("# title\n\nbefore\n" + ReadmeBegin + "\n| stale | table |\n" + ReadmeEnd + "\nafter\n")
	out, err := RewriteReadme(readme, res)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, "# title\n\nbefore\n"+ReadmeBegin+"\n") || !strings.HasSuffix(s, ReadmeEnd+"\nafter\n") {
		t.Errorf("text outside the markers changed:\n%s", s)
	}
	if strings.Contains(s, "stale") {
		t.Errorf("the old table is still there:\n%s", s)
	}
	for _, want := range []string{"2026-12-03 11:57 UTC to 12:01 UTC", "Example CPU @ 2.00GHz, 2 cores, Linux 6.12.57", "loadavg 2.78", "Parts in this run: DHCP, "} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	for _, r := range res.Rows {
		c := r.cells()
		line := "| " + strings.Join(mdEscape([]string{c[0], c[1], c[2]}), " | ") + " | "
		if r.Peer != "" {
			line += strings.Join(mdEscape([]string{c[3], c[4], c[5], c[6]}), " | ")
		} else {
			line += c[5]
		}
		if !strings.Contains(s, line) {
			t.Errorf("row %s/%s: no line starting %q in\n%s", r.Group, r.Case, line, s)
		}
	}
	again, err := RewriteReadme(out, res)
	if err != nil || string(again) != s {
		t.Errorf("a second rewrite changed the README (%v):\n%s", err, again)
	}
	for _, bad := range []string{"no markers", ReadmeEnd + "\n" + ReadmeBegin, ReadmeBegin + ReadmeEnd + ReadmeBegin + ReadmeEnd} {
		if _, err := RewriteReadme([]byte(bad), res); err == nil {
			t.Errorf("RewriteReadme(%q) took it", bad)
		}
	}
}

func TestMachine(t *testing.T) {
	if m := Machine(); !strings.Contains(m, " cores, ") {
		t.Errorf("Machine() = %q", m)
	}
}

// Runs of some parts each make one table per run, each with its own time
// and parts, and one chart of all their rows.
func TestRewriteReadmeSeveralRuns(t *testing.T) {
	a, b := fixture(t), fixture(t)
	b.Started = b.Started.Add(26 * time.Hour)
	b.Finished = b.Finished.Add(26 * time.Hour)
	b.Rows = b.Rows[:1]
	b.Rows[0].Group = "Storm"
	readme := []byte(ReadmeBegin + "\n" + ReadmeEnd + "\n")
	out, err := RewriteReadme(readme, a, b)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if n := strings.Count(s, "Measured by `make bench` from "); n != 2 {
		t.Errorf("%d run headers, want 2:\n%s", n, s)
	}
	for _, want := range []string{"2026-12-03 11:57 UTC to 12:01 UTC", "2026-12-04 13:57 UTC to 14:01 UTC", "Parts in this run: Storm."} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	all := Merge(a, b)
	if len(all.Rows) != len(a.Rows)+1 {
		t.Errorf("merged %d rows, want %d", len(all.Rows), len(a.Rows)+1)
	}
	if want := "2 runs from 2026-12-03 11:57 UTC to 2026-12-04 14:01 UTC"; !strings.HasPrefix(all.Host, want) {
		t.Errorf("merged Host %q, want it to start %q", all.Host, want)
	}
	if _, err := RewriteReadme(readme); err == nil {
		t.Error("RewriteReadme with no results took it")
	}
}
