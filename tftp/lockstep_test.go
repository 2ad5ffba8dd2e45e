package tftp

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// rawClient plays a TFTP client packet by packet, for the loss cases real
// clients cannot be made to produce on loopback (no packet is lost there
// and this kernel has no netem).
type rawClient struct {
	t      *testing.T
	c      *net.UDPConn
	srv    *net.UDPAddr // the listening socket
	server *net.UDPAddr // the transfer's socket, once it answered
	buf    []byte
}

func newRawClient(t *testing.T, srv *net.UDPAddr) *rawClient {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, srv: srv, buf: make([]byte, 65536)}
}

func (r *rawClient) request(parts ...string) {
	r.t.Helper()
	if _, err := r.c.WriteTo(rrq(parts...), r.srv); err != nil {
		r.t.Fatal(err)
	}
}

// recv returns the next packet: opcode, block (or error code) and payload
// (an OACK's options).
func (r *rawClient) recv() (Opcode, uint16, []byte) {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(time.Minute)) // hang guard
	n, from, err := r.c.ReadFromUDP(r.buf)
	if err != nil {
		r.t.Fatal(err)
	}
	if n < 4 {
		r.t.Fatalf("short packet %x", r.buf[:n])
	}
	r.server = from
	op := Opcode(binary.BigEndian.Uint16(r.buf))
	if op == OpOACK { // options start right after the opcode
		return op, 0, append([]byte(nil), r.buf[2:n]...)
	}
	return op, binary.BigEndian.Uint16(r.buf[2:]), append([]byte(nil), r.buf[4:n]...)
}

func (r *rawClient) ack(blk uint16) {
	r.t.Helper()
	if _, err := r.c.WriteTo(AppendACK(nil, blk), r.server); err != nil {
		r.t.Fatal(err)
	}
}

// expect reads DATA blocks and checks their numbers and contents.
func (r *rawClient) expect(data []byte, bs int, blocks ...uint16) {
	r.t.Helper()
	for _, want := range blocks {
		op, blk, payload := r.recv()
		if op != OpDATA || blk != want {
			r.t.Fatalf("got %v %d, want DATA %d", op, blk, want)
		}
		off := (int(want) - 1) * bs
		if !bytes.Equal(payload, data[off:min(off+bs, len(data))]) {
			r.t.Fatalf("block %d carries the wrong bytes", want)
		}
	}
}

func lockstepRoot(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 31)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// A lost ACK (here: one never sent) makes the server send the same block
// again after its timeout; the transfer then goes on.
func TestLockstepLostACK(t *testing.T) {
	dir, data := lockstepRoot(t, 3*512+7)
	s := serve(t, Config{Root: os.DirFS(dir), Timeout: 100 * time.Millisecond})
	c := newRawClient(t, s.addr)
	c.request("f", "octet")
	c.expect(data, 512, 1)
	c.ack(1)
	c.expect(data, 512, 2)
	// The ACK of block 2 is "lost": block 2 comes again, twice.
	c.expect(data, 512, 2, 2)
	c.ack(2)
	c.expect(data, 512, 3)
	c.ack(3)
	c.expect(data, 512, 4)
	c.ack(4)
	if ev := s.ev.wait(t, EventSent); ev.Bytes != int64(len(data)) {
		t.Errorf("event %+v, want %d bytes", ev, len(data))
	}
}

// Sorcerer's Apprentice (RFC 1123 4.2.3.1): a duplicate ACK must not make
// the server send the next block again, or every block would travel twice
// from then on. The timeout is far longer than the test, so any resend
// seen is the duplicate's doing.
func TestLockstepDuplicateACK(t *testing.T) {
	dir, data := lockstepRoot(t, 5*512+1)
	s := serve(t, Config{Root: os.DirFS(dir), Timeout: 10 * time.Minute})
	c := newRawClient(t, s.addr)
	c.request("f", "octet")
	c.expect(data, 512, 1)
	c.ack(1)
	c.expect(data, 512, 2)
	c.ack(1) // a duplicate: ignored
	c.ack(1)
	c.ack(2)
	// Datagrams stay in order on loopback: a resend of block 2 would come
	// before block 3.
	c.expect(data, 512, 3)
	// Queued behind each other: ACK 3 sends block 4, its duplicate
	// nothing, ACK 4 block 5.
	c.ack(3)
	c.ack(3)
	c.ack(4)
	c.expect(data, 512, 4, 5)
	c.ack(5)
	c.expect(data, 512, 6)
	c.ack(6)
	if ev := s.ev.wait(t, EventSent); ev.Bytes != int64(len(data)) {
		t.Errorf("event %+v, want %d bytes", ev, len(data))
	}
}

// A client that goes silent gets each block Retries+1 times in all, then
// an ERROR, and the transfer is reported failed.
func TestLockstepTimeout(t *testing.T) {
	dir, data := lockstepRoot(t, 2000)
	s := serve(t, Config{Root: os.DirFS(dir), Timeout: 50 * time.Millisecond, Retries: 2})
	c := newRawClient(t, s.addr)
	c.request("f", "octet", "blksize", "1000")
	if op, _, opts := c.recv(); op != OpOACK || !bytes.Contains(opts, []byte("blksize\x001000\x00")) {
		t.Fatalf("got %v %q, want an OACK granting blksize 1000", op, opts)
	}
	c.ack(0)
	c.expect(data, 1000, 1, 1, 1)
	op, code, msg := c.recv()
	if op != OpERROR || ErrorCode(code) != ErrUndefined || !strings.Contains(string(msg), "no ACK for block 1 after 3 tries") {
		t.Errorf("got %v %d %q, want ERROR 0 saying no ACK came", op, code, msg)
	}
	ev := s.ev.wait(t, EventFailed)
	if ev.Err == nil || ev.Bytes != 0 || ev.BlockSize != 1000 {
		t.Errorf("event %+v", ev)
	}
	if st := s.srv.Stats(); st.Failed != 1 || st.Active != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A datagram from another port (another transfer ID) does not disturb a
// transfer: the transfer's socket is connected to its client, so it never
// even sees it.
func TestLockstepForeignPort(t *testing.T) {
	dir, data := lockstepRoot(t, 2*512+3)
	s := serve(t, Config{Root: os.DirFS(dir), Timeout: 10 * time.Minute})
	c := newRawClient(t, s.addr)
	c.request("f", "octet")
	c.expect(data, 512, 1)
	intruder := newRawClient(t, s.addr)
	intruder.server = c.server
	intruder.ack(1)
	intruder.ack(2)
	c.ack(1)
	c.expect(data, 512, 2)
	c.ack(2)
	c.expect(data, 512, 3)
	c.ack(3)
	if ev := s.ev.wait(t, EventSent); ev.Bytes != int64(len(data)) {
		t.Errorf("event %+v", ev)
	}
}

// Block sizes under 512 are granted now that pin/tftp no longer sends
// lock-step transfers (RFC 2348 allows 8 and up).
func TestSmallBlockSize(t *testing.T) {
	dir, data := lockstepRoot(t, 1000)
	s := serve(t, Config{Root: os.DirFS(dir)})
	got, msg, ok := atftp(t, s.addr, "f", "blksize 100", "--trace")
	if !ok || !bytes.Equal(got, data) || !strings.Contains(oackOf(msg), "blksize: 100") {
		t.Fatalf("ok=%v, %d bytes, OACK %q", ok, len(got), oackOf(msg))
	}
	if ev := s.ev.wait(t, EventSent); ev.BlockSize != 100 || ev.Bytes != 1000 {
		t.Errorf("event %+v", ev)
	}
}

// The shutdown grace also cuts a lock-step wait for an ACK under a client
// timeout of 255 s.
func TestShutdownGraceCutsLockstepWait(t *testing.T) {
	dir, _ := lockstepRoot(t, 5000)
	s := serve(t, Config{Root: os.DirFS(dir), ShutdownGrace: time.Millisecond})
	c := newRawClient(t, s.addr)
	c.request("f", "octet", "timeout", "255")
	if op, _, opts := c.recv(); op != OpOACK || !bytes.Contains(opts, []byte("timeout\x00255\x00")) {
		t.Fatalf("got %v %q, want an OACK granting timeout 255", op, opts)
	}
	c.ack(0)
	c.recv() // block 1; no ACK. The hang guard (a minute) is far below 255 s.
	s.stop()
	if ev := s.ev.wait(t, EventFailed); ev.Err == nil || !strings.Contains(ev.Err.Error(), "shutting down") {
		t.Errorf("event %+v", ev)
	}
	if op, _, msg := c.recv(); op != OpERROR || !strings.Contains(string(msg), "shutting down") {
		t.Errorf("got %v %q, want the shutdown ERROR", op, msg)
	}
}

// decodeNetascii is the client side of netascii: CR LF is LF, CR NUL is CR.
func decodeNetascii(b []byte) ([]byte, bool) {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '\r' {
			out = append(out, b[i])
			continue
		}
		if i+1 == len(b) {
			return nil, false
		}
		switch b[i+1] {
		case '\n':
			out = append(out, '\n')
		case 0:
			out = append(out, '\r')
		default:
			return nil, false
		}
		i++
	}
	return out, true
}

// FuzzNetascii: whatever the file and however its reads are split, the
// encoding decodes back to the file and carries no bare CR or LF.
func FuzzNetascii(f *testing.F) {
	f.Add([]byte("#!ipxe\nchain http://192.0.2.1/x\r\nboot\n"), uint8(1))
	f.Add([]byte("\r\r\n\n\x00"), uint8(3))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		var r io.Reader = bytes.NewReader(in)
		if split%2 == 1 {
			r = iotest.OneByteReader(r)
		}
		enc, err := io.ReadAll(iotest.HalfReader(newNetasciiReader(r)))
		if err != nil {
			t.Fatal(err)
		}
		dec, ok := decodeNetascii(enc)
		if !ok || !bytes.Equal(dec, in) {
			t.Fatalf("%q encoded as %q, which decodes to %q (ok=%v)", in, enc, dec, ok)
		}
		if bytes.Count(enc, []byte("\n")) != bytes.Count(enc, []byte("\r\n")) {
			t.Fatalf("%q has a bare LF", enc)
		}
	})
}
