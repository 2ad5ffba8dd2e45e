package abusebench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMeasure runs every attack briefly: each gives a row with a quiet
// rate, the attack's counted drops, and an attacker that sent something.
func TestMeasure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rows, err := Measure(ctx, Options{Window: 300 * time.Millisecond, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 3 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	for _, r := range rows {
		t.Logf("%s: %.1f quiet, %.1f attacked %s (%.0f %%); %s", r.Case, r.PeerV, r.Pxekit, r.Unit, 100*r.Ratio(), r.Note)
		if r.Group != "Abuse" || r.Peer != "quiet" || r.PeerV <= 0 || (r.Target != Target) != strings.Contains(r.Case, "as fast as answered") || !strings.Contains(r.Note, "dropped: ") || strings.Contains(r.Note, "sent 0/s") {
			t.Errorf("row %+v", r)
		}
	}
}
