package pxetest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseHookLog: any log parses without panicking, and an event
// written back in the hooks' format reads back the same.
func FuzzParseHookLog(f *testing.F) {
	f.Add([]byte("BOUND\t192.0.2.100\t255.255.255.0\t192.0.2.1\t192.0.2.53 192.0.2.54\tlab.example\t9000\t3600\t192.0.2.1\tundionly.kpxe\n"))
	f.Add([]byte("deconfig\t\t\t\t\t\t\t\t\t\nbound\t192.0.2.7\t255.255.255.128\t\t\t\t\t600\t192.0.2.1\t\n"))
	f.Add([]byte("PREINIT\t\t\t\n\t\t\t\t\t\t\t\t\t\t\t"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range parseHookLog(b) {
			ip := ""
			if e.IP.IsValid() {
				ip = e.IP.String()
			}
			line := strings.Join([]string{e.Reason, ip, e.Mask, e.Routers, e.DNS, e.Domain, e.MTU, e.LeaseTime, e.ServerID, e.File}, "\t")
			again := parseHookLog([]byte(line + "\n"))
			if len(again) != 1 || again[0] != e {
				t.Fatalf("%+v written back as %q reads %+v", e, line, again)
			}
		}
	})
}

// FuzzParseProcStat: no input panics; a session read back is the one a
// stat line was made with, whatever the command name holds.
func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("1234 (dnsmasq) S 1 1234 999 0 -1 4194560 100 0 0 0\n"), "sleep", 42)
	f.Add([]byte("77 (a) b) c) R 1 77 77 0\n"), "we(i)rd name", 1)
	f.Add([]byte("garbage"), ")", 0)
	f.Fuzz(func(t *testing.T, b []byte, comm string, sid int) {
		parseProcStat(b)
		if sid < 0 || strings.ContainsAny(comm, "\n") {
			return
		}
		line := fmt.Sprintf("9 (%s) S 1 9 %d 0 -1", comm, sid)
		state, got, ok := parseProcStat([]byte(line))
		if !ok || state != "S" || got != sid {
			t.Fatalf("parseProcStat(%q) = %q, %d, %v; want S, %d", line, state, got, ok, sid)
		}
	})
}

// FuzzModulePath: no go.mod panics; a module directive is found with its
// path, quoted or not.
func FuzzModulePath(f *testing.F) {
	f.Add([]byte("module github.com/pxekit/pxekit\n\ngo 1.26.8\n"), "example.com/x")
	f.Add([]byte("// module not/this\nmodule \"quoted.example/y\"\n"), "a/b")
	f.Fuzz(func(t *testing.T, gomod []byte, path string) {
		modulePath(gomod)
		if !modulePathRE.MatchString(path) || strings.Contains(path, "//") {
			return
		}
		for _, m := range []string{"module " + path + "\n", "go 1.26\nmodule " + strconv.Quote(path) + " // c\n"} {
			if got := modulePath([]byte(m)); got != path {
				t.Fatalf("modulePath(%q) = %q, want %q", m, got, path)
			}
		}
	})
}

// modulePathRE matches the module paths FuzzModulePath writes into a
// go.mod (the characters Go allows in one).
var modulePathRE = regexp.MustCompile(`^[A-Za-z0-9._~/-]+$`)

// FuzzStripSignature: any bytes are refused or stripped without a panic,
// and a stripped image is shorter and has no signature left to strip.
func FuzzStripSignature(f *testing.F) {
	// A minimal PE32+ header: MZ, e_lfanew 0x40, PE\0\0, a COFF header,
	// the optional header with 16 data directories, the security one
	// naming 8 bytes at the end.
	img := make([]byte, 0x40+24+112+16*8+8)
	copy(img, "MZ")
	img[0x3c] = 0x40
	copy(img[0x40:], "PE\x00\x00")
	opt := 0x40 + 24
	img[opt], img[opt+1] = 0x0b, 0x02
	img[opt+108] = 16
	sec := opt + 112 + 4*8
	end := len(img) - 8
	img[sec], img[sec+1] = byte(end), byte(end>>8)
	img[sec+4] = 8
	f.Add(img)
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := StripSignature(b)
		if err != nil {
			return
		}
		if len(out) >= len(b) {
			t.Fatalf("stripped %d bytes to %d", len(b), len(out))
		}
		if _, err := StripSignature(out); err == nil {
			t.Fatal("a stripped image still had a signature")
		}
	})
}
