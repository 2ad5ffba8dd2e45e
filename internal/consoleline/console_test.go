package consoleline

import (
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"\x1bc\x1b[?7l\x1b[2JSeaBIOS\r": "SeaBIOS",
		"plain":                         "plain",
		"\x1b[0m\x1b[=3hBdsDxe: x":      "BdsDxe: x",
		"trailing esc \x1b":             "trailing esc ",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzClean(f *testing.F) {
	f.Add("\x1b[2J\x1b[01;01HPXEKIT-INIT-START\r")
	f.Add("\x1b[")
	f.Add("PXEKI\rT")
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		if strings.ContainsAny(out, "\r\x1b") || len(out) > len(s) {
			t.Errorf("Clean(%q) = %q", s, out)
		}
		// Clean only drops bytes, so its output is a subsequence of its input.
		// (A marker split by a carriage return, "PXEKI\rT", is joined on
		// purpose: that is what the terminal shows.)
		j := 0
		for i := 0; i < len(s) && j < len(out); i++ {
			if s[i] == out[j] {
				j++
			}
		}
		if j != len(out) {
			t.Errorf("Clean(%q) = %q, which is not a subsequence of its input", s, out)
		}
		// Without escapes, only carriage returns go.
		if !strings.Contains(s, "\x1b") && out != strings.ReplaceAll(s, "\r", "") {
			t.Errorf("Clean(%q) = %q, want only CRs dropped", s, out)
		}
	})
}
