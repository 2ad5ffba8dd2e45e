package tftp

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// BenchmarkPeers fetches the same files with the same client (atftp) from
// pxekit (lock-step, and RFC 7440 windowsize 64) and from tftpd-hpa
// (in.tftpd, started here on loopback), so MB/s compare within one run.
// tftpd-hpa does not negotiate windowsize.
//
//	go test -run '^$' -bench Peers ./tftp
func BenchmarkPeers(b *testing.B) {
	pxetest.RequireRoot(b) // in.tftpd chroots into its directory
	atftpPath := pxetest.RequireCmd(b, "atftp", "atftp")
	tftpd := pxetest.RequireCmd(b, "in.tftpd", "tftpd-hpa")
	dir, files := testRoot(b, 1<<20, 32<<20)

	// pxekit on an ephemeral port.
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Conn: conn, Root: os.DirFS(dir), MaxWindowSize: 64})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	pxekitPort := conn.LocalAddr().(*net.UDPAddr).Port

	// tftpd-hpa in the foreground on a port that was just free.
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hpaPort := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	// In its own process group, killed with the transfer children it
	// forks when the benchmark ends.
	pxetest.Start(b, nil, exec.Command(tftpd, "-L", "-a", "127.0.0.1:"+strconv.Itoa(hpaPort), "-s", dir, "-u", "root"))

	out := filepath.Join(b.TempDir(), "got")
	fetch := func(b *testing.B, port int, name string, opts ...string) {
		args := []string{"--get", "-r", name, "-l", out}
		for _, o := range opts {
			args = append(args, "--option", o)
		}
		args = append(args, "127.0.0.1", strconv.Itoa(port))
		if msg, err := exec.Command(atftpPath, args...).CombinedOutput(); err != nil {
			b.Fatalf("atftp %v: %v: %s", args, err, msg)
		}
	}
	// Wait until in.tftpd answers (a hang guard, not a timing check).
	for i := 0; ; i++ {
		if exec.Command(atftpPath, "--get", "-r", "1m", "-l", out, "127.0.0.1", strconv.Itoa(hpaPort)).Run() == nil {
			break
		}
		if i > 100 {
			b.Fatal("in.tftpd does not answer")
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, name := range []string{"1m", "32m"} {
		for _, bs := range []int{512, 1468} {
			for _, peer := range []struct {
				name string
				port int
				opts []string
			}{
				{"tftpd-hpa", hpaPort, nil},
				{"pxekit", pxekitPort, nil},
				{"pxekit-windowsize64", pxekitPort, []string{"windowsize 64"}},
			} {
				b.Run(name+"/blksize"+strconv.Itoa(bs)+"/"+peer.name, func(b *testing.B) {
					opts := append([]string{"blksize " + strconv.Itoa(bs)}, peer.opts...)
					b.SetBytes(int64(len(files[name])))
					for b.Loop() {
						fetch(b, peer.port, name, opts...)
					}
					b.StopTimer()
					if got, _ := os.ReadFile(out); !bytes.Equal(got, files[name]) {
						b.Fatalf("%s sent %d bytes, want %d identical ones", peer.name, len(got), len(files[name]))
					}
				})
			}
		}
	}
}
