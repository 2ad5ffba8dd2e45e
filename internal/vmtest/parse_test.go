package vmtest

import (
	"fmt"
	"github.com/pxekit/pxekit/internal/consoleline"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseMarker(t *testing.T) {
	for line, want := range map[string]int{"VMTEST-RC=0": 0, "VMTEST-RC=1 ": 1, "  VMTEST-RC=137": 137} {
		if got, ok := parseMarker(line); !ok || got != want {
			t.Errorf("parseMarker(%q) = %d, %v; want %d", line, got, ok, want)
		}
	}
	for _, line := range []string{"", "VMTEST-RC=", "VMTEST-RC=-1", "VMTEST-RC=256", "VMTEST-RC=1x", "echo VMTEST-RC=0", "VMTEST-RC=99999999999"} {
		if got, ok := parseMarker(line); ok {
			t.Errorf("parseMarker(%q) = %d, want no marker", line, got)
		}
	}
}

func TestScanConsole(t *testing.T) {
	in := "\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1)\r\n=== RUN   TestX\r\n--- PASS: TestX (0.01s)\r\nVMTEST-RC=0\r\n[ 2.5] reboot: Power down\r\n"
	var console strings.Builder
	var logged []string
	rc := scanConsole(strings.NewReader(in), &console, func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) })
	if rc != 0 {
		t.Errorf("rc = %d, want 0", rc)
	}
	want := "SeaBIOS (version 1)\n=== RUN   TestX\n--- PASS: TestX (0.01s)\nVMTEST-RC=0\n[ 2.5] reboot: Power down\n"
	if console.String() != want {
		t.Errorf("console = %q, want %q", console.String(), want)
	}
	if len(logged) != 5 || logged[0] != "guest: SeaBIOS (version 1)" {
		t.Errorf("logged %q", logged)
	}
	if rc := scanConsole(strings.NewReader("Kernel panic - not syncing\n"), &strings.Builder{}, nil); rc != -1 {
		t.Errorf("no marker: rc = %d, want -1", rc)
	}
}

func TestExactPattern(t *testing.T) {
	p := exactPattern("TestA/sub_[1]")
	if p != `^TestA$/^sub_\[1\]$` {
		t.Fatalf("pattern %q", p)
	}
	for _, part := range strings.Split(p, "/") {
		if _, err := regexp.Compile(part); err != nil {
			t.Errorf("%q: %v", part, err)
		}
	}
	if regexp.MustCompile(strings.Split(exactPattern("TestA"), "/")[0]).MatchString("TestAB") {
		t.Error("pattern for TestA matches TestAB")
	}
}

func TestTestVerdicts(t *testing.T) {
	ran, skipped := testVerdicts("=== RUN   TestA\n--- PASS: TestA (0.00s)\n    --- FAIL: TestA/b (0.00s)\n--- SKIP: TestC (0.00s)\ntesting: warning: no tests to run\n")
	if ran != 2 || !slices.Equal(skipped, []string{"TestC"}) {
		t.Errorf("ran %d, skipped %v", ran, skipped)
	}
}

func TestParseGuestConfig(t *testing.T) {
	c, err := parseGuestConfig([]byte(`{"args":["-test.run=^X$"],"modules":["/lib/modules/00-llc.ko"],"env":["CI=true"]}`))
	if err != nil || len(c.Args) != 1 || c.Modules[0] != "/lib/modules/00-llc.ko" || c.Env[0] != "CI=true" {
		t.Errorf("got %+v, %v", c, err)
	}
	for _, bad := range []string{`{"modules":["llc.ko"]}`, `{"env":["=x"]}`, `{"env":["NOEQUALS"]}`, `[`, `{"args":1}`} {
		if _, err := parseGuestConfig([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzParseMarker(f *testing.F) {
	f.Add("VMTEST-RC=0")
	f.Add("VMTEST-RC=255\r")
	f.Add("\x1b[2JVMTEST-RC=1")
	f.Fuzz(func(t *testing.T, line string) {
		if n, ok := parseMarker(consoleline.Clean(line)); ok && (n < 0 || n > 255) {
			t.Errorf("marker %d out of range", n)
		}
		if c := consoleline.Clean(line); strings.ContainsAny(c, "\r") {
			t.Errorf("Clean left a CR: %q", c)
		}
	})
}

func FuzzParseGuestConfig(f *testing.F) {
	f.Add([]byte(`{"args":["-test.v"],"modules":["/lib/modules/00-llc.ko"],"env":["CI=true"]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseGuestConfig(data)
		if err != nil {
			return
		}
		for _, m := range c.Modules {
			if !strings.HasPrefix(m, "/") {
				t.Errorf("accepted relative module path %q", m)
			}
		}
	})
}

// ExampleInGuest shows the check a guest-only helper makes; on the host
// (where examples run) it is false.
func ExampleInGuest() {
	fmt.Println(InGuest())
	// Output: false
}
