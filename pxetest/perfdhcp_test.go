package pxetest

import (
	"strings"
	"testing"
)

// The tail of a real relayed run (perfdhcp 2.2, -n 500).
const perfdhcpOutput = `***Rate statistics***
Rate: 493.3 4-way exchanges/second, expected rate: 500

***Statistics for: DISCOVER-OFFER***
sent packets: 500
received packets: 498
drops: 2
drops ratio: 0.4 %
orphans: 0

***Statistics for: REQUEST-ACK***
sent packets: 498
received packets: 497
drops: 1
drops ratio: 0.2 %
orphans: 0
`

func TestParsePerfdhcp(t *testing.T) {
	r := ParsePerfdhcp(perfdhcpOutput)
	want := PerfdhcpReport{Sent: [2]int{500, 498}, Received: [2]int{498, 497}, Drops: [2]int{2, 1}}
	if r != want {
		t.Errorf("ParsePerfdhcp = %+v, want %+v", r, want)
	}
	if r := ParsePerfdhcp("perfdhcp: no such interface"); r != (PerfdhcpReport{}) {
		t.Errorf("ParsePerfdhcp of an error = %+v", r)
	}
}

func FuzzParsePerfdhcp(f *testing.F) {
	f.Add(perfdhcpOutput)
	f.Add("sent packets: 99999999999999999999\n")
	f.Fuzz(func(t *testing.T, out string) {
		r := ParsePerfdhcp(out)
		for i := range 2 {
			if r.Sent[i] < 0 || r.Received[i] < 0 || r.Drops[i] < 0 {
				t.Fatalf("negative figure from %q: %+v", out, r)
			}
		}
		if !strings.Contains(out, "sent packets: ") && r.Sent != [2]int{} {
			t.Fatalf("figures without a report: %+v", r)
		}
	})
}
