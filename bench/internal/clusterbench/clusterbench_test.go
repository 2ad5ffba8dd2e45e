package clusterbench

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pxekit/pxekit/bench/internal/dhcpload"
)

func ack(kind dhcpload.Kind, client uint16, ip string, sent, done time.Duration) dhcpload.Exchange {
	return dhcpload.Exchange{Kind: kind, Client: client, Sent: int64(sent), Done: int64(done), IP: netip.MustParseAddr(ip), Result: dhcpload.ResultACK}
}

func none(kind dhcpload.Kind, client uint16, sent time.Duration) dhcpload.Exchange {
	return dhcpload.Exchange{Kind: kind, Client: client, Sent: int64(sent), Result: dhcpload.ResultNone}
}

// A run with a kill at 1 s: client 2's exchanges go unanswered until
// 3.5 s, client 1 is served throughout; client 3 is ACKed an address client
// 1 holds; client 2's lease is not renewed afterwards.
func TestJudge(t *testing.T) {
	s := time.Second
	r := &dhcpload.Report{Exchanges: []dhcpload.Exchange{
		ack(dhcpload.KindDORA, 1, "192.0.2.10", 0, s/10),
		ack(dhcpload.KindDORA, 2, "192.0.2.11", s/2, s/2+s/10),
		none(dhcpload.KindDORA, 2, 2*s),
		ack(dhcpload.KindDORA, 1, "192.0.2.10", 2*s, 2*s+s/10),
		none(dhcpload.KindDORA, 2, 3*s+s/2),
		ack(dhcpload.KindDORA, 2, "192.0.2.11", 4*s, 4*s+s/5),
		ack(dhcpload.KindRebind, 1, "192.0.2.10", 4*s, 4*s+s/10),
		ack(dhcpload.KindDORA, 3, "192.0.2.10", 5*s, 5*s+s/10),
	}}
	leases := heldLeases(r)
	if len(leases) != 3 || leases[0].Client != 1 || leases[2].IP != netip.MustParseAddr("192.0.2.10") {
		t.Fatalf("heldLeases = %+v", leases)
	}
	v := &dhcpload.Report{Exchanges: []dhcpload.Exchange{
		ack(dhcpload.KindRebind, 1, "192.0.2.10", 6*s, 6*s),
		none(dhcpload.KindRebind, 2, 6*s),
		ack(dhcpload.KindRebind, 3, "192.0.2.12", 6*s, 6*s),
	}}
	f := judge(r, int64(s), leases, v)
	// Served again with the first ACK of an exchange begun after the last
	// unanswered one (3.5 s): done at 4.2 s, 3.2 s after the kill.
	if f.DORAGap != 3*s+s/5 {
		t.Errorf("DORA gap %v, want 3.2s", f.DORAGap)
	}
	// No rebind was left unanswered: the longest stretch without one,
	// kill to the one at 4.1 s then to the end of the run (5 s).
	if f.RebindGap != 3*s+s/10 {
		t.Errorf("rebind gap %v, want 3.1s", f.RebindGap)
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
