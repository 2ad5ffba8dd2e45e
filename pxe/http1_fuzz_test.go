package pxe

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// FuzzParseHTTP1: the fast path's parser never panics, never reads past
// its bound, and accepts only heads net/http parses the same way (method,
// path, query, Connection: close), so no request means one thing to one
// path and another to the other.
func FuzzParseHTTP1(f *testing.F) {
	for _, s := range []string{
		"GET /boot.ipxe?mac=52:54:00:00:00:01&fw=efi HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /assets/vmlinuz HTTP/1.1\r\nHost: 192.0.2.1\r\nConnection: close\r\nRange: bytes=0-1\r\n\r\n",
		"GET /ipxe/undionly.kpxe HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\nGET / HTTP/1.1\r\n",
		"GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
		"GET /boot.ipxe HTTP/1.1\nHost: x\n\n",
		"POST /boot.ipxe HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, n, v := parseHTTP1(b)
		if v != http1OK {
			return
		}
		if n <= 0 || n > len(b) || n > maxHeaderBytes {
			t.Fatalf("head length %d of %d bytes", n, len(b))
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("accepted %q, net/http: %v", b[:n], err)
		}
		method := "GET"
		if req.head {
			method = "HEAD"
		}
		if r.Method != method || r.URL.Path != req.path || r.URL.RawQuery != req.rawQuery || r.Close != req.close || r.ContentLength != 0 {
			t.Fatalf("%q: parsed %+v, net/http %s %q %q close=%v length %d", b[:n], req, r.Method, r.URL.Path, r.URL.RawQuery, r.Close, r.ContentLength)
		}
	})
}
