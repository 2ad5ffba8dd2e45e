//go:build !linux

package tftp

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// peerConn is a transfer's own UDP socket, connected to the client
// (Linux uses a blocking socket outside the network poller instead).
type peerConn struct {
	c     *net.UDPConn
	woken atomic.Bool
}

// dialPeer opens a socket bound to local (any address when invalid) and
// connected to peer. zone is the interface index for link-local IPv6.
func dialPeer(local netip.Addr, peer netip.AddrPort, zone uint32) (*peerConn, error) {
	var la *net.UDPAddr
	if local.IsValid() {
		la = net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0))
	}
	ra := net.UDPAddrFromAddrPort(peer)
	if zone != 0 && peer.Addr().IsLinkLocalUnicast() {
		if ifc, err := net.InterfaceByIndex(int(zone)); err == nil {
			ra.Zone = ifc.Name
			if la != nil {
				la.Zone = ifc.Name
			}
		}
	}
	c, err := net.DialUDP("udp", la, ra)
	if err != nil {
		return nil, err
	}
	return &peerConn{c: c}, nil
}

func (c *peerConn) send(p []byte) error {
	_, err := c.c.Write(p)
	return err
}

func (c *peerConn) recv(p []byte, d time.Duration) (int, error) {
	if err := c.c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return 0, err
	}
	if c.woken.Load() { // checked after the deadline is set: wake's wins
		return 0, nil
	}
	n, err := c.c.Read(p)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, errTimedOut
	}
	return n, err
}

func (c *peerConn) wake() {
	c.woken.Store(true)
	_ = c.c.SetReadDeadline(time.Unix(1, 0))
}

func (c *peerConn) close() { _ = c.c.Close() }

// sockNetns is a no-op outside Linux, which has no network namespaces.
type sockNetns struct{}

func newSockNetns(net.PacketConn) sockNetns { return sockNetns{} }

func (sockNetns) close() {}

func (sockNetns) dial(local netip.Addr, peer netip.AddrPort, zone uint32) (*peerConn, error) {
	return dialPeer(local, peer, zone)
}

// deepenQueue sets the listening socket's receive buffer as far as the
// system allows (see the Linux version).
func deepenQueue(conn net.PacketConn) {
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(4 << 20)
	}
}
