package dhcpbench

import (
	"context"
	"fmt"

	"github.com/pxekit/pxekit/bench/internal/harness"
)

// Rate is the outcome of a rate search (Search): the best rate completed
// at ≤ 1 % loss and how it was found.
type Rate struct {
	DORA    float64 // completed exchanges per second at the best rate
	Offered int     // perfdhcp's -r there (0: no rate passed)
	Loss    float64 // the share lost there
	Note    string  // the best rate and every failing one, for a report row
}

// Search runs this part's perfdhcp search (relayed from the client
// namespace, 240 clients, each failing rate tried twice) against p along
// ladder, secs seconds a rate; extra goes to perfdhcp.
func Search(ctx context.Context, h *harness.Harness, p *harness.Proc, ladder []int, secs int, extra ...string) (Rate, error) {
	best, tried, err := search(ctx, h, p, ladder, secs, extra...)
	if err != nil {
		return Rate{}, err
	}
	r := Rate{DORA: best.dora(), Offered: best.rate, Loss: best.loss(), Note: "no rate passed"}
	if best.rate > 0 {
		r.Note = fmt.Sprintf("best at -r %d, %.2f%% lost", best.rate, 100*best.loss())
		if best.clientBound() {
			r.Note += fmt.Sprintf(" (perfdhcp could send only %d/s: client-bound)", best.sent[0]/best.secs)
		}
	}
	for _, t := range tried {
		if t.loss() > 0.01 {
			r.Note += fmt.Sprintf("; at -r %d: %.0f/s, %.1f%% lost", t.rate, t.dora(), 100*t.loss())
		}
	}
	return r, nil
}
