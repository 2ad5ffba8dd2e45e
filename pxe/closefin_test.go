package pxe

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A Connection: close request still gets its whole response, with a
// length or without one (chunked, whose end comes after the handler),
// and the server ends the connection.
func TestFinWithResponse(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("kernel line\n", 400)
	srv := &http.Server{ConnContext: connContext, Handler: finWithResponse(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sized" {
			w.Header().Set("Content-Length", "4800")
		}
		_, _ = io.WriteString(w, body)
	}))}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for _, path := range []string{"/sized", "/chunked"} {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := io.ReadAll(c) // to EOF: the server must close
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		head, got, _ := strings.Cut(string(resp), "\r\n\r\n")
		if path == "/chunked" {
			if !strings.Contains(head, "Transfer-Encoding: chunked") || !strings.HasSuffix(got, "\r\n0\r\n\r\n") {
				t.Fatalf("%s: %q … %q", path, head, got[max(0, len(got)-20):])
			}
			continue
		}
		if got != body {
			t.Fatalf("%s: %q, %d body bytes, want %d", path, head, len(got), len(body))
		}
	}
}
