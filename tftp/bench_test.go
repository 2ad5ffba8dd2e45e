package tftp

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	pin "github.com/pin/tftp/v3"
)

// BenchmarkSend measures block send throughput on loopback: a pin/tftp
// client (an independent implementation of the client side) fetches 1 MB
// and 32 MB files at blksize 512 and 1468, lock-step as RFC 1350 requires,
// from pxekit's own sender (socketPerTransfer) and from pin/tftp's server
// (singlePort).
func BenchmarkSend(b *testing.B) {
	dir, files := testRoot(b, 1<<20, 32<<20)
	for _, single := range []bool{false, true} {
		mode := "socketPerTransfer"
		if single {
			mode = "singlePort"
		}
		b.Run(mode, func(b *testing.B) {
			conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv, err := New(Config{Conn: conn, Root: os.DirFS(dir), SinglePort: single})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx) }()
			defer func() { cancel(); <-done }()
			for _, name := range []string{"1m", "32m"} {
				for _, bs := range []int{512, 1468} {
					b.Run(name+"/blksize"+strconv.Itoa(bs), func(b *testing.B) {
						c, err := pin.NewClient(conn.LocalAddr().String())
						if err != nil {
							b.Fatal(err)
						}
						c.SetBlockSize(bs)
						want := files[name]
						var buf bytes.Buffer
						b.SetBytes(int64(len(want)))
						b.ResetTimer()
						for b.Loop() {
							buf.Reset()
							wt, err := c.Receive(name, "octet")
							if err != nil {
								b.Fatal(err)
							}
							if _, err := wt.WriteTo(&buf); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						if !bytes.Equal(buf.Bytes(), want) {
							b.Fatalf("got %d bytes, want %d identical ones", buf.Len(), len(want))
						}
					})
				}
			}
		})
	}
}

// BenchmarkBlockSend is the lock-step send hot path on its own: a raw
// client on loopback (a few lines, no allocation) fetches a 1 MB file,
// acknowledging each DATA as it comes, so the server's cost per block
// dominates. ns/block is the round trip per block; allocs/op counts the
// whole transfer (server and client), not one block.
func BenchmarkBlockSend(b *testing.B) {
	dir, files := testRoot(b, 1<<20)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Conn: conn, Root: os.DirFS(dir)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	srvAddr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, bs := range []int{512, 1468} {
		b.Run("1m/blksize"+strconv.Itoa(bs), func(b *testing.B) {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := rrq("1m", "octet", "blksize", strconv.Itoa(bs))
			buf := make([]byte, 65536)
			ack := []byte{0, byte(OpACK), 0, 0}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Minute)) // hang guard
			size := len(files["1m"])
			blocks := 0
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				// The same client port asks again: wait until the last
				// transfer is closed, or the request counts as a duplicate.
				for srv.Stats().Active != 0 {
					runtime.Gosched()
				}
				if _, err := c.WriteToUDPAddrPort(req, srvAddr); err != nil {
					b.Fatal(err)
				}
				got := 0
				for {
					n, from, err := c.ReadFromUDPAddrPort(buf)
					if err != nil {
						b.Fatal(err)
					}
					op := Opcode(binary.BigEndian.Uint16(buf))
					if op == OpDATA {
						got += n - tftpHeader
						blocks++
						copy(ack[2:], buf[2:4])
					} else if op == OpOACK {
						ack[2], ack[3] = 0, 0
					} else {
						b.Fatalf("got %x", buf[:n])
					}
					if _, err := c.WriteToUDPAddrPort(ack, from); err != nil {
						b.Fatal(err)
					}
					if op == OpDATA && n-tftpHeader < bs {
						break
					}
				}
				if got != size {
					b.Fatalf("got %d bytes, want %d", got, size)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(blocks), "ns/block")
		})
	}
}

func BenchmarkParseRequest(b *testing.B) {
	pkt := rrq("/boot/x86_64/ipxe.efi", "octet", "blksize", "1468", "tsize", "0", "windowsize", "16")
	b.ReportAllocs()
	for b.Loop() {
		r, err := ParseRequest(pkt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := CleanPath(r.Filename); err != nil {
			b.Fatal(err)
		}
	}
}

var _ io.WriterTo = (*bytes.Buffer)(nil)
