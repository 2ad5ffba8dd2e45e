package tftp

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// peerConn is a transfer's own UDP socket, connected to the client. It is
// a plain blocking socket outside Go's network poller, with SO_RCVTIMEO as
// the ACK timeout: a lock-step block then costs one write(2) and one
// read(2), where the poller would add a failed read, an epoll wait and a
// timer update per block. A goroutine blocked in read(2) holds an OS
// thread, which bounds to Config.MaxTransfers threads.
//
// The kernel delivers to a connected socket only datagrams from the
// client's address and port, as tftpd-hpa's connected sockets do; a
// datagram from another port never reaches the transfer.
type peerConn struct {
	fd      int
	timeout time.Duration // the SO_RCVTIMEO now set
}

func sockaddr(ap netip.AddrPort, zone uint32) unix.Sockaddr {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if a.IsLinkLocalUnicast() {
		sa.ZoneId = zone
	}
	return sa
}

// dialPeer opens a socket bound to local (any address when invalid) and
// connected to peer. zone is the interface index for link-local IPv6.
func dialPeer(local netip.Addr, peer netip.AddrPort, zone uint32) (*peerConn, error) {
	family := unix.AF_INET6
	if peer.Addr().Unmap().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, err
	}
	c := &peerConn{fd: fd}
	if local = local.Unmap(); local.IsValid() && local.Is4() == (family == unix.AF_INET) {
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(local, 0), zone)); err != nil {
			c.close()
			return nil, err
		}
	}
	if err := unix.Connect(fd, sockaddr(peer, zone)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// send writes one datagram.
func (c *peerConn) send(p []byte) error {
	for {
		_, err := unix.Write(c.fd, p)
		if err != unix.EINTR {
			return err
		}
	}
}

// recv reads one datagram, waiting up to d. It returns errTimedOut when
// nothing came, and 0 bytes after wake (or for an empty datagram).
func (c *peerConn) recv(p []byte, d time.Duration) (int, error) {
	if d != c.timeout {
		d = max(d, time.Microsecond) // a zero SO_RCVTIMEO means forever
		tv := unix.NsecToTimeval(d.Nanoseconds())
		if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return 0, err
		}
		c.timeout = d
	}
	for {
		n, err := unix.Read(c.fd, p)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errTimedOut
		}
		return 0, err
	}
}

// wake makes a blocked or later recv return at once. It must not run
// concurrently with close (the front end serialises both).
func (c *peerConn) wake() { _ = unix.Shutdown(c.fd, unix.SHUT_RD) }

func (c *peerConn) close() { _ = unix.Close(c.fd) }

// sockNetns is the network namespace a listening socket was opened in, so
// per-transfer sockets are opened there too: a socket belongs to the
// namespace of the thread that creates it, and a server may be handed a
// socket from a lab namespace while its own threads are in another.
type sockNetns struct {
	ok  bool // known; the zero value means unknown
	fd  int  // from SIOCGSKNS
	ino uint64
}

func newSockNetns(conn net.PacketConn) sockNetns {
	var ns sockNetns
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return ns
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return ns
	}
	_ = rc.Control(func(fd uintptr) {
		nsfd, err := unix.IoctlRetInt(int(fd), unix.SIOCGSKNS)
		if err != nil {
			return
		}
		var st unix.Stat_t
		if unix.Fstat(nsfd, &st) != nil {
			unix.Close(nsfd)
			return
		}
		unix.CloseOnExec(nsfd)
		ns.ok, ns.fd, ns.ino = true, nsfd, st.Ino
	})
	return ns
}

func (ns sockNetns) close() {
	if ns.ok {
		unix.Close(ns.fd)
	}
}

// dial is dialPeer run in the listening socket's namespace: directly when
// the calling thread is already there, else from a thread switched into it
// for the socket(2) call and back.
func (ns sockNetns) dial(local netip.Addr, peer netip.AddrPort, zone uint32) (*peerConn, error) {
	var st unix.Stat_t
	if !ns.ok || unix.Stat("/proc/thread-self/ns/net", &st) != nil || st.Ino == ns.ino {
		return dialPeer(local, peer, zone)
	}
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer unix.Close(orig)
	if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter the listening socket's network namespace: %w", err)
	}
	c, err := dialPeer(local, peer, zone)
	if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	} // else the thread stays locked and ends with its goroutine
	return c, err
}

// requestQueue is the listening socket's receive buffer. A flood that
// outpaces the reader for a moment (it waits to be scheduled while the
// sender delivers 64 datagrams a system call) would otherwise overflow
// the default 208 KB, a few hundred requests, and the kernel would drop
// well-behaved clients' requests with the flood's.
const requestQueue = 4 << 20

// deepenQueue sets the listening socket's receive buffer to
// requestQueue: SO_RCVBUFFORCE with CAP_NET_ADMIN, else SO_RCVBUF, which
// net.core.rmem_max caps. It is best effort.
func deepenQueue(conn net.PacketConn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, requestQueue) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, requestQueue)
		}
	})
}
