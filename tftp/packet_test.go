package tftp

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestClientPackets(t *testing.T) {
	if got := AppendACK([]byte{9}, 0x0102); !bytes.Equal(got, []byte{9, 0, 4, 1, 2}) {
		t.Errorf("AppendACK = %x", got)
	}
	if blk, err := ParseACK([]byte{0, 4, 0xff, 0xfe}); err != nil || blk != 0xfffe {
		t.Errorf("ParseACK = %d, %v", blk, err)
	}
	if blk, data, err := ParseData([]byte{0, 3, 0, 7, 'a', 'b'}); err != nil || blk != 7 || string(data) != "ab" {
		t.Errorf("ParseData = %d %q %v", blk, data, err)
	}
	// The last block of a file that is a multiple of blksize is empty.
	if blk, data, err := ParseData([]byte{0, 3, 0, 8}); err != nil || blk != 8 || len(data) != 0 {
		t.Errorf("ParseData(empty block) = %d %q %v", blk, data, err)
	}
	oack := []byte("\x00\x06BLKSIZE\x001468\x00tsize\x00123\x00blksize\x00512\x00")
	opts, err := ParseOACK(oack)
	if err != nil || len(opts) != 2 || opts[0] != (Option{"blksize", "1468"}) || opts[1] != (Option{"tsize", "123"}) {
		t.Errorf("ParseOACK = %+v, %v; want blksize 1468 (the first), tsize 123", opts, err)
	}
	if opts, err := ParseOACK([]byte{0, 6}); err != nil || len(opts) != 0 {
		t.Errorf("ParseOACK(no options) = %+v, %v", opts, err)
	}
	enc, err := AppendOACK(nil, []Option{{"blksize", "1468"}, {"tsize", "123"}})
	if err != nil || !bytes.Equal(enc, []byte("\x00\x06blksize\x001468\x00tsize\x00123\x00")) {
		t.Errorf("AppendOACK = %q, %v", enc, err)
	}
	if _, err := AppendOACK(nil, []Option{{"bad\x00name", "1"}}); err == nil {
		t.Error("AppendOACK took a name with a NUL")
	}
	if code, msg, err := ParseError(AppendError(nil, ErrFileNotFound, "no such file")); err != nil || code != ErrFileNotFound || msg != "no such file" {
		t.Errorf("ParseError = %d %q %v", code, msg, err)
	}
	if code, msg, err := ParseError([]byte("\x00\x05\x00\x02cut sho")); err != nil || code != ErrAccessViolation || msg != "cut sho" {
		t.Errorf("ParseError(unterminated) = %d %q %v", code, msg, err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"ACK of DATA", func() error { _, err := ParseACK([]byte{0, 3, 0, 1}); return err }()},
		{"short ACK", func() error { _, err := ParseACK([]byte{0, 4, 0}); return err }()},
		{"DATA of ACK", func() error { _, _, err := ParseData([]byte{0, 4, 0, 1}); return err }()},
		{"short DATA", func() error { _, _, err := ParseData([]byte{0, 3, 0}); return err }()},
		{"OACK of ERROR", func() error { _, err := ParseOACK([]byte{0, 5, 0, 1, 0}); return err }()},
		{"OACK option without value", func() error { _, err := ParseOACK([]byte("\x00\x06blksize\x00")); return err }()},
		{"OACK unterminated", func() error { _, err := ParseOACK([]byte("\x00\x06blksize\x001468")); return err }()},
		{"OACK empty name", func() error { _, err := ParseOACK([]byte("\x00\x06\x001\x00")); return err }()},
		{"ERROR of DATA", func() error { _, _, err := ParseError([]byte{0, 3, 0, 1}); return err }()},
		{"short ERROR", func() error { _, _, err := ParseError([]byte{0, 5, 0}); return err }()},
	} {
		if c.err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if op := OpcodeOf([]byte{0}); op != 0 {
		t.Errorf("OpcodeOf(1 byte) = %v", op)
	}
}

// A client built from the exported packet functions alone reads a file
// from the server with options, and gets its ERROR for a missing one.
func TestClientPacketsAgainstServer(t *testing.T) {
	dir, files := testRoot(t, 3000)
	s := serve(t, Config{Root: os.DirFS(dir)})
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute)) // hang guard
	buf := make([]byte, 65536)
	read := func() ([]byte, *net.UDPAddr) {
		t.Helper()
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n], from
	}
	rrq, err := Request{Op: OpRRQ, Filename: "3000b", Mode: "octet", Options: []Option{{"blksize", "1000"}, {"tsize", "0"}}}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP(rrq, s.addr); err != nil {
		t.Fatal(err)
	}
	pkt, tid := read()
	opts, err := ParseOACK(pkt)
	if err != nil || !slices.Contains(opts, Option{"blksize", "1000"}) || !slices.Contains(opts, Option{"tsize", "3000"}) {
		t.Fatalf("OACK %q: %+v, %v", pkt, opts, err)
	}
	var got []byte
	for ack := uint16(0); ; {
		if _, err := c.WriteToUDP(AppendACK(nil, ack), tid); err != nil {
			t.Fatal(err)
		}
		pkt, _ := read()
		blk, data, err := ParseData(pkt)
		if err != nil || blk != ack+1 {
			t.Fatalf("after ACK %d: %q (%v)", ack, pkt, err)
		}
		got = append(got, data...)
		ack = blk
		if len(data) < 1000 {
			_, _ = c.WriteToUDP(AppendACK(nil, ack), tid)
			break
		}
	}
	if !bytes.Equal(got, files["3000b"]) {
		t.Errorf("got %d bytes, not the file's %d", len(got), len(files["3000b"]))
	}
	// A new transfer ID for the next request, as a real client takes: from
	// the port of the transfer that just ended, the server may still take
	// it for a retransmitted RRQ of that transfer and drop it.
	c2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetDeadline(time.Now().Add(time.Minute))
	rrq, _ = Request{Op: OpRRQ, Filename: "missing", Mode: "octet"}.AppendBinary(nil)
	if _, err := c2.WriteToUDP(rrq, s.addr); err != nil {
		t.Fatal(err)
	}
	n, _, err := c2.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	pkt = buf[:n]
	if code, msg, err := ParseError(pkt); err != nil || code != ErrFileNotFound || msg == "" {
		t.Errorf("missing file: %q: %d %q %v", pkt, code, msg, err)
	}
}

// FuzzClientPackets: whatever a server sends, the client's decoders never
// panic, and what they accept encodes back to the same packet.
func FuzzClientPackets(f *testing.F) {
	f.Add([]byte("\x00\x06blksize\x001468\x00tsize\x00123\x00"))
	f.Add([]byte{0, 3, 0, 1, 'x'})
	f.Add([]byte{0, 4, 0, 0})
	f.Add(AppendError(nil, ErrDiskFull, "full"))
	f.Add([]byte{0, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		if blk, err := ParseACK(b); err == nil && !bytes.Equal(AppendACK(nil, blk), b[:4]) {
			t.Fatalf("ACK %x decoded as block %d", b, blk)
		}
		if blk, data, err := ParseData(b); err == nil && (len(data) != len(b)-4 || !bytes.Equal(AppendACK(nil, blk)[2:], b[2:4])) {
			t.Fatalf("DATA %x decoded as block %d, %d bytes", b, blk, len(data))
		}
		if code, msg, err := ParseError(b); err == nil {
			if enc := AppendError(nil, code, msg); len(msg) <= 400 && !bytes.HasPrefix(b, enc[:len(enc)-1]) {
				t.Fatalf("ERROR %q decoded as %d %q", b, code, msg)
			}
		}
		opts, err := ParseOACK(b)
		if err != nil {
			return
		}
		enc, err := AppendOACK(nil, opts)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", opts, err)
		}
		again, err := ParseOACK(enc)
		if err != nil || !slices.Equal(again, opts) {
			t.Fatalf("round trip changed %+v into %+v (%v)", opts, again, err)
		}
		for _, o := range opts {
			if o.Name == "" || o.Name != strings.ToLower(o.Name) {
				t.Fatalf("option name %q", o.Name)
			}
		}
	})
}
