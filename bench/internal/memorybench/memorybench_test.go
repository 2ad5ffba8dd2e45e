package memorybench

import (
	"context"
	"testing"

	"github.com/pxekit/pxekit/bench/internal/harness"
)

// The part needs no namespace: only a directory for the lease file.
func TestRun(t *testing.T) {
	rows, err := Run(context.Background(), &harness.Harness{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	// 100,000 leases hold more than a byte each, in memory and on disk,
	// and less than 10 KB each.
	for _, r := range rows {
		if r.Group != "Memory" || r.Unit != "MB" || !r.Lower || r.Pxekit < 0.1 || r.Pxekit > 1000 {
			t.Errorf("row %+v", r)
		}
	}
}
