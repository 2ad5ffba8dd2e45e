package soak

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(bufio.NewScanner(strings.NewReader(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 31
pxekit_dhcp_active_leases{subnet="192.0.2.0/24"} 12
pxekit_dhcp_active_leases{subnet="198.18.0.0/15"} 3
pxekit_ready 1
broken{ 7
`)))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_goroutines"] != 31 || m["pxekit_dhcp_active_leases"] != 15 || m["pxekit_ready"] != 1 || len(m) != 3 {
		t.Errorf("parsed %v", m)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add("go_goroutines 31\nx{a=\"}\"} 2\n")
	f.Add("# c\n\n{}\n} 1\nname{ 1")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseMetrics(bufio.NewScanner(strings.NewReader(s)))
	})
}

func TestParseHookLine(t *testing.T) {
	e, ok := parseHookLine("1796354400.123456789 bound 192.0.2.17 30\n")
	if !ok || e.reason != "bound" || e.ip != netip.MustParseAddr("192.0.2.17") || e.lease != 30*time.Second ||
		!e.at.Equal(time.Unix(1796354400, 123456789)) {
		t.Errorf("parsed %+v, %v", e, ok)
	}
	// udhcpc's deconfig carries no address.
	if e, ok := parseHookLine("1796354400.5 deconfig 0"); !ok || e.ip.IsValid() || e.at.Nanosecond() != 500000000 {
		t.Errorf("deconfig: %+v, %v", e, ok)
	}
	for _, bad := range []string{"", "x bound 192.0.2.1 30", "1.2 bound nope 30", "1.2 bound 192.0.2.1 -1", "1 a b c d"} {
		if _, ok := parseHookLine(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseHookLine(f *testing.F) {
	f.Add("1796354400.123456789 bound 192.0.2.17 30")
	f.Add("1.1234567890123 renew 192.0.2.1 4294967295")
	f.Fuzz(func(t *testing.T, s string) {
		if e, ok := parseHookLine(s); ok && e.lease < 0 {
			t.Errorf("%q: negative lease %v", s, e.lease)
		}
	})
}

// The tracker flags an address held by two MACs at once, and only that:
// not a renewal, not a new holder after a release or after the lease
// ended.
func TestTracker(t *testing.T) {
	a, b := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	ip := netip.MustParseAddr("192.0.2.10")
	t0 := time.Now()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tr := tracker{holders: map[netip.Addr][]hold{}}
	tr.ack(a, ip, at(0), at(30))
	tr.ack(a, ip, at(10), at(40)) // renewal
	tr.release(a, ip, at(20))
	tr.ack(b, ip, at(21), at(51)) // after the release
	tr.ack(a, ip, at(52), at(52)) // after b's lease ended
	if d := tr.duplicates(); len(d) != 0 {
		t.Fatalf("duplicates %v", d)
	}
	tr.ack(a, ip, at(30), at(30)) // a's ACK while b held it
	if d := tr.duplicates(); len(d) != 1 || !strings.Contains(d[0], "192.0.2.10 ACKed to 02:00:00:00:00:01") {
		t.Errorf("duplicates %v", d)
	}
}
