package stormbench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxetest"
)

func TestMain(m *testing.M) { roles.RunTests(m) }

func TestSummarize(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	rep := &stormclient.Report{Clients: []stormclient.Machine{
		{MAC: "m1", Times: map[string]time.Duration{stormclient.StepDHCP: ms(30), stormclient.StepTFTP: ms(300)}, Resent: 1},
		{MAC: "m2", Times: map[string]time.Duration{stormclient.StepDHCP: ms(10), stormclient.StepTFTP: ms(100)}},
		{MAC: "m3", Times: map[string]time.Duration{stormclient.StepDHCP: ms(20)}, Step: stormclient.StepTFTP, Err: "tftp: ipxe.efi: no answer"},
		// Booted after a NAK: a failure only when NAKs fail.
		{MAC: "m4", Times: map[string]time.Duration{stormclient.StepDHCP: ms(50), stormclient.StepTFTP: ms(200)}, Naks: 2, FirstNak: "dhcp: NAK for 192.0.2.10"},
	}}
	s := summarize(rep, false)
	if s.failed != 1 || s.byStep[stormclient.StepTFTP] != 1 || s.resent != 1 || s.naks != 2 || s.nak != "m4: dhcp: NAK for 192.0.2.10" {
		t.Errorf("summary %+v", s)
	}
	// Step times of booted machines only, sorted.
	if got := s.times[stormclient.StepDHCP]; !slices.Equal(got, []time.Duration{ms(10), ms(30), ms(50)}) {
		t.Errorf("DHCP times %v", got)
	}
	if note := s.failNote(); note != "tftp: 1 (first: m3: tftp: ipxe.efi: no answer)" {
		t.Errorf("failNote = %q", note)
	}
	s = summarize(rep, true)
	if s.failed != 2 || s.byStep["nak"] != 1 || len(s.times[stormclient.StepTFTP]) != 2 {
		t.Errorf("NAKs failing: %+v", s)
	}
	if note := (summary{}).failNote(); !strings.HasPrefix(note, "failure = NAK") {
		t.Errorf("failNote without failures = %q", note)
	}
}

func TestNotes(t *testing.T) {
	if got := dropsNote(map[dhcp.DropReason]uint64{dhcp.DropClientRate: 3, "b-other": 0, "a-first": 1}); got != "a-first 1, "+string(dhcp.DropClientRate)+" 3" {
		t.Errorf("dropsNote = %q", got)
	}
	if got := dropsNote(nil); got != "none" {
		t.Errorf("dropsNote(none) = %q", got)
	}
	log := "time=x level=WARN msg=slow\ntime=y level=ERROR msg=\"tftp transfer could not start\"\n"
	if got := logErrors(log); len(got) != 1 || !strings.Contains(got[0], "could not start") {
		t.Errorf("logErrors = %q", got)
	}
}

func TestLayout(t *testing.T) {
	relays, srcs, subs := layout(clientProcs, roles.StormSubnets(Subnets))
	seen := map[netip.Addr]bool{}
	var all []netip.Prefix
	for k := range clientProcs {
		for _, a := range append([]netip.Addr{relays[k]}, srcs[k]...) {
			if seen[a] || !netip.MustParsePrefix(harness.Prefix).Contains(a) || a == netip.MustParseAddr(harness.ServerIP) {
				t.Errorf("process %d: address %s used twice or off the lab link", k, a)
			}
			seen[a] = true
		}
		if len(subs[k]) != Subnets/clientProcs {
			t.Errorf("process %d has %d subnets", k, len(subs[k]))
		}
		all = append(all, subs[k]...)
	}
	slices.SortFunc(all, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	if len(all) != Subnets || all[0] != netip.MustParsePrefix("198.18.0.0/24") || all[Subnets-1] != netip.MustParsePrefix("198.18.39.0/24") {
		t.Errorf("subnets split as %v", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Errorf("subnet %s in two processes", all[i])
		}
	}
}

func TestParseSteps(t *testing.T) {
	got, err := ParseSteps("1000, 2500,10000")
	if err != nil || !slices.Equal(got, []int{1000, 2500, 10000}) {
		t.Errorf("ParseSteps = %v, %v", got, err)
	}
	for _, bad := range []string{"", "1000,x", "0", "20000", "-5"} {
		if _, err := ParseSteps(bad); err == nil {
			t.Errorf("ParseSteps(%q) took it", bad)
		}
	}
}

func TestTreeRSS(t *testing.T) {
	// This process is a tree of one: its resident set is some MB, and
	// the sampler's peak is at least what it read.
	roots := []int{os.Getpid()}
	if got := treePIDs(roots); len(got) < 1 || got[0] != os.Getpid() {
		t.Fatalf("treePIDs = %v", got)
	}
	s := sampleRSS(context.Background(), roots)
	now := pssOf(os.Getpid())
	if peak := s.Peak(); peak < 1<<20 || peak < now/2 {
		t.Errorf("peak Pss %d, now %d", peak, now)
	}
	if pssOf(-1) != 0 {
		t.Error("RSS of no process")
	}
}

// The part, quick, in the harness: 200 machines over the 40 relayed
// subnets against pxekit and both peer stacks, every correctness check
// holding and both peers' figures there.
func TestRun(t *testing.T) {
	h := harness.Setup(t)
	for cmd, pkg := range map[string]string{"dnsmasq": "dnsmasq-base", "in.tftpd": "tftpd-hpa", "nginx": "nginx-light", "kea-dhcp4": "kea-dhcp4-server"} {
		pxetest.RequireCmd(t, cmd, pkg)
	}
	pxetest.RequireFile(t, "/usr/lib/ipxe/ipxe.efi", "ipxe")
	rows, err := Run(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]bool{}
	var server, rss bool
	for _, r := range rows {
		if r.Failed {
			t.Errorf("check failed: %s: %v (%s)", r.Case, r.Pxekit, r.Note)
		}
		if r.Machines != 200 {
			t.Errorf("row %q: machines %d", r.Case, r.Machines)
		}
		switch {
		case strings.HasPrefix(r.Case, "200 machines over 40 relayed /24s:"):
			peers[r.Peer] = r.Pxekit > 0 && r.PeerV > 0 && r.Target == Target
		case strings.HasSuffix(r.Case, "pxe server NAKs, rate-limit drops, denials, log errors"):
			// Two ACKs per machine, and one more per REQUEST a busy
			// client resent.
			var acks, releases, naks int
			_, err := fmt.Sscanf(r.Note, "ACKs %d, releases %d, NAKs %d", &acks, &releases, &naks)
			server = err == nil && r.Pxekit == 0 && acks >= 400 && releases == 200 && naks == 0
		case strings.HasPrefix(r.Case, "peak RSS"):
			rss = r.Pxekit > 1 && r.PeerV > 1
		}
	}
	if !peers[dnsmasqStack.name] || !peers[keaStack.name] || !server || !rss {
		t.Errorf("rows: storm times with the peers' %v, server counters %v, RSS %v:\n%+v", peers, server, rss, rows)
	}
}
