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

// A run with server a killed at 1 s: client 2 (a's) goes unanswered
// until b ACKs it at 4.2 s, client 1 (b's) is served throughout; client 3
// is ACKed an address client 1 holds; client 2's lease is not renewed
// afterwards. Client 4 (a's) gets no rebind ACK after the kill.
func TestJudge(t *testing.T) {
	s := time.Second
	r := &dhcpload.Report{Exchanges: []dhcpload.Exchange{
		ack(dhcpload.KindDORA, 1, "192.0.2.10", 0, s/10, b),
		ack(dhcpload.KindDORA, 2, "192.0.2.11", s/2, s/2+s/10, a),
		none(dhcpload.KindDORA, 2, 2*s),
		ack(dhcpload.KindDORA, 1, "192.0.2.10", 2*s, 2*s+s/10, b),
		none(dhcpload.KindDORA, 2, 3*s+s/2),
		ack(dhcpload.KindDORA, 2, "192.0.2.11", 4*s, 4*s+s/5, b),
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
	// a's one client, 2, is served again at 4.2 s: 3.2 s after the kill.
	if f.DORAGap != 3*s+s/5 {
		t.Errorf("DORA gap %v, want 3.2s", f.DORAGap)
	}
	// Its rebind is ACKed at 4.5 s.
	if f.RebindGap != 3*s+s/2 {
		t.Errorf("rebind gap %v, want 3.5s", f.RebindGap)
	}
	// Without it, a's client waits to the end of the run (the last
	// exchange began at 5 s).
	r.Exchanges = slices.DeleteFunc(r.Exchanges, func(e dhcpload.Exchange) bool { return e.Kind == dhcpload.KindRebind })
	if g := judge(r, a, int64(s), leases, v).RebindGap; g != 4*s {
		t.Errorf("rebind gap with none after the kill %v, want 4s", g)
	}
	if f.Duplicates != 1 {
		t.Errorf("duplicates %d, want 1 (192.0.2.10 to clients 1 and 3)", f.Duplicates)
	}
	if f.Lost != 2 || f.Leases != 3 {
		t.Errorf("lost %d of %d, want 2 of 3 (client 2 unanswered, client 3 another address)", f.Lost, f.Leases)
	}
	if f.Unanswered != 2 || f.Exchanges != 8 {
		t.Errorf("unanswered %d of %d, want 2 of 8", f.Unanswered, f.Exchanges)
	}
}
