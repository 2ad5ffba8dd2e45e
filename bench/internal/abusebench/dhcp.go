package abusebench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/dhcp"
)

// dhcpCfg is the server every DHCP attack meets: the lab pool (241
// addresses), 1000 packets/s per relay or source (burst 100), at most 64
// addresses per relay, the other limits at their defaults.
func dhcpCfg(conn net.PacketConn) dhcp.Config {
	return dhcp.Config{
		ServerID: netip.MustParseAddr("192.0.2.1"),
		Subnets: []dhcp.Subnet{{
			Prefix:    netip.MustParsePrefix("192.0.2.0/24"),
			Pools:     []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.10"), End: netip.MustParseAddr("192.0.2.250")}},
			Routers:   []netip.Addr{netip.MustParseAddr("192.0.2.1")},
			LeaseTime: time.Hour,
		}},
		Conn:          conn,
		RelayRate:     1000,
		RelayBurst:    100,
		RelayLeaseCap: 64,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// Relay agent sub-options a loopback relay needs: the client's link
// (RFC 3527) and "answer the port I sent from" (RFC 8357).
const (
	subLinkSelection   = 5
	subRelaySourcePort = 19
)

// relayed marks d as relayed by giaddr for the lab link, on port.
func relayed(d *dhcpv4.DHCPv4, giaddr net.IP, port string) {
	d.GatewayIPAddr = giaddr
	d.UpdateOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte(port)),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subLinkSelection), []byte{192, 0, 2, 0}),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(subRelaySourcePort), nil)))
}

// doraClient is the well-behaved client: a relay at 127.0.0.1 doing
// DISCOVER-OFFER-REQUEST-ACK for 64 machines in turn (each keeps its
// address, so the pool never runs out), one exchange at a time, 250 ms
// before a retransmission. With rate 0 it goes as fast as the server
// answers (the machine's capacity, which the attacker shares); otherwise
// it starts rate DORAs a second, the way a rack boots, and the figure is
// how many the server completes.
func doraClient(server net.Addr, rate float64) (client, func(), error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	buf := make([]byte, 1500)
	i := 0
	exchange := func(ctx context.Context, req *dhcpv4.DHCPv4, want dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		relayed(req, net.IPv4(127, 0, 0, 1), "good/1")
		for ctx.Err() == nil {
			if _, err := c.WriteTo(req.ToBytes(), server); err != nil {
				return nil
			}
			dl := time.Now().Add(250 * time.Millisecond)
			if d, ok := ctx.Deadline(); ok && d.Before(dl) {
				dl = d
			}
			c.SetReadDeadline(dl)
			for {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					break // timeout: resend
				}
				p, err := dhcpv4.FromBytes(buf[:n])
				if err == nil && p.TransactionID == req.TransactionID && p.MessageType() == want {
					return p
				}
			}
		}
		return nil
	}
	run := func(ctx context.Context, done *atomic.Uint64) {
		start := time.Now()
		for k := 0; ctx.Err() == nil; k++ {
			if rate > 0 {
				// Behind schedule a DORA starts at once; ahead, it waits.
				next := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
			}
			mac := net.HardwareAddr{0x52, 0x54, 0, 0x0f, 0, byte(i % 64)}
			i++
			d, _ := dhcpv4.NewDiscovery(mac)
			o := exchange(ctx, d, dhcpv4.MessageTypeOffer)
			if o == nil {
				return
			}
			r, _ := dhcpv4.NewRequestFromOffer(o)
			if exchange(ctx, r, dhcpv4.MessageTypeAck) == nil {
				return
			}
			done.Add(1)
		}
	}
	return run, func() { c.Close() }, nil
}

// discoverFlood is DISCOVERs from invented MACs (and transaction IDs)
// through the relay src, rewritten in place per datagram.
func discoverFlood(src string, server net.Addr, mutate func(*dhcpv4.DHCPv4)) attack {
	d, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0})
	relayed(d, net.ParseIP(src).To4(), "attack/1")
	if mutate != nil {
		mutate(d)
	}
	tmpl := d.ToBytes()
	rng := rand.New(rand.NewPCG(7, 8))
	return flooder(src+":0", server, func(_ int, b []byte) []byte {
		b = append(b, tmpl...)
		r := rng.Uint64()
		copy(b[4:8], []byte{byte(r), byte(r >> 8), byte(r >> 16), byte(r >> 24)}) // xid
		copy(b[30:34], []byte{byte(r >> 32), byte(r >> 40), byte(r >> 48), byte(r >> 56)})
		return b
	})
}

// pacedRate is the paced client's DORAs a second: a few racks booting at
// once.
const pacedRate = 100

func dhcpRows(ctx context.Context, o Options) ([]report.Row, error) {
	cases := []struct {
		name, note string
		attack     func(server net.Addr) attack
		counted    []dhcp.DropReason
	}{
		{"DORA/s during a random-MAC DISCOVER flood", "DISCOVERs from invented MACs through one relay (127.0.0.2), server limits 1000/s per relay, 64 addresses per relay",
			func(srv net.Addr) attack { return discoverFlood("127.0.0.2", srv, nil) },
			[]dhcp.DropReason{dhcp.DropRelayRate, dhcp.DropPoolCap}},
		{"DORA/s during a flood of 9000-byte datagrams", "padded DISCOVERs of 9000 bytes (past the 4 KiB read buffer), random MACs, relay 127.0.0.3",
			func(srv net.Addr) attack {
				return discoverFlood("127.0.0.3", srv, func(d *dhcpv4.DHCPv4) {
					for c := 224; c < 224+35; c++ {
						d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(c), make([]byte, 255)))
					}
				})
			},
			[]dhcp.DropReason{dhcp.DropOversized}},
		{"DORA/s during an option 52 loop flood", "DISCOVERs claiming option overload (52) with sname and file pointing at each other, random MACs, relay 127.0.0.4",
			func(srv net.Addr) attack {
				return discoverFlood("127.0.0.4", srv, func(d *dhcpv4.DHCPv4) {
					d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionOptionOverload, []byte{3}))
					d.ServerHostName = string([]byte{52, 1, 3, 52, 1, 1, 255})
					d.BootFileName = string([]byte{52, 1, 2, 52, 1, 3, 255})
				})
			},
			[]dhcp.DropReason{dhcp.DropRelayRate, dhcp.DropPoolCap}},
	}
	var rows []report.Row
	for _, c := range cases {
		for _, rate := range []float64{pacedRate, 0} {
			f, counts, err := dhcpCase(ctx, o, rate, c.attack, c.counted)
			if err != nil {
				return rows, fmt.Errorf("%s: %w", c.name, err)
			}
			name, note := c.name, c.note+"; dropped: "+counts
			rows = append(rows, paced(row("Abuse", name, "DORA/s", f, note), rate, "clients start"))
		}
	}
	return rows, nil
}

// dhcpCase measures one attack on a fresh server and says what it
// dropped, by reason.
func dhcpCase(ctx context.Context, o Options, rate float64, bad func(net.Addr) attack, counted []dhcp.DropReason) (figures, string, error) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return figures{}, "", err
	}
	// The receive queue dhcp's own sockets get (Config.Conn is ours).
	conn.(*net.UDPConn).SetReadBuffer(4 << 20)
	srv, err := dhcp.New(dhcpCfg(conn))
	if err != nil {
		conn.Close()
		return figures{}, "", err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	defer func() { stop(); <-done }()
	<-srv.Ready()
	good, closeGood, err := doraClient(conn.LocalAddr(), rate)
	if err != nil {
		return figures{}, "", err
	}
	defer closeGood()
	f, err := measure(ctx, o, good, bad(conn.LocalAddr()))
	st := srv.Stats()
	counts := ""
	for i, r := range counted {
		if i > 0 {
			counts += ", "
		}
		counts += fmt.Sprintf("%d %s", st.Dropped[r], r)
	}
	counts += fmt.Sprintf(" (of %d received)", st.Received)
	return f, counts, err
}
