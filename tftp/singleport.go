package tftp

// Single-port mode: transfers share the listening socket and run on
// github.com/pin/tftp/v3, which the front end feeds only requests that
// passed its checks.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	pin "github.com/pin/tftp/v3"
)

// servePin serves in single-port mode, through pin/tftp.
func (f *front) servePin(ctx context.Context) error {
	defer func() { f.stopGrace() }()
	s := f.s
	ps := pin.NewServer(f.handleRead, nil)
	ps.SetHook(pinHook{f})
	ps.SetTimeout(s.cfg.Timeout)
	ps.SetRetries(s.cfg.Retries)
	// pin/tftp sleeps before each retransmission (up to a second at
	// random by default) and then waits the timeout: sleep what makes the
	// spacing the same backoff as a per-transfer socket's.
	timeout := s.cfg.Timeout
	ps.SetBackoff(func(attempt int) time.Duration { return resendWait(timeout, attempt) - timeout })
	// The front end clamps blksize to the link MTU itself (pin/tftp's own
	// clamp forgets the 4-byte DATA header and swaps the IPv4/IPv6
	// overheads in single-port mode).
	ps.SetBlockSizeNegotiation(false)
	ps.EnableSinglePort()
	// Single-port mode reads every packet into a buffer of this size, so
	// keep it no larger than what may be negotiated.
	ps.SetBlockSize(f.maxBlock())
	errc := make(chan error, 1)
	go func() { errc <- ps.Serve(f) }()

	select {
	case err := <-errc:
		f.closeConn()
		return err
	case <-f.dead:
		// Close first: in single-port mode pin/tftp's Shutdown does not,
		// and its loop waits in ReadFrom for the close.
		f.closeConn()
		ps.Shutdown()
		<-errc
		return f.deadErr
	case <-ctx.Done():
	}

	f.drain()
	f.graceTimer()
	ps.Shutdown()
	<-errc
	f.closeConn()
	return nil
}

// pinHook receives pin/tftp's failure reports. Transfer outcomes are taken
// from the read handler instead; what matters here is a request pin/tftp
// could not start (zero stats), so its slot is released.
type pinHook struct{ f *front }

// OnSuccess ignores pin/tftp's success report: handleRead emits the event.
func (h pinHook) OnSuccess(pin.TransferStats) {}

// OnFailure releases a request pin/tftp could not start.
func (h pinHook) OnFailure(st pin.TransferStats, err error) {
	if st.Filename == "" {
		h.f.handoverFailed(err)
	}
}

// ReadFrom is what pin/tftp's loop reads in single-port mode: admitted
// requests (rewritten) and the ACKs of running transfers.
func (f *front) ReadFrom(p []byte) (int, net.Addr, error) {
	f.mu.Lock()
	f.handed = nil
	f.mu.Unlock()
	for {
		n, src, ifIndex, dst, err := f.read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return 0, nil, err // pin/tftp's single-port shutdown relies on it
			}
			select {
			case <-f.closed:
				return 0, nil, err
			default:
			}
			// The socket broke under us: let servePin stop pin/tftp, and
			// do not let its loop spin on the error meanwhile.
			f.deadOnce.Do(func() { f.deadErr = err; close(f.dead) })
			<-f.closed
			return 0, nil, err
		}
		if src == nil || n < 2 {
			f.s.c.drop(DropStray)
			continue
		}
		op := Opcode(binary.BigEndian.Uint16(f.buf))
		if op != OpRRQ && op != OpWRQ {
			return copy(p, f.buf[:n]), src, nil
		}
		if f.overRefusals(src, time.Now()) {
			continue
		}
		if pkt, ok := f.admit(f.buf[:n], src, dst, ifIndex, len(p)); ok {
			return copy(p, pkt), src, nil
		}
	}
}

// handoverFailed runs when pin/tftp could not start the request just
// handed to it (it reports that with empty stats, before reading again).
func (f *front) handoverFailed(err error) {
	f.mu.Lock()
	t := f.handed
	f.handed = nil
	if t == nil || t.started {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.finish(t)
	f.s.c.failed.Add(1)
	f.s.log.Error("tftp transfer could not start", "peer", t.peer, "file", t.name, "err", err)
	f.emit(Event{Kind: EventFailed, Peer: t.peer, File: t.name, Size: t.size, BlockSize: t.blksize, Err: err})
}

// handleRead is pin/tftp's read handler: it sends the file the front end
// opened for this peer.
func (f *front) handleRead(filename string, rf io.ReaderFrom) error {
	ot, ok := rf.(pin.OutgoingTransfer)
	if !ok {
		return errors.New("pin/tftp transfer without a remote address")
	}
	ra := ot.RemoteAddr()
	f.mu.Lock()
	t := f.active[ra.String()]
	if t != nil {
		t.started = true
	}
	f.mu.Unlock()
	if t == nil || t.name != filename {
		return fmt.Errorf("no admitted request for %s from %s", filename, ra.String())
	}
	defer f.finish(t)
	ot.SetSize(t.size)
	start := time.Now()
	// Buffer file reads: one read(2) per 64 KB instead of one per block.
	r := bufio.NewReaderSize(t.file, 64<<10)
	n, err := rf.ReadFrom(&abortReader{r: r, abort: f.abort})
	ev := Event{Peer: t.peer, File: t.name, Size: t.size, Bytes: n, BlockSize: t.blksize, Duration: time.Since(start)}
	f.s.c.bytes.Add(uint64(n))
	// In netascii, n counts the bytes on the wire (CR LF for LF).
	if err == nil && t.mode == "octet" && n != t.size {
		err = fmt.Errorf("sent %d of %d bytes: the file changed", n, t.size)
	}
	f.report(ev, err)
	// pin/tftp already sent the ERROR packet for a failed transfer;
	// returning nil keeps it from reporting the failure twice.
	return nil
}

// The rest makes front a net.PacketConn for pin/tftp.

// WriteTo sends on the listening socket (single-port mode's transfers).
func (f *front) WriteTo(p []byte, addr net.Addr) (int, error) { return f.conn.WriteTo(p, addr) }

// Close is called by pin/tftp's Shutdown.
func (f *front) Close() error { f.closeConn(); return nil }

// LocalAddr is the listening address.
func (f *front) LocalAddr() net.Addr { return f.conn.LocalAddr() }

// SetDeadline passes through to the socket.
func (f *front) SetDeadline(t time.Time) error { return f.conn.SetDeadline(t) }

// SetReadDeadline passes through to the socket.
func (f *front) SetReadDeadline(t time.Time) error { return f.conn.SetReadDeadline(t) }

// SetWriteDeadline passes through to the socket.
func (f *front) SetWriteDeadline(t time.Time) error { return f.conn.SetWriteDeadline(t) }

// abortReader ends a transfer once the shutdown grace period is over.
type abortReader struct {
	r     io.Reader
	abort <-chan struct{}
}

// Read fails once the grace period is over, else reads on.
func (a *abortReader) Read(p []byte) (int, error) {
	select {
	case <-a.abort:
		return 0, errShuttingDown
	default:
	}
	return a.r.Read(p)
}

// handOver rewrites an admitted request for pin/tftp with the options it
// should honour, and keeps the transfer for handleRead.
func (f *front) handOver(req Request, t *transfer, src *net.UDPAddr, ifIndex, room int) ([]byte, bool) {
	t.blksize = DefaultBlockSize
	var opts []Option
	if want, ok := req.BlockSize(); ok {
		n := min(want, f.linkLimit(ifIndex, src))
		// pin/tftp cannot send blocks under 512 bytes; leaving the option
		// out makes both sides use 512, which RFC 2347 allows.
		if n >= DefaultBlockSize {
			t.blksize = n
			opts = append(opts, Option{Name: "blksize", Value: strconv.Itoa(n)})
		}
	}
	if _, ok := req.TransferSize(); ok {
		opts = append(opts, Option{Name: "tsize", Value: "0"}) // the handler sets the size
	}
	out, err := Request{Op: OpRRQ, Filename: t.name, Mode: req.Mode, Options: opts}.AppendBinary(f.out[:0])
	if err == nil && len(out) > room {
		err = fmt.Errorf("request of %d bytes does not fit pin/tftp's %d-byte buffer", len(out), room)
	}
	if err != nil {
		t.file.Close()
		f.release()
		f.refuse(src, t.peer, t.name, ErrIllegalOperation, DropMalformed, err)
		return nil, false
	}
	f.out = out
	f.mu.Lock()
	f.active[t.key] = t
	f.handed = t
	f.mu.Unlock()
	return out, true
}
