package tftp

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkMTU returns the MTU of interface ifIndex as seen from conn's network
// namespace. It asks through the socket itself (SIOCGIFNAME, SIOCGIFMTU)
// because a netlink lookup (net.InterfaceByIndex) would run in whatever
// namespace the calling thread is in, which is not the socket's when the
// socket was opened in a lab netns.
func linkMTU(conn net.PacketConn, ifIndex int) (int, bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	mtu := 0
	_ = rc.Control(func(fd uintptr) {
		ifr, err := unix.NewIfreq("")
		if err != nil {
			return
		}
		ifr.SetUint32(uint32(ifIndex))
		if unix.IoctlIfreq(int(fd), unix.SIOCGIFNAME, ifr) != nil {
			return
		}
		byName, err := unix.NewIfreq(ifr.Name())
		if err != nil {
			return
		}
		if unix.IoctlIfreq(int(fd), unix.SIOCGIFMTU, byName) != nil {
			return
		}
		mtu = int(byName.Uint32())
	})
	return mtu, mtu > 0
}
