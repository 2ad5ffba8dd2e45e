package dhcp

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// serveLoopback runs a server on a loopback socket, on its own lease clock
// (Config.Clock, the host's by default), until stop or the end of the
// test. It returns the server's address for relay clients.
func serveLoopback(t *testing.T, mutate func(*Config)) (s *Server, addr net.Addr, stop func()) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s = newTestServer(t, func(c *Config) {
		if mutate != nil {
			mutate(c)
		}
		c.Conn = conn
	})
	s.now = s.lclock.now // newTestServer pins the time; these tests run on the server's clock
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	<-s.Ready()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return s, conn.LocalAddr(), stop
}
