package tftp

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// dropper sits between a client and the server on loopback and drops the
// first n packets of one kind (ACK or DATA) for one block, forwarding
// everything else both ways.
type dropper struct {
	front, back *net.UDPConn // the client's side, the server's side
	server      *net.UDPAddr // the listening socket, then the transfer's
	op          Opcode
	block       uint16
	mu          sync.Mutex
	left        int
	dropped     int
}

func newDropper(t *testing.T, server *net.UDPAddr, op Opcode, block uint16, n int) *dropper {
	t.Helper()
	front, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &dropper{front: front, back: back, server: server, op: op, block: block, left: n}
	var client *net.UDPAddr
	var wg sync.WaitGroup
	var cmu sync.Mutex
	wg.Go(func() { // client → server
		buf := make([]byte, 65536)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			cmu.Lock()
			client = from
			to := d.server
			cmu.Unlock()
			if d.drop(buf[:n]) {
				continue
			}
			back.WriteToUDP(buf[:n], to)
		}
	})
	wg.Go(func() { // server → client
		buf := make([]byte, 65536)
		for {
			n, from, err := back.ReadFromUDP(buf)
			if err != nil {
				return
			}
			cmu.Lock()
			d.server = from // the transfer's own socket from now on
			to := client
			cmu.Unlock()
			if to != nil && !d.drop(buf[:n]) {
				front.WriteToUDP(buf[:n], to)
			}
		}
	})
	t.Cleanup(func() {
		front.Close()
		back.Close()
		wg.Wait()
	})
	return d
}

// drop reports whether pkt is to be dropped, and counts it.
func (d *dropper) drop(pkt []byte) bool {
	if len(pkt) < 4 || Opcode(binary.BigEndian.Uint16(pkt)) != d.op || binary.BigEndian.Uint16(pkt[2:]) != d.block {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.left == 0 {
		return false
	}
	d.left--
	d.dropped++
	return true
}

func (d *dropper) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

func (d *dropper) addr() *net.UDPAddr { return d.front.LocalAddr().(*net.UDPAddr) }

// TestAtftpRecoversALostACK: atftp answers a block it gets again with one
// extra ACK, then ignores further repeats and re-sends its ACK only when
// its own timeout passes with nothing received. With the ACK of block 2
// and that extra ACK both lost, only a server whose resends back off
// beyond the client's timeout (here 1 s against a server timeout of
// 250 ms: 0.25, 0.5, 1, 2 s) lets the transfer finish; at a fixed spacing
// the server would give up first.
func TestAtftpRecoversALostACK(t *testing.T) {
	dir, files := testRoot(t, 8192)
	s := serve(t, Config{Root: os.DirFS(dir), Timeout: 250 * time.Millisecond, Retries: 5})
	d := newDropper(t, s.addr, OpACK, 2, 2)
	got, msg, ok := atftp(t, d.addr(), "8192b", "--tftp-timeout=1")
	if !ok || !bytes.Equal(got, files["8192b"]) {
		t.Fatalf("atftp: ok=%v, %d bytes (want %d identical ones); said %q", ok, len(got), len(files["8192b"]), msg)
	}
	if n := d.count(); n != 2 {
		t.Fatalf("dropped %d ACKs of block 2, want 2", n)
	}
	if st := s.srv.Stats(); st.Retransmitted < 2 {
		t.Errorf("server retransmitted %d blocks, want at least 2 (block 2 until the client's timeout)", st.Retransmitted)
	}
}

// TestAtftpWaitingForALostBlock: when DATA block 2 is lost four times in
// a row, atftp (timeout 1 s) repeats its ACK of block 1 each second and
// gives up after five of them. Those repeated ACKs show the client is
// there: the server keeps resending every second instead of backing off,
// and the fifth copy arrives while atftp still waits.
func TestAtftpWaitingForALostBlock(t *testing.T) {
	dir, files := testRoot(t, 8192)
	s := serve(t, Config{Root: os.DirFS(dir), Timeout: time.Second, Retries: 5})
	d := newDropper(t, s.addr, OpDATA, 2, 4)
	got, msg, ok := atftp(t, d.addr(), "8192b", "--tftp-timeout=1")
	if !ok || !bytes.Equal(got, files["8192b"]) {
		t.Fatalf("atftp: ok=%v, %d bytes (want %d identical ones); said %q", ok, len(got), len(files["8192b"]), msg)
	}
	if n := d.count(); n != 4 {
		t.Fatalf("dropped block 2 %d times, want 4", n)
	}
}

// TestResendWait: the wait doubles with each resend, up to 8 times the
// timeout, so the defaults give a silent client up after 62 s.
func TestResendWait(t *testing.T) {
	var total time.Duration
	for tries := range DefaultRetries + 1 {
		total += resendWait(DefaultTimeout, tries)
	}
	if want := 62 * time.Second; total != want {
		t.Errorf("defaults wait %v in all, want %v", total, want)
	}
	if got := resendWait(time.Second, 10); got != 8*time.Second {
		t.Errorf("tenth resend waits %v, want 8s", got)
	}
}
