package dhcp

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// BenchmarkDORAUnderFlood measures the DORA rate of a well-behaved client
// behind one relay, quiet and while another relay floods DISCOVERs from
// random MACs as fast as one socket sends (cut at its RelayRate before
// decoding, its addresses capped by RelayLeaseCap); every drop reason is
// reported. The
// ratio of the two dora/s figures is the "well-behaved clients keep
// ≥ 90 % of their rate" check of the abuse bounds.
func BenchmarkDORAUnderFlood(b *testing.B) {
	for _, flood := range []bool{false, true} {
		name := "quiet"
		if flood {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			cfg := labConfig()
			cfg.Conn = conn
			cfg.RelayRate, cfg.RelayBurst = 1000, 100
			cfg.RelayLeaseCap = 64
			cfg.Subnets[0].Pools = []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.250")}}
			s, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx) }()
			<-s.Ready()
			defer func() { cancel(); <-done }()
			if flood {
				fl, err := net.ListenPacket("udp4", "127.0.0.2:0")
				if err != nil {
					b.Fatal(err)
				}
				defer fl.Close()
				go func() {
					rng := rand.New(rand.NewPCG(3, 4))
					for ctx.Err() == nil {
						mac := net.HardwareAddr{0x52, 0x54, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
						d, _ := dhcpv4.NewDiscovery(mac)
						d.GatewayIPAddr = net.IPv4(127, 0, 0, 2)
						d.UpdateOption(dhcpv4.OptRelayAgentInfo(
							dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subLinkSelection), []byte{192, 0, 2, 0}),
							dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subRelaySourcePort), nil)))
						if _, err := fl.WriteTo(d.ToBytes(), conn.LocalAddr()); err != nil {
							return
						}
					}
				}()
				time.Sleep(200 * time.Millisecond)
			}
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			rc := &relayClient{conn: c, server: conn.LocalAddr()}
			fails := 0
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				// 64 clients in turn: a returning client keeps its address, so the
				// pool never runs out whatever b.N is.
				mac := net.HardwareAddr{0x52, 0x54, 0, 0x0f, 0, byte(i % 64)}
				if _, err := rc.dora(mac); err != nil {
					fails++
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "dora/s")
			b.ReportMetric(float64(fails), "failed")
			for r, n := range s.Stats().Dropped {
				if n > 0 {
					b.ReportMetric(float64(n), string(r))
				}
			}
		})
	}
}
