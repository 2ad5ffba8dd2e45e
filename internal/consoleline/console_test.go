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
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		if strings.ContainsAny(out, "\r\x1b") || len(out) > len(s) {
			t.Errorf("Clean(%q) = %q", s, out)
		}
		if m := strings.Contains(out, "PXEKIT"); m && !strings.Contains(s, "PXEKIT") {
			t.Errorf("marker appeared from nowhere in %q", s)
		}
	})
}
