package dhcp

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// stepClock is a Clock whose wall clock the test steps; its monotonic time
// only moves when the test advances it.
type stepClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

func (c *stepClock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// step moves the wall clock only, as an NTP step does.
func (c *stepClock) step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
}

// advance lets time pass: both clocks move.
func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall, c.mono = c.wall.Add(d), c.mono+d
}

// TestClockSteps: with 20 addresses and one-hour leases, the wall clock
// steps forward an hour and back a day. No live lease expires, no address
// in use is handed to another client, and a restart on the lease file
// after the forward step keeps every lease; once an hour of real
// (monotonic) time passes, the leases do expire.
func TestClockSteps(t *testing.T) {
	file := filepath.Join(t.TempDir(), "leases.db")
	clk := &stepClock{wall: t0, mono: 1000 * time.Hour}
	start := func() (*Server, *relayClient, func()) {
		s, addr, stopServer := serveLoopback(t, func(c *Config) {
			c.LeaseFile = file
			c.Clock = clk
			c.Subnets[0].Pools = []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.29")}}
		})
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		stop := func() {
			stopServer()
			c.Close()
		}
		return s, &relayClient{conn: c, server: addr}, stop
	}
	held := map[netip.Addr]string{}
	bind := func(rc *relayClient, s *Server, from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			mac := fmt.Sprintf("52:54:00:00:80:%02x", i)
			ip, err := rc.dora(mustMAC(mac))
			if err != nil {
				t.Fatalf("%s: %v", mac, err)
			}
			if m, ok := held[ip]; ok && m != mac {
				t.Fatalf("%s handed to %s while %s holds it", ip, mac, m)
			}
			held[ip] = mac
		}
	}
	allLive := func(s *Server, when string) {
		t.Helper()
		for ip, mac := range held {
			if l, ok := s.LeaseByIP(ip); !ok || l.MAC.String() != mac {
				t.Errorf("%s: lease of %s on %s lost (%+v)", when, mac, ip, l)
			}
		}
		if st := s.Stats(); st.ActiveLeases != len(held) {
			t.Errorf("%s: %d active leases, want %d", when, st.ActiveLeases, len(held))
		}
	}

	s, rc, stop := start()
	bind(rc, s, 0, 10)
	clk.advance(time.Minute)
	clk.step(time.Hour)
	allLive(s, "wall clock an hour ahead")
	bind(rc, s, 10, 10) // the other ten addresses, none of the first ten
	stop()

	// Restart after the forward step: the file was rewritten with
	// wall-clock expiries, so the first ten keep their full hour.
	clk.advance(time.Minute)
	s, rc, stop = start()
	defer stop()
	allLive(s, "restart after the forward step")
	clk.step(-24 * time.Hour)
	allLive(s, "wall clock a day back")
	d, _ := dhcpv4.NewDiscovery(mustMAC("52:54:00:00:81:01"))
	if _, err := rc.exchange(d, dhcpv4.MessageTypeOffer); err == nil {
		t.Fatal("a 21st client got an offer from a pool of 20 live leases")
	}
	if st := s.Stats(); st.Dropped[DropPoolFull] == 0 {
		t.Errorf("pool-full not counted: %+v", st.Dropped)
	}
	// An hour of real time later the leases are over, and the pool
	// serves new clients.
	clk.advance(time.Hour)
	if st := s.Stats(); st.ActiveLeases != 0 {
		t.Errorf("%d leases active an hour after they were granted", st.ActiveLeases)
	}
	ip, err := rc.dora(mustMAC("52:54:00:00:81:01"))
	if err != nil {
		t.Fatalf("after the leases expired: %v", err)
	}
	if ip.Less(mustAddr("192.0.2.10")) || mustAddr("192.0.2.29").Less(ip) {
		t.Errorf("got %s outside the pool", ip)
	}
}
