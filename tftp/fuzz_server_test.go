package tftp

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"testing/fstest"
	"time"
)

// FuzzServerDatagram sends arbitrary datagrams to a running server on
// loopback, then checks it still answers a request: bad input is refused
// or dropped, never fatal.
func FuzzServerDatagram(f *testing.F) {
	f.Add(rrq("f", "octet"))
	f.Add(rrq("f", "octet", "blksize", "65464", "tsize", "0", "windowsize", "65535", "timeout", "1"))
	f.Add(rrq("../f", "netascii"))
	f.Add([]byte{0, 2, 'f', 0, 'o', 'c', 't', 'e', 't', 0})
	f.Add([]byte{0, 4, 0, 1})
	f.Add([]byte{0, 5, 0, 0, 0})
	f.Add([]byte{0xff})

	root := fstest.MapFS{"f": {Data: make([]byte, 3000)}}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Config{Conn: conn, Root: root, Timeout: 20 * time.Millisecond, Retries: 1, MaxTransfers: 1 << 20, MaxWindowSize: 8,
		ShutdownGrace: 10 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	f.Cleanup(func() { cancel(); <-done })
	addr := conn.LocalAddr()
	probe := rrq("probe-missing", "octet")
	// One junk sender and one prober for the whole run: fresh sockets
	// would reuse ports of earlier junk whose transfers are still retrying.
	junk, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { junk.Close(); c.Close() })

	f.Fuzz(func(t *testing.T, pkt []byte) {
		_, _ = junk.WriteTo(pkt, addr)
		if _, err := c.WriteTo(probe, addr); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1024)
		_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // hang guard
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("server stopped answering after %q: %v", pkt, err)
		}
		if n < 4 || Opcode(binary.BigEndian.Uint16(buf)) != OpERROR || ErrorCode(binary.BigEndian.Uint16(buf[2:])) != ErrFileNotFound {
			t.Fatalf("after %q the probe got %x, want ERROR 1", pkt, buf[:n])
		}
	})
}
