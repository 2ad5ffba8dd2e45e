package soakbench

import (
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/soak"
)

// The rows say what the soak found: a sample row each, and verdict rows
// that are failed exactly when the verdict did not hold.
func TestRows(t *testing.T) {
	res := &soak.Result{
		Baseline: soak.Sample{RSS: 40 << 20, Goroutines: 30, FDs: 15},
		Samples: []soak.Sample{
			{At: time.Minute, RSS: 44 << 20, Goroutines: 31, FDs: 19, Ops: 900},
			{At: 2 * time.Minute, RSS: 44 << 20, Goroutines: 31, FDs: 19, Ops: 1800},
			{At: 3 * time.Minute, RSS: 70 << 20, Goroutines: 31, FDs: 19, Ops: 2700, Failures: 1},
		},
		Final:    soak.Sample{At: 2 * time.Minute, RSS: 70 << 20, Goroutines: 31, FDs: 40, Ops: 1800, Failures: 1},
		Ops:      map[string]uint64{"relay dora": 1800},
		Failures: 1,
	}
	rows := Rows(res, soak.Config{}, 2*time.Minute) // default slack: 10 goroutines, 5 files
	if len(rows) != 5+6 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	failed := map[string]bool{}
	for _, r := range rows {
		if r.Group != "Soak" {
			t.Errorf("row %+v not in group Soak", r)
		}
		failed[r.Case] = r.Failed
	}
	want := map[string]bool{
		"failed operations":                    true,
		"addresses ACKed to two MACs":          false,
		"RSS growth, 2nd sample to last":       true, // 26 MiB > 16
		"goroutines after the load − baseline": false,
		"open files after the load − baseline": true,
		"2m0s: client operations":              false,
		"at 1m0s RSS":                          false,
	}
	for c, f := range want {
		got, ok := failed[c]
		if !ok || got != f {
			t.Errorf("row %q: present %v, failed %v; want failed %v", c, ok, got, f)
		}
	}
}
