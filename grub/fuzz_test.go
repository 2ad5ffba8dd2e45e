package grub

import (
	"strings"
	"testing"
)

// FuzzQuote: any value quoted is one word with that value, and expands
// nothing.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "it's", "$prefix", "a b", "'\\''", "x\ny", "}{;|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, err := Words("echo " + Quote(s))
		if err != nil {
			t.Fatalf("Words(echo %s): %v", Quote(s), err)
		}
		if len(toks) != 2 || toks[1].Text != s || toks[1].Expands {
			t.Fatalf("echo %s lexes as %+v", Quote(s), toks)
		}
	})
}

// FuzzLint: Lint and Words never panic, and a config the builder renders
// from any echo text lints clean.
func FuzzLint(f *testing.F) {
	for _, s := range []string{"menuentry 'x' {\nlinux /k\n}\n", "if a; then\nfi", "echo \"${x", "{{}}", "\\", "for in do done"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = Lint(s, ForSecureBoot())
		_, _ = Words(s)
		cfg, err := NewConfig().Echo(s).Linux(Linux{Kernel: "/k"}).Build()
		if err != nil {
			return
		}
		if probs := Lint(string(cfg), ForSecureBoot()); len(probs) > 0 {
			t.Fatalf("Lint(%q) = %v", cfg, probs)
		}
		if strings.Count(string(cfg), "\n") != 7 {
			t.Fatalf("echo of %q took more than its line:\n%s", s, cfg)
		}
	})
}

// FuzzParseSBAT: the readers of .sbat and .sbatlevel never panic, and what
// ParseSBAT accepts has a component and a generation on every entry.
func FuzzParseSBAT(f *testing.F) {
	f.Add([]byte("sbat,1,SBAT Version,sbat,1,https://x\ngrub,5,FSF,grub,2.06,https://y\n"))
	f.Add([]byte("\x00\x00\x00\x00\x08\x00\x00\x00\x0c\x00\x00\x00sbat,1,1\n\x00grub,5\n\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if es, err := ParseSBAT(b); err == nil {
			for _, e := range es {
				if e.Component == "" || e.Generation < 0 {
					t.Fatalf("ParseSBAT(%q) gave %+v", b, e)
				}
			}
		}
		p, l, err := ParseSBATLevel(b)
		if err == nil {
			_ = Revoked(p, l)
		}
	})
}
