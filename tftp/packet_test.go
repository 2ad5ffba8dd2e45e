package tftp

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func rrq(parts ...string) []byte {
	b := []byte{0, 1}
	for _, p := range parts {
		b = append(append(b, p...), 0)
	}
	return b
}

func TestParseRequest(t *testing.T) {
	r, err := ParseRequest(rrq("pxelinux.0", "OCTET", "BlkSize", "1468", "tsize", "0", "blksize", "9000"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Op != OpRRQ || r.Filename != "pxelinux.0" || r.Mode != "octet" {
		t.Fatalf("got %+v", r)
	}
	if bs, ok := r.BlockSize(); !ok || bs != 1468 {
		t.Errorf("blksize = %d, %v; want the first one, 1468", bs, ok)
	}
	if ts, ok := r.TransferSize(); !ok || ts != 0 {
		t.Errorf("tsize = %d, %v", ts, ok)
	}
	if _, ok := r.Timeout(); ok {
		t.Error("timeout reported without the option")
	}
	for _, c := range []struct {
		name string
		pkt  []byte
		want string
	}{
		{"empty", nil, "request:"},
		{"data packet", []byte{0, 3, 0, 1}, "opcode: DATA is not a request"},
		{"unterminated filename", []byte{0, 1, 'a', 'b'}, "filename: missing NUL"},
		{"empty filename", rrq("", "octet"), "filename: empty"},
		{"no mode", rrq("f"), "mode: missing"},
		{"unterminated mode", append(rrq("f"), "octet"...), "mode: missing NUL"},
		{"mail mode", rrq("f", "mail"), `mode: unsupported "mail"`},
		{"option without value", rrq("f", "octet", "blksize"), `options[0] "blksize": missing value`},
		{"unterminated option", append(rrq("f", "octet", "tsize", "0"), "blksize"...), "options[1]: missing NUL"},
		{"empty option name", rrq("f", "octet", "", "1"), "options[0]: empty name"},
		{"too long", rrq(strings.Repeat("a", MaxRequestSize), "octet"), "request:"},
	} {
		_, err := ParseRequest(c.pkt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestRequestOptionRanges(t *testing.T) {
	for _, c := range []struct {
		opt, val string
		ok       bool
	}{
		{"blksize", "7", false}, {"blksize", "8", true}, {"blksize", "65464", true}, {"blksize", "65465", false},
		{"blksize", "1e3", false}, {"timeout", "0", false}, {"timeout", "255", true}, {"timeout", "256", false},
		{"windowsize", "64", true}, {"windowsize", "65536", false}, {"tsize", "-1", false},
	} {
		r, err := ParseRequest(rrq("f", "octet", c.opt, c.val))
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		switch c.opt {
		case "blksize":
			_, ok = r.BlockSize()
		case "timeout":
			_, ok = r.Timeout()
		case "windowsize":
			_, ok = r.WindowSize()
		case "tsize":
			_, ok = r.TransferSize()
		}
		if ok != c.ok {
			t.Errorf("%s=%s valid = %v, want %v", c.opt, c.val, ok, c.ok)
		}
	}
}

func TestAppendError(t *testing.T) {
	got := AppendError(nil, ErrAccessViolation, "no\x00tail")
	want := []byte{0, 5, 0, 2, 'n', 'o', 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCleanPath(t *testing.T) {
	ok := map[string]string{
		"pxelinux.0":             "pxelinux.0",
		"/ipxe.efi":              "ipxe.efi",
		"//boot//./x86_64/ipxe":  "boot/x86_64/ipxe",
		`\boot\grub\grub.cfg`:    "boot/grub/grub.cfg",
		"pxelinux.cfg/01-52-54":  "pxelinux.cfg/01-52-54",
		"52:54:00:6b:13:e2.ipxe": "52:54:00:6b:13:e2.ipxe",
		"a..b/c...":              "a..b/c...",
	}
	for in, want := range ok {
		got, err := CleanPath(in)
		if err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/", "..", "../etc/passwd", "/../../etc/passwd", `..\..\windows\win.ini`,
		"boot/../../x", "a/..", "x\x00y", "x\ny", "x\x7f", strings.Repeat("a", MaxPathLen+1)} {
		got, err := CleanPath(in)
		if err == nil || !errors.Is(err, ErrPathRefused) {
			t.Errorf("CleanPath(%q) = %q, %v; want a refusal", in, got, err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(rrq("pxelinux.0", "octet"))
	f.Add(rrq("/ipxe.efi", "netascii", "blksize", "1468", "tsize", "0", "timeout", "3", "windowsize", "16"))
	f.Add(rrq(`..\..\x`, "octet", "BLKSIZE", "65464"))
	f.Add([]byte{0, 2, 'f', 0, 'o', 'c', 't', 'e', 't', 0})
	f.Add([]byte{0, 1, 0, 0})
	f.Add([]byte{0, 5, 0, 1, 'x', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		if r.Op != OpRRQ && r.Op != OpWRQ {
			t.Fatalf("accepted opcode %v", r.Op)
		}
		if r.Mode != "octet" && r.Mode != "netascii" {
			t.Fatalf("accepted mode %q", r.Mode)
		}
		if bs, ok := r.BlockSize(); ok && (bs < MinBlockSize || bs > MaxBlockSize) {
			t.Fatalf("blksize %d out of range", bs)
		}
		enc, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", r, err)
		}
		r2, err := ParseRequest(enc)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", enc, err)
		}
		if r2.Filename != r.Filename || r2.Mode != r.Mode || len(r2.Options) != len(r.Options) {
			t.Fatalf("round trip changed %+v into %+v", r, r2)
		}
		for i := range r.Options {
			if r.Options[i] != r2.Options[i] {
				t.Fatalf("round trip changed option %d: %+v vs %+v", i, r.Options[i], r2.Options[i])
			}
		}
		if name, err := CleanPath(r.Filename); err == nil {
			checkClean(t, r.Filename, name)
		}
	})
}

func checkClean(t *testing.T, in, out string) {
	t.Helper()
	if !fs.ValidPath(out) || out == "." {
		t.Fatalf("CleanPath(%q) = %q, not a valid fs path below the root", in, out)
	}
	if strings.ContainsAny(out, "\\\x00\n\r") {
		t.Fatalf("CleanPath(%q) = %q keeps a backslash or control character", in, out)
	}
	for _, e := range strings.Split(out, "/") {
		if e == ".." || e == "." || e == "" {
			t.Fatalf("CleanPath(%q) = %q has element %q", in, out, e)
		}
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"pxelinux.0", "/ipxe.efi", `..\..\boot.ini`, "a/../../b", "a//b/./c", "\x00", "...", "./.", "a\\..\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanPath(in)
		if err != nil {
			if !errors.Is(err, ErrPathRefused) {
				t.Fatalf("CleanPath(%q) error %v does not wrap ErrPathRefused", in, err)
			}
			return
		}
		checkClean(t, in, out)
		// Cleaning is idempotent: a clean path is served as itself.
		if again, err := CleanPath(out); err != nil || again != out {
			t.Fatalf("CleanPath(%q) = %q, %v; want %q", out, again, err, out)
		}
	})
}
