package impair_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/pxetest/impair"
)

const udpPort = 9999

// toUDPPort matches IPv4 UDP frames to udpPort.
func toUDPPort(f []byte) bool {
	if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14+9] != 17 {
		return false
	}
	ihl := int(f[14]&0x0f) * 4
	return len(f) >= 14+ihl+4 && binary.BigEndian.Uint16(f[14+ihl+2:]) == udpPort
}

// lab is an impaired lab network with one host on the clients' side.
func lab(t *testing.T, cfg impair.Config) (*pxetest.Network, *pxetest.Host) {
	t.Helper()
	n := pxetest.TempNetwork(t, pxetest.NetworkConfig{Name: "imp", Impair: &cfg})
	h, err := n.AddHost("imph", netip.MustParsePrefix("192.0.2.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	return n, h
}

// sendUDP sends count full-MTU datagrams (1472 bytes of payload) from the
// host to the server and returns how many the server received, each
// checked whole.
func sendUDP(t *testing.T, n *pxetest.Network, h *pxetest.Host, count int) int {
	t.Helper()
	srv, err := n.NS.ListenPacket("udp4", netip.AddrPortFrom(n.ServerAddr(), udpPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.(*net.UDPConn).SetReadBuffer(8 << 20)
	cl, err := h.NS.ListenPacket("udp4", "192.0.2.10:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(n.ServerAddr(), udpPort))
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2000)
		for {
			srv.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, _, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			if k != 1472 || !bytes.Equal(buf[4:k], payload(buf[:4])[4:]) {
				t.Errorf("datagram of %d bytes arrived changed", k)
			}
			got++
		}
	}()
	// Resolve the server's MAC first: datagrams sent while ARP is pending
	// are queued only up to a limit, the rest lost before the relay.
	// (on another port, so Match leaves it alone).
	warm(t, n, h)
	for i := range count {
		p := payload(binary.BigEndian.AppendUint32(nil, uint32(i)))
		if _, err := cl.WriteTo(p, to); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(2 * time.Millisecond) // stay inside socket buffers
		}
	}
	<-done
	return got
}

// warm sends a datagram from the host to the server's udpPort+1 until
// one arrives.
func warm(t *testing.T, n *pxetest.Network, h *pxetest.Host) {
	t.Helper()
	srv, err := n.NS.ListenPacket("udp4", netip.AddrPortFrom(n.ServerAddr(), udpPort+1).String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := h.NS.ListenPacket("udp4", "192.0.2.10:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	buf := make([]byte, 16)
	for range 20 {
		if _, err := cl.WriteTo([]byte("hello"), srv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		srv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := srv.ReadFrom(buf); err == nil {
			return
		}
	}
	t.Fatal("no datagram reached the server through the relay")
}

// payload is 1472 bytes starting with id, the rest derived from it.
func payload(id []byte) []byte {
	p := make([]byte, 1472)
	copy(p, id)
	for i := 4; i < len(p); i++ {
		p[i] = id[3] ^ byte(i)
	}
	return p
}

// tcpTransfer downloads size random bytes from the server to the host
// and checks them by hash: local TCP is where offloads would produce
// frames larger than the MTU.
func tcpTransfer(t *testing.T, n *pxetest.Network, h *pxetest.Host, size int) {
	t.Helper()
	ln, err := n.NS.Listen("tcp4", net.JoinHostPort(n.ServerAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		c.Write(data)
	})
	defer wg.Wait()
	var c net.Conn
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = h.NS.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp4", ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	hs := sha256.New()
	k, err := io.Copy(hs, c)
	if err != nil {
		t.Fatalf("TCP download: %d of %d bytes: %v", k, size, err)
	}
	if got := [32]byte(hs.Sum(nil)); k != int64(size) || got != want {
		t.Fatalf("TCP download: %d of %d bytes, hash %x, want %x", k, size, got[:8], want[:8])
	}
}

func TestRelayForwardsUnimpaired(t *testing.T) {
	t.Parallel()
	n, h := lab(t, impair.Config{})
	const count = 1000
	if got := sendUDP(t, n, h, count); got != count {
		t.Errorf("server received %d of %d datagrams through an unimpaired relay", got, count)
	}
	tcpTransfer(t, n, h, 4<<20)
	st := n.Impairment()
	t.Logf("relay: %+v", st)
	for name, d := range map[string]impair.Direction{"AtoB": st.AtoB, "BtoA": st.BtoA} {
		if d.Frames == 0 || d.Forwarded != d.Frames || d.Dropped+d.Duplicated+d.Reordered != 0 {
			t.Errorf("%s: %+v, want every frame forwarded once", name, d)
		}
	}
	// The relay sees each datagram once: it does not read back what it
	// sends (that would loop it), so the client-to-server count is the
	// datagrams plus a little ARP and TCP.
	if st.BtoA.Frames < count || st.BtoA.Frames > count+4<<20/1448+200 {
		t.Errorf("BtoA saw %d frames for %d datagrams and a TCP download", st.BtoA.Frames, count)
	}
}

func TestRelayImpairs(t *testing.T) {
	t.Parallel()
	n, h := lab(t, impair.Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.02, Seed: 1, Match: toUDPPort})
	const count = 2000
	got := sendUDP(t, n, h, count)
	st := n.Impairment()
	t.Logf("relay: %+v, server received %d of %d", st, got, count)
	d := st.BtoA
	if d.Dropped == 0 || d.Duplicated == 0 || d.Reordered == 0 {
		t.Errorf("BtoA %+v: want drops, duplicates and reorders on %d datagrams", d, count)
	}
	// Match limits the impairment to the datagrams, so the server hears
	// exactly those not dropped plus the copies.
	if want := count - int(d.Dropped) + int(d.Duplicated); got != want {
		t.Errorf("server received %d datagrams, relay says %d sent - %d dropped + %d duplicated = %d",
			got, count, d.Dropped, d.Duplicated, want)
	}
}

func TestRelayTCPUnderLoss(t *testing.T) {
	t.Parallel()
	n, h := lab(t, impair.Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.02, Seed: 2})
	tcpTransfer(t, n, h, 1<<20)
	st := n.Impairment()
	t.Logf("relay: %+v", st)
	if st.AtoB.Dropped == 0 || st.AtoB.Duplicated == 0 {
		t.Errorf("AtoB %+v: a 1 MiB download at 5%% loss dropped or duplicated nothing", st.AtoB)
	}
}

func TestRelayIsTheOnlyPath(t *testing.T) {
	t.Parallel()
	// Every frame lost, ARP included: if the clients' side could reach the
	// server any other way (an ARP reply from a bridge or relay end in the
	// server's namespace), a datagram would get through.
	n, h := lab(t, impair.Config{Loss: 1})
	srv, err := n.NS.ListenPacket("udp4", netip.AddrPortFrom(n.ServerAddr(), udpPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := h.NS.ListenPacket("udp4", "192.0.2.10:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	buf := make([]byte, 16)
	for range 5 {
		cl.WriteTo([]byte("hello"), srv.LocalAddr())
		srv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, _, err := srv.ReadFrom(buf); err == nil {
			t.Fatal("a datagram reached the server past a relay that drops everything")
		}
	}
	if st := n.Impairment(); st.BtoA.Dropped == 0 || st.BtoA.Forwarded != 0 {
		t.Errorf("BtoA %+v: want everything dropped", st.BtoA)
	}
}
