package pxe

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func corked(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v, gerr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// probe is a body that records, on each read, whether the server's socket
// is corked at that moment.
type probe struct {
	t      *testing.T
	conn   syscall.Conn
	r      io.Reader
	states []int
}

func (p *probe) Read(b []byte) (int, error) {
	p.states = append(p.states, corked(p.t, p.conn))
	return p.r.Read(b)
}

// A large body leaves corked (header and first bytes share full segments,
// as with nginx's tcp_nopush), the socket is uncorked as soon as the body
// is written (or a keep-alive connection would hold its last partial
// segment), and a small body is never corked. The client checks every byte
// on one keep-alive connection.
func TestLargeBodySentCorked(t *testing.T) {
	big := bytes.Repeat([]byte("pxekit-"), (corkMin+4096)/7)
	small := []byte("#!ipxe\nboot\n")
	var (
		mu     sync.Mutex
		states = map[string][]int{}
		after  = map[string]int{}
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn := r.Context().Value(connKey{}).(syscall.Conn)
		body := big
		if r.URL.Path == "/small" {
			body = small
		}
		p := &probe{t: t, conn: conn, r: bytes.NewReader(body)}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK, conn: conn}
		if n, err := cw.ReadFrom(&io.LimitedReader{R: p, N: int64(len(body))}); err != nil || n != int64(len(body)) {
			t.Errorf("ReadFrom: %d, %v", n, err)
		}
		mu.Lock()
		states[r.URL.Path] = p.states
		after[r.URL.Path] = corked(t, conn)
		mu.Unlock()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ConnContext: connContext}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	for _, c := range []struct {
		path string
		want []byte
	}{{"/big", big}, {"/small", small}, {"/big", big}} {
		resp, err := client.Get("http://" + ln.Addr().String() + c.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, c.want) {
			t.Fatalf("%s: %d bytes, err %v; want %d identical bytes", c.path, len(got), err, len(c.want))
		}
		mu.Lock()
		st, af := states[c.path], after[c.path]
		mu.Unlock()
		want := 0
		if c.path == "/big" {
			want = 1
		}
		for i, v := range st {
			if v != want {
				t.Errorf("%s: read %d saw TCP_CORK=%d, want %d", c.path, i, v, want)
				break
			}
		}
		if len(st) == 0 || af != 0 {
			t.Errorf("%s: %d reads, TCP_CORK=%d after the body, want reads and 0", c.path, len(st), af)
		}
	}
}
