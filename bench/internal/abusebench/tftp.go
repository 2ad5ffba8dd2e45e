package abusebench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/tftp"
)

// tftpFile is what the well-behaved client downloads: a 64 KiB file, 45
// blocks of 1468 bytes (the blksize iPXE asks for on Ethernet).
const (
	tftpFile    = "boot.bin"
	tftpSize    = 64 << 10
	tftpBlksize = 1468
	// tftpPaced is the paced client's downloads a second.
	tftpPaced = 20
)

func tftpRows(ctx context.Context, o Options) ([]report.Row, error) {
	dir, err := os.MkdirTemp("", "pxekit-abuse-tftp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	want := make([]byte, tftpSize)
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, tftpFile), want, 0o644); err != nil {
		return nil, err
	}
	var rows []report.Row
	for _, rate := range []float64{tftpPaced, 0} {
		f, counts, err := tftpCase(ctx, o, dir, rate)
		if err != nil {
			return rows, fmt.Errorf("tftp: %w", err)
		}
		r := row("Abuse", "TFTP downloads/s during RRQs for 65,535 distinct files", "downloads/s", f,
			"64 KiB file, blksize 1468; the attacker asks for flood/00000.bin … flood/65534.bin in turn, none of which exist; "+counts)
		rows = append(rows, paced(r, rate, "client starts"))
	}
	return rows, nil
}

func tftpCase(ctx context.Context, o Options, dir string, rate float64) (figures, string, error) {
	root, r, err := tftp.Dir(dir)
	if err != nil {
		return figures{}, "", err
	}
	defer r.Close()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return figures{}, "", err
	}
	srv, err := tftp.New(tftp.Config{Root: root, Conn: conn, Timeout: 250 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		conn.Close()
		return figures{}, "", err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	defer func() { stop(); <-done }()
	server := conn.LocalAddr()
	good := func(ctx context.Context, n *atomic.Uint64) {
		start := time.Now()
		for k := 0; ctx.Err() == nil; k++ {
			if rate > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(start.Add(time.Duration(float64(k) / rate * float64(time.Second))))):
				}
			}
			if got, err := tftpGet(ctx, server, tftpFile); err == nil && got == tftpSize {
				n.Add(1)
			}
		}
	}
	i := 0
	bad := flooder("127.0.0.5:0", server, func(_ int, b []byte) []byte {
		b = append(b, 0, 1)
		b = append(b, "flood/"...)
		b = append(b, fmt.Sprintf("%05d", i%65535)...)
		b = append(b, ".bin\x00octet\x00"...)
		i++
		return b
	})
	f, err := measure(ctx, o, good, bad)
	st := srv.Stats()
	counts := fmt.Sprintf("dropped: %d requests read, %d not found, %d over the refusal budget (default, 20/s a client address), %d busy, %d sent",
		st.Requests, st.Dropped[tftp.DropNotFound], st.Dropped[tftp.DropRefusalRate], st.Dropped[tftp.DropBusy], st.Sent)
	return f, counts, err
}

// tftpGet downloads name (RFC 1350 with the blksize option, RFC 2348) and
// returns its size; 250 ms before a retransmission, three tries.
func tftpGet(ctx context.Context, server net.Addr, name string) (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	rrq := append([]byte{0, 1}, name...)
	rrq = append(rrq, "\x00octet\x00blksize\x00"...)
	rrq = append(append(rrq, strconv.Itoa(tftpBlksize)...), 0)
	last, to := rrq, server
	buf := make([]byte, tftpBlksize+4)
	size, block, tries := 0, uint16(0), 0
	for ctx.Err() == nil {
		if _, err := c.WriteTo(last, to); err != nil {
			return size, err
		}
		c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if tries++; tries == 3 {
				return size, err
			}
			continue
		}
		if n < 4 {
			continue
		}
		to = from
		switch binary.BigEndian.Uint16(buf) {
		case 6: // OACK: acknowledge block 0
			last = []byte{0, 4, 0, 0}
		case 3: // DATA
			b := binary.BigEndian.Uint16(buf[2:])
			if b == block+1 {
				block = b
				size += n - 4
				tries = 0
			}
			last = []byte{0, 4, byte(b >> 8), byte(b)}
			if b == block && n-4 < tftpBlksize {
				c.WriteTo(last, to)
				return size, nil
			}
		case 5:
			return size, fmt.Errorf("tftp error %q", buf[4:n])
		}
	}
	return size, errors.New("cancelled")
}
