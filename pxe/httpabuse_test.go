package pxe

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPAbuse: a request line of 1 MB is answered 431 and its
// connection closed; slowloris connections that never finish their
// headers are closed by the header timeout; both are counted, and a
// well-behaved client is answered meanwhile.
func TestHTTPAbuse(t *testing.T) {
	inv, err := NewStaticInventory(testInventory())
	must(t, err)
	ls := startLoopServer(t, Config{Subnets: relayedSubnets(), Inventory: inv})
	addr := strings.TrimPrefix(ls.http, "http://")

	// Slowloris: 20 connections that send half a request line and then
	// one byte every second.
	const slow = 20
	var slowConns []net.Conn
	for range slow {
		c, err := net.Dial("tcp4", addr)
		must(t, err)
		defer c.Close()
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "))
		slowConns = append(slowConns, c)
	}
	stopDrip := make(chan struct{})
	defer close(stopDrip)
	go func() {
		for {
			select {
			case <-stopDrip:
				return
			case <-time.After(time.Second):
				for _, c := range slowConns {
					c.Write([]byte("a"))
				}
			}
		}
	}()

	// The 1 MB request line.
	c, err := net.Dial("tcp4", addr)
	must(t, err)
	defer c.Close()
	go c.Write([]byte("GET /" + strings.Repeat("a", 1<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("1 MB request line: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("1 MB request line: %d, want 431", resp.StatusCode)
	}

	if code, body := get(t, ls.http+PathHealthz); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("well-behaved GET during the attack: %d %q", code, body)
	}

	// The header timeout (10 s) closes every slow connection.
	for i, c := range slowConns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		b := make([]byte, 512)
		for {
			_, err := c.Read(b)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("slow connection %d still open after 30 s", i)
				}
				break
			}
		}
	}
	waitFor(t, func() bool { return ls.srv.HTTPConns().ClosedBeforeRequest >= slow+1 })
	st := ls.srv.HTTPConns()
	t.Logf("HTTP: %d connections, %d closed before a request", st.Connections, st.ClosedBeforeRequest)
	if st.ClosedBeforeRequest > st.Connections-1 {
		t.Errorf("the well-behaved request was counted as refused: %+v", st)
	}
}

// waitFor polls cond for up to a minute (a hang guard, not a timing check).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("condition never held")
		}
	}
}

// TestHTTPConnsPerClient: one address holds at most HTTPMaxConnsPerClient
// connections, whether the fast path or net/http serves them; the next
// is closed at once and counted, another address is still served, and a
// closed connection gives its place back.
func TestHTTPConnsPerClient(t *testing.T) {
	inv, err := NewStaticInventory(testInventory())
	must(t, err)
	ls := startLoopServer(t, Config{Subnets: relayedSubnets(), Inventory: inv, HTTPMaxConnsPerClient: 3})
	addr := strings.TrimPrefix(ls.http, "http://")
	dial := func(ip string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp4", addr)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	dialFrom := func(ip string) net.Conn {
		t.Helper()
		c, err := dial(ip)
		must(t, err)
		return c
	}
	// The server's reset may come before connect(2) returns on loopback.
	closedAtOnce := func(ip string) bool {
		t.Helper()
		c, err := dial(ip)
		if err != nil {
			return strings.Contains(err.Error(), "reset")
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // hang guard
		_, err = c.Read(make([]byte, 1))
		return err != nil && !strings.Contains(err.Error(), "timeout")
	}
	// Two idle on the fast path, one kept alive by net/http after a
	// request the fast path left to it (a method it does not answer).
	_, _, a3 := dialFrom("127.0.0.2"), dialFrom("127.0.0.2"), dialFrom("127.0.0.2")
	a3.Write([]byte("OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n"))
	a3.SetReadDeadline(time.Now().Add(30 * time.Second))
	r3, err := http.ReadResponse(bufio.NewReader(a3), nil)
	if err != nil || r3.Close {
		t.Fatalf("OPTIONS, kept alive: %+v %v", r3, err)
	}
	r3.Body.Close()
	waitFor(t, func() bool { return ls.srv.HTTPConns().Connections == 3 })
	if !closedAtOnce("127.0.0.2") {
		t.Fatal("a fourth connection from one address stayed open")
	}
	if st := ls.srv.HTTPConns(); st.OverClientLimit != 1 {
		t.Errorf("counters %+v, want 1 over the client limit", st)
	}
	// Another address is served meanwhile.
	b := dialFrom("127.0.0.3")
	b.Write([]byte("GET " + PathHealthz + " HTTP/1.1\r\nHost: x\r\n\r\n"))
	b.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(b), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("another address during the limit: %v %v", resp, err)
	}
	resp.Body.Close()
	// Closing the net/http one gives its place back.
	a3.Close()
	waitFor(t, func() bool {
		c, err := dial("127.0.0.2")
		if err != nil {
			return false
		}
		c.Write([]byte("GET " + PathHealthz + " HTTP/1.1\r\nHost: x\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}
