package pxe

import (
	"bufio"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// response is one response read off a raw connection.
type response struct {
	status int
	header http.Header
	body   string
}

func readResponse(t *testing.T, br *bufio.Reader, method string) response {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s body: %v", method, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// netHTTP asks for target over HTTP/1.0, which only net/http answers.
func netHTTP(t *testing.T, addr, method, target string) response {
	t.Helper()
	c, err := net.Dial("tcp4", addr)
	must(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, method+" "+target+" HTTP/1.0\r\nHost: x\r\n\r\n")
	must(t, err)
	return readResponse(t, bufio.NewReader(c), method)
}

// sameResponse fails unless got (the fast path) says what want (net/http)
// does: status, body and every field but Date and Connection.
func sameResponse(t *testing.T, what string, got, want response) {
	t.Helper()
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		h.Del("Date")
		h.Del("Connection")
		return h
	}
	g, w := strip(got.header), strip(want.header)
	if got.status != want.status || got.body != want.body || !maps.EqualFunc(g, w, slices.Equal) {
		t.Errorf("%s: fast path %d %v %q, net/http %d %v %q", what, got.status, g, got.body, want.status, w, want.body)
	}
	if got.header.Get("Date") == "" {
		t.Errorf("%s: no Date", what)
	}
}

// The fast path answers pipelined script and small-asset requests, GET and
// HEAD, with what net/http answers for them; a request for anything else
// hands the connection to net/http, which goes on answering on it; a
// Connection: close request is answered, then the connection closed, and
// what was pipelined behind it is not answered.
func TestHTTP1FastPath(t *testing.T) {
	inv, err := NewStaticInventory(testInventory())
	must(t, err)
	dir := t.TempDir()
	small := strings.Repeat("small asset\n", 100)
	writeAged(t, dir, "answers.txt", []byte(small), time.Hour)
	writeAged(t, dir, "menu.ipxe", []byte("#!ipxe\nshell\n"), time.Hour)
	ls := startLoopServer(t, Config{Subnets: relayedSubnets(), Inventory: inv, Assets: os.DirFS(dir)})
	addr := strings.TrimPrefix(ls.http, "http://")
	script := "/boot.ipxe?mac=" + macB.String() + "&fw=efi"

	c, err := net.Dial("tcp4", addr)
	must(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	reqs := []struct{ method, target string }{
		{"GET", script}, {"HEAD", script}, {"GET", "/assets/answers.txt"}, {"HEAD", "/assets/menu.ipxe"},
		{"GET", "/assets/menu.ipxe"}, {"GET", "/ipxe/undionly.kpxe"},
	}
	var pipelined strings.Builder
	for _, r := range reqs {
		pipelined.WriteString(r.method + " " + r.target + " HTTP/1.1\r\nHost: x\r\nUser-Agent: iPXE/1.21\r\n\r\n")
	}
	_, err = io.WriteString(c, pipelined.String())
	must(t, err)
	br := bufio.NewReader(c)
	var got []response
	for _, r := range reqs {
		got = append(got, readResponse(t, br, r.method))
	}
	if n := ls.srv.httpConns.fast.Load(); n != uint64(len(reqs)) {
		t.Errorf("the fast path answered %d of %d requests", n, len(reqs))
	}
	for i, r := range reqs {
		sameResponse(t, r.method+" "+r.target, got[i], netHTTP(t, addr, r.method, r.target))
	}
	if !strings.Contains(got[0].body, "#!ipxe") || got[0].header.Get("Content-Length") == "" || got[2].body != small {
		t.Errorf("script %q, asset %d bytes", got[0].body, len(got[2].body))
	}

	// Another path: net/http takes the connection over, bytes read and
	// all, and answers the script on it too.
	fastBefore := ls.srv.httpConns.fast.Load()
	_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET "+script+" HTTP/1.1\r\nHost: x\r\n\r\n")
	must(t, err)
	if r := readResponse(t, br, "GET"); r.status != 200 || r.body != "ok\n" {
		t.Errorf("/healthz after the handoff: %d %q", r.status, r.body)
	}
	sameResponse(t, "script after the handoff", readResponse(t, br, "GET"), got[0])
	if n := ls.srv.httpConns.fast.Load(); n != fastBefore {
		t.Errorf("the fast path answered %d requests after the handoff", n-fastBefore)
	}

	// A conditional or ranged asset request, a script for an unknown MAC,
	// a bad MAC: net/http's answers.
	for _, tc := range []struct {
		head   string
		status int
	}{
		{"GET /assets/answers.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n", http.StatusPartialContent},
		{"GET /boot.ipxe?mac=zz HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest},
		{"GET /assets/nothere HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusNotFound},
		{"GET /boot.ipxe?mac=52:54:00:00:00:01 HTTP/1.1\r\n\r\n", http.StatusBadRequest}, // no Host
	} {
		c, err := net.Dial("tcp4", addr)
		must(t, err)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.WriteString(c, tc.head)
		must(t, err)
		r := readResponse(t, bufio.NewReader(c), "GET")
		c.Close()
		if r.status != tc.status {
			t.Errorf("%q: %d, want %d", tc.head, r.status, tc.status)
		}
	}

	// Connection: close: the answer, then the server's close; a request
	// pipelined behind it is not answered, and the close is not a reset.
	for _, after := range []string{"", "GET " + script + " HTTP/1.1\r\nHost: x\r\n\r\n"} {
		c2, err := net.Dial("tcp4", addr)
		must(t, err)
		_ = c2.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.WriteString(c2, "GET "+script+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"+after)
		must(t, err)
		all, err := io.ReadAll(c2) // to EOF: the server must close
		c2.Close()
		must(t, err)
		head, body, _ := strings.Cut(string(all), "\r\n\r\n")
		if !strings.HasSuffix(head, "\r\nConnection: close") || body != got[0].body {
			t.Errorf("Connection: close, then %q: %q %q", after, head, body)
		}
	}
	// Only the request without Host never reached a handler (net/http
	// answered it 400), as before the fast path.
	if st := ls.srv.HTTPConns(); st.ClosedBeforeRequest != 1 {
		t.Errorf("%+v: want 1 connection closed before a request", st)
	}
}

// A head that arrives a few bytes at a time is answered once complete; one
// that never completes is closed by the header timeout (see TestHTTPAbuse
// for net/http's side).
func TestHTTP1SplitHead(t *testing.T) {
	inv, err := NewStaticInventory(testInventory())
	must(t, err)
	ls := startLoopServer(t, Config{Subnets: relayedSubnets(), Inventory: inv})
	c, err := net.Dial("tcp4", strings.TrimPrefix(ls.http, "http://"))
	must(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /boot.ipxe?mac=" + macB.String() + " HTTP/1.1\r\nHost: x\r\n\r\n"
	for i := 0; i < len(req); i += 7 {
		_, err := io.WriteString(c, req[i:min(i+7, len(req))])
		must(t, err)
		time.Sleep(2 * time.Millisecond)
	}
	r := readResponse(t, bufio.NewReader(c), "GET")
	if r.status != 200 || !strings.Contains(r.body, "mode=join") {
		t.Errorf("split head: %d %q", r.status, r.body)
	}
	if n := ls.srv.httpConns.fast.Load(); n != 1 {
		t.Errorf("the fast path answered %d requests, want 1", n)
	}
}
