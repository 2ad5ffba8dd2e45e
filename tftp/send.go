package tftp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// sender sends one admitted read request on its own socket connected to
// the client: lock-step (RFC 1350, a window of 1) or with RFC 7440
// windows. Every transfer outside single-port mode runs here, on one
// goroutine that does the file reads, sends and ACK waits itself.
type sender struct {
	f        *front
	t        *transfer
	conn     *peerConn
	blksize  int
	window   int // 1: lock-step
	timeout  time.Duration
	retries  int
	oack     []Option
	netascii bool
	acked    int64 // payload bytes acknowledged (on the wire, in netascii)
}

// errTimedOut is a wait for an ACK that ran out.
var errTimedOut = errors.New("timed out waiting for an ACK")

// errFinalACKLost ends a transfer whose client closed its port after the
// final block was sent: its last ACK was lost, and it is gone.
var errFinalACKLost = errors.New("final ACK lost: the client closed its port after the last block")

// aborted reports whether the shutdown grace period is over.
func (s *sender) aborted() bool {
	select {
	case <-s.f.abort:
		return true
	default:
		return false
	}
}

// errPeer is an ERROR packet from the client: nothing is sent back.
type errPeer struct {
	code ErrorCode
	msg  string
}

// Error says what the client reported.
func (e *errPeer) Error() string {
	return fmt.Sprintf("client sent error %d: %s", e.code, e.msg)
}

func (s *sender) serve() {
	f, t := s.f, s.t
	defer f.wg.Done()
	start := time.Now()
	err := s.run()
	ev := Event{Peer: t.peer, File: t.name, Size: t.size, Bytes: s.acked, BlockSize: t.blksize, Duration: time.Since(start)}
	f.s.c.bytes.Add(uint64(s.acked))
	if err == errFinalACKLost {
		ev.FinalACKLost = true
		f.s.c.finalACKLost.Add(1)
		err = nil
	} else if err != nil {
		var pe *errPeer
		if !errors.As(err, &pe) {
			_ = s.conn.send(AppendError(nil, ErrUndefined, err.Error()))
			f.s.c.sentError(ErrUndefined)
		}
	}
	var attrs []any
	if s.window > 1 {
		ev.WindowSize = s.window
		attrs = []any{"windowsize", s.window}
	}
	// Release the transfer before reporting it: whoever acts on the event
	// sees the counters (Active) already say it is over.
	f.untrack(s) // closes the socket
	f.finish(t)
	f.report(ev, err, attrs...)
}

// readBuffer sizes the file read-ahead: 64 KB (one read(2) per 128 blocks
// of 512 bytes), less for a smaller file.
func readBuffer(size int64) int {
	return int(min(64<<10, max(size+1, 512)))
}

// run sends the OACK (when options were granted), then the blocks. In
// lock-step each block waits for its own ACK: a duplicate ACK of the
// block before is ignored, never answered with a resend (the Sorcerer's
// Apprentice bug, RFC 1123 4.2.3.1); only the timeout resends. With a
// window, an ACK of the last block the client got in order (RFC 7440
// section 4) starts the next window after it, so a lost block is sent
// again with its successors.
func (s *sender) run() error {
	recv := make([]byte, 1024)
	if len(s.oack) > 0 {
		pkt, err := AppendOACK(nil, s.oack)
		if err != nil {
			return err
		}
		if err := s.oackPhase(pkt, recv); err != nil {
			return err
		}
	}
	var src io.Reader = s.t.file
	if s.netascii {
		src = newNetasciiReader(src)
	}
	r := bufio.NewReaderSize(src, readBuffer(s.t.size))
	ring := make([][]byte, s.window)
	for i := range ring {
		ring[i] = make([]byte, tftpHeader+s.blksize)
	}
	lens := make([]int, s.window)
	var (
		base    uint64 = 1 // first block not yet acknowledged
		next    uint64 = 1 // next block to read from the file
		last    uint64     // the final (short) block, once read
		retries int
		silent  int // timeouts in a row with nothing heard: the backoff
	)
	slot := func(i uint64) int { return int(i % uint64(s.window)) }
	// In lock-step only an ACK of the block in flight counts; with a
	// window, one of the block before the window asks for it again.
	stale := uint64(1)
	if s.window > 1 {
		stale = 0
	}
	for {
		for last == 0 && next < base+uint64(s.window) {
			b := ring[slot(next)]
			n, err := io.ReadFull(r, b[tftpHeader:])
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				last = next
			case err != nil:
				return err
			}
			binary.BigEndian.PutUint16(b[0:], uint16(OpDATA))
			binary.BigEndian.PutUint16(b[2:], uint16(next))
			lens[slot(next)] = tftpHeader + n
			next++
		}
		// The grace may have run out while a slow file read blocked:
		// end with the ERROR now, while the client waits for data.
		if s.aborted() {
			return errShuttingDown
		}
		var err error
		for i := base; i < next && err == nil; i++ {
			err = s.conn.send(ring[slot(i)][:lens[slot(i)]])
		}
		var (
			acked uint64
			heard bool
		)
		if err == nil {
			acked, heard, err = s.waitACK(recv, base-1+stale, next-1, resendWait(s.timeout, silent))
		}
		if err == errTimedOut {
			if retries++; retries > s.retries {
				return fmt.Errorf("no ACK for block %d after %d tries", base, retries)
			}
			// A client repeating its last ACK is there and waiting for
			// a block it lost: back off only from one that is silent.
			if silent++; heard {
				silent = 0
			}
			s.f.s.c.retransmitted.Add(next - base)
			continue
		}
		if err != nil {
			// A connected socket reports the client's ICMP port
			// unreachable on the next send or receive.
			if last != 0 && errors.Is(err, syscall.ECONNREFUSED) {
				// Every block went out and the client has gone: it
				// got them, and only its final ACK was lost.
				for i := base; i <= last; i++ {
					s.acked += int64(lens[slot(i)] - tftpHeader)
				}
				return errFinalACKLost
			}
			return err
		}
		for i := base; i <= acked; i++ {
			s.acked += int64(lens[slot(i)] - tftpHeader)
		}
		if acked >= base {
			retries, silent = 0, 0
		}
		base = acked + 1
		if last != 0 && base > last {
			return nil
		}
	}
}

// oackPhase sends the OACK until the client acknowledges it with ACK 0.
func (s *sender) oackPhase(pkt, recv []byte) error {
	for tries := 0; ; tries++ {
		if err := s.conn.send(pkt); err != nil {
			return err
		}
		_, _, err := s.waitACK(recv, 0, 0, resendWait(s.timeout, tries))
		if err != errTimedOut {
			return err
		}
		if tries >= s.retries {
			return fmt.Errorf("no ACK for the OACK after %d tries", tries+1)
		}
		s.f.s.c.retransmitted.Add(1)
	}
}

// resendWait is how long the ACK of a packet sent tries times before is
// waited for: the timeout, doubled with each resend up to 8 times it (the
// exponential backoff of RFC 1123 4.2.3.2). Backing off is what lets a
// client that answers a repeated block only once (atftp sends one extra
// ACK, then ignores repeats and waits out its own timeout, restarted by
// each packet it gets) recover a lost ACK: its timeout fires only in a
// pause longer than itself. The backoff restarts whenever the client is
// heard repeating an older ACK: it is there and waiting, and a client
// timing out faster than the server gives up after a few such repeats.
// With the default timeout a silent client is given up after 62 s, about
// tftpd-hpa's 63.
func resendWait(timeout time.Duration, tries int) time.Duration {
	return timeout << min(tries, 3)
}

// waitACK waits up to timeout for an ACK of a block in [lo, hi]
// (block numbers are 16-bit on the wire and roll over; lo..hi spans less
// than 65536) and returns which one. Other ACKs are stale and do not
// extend the wait; heard reports one came.
func (s *sender) waitACK(recv []byte, lo, hi uint64, timeout time.Duration) (blk uint64, heard bool, err error) {
	// The wait runs from now whatever comes: a client that times out
	// first and repeats its last ACK must not push the resend back.
	start := time.Now()
	wait := timeout
	for {
		if s.aborted() {
			return 0, heard, errShuttingDown
		}
		n, err := s.conn.recv(recv, wait)
		if err != nil {
			if err == errTimedOut && s.aborted() {
				return 0, heard, errShuttingDown
			}
			return 0, heard, err
		}
		if got, err := ParseACK(recv[:n]); err == nil {
			for i := hi; i >= lo; i-- {
				if uint16(i) == got {
					return i, heard, nil
				}
				if i == 0 {
					break
				}
			}
			heard = true
		} else if code, msg, err := ParseError(recv[:n]); err == nil {
			return 0, heard, &errPeer{code: code, msg: msg}
		}
		// A stale ACK, an empty datagram or junk: wait for the rest of
		// the timeout.
		if wait = timeout - time.Since(start); wait <= 0 {
			return 0, heard, errTimedOut
		}
	}
}

// startSender sends an admitted request on a new socket bound to the
// address the request came to and connected to the client. window is the
// windowsize granted, 0 when none was negotiated (lock-step).
func (f *front) startSender(req Request, src *net.UDPAddr, dst net.IP, ifIndex int, t *transfer, window int) {
	t.blksize = DefaultBlockSize
	var opts []Option
	if want, ok := req.BlockSize(); ok {
		t.blksize = min(want, f.linkLimit(ifIndex, src))
		opts = append(opts, Option{Name: "blksize", Value: strconv.Itoa(t.blksize)})
	}
	if _, ok := req.TransferSize(); ok {
		opts = append(opts, Option{Name: "tsize", Value: strconv.FormatInt(t.size, 10)})
	}
	timeout := f.s.cfg.Timeout
	if sec, ok := req.Timeout(); ok {
		timeout = time.Duration(sec) * time.Second
		opts = append(opts, Option{Name: "timeout", Value: strconv.Itoa(sec)})
	}
	if window > 0 {
		// A window is held in memory until acknowledged: bound it to
		// 1 MB per transfer, whatever the client asks.
		window = max(1, min(window, (1<<20)/(t.blksize+tftpHeader)))
		opts = append(opts, Option{Name: "windowsize", Value: strconv.Itoa(window)})
	}
	window = max(window, 1)
	var local netip.Addr
	if dst != nil && !dst.IsMulticast() && !dst.Equal(net.IPv4bcast) {
		local, _ = netip.AddrFromSlice(dst) // answer from the address the client asked
	}
	conn, err := f.netns.dial(local, t.peer, uint32(max(ifIndex, 0)))
	if err != nil {
		t.file.Close()
		f.release()
		f.s.c.failed.Add(1)
		f.s.log.Error("tftp transfer could not start", "peer", t.peer, "file", t.name, "err", err)
		f.emit(Event{Kind: EventFailed, Peer: t.peer, File: t.name, Size: t.size, Err: err})
		return
	}
	s := &sender{
		f: f, t: t, conn: conn, blksize: t.blksize, window: window,
		timeout: timeout, retries: f.s.cfg.Retries, oack: opts, netascii: t.mode == "netascii",
	}
	f.mu.Lock()
	f.active[t.key] = t
	t.started = true
	f.senders[s] = struct{}{}
	if f.aborting {
		conn.wake()
	}
	f.mu.Unlock()
	f.wg.Add(1)
	go s.serve()
}

// untrack forgets a finished sender and closes its socket, under the
// lock that abortAll wakes sockets under.
func (f *front) untrack(s *sender) {
	f.mu.Lock()
	delete(f.senders, s)
	s.conn.close()
	f.mu.Unlock()
}

// abortAll ends the shutdown grace: running transfers stop at their next
// step, and a wait for an ACK (a client may have asked for a 255 s
// timeout) returns at once.
func (f *front) abortAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aborting {
		return
	}
	f.aborting = true
	close(f.abort)
	for s := range f.senders {
		s.conn.wake()
	}
}
