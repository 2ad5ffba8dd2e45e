package stormbench

import (
	"context"
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

// The part, quick, in the harness: 200 machines against pxekit and
// against the peers' stack, and every correctness check it makes holds.
func TestRun(t *testing.T) {
	h := harness.Setup(t)
	for cmd, pkg := range map[string]string{"dnsmasq": "dnsmasq-base", "in.tftpd": "tftpd-hpa", "nginx": "nginx-light"} {
		pxetest.RequireCmd(t, cmd, pkg)
	}
	pxetest.RequireFile(t, "/usr/lib/ipxe/ipxe.efi", "ipxe")
	rows, err := Run(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	var booted, server, rss bool
	for _, r := range rows {
		if r.Failed {
			t.Errorf("check failed: %s: %v (%s)", r.Case, r.Pxekit, r.Note)
		}
		switch {
		case strings.HasPrefix(r.Case, "200 clients:"):
			booted = r.Pxekit > 0 && r.Peer == peerName && r.PeerV > 0
		case r.Case == "pxe server: NAKs, rate-limit drops, denials, log errors":
			server = r.Pxekit == 0 && strings.Contains(r.Note, "ACKs 400, releases 200, NAKs 0")
		case strings.HasPrefix(r.Case, "pxe server peak RSS"):
			rss = r.Pxekit > 1
		}
	}
	if !booted || !server || !rss {
		t.Errorf("rows: storm time with the peer's %v, server counters %v, RSS %v:\n%+v", booted, server, rss, rows)
	}
}
