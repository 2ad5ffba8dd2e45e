package tftp

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"testing"

	pin "github.com/pin/tftp/v3"
)

// BenchmarkSend measures block send throughput on loopback: a pin/tftp
// client (an independent implementation of the client side) fetches 1 MB
// and 32 MB files at blksize 512 and 1468, lock-step as RFC 1350 requires.
func BenchmarkSend(b *testing.B) {
	dir, files := testRoot(b, 1<<20, 32<<20)
	for _, single := range []bool{false, true} {
		mode := "socketPerTransfer"
		if single {
			mode = "singlePort"
		}
		b.Run(mode, func(b *testing.B) {
			srv, err := New(Config{Root: os.DirFS(dir), SinglePort: single})
			if err != nil {
				b.Fatal(err)
			}
			conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.ServeConn(ctx, conn) }()
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
