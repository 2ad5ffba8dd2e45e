package dhcp

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The serving loop on an injected loopback socket (no root): a relayed DORA
// completes, counters move, and cancelling the context stops Serve, which
// closes the socket it was handed (as http.Server.Serve closes its
// listener).
func TestServeInjectedConnAndGracefulStop(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := newTestServer(t, func(c *Config) { c.Conn = conn })
	s.now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	<-s.Ready()

	c, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer c.Close()
	rc := &relayClient{conn: c, server: conn.LocalAddr()}
	ip, err := rc.dora(mustMAC("52:54:00:00:50:01"))
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := s.LeaseByIP(ip); !ok || l.MAC.String() != "52:54:00:00:50:01" {
		t.Fatalf("lease %+v", l)
	}
	// Garbage on the same socket is counted, and the loop keeps serving.
	c.WriteTo([]byte("not dhcp"), conn.LocalAddr())
	if _, err := rc.dora(mustMAC("52:54:00:00:50:02")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Read once Serve has returned: a reply is counted after it left, so
	// the client can hold the ACK before the counter moves.
	st := s.Stats()
	if st.Received != 5 || st.Replied != 4 || st.Offers != 2 || st.Acks != 2 || st.Dropped[DropMalformed] != 1 || st.Commits == 0 {
		t.Errorf("stats %+v", st)
	}
	// The handed-in socket is closed.
	if _, err := conn.WriteTo([]byte{0}, c.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on Config.Conn after Serve returned: %v, want net.ErrClosed", err)
	}
	// And a stopped server answers nothing more.
	d, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:50:03"))
	if _, err := rc.exchange(d, dhcpv4.MessageTypeOffer); err == nil {
		t.Fatal("answer after Serve returned")
	}
}

// A server that cannot start still closes the socket it was handed.
func TestServeClosesConnOnStartFailure(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := newTestServer(t, func(c *Config) { c.Conn = conn; c.Interfaces = []string{"no-such-link0"} })
	if err := s.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such-link0") {
		t.Fatalf("Serve with a missing interface: %v", err)
	}
	if _, err := conn.WriteTo([]byte{0}, conn.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on Config.Conn after a failed Serve: %v, want net.ErrClosed", err)
	}
}

func TestServeTwiceAndBadLeaseFile(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := newTestServer(t, func(c *Config) { c.Conn = conn })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	<-s.Ready()
	if err := s.Serve(ctx); err == nil {
		t.Error("second Serve accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cfg := labConfig()
	cfg.LeaseFile = t.TempDir() // a directory, not a database
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a directory as lease file")
	}
}
