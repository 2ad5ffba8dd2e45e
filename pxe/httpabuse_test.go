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
