package qemubench

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// loadTimeline reads back a timeline a run wrote (renderTimeline's
// "seconds source text" lines), as stamps after start.
func loadTimeline(t *testing.T, name string, start time.Time) []stamp {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stamps []stamp
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		secs, err := strconv.ParseFloat(strings.TrimSpace(l[:8]), 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", name, l, err)
		}
		src, text, _ := strings.Cut(strings.TrimLeft(l[9:], " "), " ")
		stamps = append(stamps, stamp{t: start.Add(time.Duration(secs * float64(time.Second))), src: src, text: strings.TrimPrefix(text, strings.Repeat(" ", 7-len(src)))})
	}
	return stamps
}

// fixtureRun is one boot of the fixtures as the part records it.
func fixtureRun(t *testing.T, fw pxetest.Firmware, stack string) bootRun {
	t.Helper()
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	stamps := loadTimeline(t, timelineName(fw, stack, 1), start)
	r := bootRun{stack: stack, rep: 1, started: start, marks: milestones(start, stamps, fw), qemuShare: 0.5}
	r.toInit = r.marks[msInit]
	for _, s := range stamps {
		if c, ok := strings.CutPrefix(s.text, pxetest.MarkerCmdline); ok && s.src == "console" {
			r.cmdline = c
		}
	}
	return r
}

func secs(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// The milestones of four real boots, one per firmware and stack, found
// the same way in dnsmasq's and nginx's records as in pxekit's events.
func TestMilestones(t *testing.T) {
	want := map[string]map[string]float64{
		"uefi pxekit": {msDiscover: 3.466, msAck: 7.589, msNBP: 7.687, msDiscIPXE: 13.944, msAckIPXE: 13.947, msIfconf: 14.010,
			msScript: 14.021, msKernel: 14.311, msInitrd: 14.400, msInit: 18.335},
	}
	for _, fw := range []pxetest.Firmware{pxetest.BIOS, pxetest.UEFIPXE} {
		for _, stack := range []string{baseline, "pxekit"} {
			r := fixtureRun(t, fw, stack)
			name := fw.String() + " " + stack
			if w, ok := want[name]; ok {
				for m, s := range w {
					if got := secs(r.marks[m]); got != s {
						t.Errorf("%s: %s at %v s, want %v", name, m, got, s)
					}
				}
			}
			// Every phase is there, none negative, and the server's add up.
			for _, p := range phases(fw) {
				if s, ok := r.phaseSecs(p); !ok || s < 0 {
					t.Errorf("%s: phase %s: %v s, %v (marks %v)", name, p.name, s, ok, r.marks)
				}
			}
			if _, ok := r.marks[msNBP]; ok != (fw != pxetest.BIOS) {
				t.Errorf("%s: NBP milestone %v", name, ok)
			}
			if sum, ok := r.serverSecs(fw); !ok || sum <= 0 || sum >= r.toInit.Seconds() {
				t.Errorf("%s: server steps %v s of %v to /init", name, sum, r.toInit)
			}
			if !strings.Contains(r.cmdline, "pxekit.phonehome=http://192.0.2.1/phonehome") {
				t.Errorf("%s: kernel command line %q", name, r.cmdline)
			}
		}
	}
}

func TestFirmwareRows(t *testing.T) {
	runs := []bootRun{fixtureRun(t, pxetest.UEFIPXE, baseline), fixtureRun(t, pxetest.UEFIPXE, "pxekit")}
	rows := firmwareRows(pxetest.UEFIPXE, runs)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r.Case != "uefi: power-on → /init" || r.Peer != baseline || secs(time.Duration(r.PeerV*float64(time.Second))) != 33.942 ||
		secs(time.Duration(r.Pxekit*float64(time.Second))) != 18.335 || !r.Lower || r.Target != 1 || r.Failed {
		t.Errorf("row %+v", r)
	}
	// The phases as the run that wrote the timelines reported them.
	for _, want := range []string{"median of 1/1 interleaved boots (33.9 / 18.3)",
		"phases s, peer/pxekit: firmware to DHCPDISCOVER 2.9/3.5, PXE DHCP 4.1/4.1, TFTP ipxe.efi 0.4/0.1, iPXE start 6.4/6.3, iPXE DHCP 3.5/0.0, iPXE config wait 13.2/0.1, script 0.0/0.0, kernel 0.5/0.3, initrd 0.1/0.1, Linux to /init 2.9/3.9;",
		"QEMU got 0.50/0.50 of a core"} {
		if !strings.Contains(r.Note, want) {
			t.Errorf("note lacks %q: %s", want, r.Note)
		}
	}
	if s := rows[1]; s.Case != "uefi: server steps" || s.PeerV <= s.Pxekit || !strings.HasPrefix(s.Note, "sum of PXE DHCP, TFTP ipxe.efi, iPXE DHCP, script, kernel, initrd") {
		t.Errorf("server steps row %+v", s)
	}
	// Boots that started different kernel command lines compare nothing.
	runs[1].cmdline += " extra"
	if r := firmwareRows(pxetest.UEFIPXE, runs)[0]; !r.Failed || !strings.Contains(r.Note, "kernel command lines differ") {
		t.Errorf("differing command lines: %+v", r)
	}
	if firmwareRows(pxetest.BIOS, nil) != nil {
		t.Error("rows without runs")
	}
}

func TestWritePhases(t *testing.T) {
	dir := t.TempDir()
	runs := []bootRun{fixtureRun(t, pxetest.BIOS, baseline), fixtureRun(t, pxetest.BIOS, "pxekit")}
	if err := writePhases(dir, pxetest.BIOS, runs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "qemu-bios-phases.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasPrefix(lines[0], "# QEMU bios boot phases") || !strings.Contains(string(b), "| stack | run | power-on → /init | server CPU s | QEMU CPU share | firmware to DHCPDISCOVER | DHCP |") {
		t.Errorf("qemu-bios-phases.md:\n%s", b)
	}
	last := lines[len(lines)-2:]
	if !strings.HasPrefix(last[0], "| dnsmasq+nginx | 1 | 20.6 |") || !strings.HasPrefix(last[1], "| pxekit | 1 | 4.5 |") || strings.Contains(string(b), " - |") {
		t.Errorf("rows:\n%s", strings.Join(last, "\n"))
	}
}

func TestParseMsec(t *testing.T) {
	tm, rest, ok := parseMsec(`1764763212.345 "GET /assets/vmlinuz HTTP/1.1" 200 14190528`)
	if !ok || !tm.Equal(time.Unix(1764763212, 345*int64(time.Millisecond))) || rest != `"GET /assets/vmlinuz HTTP/1.1" 200 14190528` {
		t.Errorf("parseMsec = %v %q %v", tm, rest, ok)
	}
	for _, bad := range []string{"", "nospace", "abc.def GET"} {
		if _, _, ok := parseMsec(bad); ok {
			t.Errorf("parseMsec(%q) took it", bad)
		}
	}
}

func TestLineStamper(t *testing.T) {
	tl := &timeline{}
	w := &lineStamper{tl: tl, src: "dnsmasq"}
	for _, p := range []string{"DHCPDISC", "OVER(br0)\r\nDHCPOFFER", "(br0)\n", "partial"} {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	got := tl.sorted()
	if len(got) != 2 || got[0].text != "DHCPDISCOVER(br0)" || got[1].text != "DHCPOFFER(br0)" || got[0].src != "dnsmasq" {
		t.Errorf("stamped %+v", got)
	}
}

func FuzzParseMsec(f *testing.F) {
	f.Add(`1764763212.345 "GET / HTTP/1.1" 200 5`)
	f.Fuzz(func(t *testing.T, l string) {
		_, rest, ok := parseMsec(l)
		if ok && !strings.HasSuffix(l, rest) {
			t.Fatalf("%q gave rest %q", l, rest)
		}
	})
}
