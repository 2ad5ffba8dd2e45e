package impair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Relay forwards Ethernet frames between two interfaces of the current
// network namespace, impairing them as its Config says.
type Relay struct {
	a, b     string
	fa, fb   int // packet sockets bound to a and b
	atob     *path
	btoa     *path
	log      *slog.Logger
	closeOne sync.Once
}

// maxFrame bounds a received frame. Frames are MTU-sized when the links
// feeding the relay segment and checksum in software (see DisableOffloads);
// the slack keeps an oversized one whole, so sending it fails visibly
// instead of forwarding a truncated frame.
const maxFrame = 65536 + 14

// New opens packet sockets on interfaces a and b (in the namespace the
// calling goroutine runs in; callers use pxetest's NetNS.Do or
// internal/netnsrun to open it in a lab namespace).
func New(a, b string, cfg Config, log *slog.Logger) (*Relay, error) {
	if a == b {
		return nil, fmt.Errorf("impair: relay between %s and itself", a)
	}
	for _, f := range []float64{cfg.Loss, cfg.Duplicate, cfg.Reorder} {
		if f < 0 || f > 1 {
			return nil, fmt.Errorf("impair: fraction %v outside 0..1", f)
		}
	}
	if cfg.Delay < 0 || cfg.Jitter < 0 {
		return nil, fmt.Errorf("impair: negative delay %v or jitter %v", cfg.Delay, cfg.Jitter)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fa, err := openPacket(a)
	if err != nil {
		return nil, err
	}
	fb, err := openPacket(b)
	if err != nil {
		unix.Close(fa)
		return nil, err
	}
	r := &Relay{a: a, b: b, fa: fa, fb: fb, log: log}
	r.atob = newPath(cfg, streamAtoB, func(p []byte) error { return unix.Send(fb, p, 0) })
	r.btoa = newPath(cfg, streamBtoA, func(p []byte) error { return unix.Send(fa, p, 0) })
	return r, nil
}

// htons is the network byte order of a protocol number for packet sockets.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacket opens a raw packet socket receiving every frame arriving on
// ifname and none it sends itself.
func openPacket(ifname string) (int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, fmt.Errorf("impair: %w", err)
	}
	// Protocol 0 until bound: a socket opened with ETH_P_ALL would see
	// every interface's frames until bind narrows it to one.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("impair: packet socket on %s: %w", ifname, err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("impair: %s on %s: %w", what, ifname, err)
	}
	// Without this the socket reads back every frame the relay sends out
	// of the same interface and would forward it again, in a loop.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20); err != nil {
		return fail("SO_RCVBUF", err)
	}
	// A timeout lets the reader notice Serve's end without closing the
	// socket under a blocked recvfrom.
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("SO_RCVTIMEO", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	return fd, nil
}

// Serve forwards until ctx ends, then closes the sockets.
func (r *Relay) Serve(ctx context.Context) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, d := range []struct {
		fd       int
		p        *path
		from, to string
	}{{r.fa, r.atob, r.a, r.b}, {r.fb, r.btoa, r.b, r.a}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			d.p.run(done, func(err error) { r.log.Debug("impair: send failed", "to", d.to, "err", err) })
		}()
		go func() {
			defer wg.Done()
			errc <- r.read(done, d.fd, d.p, d.from)
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	close(done)
	wg.Wait()
	r.close()
	return err
}

// read receives frames on fd until done is closed and hands them to p.
func (r *Relay) read(done <-chan struct{}, fd int, p *path, from string) error {
	buf := make([]byte, maxFrame)
	for {
		select {
		case <-done:
			return nil
		default:
		}
		n, sa, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("impair: receiving on %s: %w", from, err)
		}
		// Kernels before 4.20 ignore PACKET_IGNORE_OUTGOING silently.
		if ll, ok := sa.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n < 14 {
			continue
		}
		p.handle(append([]byte(nil), buf[:n]...), time.Now())
	}
}

func (r *Relay) close() {
	r.closeOne.Do(func() {
		unix.Close(r.fa)
		unix.Close(r.fb)
	})
}

// Stats returns the counters so far.
func (r *Relay) Stats() Stats {
	return Stats{AtoB: r.atob.stats.load(), BtoA: r.btoa.stats.load()}
}
