package dhcp

import (
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// BenchmarkDecideEncode is the per-packet hot path: decode a firmware
// DISCOVER, classify, run the boot policy, allocate, encode the OFFER.
func BenchmarkDecideEncode(b *testing.B) {
	s := newTestServer(b, func(c *Config) {
		c.Subnets[0].Prefix = mustPrefix("192.0.0.0/16")
		c.Subnets[0].Pools = []Range{{mustAddr("192.0.1.0"), mustAddr("192.0.255.254")}}
		c.Subnets[0].Routers = nil
		c.ServerID = mustAddr("192.0.0.1")
	})
	pkts := make([][]byte, 4096)
	for i := range pkts {
		d, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0x52, 0x54, 0, 0, byte(i >> 8), byte(i)}, ovmfPXE)
		pkts[i] = d.ToBytes()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o, why := s.handle(inbound{data: pkts[i%len(pkts)]}, t0)
		if why != "" {
			b.Fatal(why)
		}
		_ = o.reply.ToBytes()
	}
}

// BenchmarkDORABolt is a full exchange with persistence: DISCOVER and
// REQUEST through the decision path, the ACK's lease committed to a bbolt
// file through the server's group-commit loop (GOMAXPROCS×8 clients in
// flight). ns/op is per DORA.
func BenchmarkDORABolt(b *testing.B) {
	path := filepath.Join(b.TempDir(), "leases.db")
	s := newTestServer(b, func(c *Config) {
		c.LeaseFile = path
		c.Subnets[0].Prefix = mustPrefix("192.0.0.0/16")
		c.Subnets[0].Pools = []Range{{mustAddr("192.0.1.0"), mustAddr("192.0.255.254")}}
		c.ServerID = mustAddr("192.0.0.1")
	})
	defer s.closeStore()
	commits := make(chan pending, 2*s.cfg.MaxCommitBatch)
	done := make(chan struct{})
	go func() { defer close(done); s.committer(commits) }()
	l := &listener{conn: discardConn{}}
	var mu sync.Mutex
	next := 0
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			// MACs come round again before the pool's 65,279
			// addresses run out: a returning MAC's DORA gets its own
			// address back, committed all the same.
			i := next % 60000
			next++
			mu.Unlock()
			mac := net.HardwareAddr{0x52, 0x54, 0, byte(i >> 16), byte(i >> 8), byte(i)}
			d, _ := dhcpv4.NewDiscovery(mac, ovmfPXE)
			o, why := s.handle(inbound{data: d.ToBytes()}, t0)
			if why != "" {
				panic(fmt.Sprint("discover: ", why))
			}
			r, _ := dhcpv4.NewRequestFromOffer(o.reply)
			o, why = s.handle(inbound{data: r.ToBytes()}, t0)
			if why != "" {
				panic(fmt.Sprint("request: ", why))
			}
			_ = o.reply.ToBytes()
			commits <- pending{o: o, l: l}
		}
	})
	close(commits)
	<-done
	b.StopTimer()
	st := s.Stats()
	if st.Commits > 0 {
		b.ReportMetric(float64(st.LeaseWrites)/float64(st.Commits), "leases/commit")
	}
}
