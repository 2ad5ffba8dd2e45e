package tftp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// windowed is one RFC 7440 transfer: pin/tftp cannot negotiate windowsize,
// so windowed transfers are sent here, each on its own socket, the way
// pin/tftp sends the others.
type windowed struct {
	f       *front
	t       *transfer
	conn    *net.UDPConn
	peer    *net.UDPAddr
	blksize int
	window  int
	timeout time.Duration
	retries int
	oack    []Option
	acked   int64
}

// aborted reports whether the shutdown grace period is over.
func (w *windowed) aborted() bool {
	select {
	case <-w.f.abort:
		return true
	default:
		return false
	}
}

// appendOACK encodes an option acknowledgement.
func appendOACK(b []byte, opts []Option) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(OpOACK))
	for _, o := range opts {
		b = append(append(b, o.Name...), 0)
		b = append(append(b, o.Value...), 0)
	}
	return b
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

func (w *windowed) serve() {
	f, t := w.f, w.t
	defer f.wg.Done()
	defer f.finish(t)
	defer w.conn.Close()
	// When the shutdown grace runs out, wake a wait for an ACK at once: a
	// client may have asked for a timeout of up to 255 s.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-f.abort:
			_ = w.conn.SetReadDeadline(time.Now())
		case <-stop:
		}
	}()
	start := time.Now()
	err := w.run()
	ev := Event{Peer: t.peer, File: t.name, Size: t.size, Bytes: w.acked, BlockSize: t.blksize, Duration: time.Since(start)}
	f.s.c.bytes.Add(uint64(w.acked))
	if err != nil {
		var pe *errPeer
		if !errors.As(err, &pe) {
			_, _ = w.conn.WriteToUDP(AppendError(nil, ErrUndefined, err.Error()), w.peer)
		}
	}
	f.report(ev, err, "windowsize", w.window)
}

// run sends the OACK, then windows of blocks, each answered by one ACK of
// the last block the client got in order (RFC 7440 section 4): the next
// window starts after it, so a lost block is sent again with its
// successors.
func (w *windowed) run() error {
	recv := make([]byte, 1024)
	if len(w.oack) > 0 {
		if err := w.oackPhase(appendOACK(nil, w.oack), recv); err != nil {
			return err
		}
	}
	r := &abortReader{r: bufio.NewReaderSize(w.t.file, 64<<10), abort: w.f.abort}
	ring := make([][]byte, w.window)
	for i := range ring {
		ring[i] = make([]byte, tftpHeader+w.blksize)
	}
	lens := make([]int, w.window)
	var (
		base    uint64 = 1 // first block not yet acknowledged
		next    uint64 = 1 // next block to read from the file
		last    uint64     // the final (short) block, once read
		retries int
	)
	slot := func(i uint64) int { return int(i % uint64(w.window)) }
	for {
		for last == 0 && next < base+uint64(w.window) {
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
		for i := base; i < next; i++ {
			if _, err := w.conn.WriteToUDP(ring[slot(i)][:lens[slot(i)]], w.peer); err != nil {
				return err
			}
		}
		acked, err := w.waitACK(recv, base-1, next-1)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				if w.aborted() {
					return errShuttingDown
				}
				if retries++; retries > w.retries {
					return fmt.Errorf("no ACK for block %d after %d tries", base, retries)
				}
				continue
			}
			return err
		}
		for i := base; i <= acked; i++ {
			w.acked += int64(lens[slot(i)] - tftpHeader)
		}
		if acked >= base {
			retries = 0
		}
		base = acked + 1
		if last != 0 && base > last {
			return nil
		}
	}
}

// oackPhase sends the OACK until the client acknowledges it with ACK 0.
func (w *windowed) oackPhase(pkt, recv []byte) error {
	for tries := 0; ; tries++ {
		if _, err := w.conn.WriteToUDP(pkt, w.peer); err != nil {
			return err
		}
		_, err := w.waitACK(recv, 0, 0)
		if err == nil {
			return nil
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return err
		}
		if w.aborted() {
			return errShuttingDown
		}
		if tries >= w.retries {
			return fmt.Errorf("no ACK for the OACK after %d tries", tries+1)
		}
	}
}

// waitACK waits for an ACK of a block in [lo, hi] (block numbers are
// 16-bit on the wire and roll over; lo..hi spans less than 65536) and
// returns which one.
func (w *windowed) waitACK(recv []byte, lo, hi uint64) (uint64, error) {
	if w.aborted() {
		return 0, errShuttingDown
	}
	if err := w.conn.SetReadDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, err
	}
	if w.aborted() { // the wake-up may have come before this deadline
		return 0, errShuttingDown
	}
	for {
		n, addr, err := w.conn.ReadFromUDP(recv)
		if err != nil {
			return 0, err
		}
		if !addr.IP.Equal(w.peer.IP) || addr.Port != w.peer.Port {
			// RFC 1350: a packet from another port gets "unknown TID"
			// and does not disturb the transfer.
			_, _ = w.conn.WriteToUDP(AppendError(nil, ErrUnknownTID, "unknown transfer ID"), addr)
			continue
		}
		if n < 4 {
			continue
		}
		switch Opcode(binary.BigEndian.Uint16(recv)) {
		case OpACK:
			blk := binary.BigEndian.Uint16(recv[2:])
			for i := hi; ; i-- {
				if uint16(i) == blk {
					return i, nil
				}
				if i == lo {
					break
				}
			}
			// A stale ACK from an earlier window: keep waiting.
		case OpERROR:
			msg := recv[4:n]
			if i := indexNUL(msg); i >= 0 {
				msg = msg[:i]
			}
			return 0, &errPeer{code: ErrorCode(binary.BigEndian.Uint16(recv[2:])), msg: string(msg)}
		}
	}
}

// windowOptions builds the OACK of a windowed transfer: the options the
// client asked for, with the values granted.
func windowOptions(req Request, blksize, window int, size int64, timeout int) []Option {
	var opts []Option
	if _, ok := req.BlockSize(); ok {
		opts = append(opts, Option{Name: "blksize", Value: strconv.Itoa(blksize)})
	}
	if _, ok := req.TransferSize(); ok {
		opts = append(opts, Option{Name: "tsize", Value: strconv.FormatInt(size, 10)})
	}
	if timeout > 0 {
		opts = append(opts, Option{Name: "timeout", Value: strconv.Itoa(timeout)})
	}
	return append(opts, Option{Name: "windowsize", Value: strconv.Itoa(window)})
}
