package clusterbench

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pxekit/pxekit/bench/internal/dhcpload"
)

// The two servers: a, killed at 1 s, and b.
var a, b = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.3")

func ack(kind dhcpload.Kind, client uint16, ip string, sent, done time.Duration, by netip.Addr) dhcpload.Exchange {
	return dhcpload.Exchange{Kind: kind, Client: client, Sent: int64(sent), Done: int64(done), IP: netip.MustParseAddr(ip), Server: by, Result: dhcpload.ResultACK}
}

func none(kind dhcpload.Kind, client uint16, sent time.Duration) dhcpload.Exchange {
	return dhcpload.Exchange{Kind: kind, Client: client, Sent: int64(sent), Result: dhcpload.ResultNone}
}

// A run with server a killed at 1 s: client 2 (a's) tries again at 2 s
// and, retransmitting, is ACKed by b at 4.2 s; client 1 (b's) is served
// throughout; client 3 is ACKed an address client 1 holds; client 2's
// lease is not renewed afterwards.
func TestJudge(t *testing.T) {
	s := time.Second
	r := &dhcpload.Report{Exchanges: []dhcpload.Exchange{
		ack(dhcpload.KindDORA, 1, "192.0.2.10", 0, s/10, b),
		ack(dhcpload.KindDORA, 2, "192.0.2.11", s/2, s/2+s/10, a),
		ack(dhcpload.KindDORA, 1, "192.0.2.10", 2*s, 2*s+s/10, b),
		ack(dhcpload.KindDORA, 2, "192.0.2.11", 2*s, 4*s+s/5, b),
		none(dhcpload.KindDORA, 2, 3*s+s/2),
		ack(dhcpload.KindRebind, 2, "192.0.2.11", 4*s, 4*s+s/2, b),
		ack(dhcpload.KindDORA, 3, "192.0.2.10", 5*s, 5*s+s/10, b),
	}}
	leases := heldLeases(r)
	if len(leases) != 3 || leases[0].Client != 1 || leases[2].IP != netip.MustParseAddr("192.0.2.10") {
		t.Fatalf("heldLeases = %+v", leases)
	}
	v := &dhcpload.Report{Exchanges: []dhcpload.Exchange{
		ack(dhcpload.KindRebind, 1, "192.0.2.10", 6*s, 6*s, b),
		none(dhcpload.KindRebind, 2, 6*s),
		ack(dhcpload.KindRebind, 3, "192.0.2.12", 6*s, 6*s, b),
	}}
	f := judge(r, a, int64(s), leases, v)
	// a's one client, 2, first tries again at 2 s and is ACKed at 4.2 s:
	// 2.2 s, not the 3.2 s since the kill (the load had not picked it).
	if want := (Gap{Max: 2*s + s/5, P99: 2*s + s/5, Median: 2*s + s/5, Clients: 1}); f.DORAGap != want {
		t.Errorf("DORA gap %+v, want %+v", f.DORAGap, want)
	}
	// Its rebind, its first after the kill, is ACKed at once.
	if f.RebindGap.Max != s/2 || f.RebindGap.Clients != 1 {
		t.Errorf("rebind gap %+v, want 0.5s over 1 client", f.RebindGap)
	}
	// Without it, a's client did not rebind after the kill: no gap to see.
	r2 := &dhcpload.Report{Exchanges: slices.DeleteFunc(slices.Clone(r.Exchanges), func(e dhcpload.Exchange) bool { return e.Kind == dhcpload.KindRebind })}
	if g := judge(r2, a, int64(s), leases, v).RebindGap; g != (Gap{}) {
		t.Errorf("rebind gap with no rebind after the kill %+v, want none", g)
	}
	if f.Duplicates != 1 {
		t.Errorf("duplicates %d, want 1 (192.0.2.10 to clients 1 and 3)", f.Duplicates)
	}
	if f.Lost != 2 || f.Leases != 3 {
		t.Errorf("lost %d of %d, want 2 of 3 (client 2 unanswered, client 3 another address)", f.Lost, f.Leases)
	}
	if f.Unanswered != 1 || f.Exchanges != 7 {
		t.Errorf("unanswered %d of %d, want 1 of 7", f.Unanswered, f.Exchanges)
	}
}

// The gap of each of the dead server's clients runs from its first
// attempt after the kill (the kill itself for one under way) to its first
// ACK; one never answered counts to the end of the run; the dead
// server's clients alone count, and the spread is over them.
func TestGaps(t *testing.T) {
	s := time.Second
	kill := int64(10 * s)
	var ex []dhcpload.Exchange
	// Clients 1..100 were a's, 200 b's.
	for c := uint16(1); c <= 100; c++ {
		ex = append(ex, ack(dhcpload.KindDORA, c, "192.0.2.20", time.Duration(c)*s/100, time.Duration(c)*s/100+s/100, a))
	}
	ex = append(ex, ack(dhcpload.KindDORA, 200, "192.0.2.21", s, s+s/100, b))
	// Client 1 was under way at the kill: its retries are ACKed at 12 s.
	ex = append(ex, ack(dhcpload.KindDORA, 1, "192.0.2.20", 9*s, 12*s, b))
	// Clients 2..99 try at 11 s and are ACKed 1 s later.
	for c := uint16(2); c <= 99; c++ {
		ex = append(ex, ack(dhcpload.KindDORA, c, "192.0.2.20", 11*s, 12*s, b))
	}
	// Client 100 tries at 11 s, gives up, tries at 16 s, gets its ACK at
	// 17 s: 6 s.
	ex = append(ex, none(dhcpload.KindDORA, 100, 11*s), ack(dhcpload.KindDORA, 100, "192.0.2.20", 16*s, 17*s, b))
	// Client 200 (b's) waits long: not the dead server's client.
	ex = append(ex, ack(dhcpload.KindDORA, 200, "192.0.2.21", 11*s, 19*s, b))
	g := gaps(&dhcpload.Report{Exchanges: ex}, dhcpload.KindDORA, a, kill, int64(20*s))
	if want := (Gap{Max: 6 * s, P99: 6 * s, Median: s, Clients: 100}); g != want {
		t.Errorf("gaps %+v, want %+v", g, want)
	}
	// With client 100 never answered, its gap runs to the end, 20 s.
	ex[len(ex)-2].Result, ex[len(ex)-2].Done, ex[len(ex)-2].IP = dhcpload.ResultNone, 0, netip.Addr{}
	if g := gaps(&dhcpload.Report{Exchanges: ex}, dhcpload.KindDORA, a, kill, int64(20*s)); g.Max != 9*s {
		t.Errorf("gap max with one client never answered %v, want 9s (11 s to the end at 20 s)", g.Max)
	}
	// The new clients' gap is not the rebinding ones'.
	if g := gaps(&dhcpload.Report{Exchanges: ex}, dhcpload.KindRebind, a, kill, int64(20*s)); g != (Gap{}) {
		t.Errorf("rebind gaps %+v, want none", g)
	}
}

// The search doubles to the first failing rate, bisects to within
// max(fine, lo/16), and confirms the best rate with a second run; a
// confirmation that fails makes that rate the first failing one and the
// bisection goes on below it.
func TestSearchPlan(t *testing.T) {
	p := searchPlan{start: 500, top: 32000, fine: 125, secs: 5}
	// A server that keeps up to 1300/s, losing 10 % on the failOn[rate]th
	// run of a rate (the shared machine).
	calls, failOn := map[int]int{}, map[int]int{}
	var rates []int
	try := func(rate int) (rung, error) {
		rates = append(rates, rate)
		if calls[rate]++; calls[rate] == failOn[rate] || rate > 1300 {
			return rung{rate: rate, dora: float64(rate) * 0.9, loss: 0.1}, nil
		}
		return rung{rate: rate, dora: float64(rate)}, nil
	}
	best, err := p.run(try)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{500, 1000, 2000, 1500, 1250, 1375, 1250}; !slices.Equal(rates, want) {
		t.Errorf("rates tried %v, want %v", rates, want)
	}
	if best.rate != 1250 || best.dora != 1250 {
		t.Errorf("best %+v, want 1250/s", best)
	}
	// The confirmation of 1250 fails: 1125, between it and 1000, passes
	// and is confirmed instead.
	rates, calls, failOn = nil, map[int]int{}, map[int]int{1250: 2}
	best, _ = p.run(try)
	if want := []int{500, 1000, 2000, 1500, 1250, 1375, 1250, 1125, 1125}; best.rate != 1125 || !slices.Equal(rates, want) {
		t.Errorf("best with 1250 unconfirmed %+v, tried %v, want 1125/s after %v", best, rates, want)
	}
}
