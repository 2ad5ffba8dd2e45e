package abusebench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
)

// httpPaced is the paced HTTP client's script requests a second: a rack
// of machines fetching their iPXE scripts.
const httpPaced = 200

// httpMAC is the machine whose script the well-behaved client fetches.
const httpMAC = "52:54:00:0f:00:01"

func httpRows(ctx context.Context, o Options) ([]report.Row, error) {
	cases := []struct {
		name, note string
		attack     func(addr string) attack
	}{
		{"script requests/s during a slowloris", "the attacker (127.0.0.2) opens connections as fast as it can, sends half a request head on each and a byte a second after",
			slowloris},
		{"script requests/s during 1 MB request lines", "the attacker (127.0.0.3, 4 connections at a time) sends a 1 MB request line, reads the answer, and again",
			hugeRequestLines},
	}
	var rows []report.Row
	for _, c := range cases {
		for _, rate := range []float64{httpPaced, 0} {
			f, counts, err := httpCase(ctx, o, rate, c.attack)
			if err != nil {
				return rows, fmt.Errorf("http %s: %w", c.name, err)
			}
			r := row("Abuse", "HTTP "+c.name, "req/s", f, "per-machine iPXE script over keep-alive; "+c.note+"; "+counts)
			r.Note = strings.Replace(r.Note, "/s from one socket", " connections (slowloris) or requests/s from one address", 1)
			rows = append(rows, paced(r, rate, "client starts"))
		}
	}
	return rows, nil
}

// httpCase runs one attack against a fresh boot server on loopback: its
// DHCP and TFTP sockets unused, its HTTP listener what is measured.
func httpCase(ctx context.Context, o Options, rate float64, bad func(addr string) attack) (figures, string, error) {
	dc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return figures{}, "", err
	}
	tc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		dc.Close()
		return figures{}, "", err
	}
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		dc.Close()
		tc.Close()
		return figures{}, "", err
	}
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{
		Machines: []pxe.Machine{{MAC: net.HardwareAddr{0x52, 0x54, 0, 0x0f, 0, 1}, Hostname: "node1", Profile: "install"}},
		Profiles: map[string]pxe.Profile{"install": {Kernel: "vmlinuz", Initrd: "initrd.gz", Args: []string{"console=ttyS0", "ip=dhcp"}}},
	})
	if err != nil {
		return figures{}, "", err
	}
	srv, err := pxe.New(pxe.Config{
		Interface: "lo",
		Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Routers: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
			Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.10"), End: netip.MustParseAddr("192.0.2.250")}}}},
		DHCPConn: dc, TFTPConn: tc, HTTPListener: hl, HTTPPort: hl.Addr().(*net.TCPAddr).Port,
		IPXE:      fstest.MapFS{"undionly.kpxe": {Data: []byte("an iPXE build")}},
		Inventory: inv,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		dc.Close()
		tc.Close()
		hl.Close()
		return figures{}, "", err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	defer func() { stop(); <-done }()
	select {
	case <-srv.Ready():
	case err := <-done:
		done <- err
		return figures{}, "", err
	}
	addr := hl.Addr().String()
	url := "http://" + addr + pxe.PathScript + "?mac=" + httpMAC
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	good := func(ctx context.Context, n *atomic.Uint64) {
		start := time.Now()
		for k := 0; ctx.Err() == nil; k++ {
			if rate > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(start.Add(time.Duration(float64(k) / rate * float64(time.Second))))):
				}
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := cl.Do(req)
			if err != nil {
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == 200 && strings.HasPrefix(string(b), "#!ipxe") {
				n.Add(1)
			}
		}
	}
	f, err := measure(ctx, o, good, bad(addr))
	st := srv.HTTPConns()
	counts := fmt.Sprintf("dropped: %d connections accepted, %d closed before a request, %d of them over the per-address limit (%d)",
		st.Connections, st.ClosedBeforeRequest, st.OverClientLimit, pxe.DefaultHTTPMaxConnsPerClient)
	return f, counts, err
}

// slowloris opens connections from 127.0.0.2 as fast as it can, keeps
// every one the server lets it keep, and sends each a byte a second; it
// counts the connections it opened.
func slowloris(addr string) attack {
	return func(ctx context.Context, sent *atomic.Uint64) error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		var mu sync.Mutex
		var open []net.Conn
		defer func() {
			mu.Lock()
			for _, c := range open {
				c.Close()
			}
			mu.Unlock()
		}()
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				mu.Lock()
				kept := open[:0]
				for _, c := range open {
					if _, err := c.Write([]byte("a")); err == nil {
						kept = append(kept, c)
					} else {
						c.Close()
					}
				}
				open = kept
				mu.Unlock()
			}
		}()
		for ctx.Err() == nil {
			c, err := d.DialContext(ctx, "tcp4", addr)
			if err != nil {
				continue
			}
			sent.Add(1)
			if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
		}
		return nil
	}
}

// hugeRequestLines sends 1 MB request lines from 127.0.0.3 over four
// connections at a time, each read to its answer; it counts requests.
func hugeRequestLines(addr string) attack {
	line := []byte("GET /" + strings.Repeat("a", 1<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n")
	return func(ctx context.Context, sent *atomic.Uint64) error {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
				buf := make([]byte, 4096)
				for ctx.Err() == nil {
					c, err := d.DialContext(ctx, "tcp4", addr)
					if err != nil {
						continue
					}
					sent.Add(1)
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					go c.Write(line) // the server answers 431 before reading it all
					for {
						if _, err := c.Read(buf); err != nil {
							break
						}
					}
					c.Close()
				}
			})
		}
		wg.Wait()
		return nil
	}
}
