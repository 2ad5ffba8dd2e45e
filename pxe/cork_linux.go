package pxe

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setCork sets or clears TCP_CORK. Corked, the kernel sends only full
// segments, so the response header leaves in the same segment as the first
// file bytes and sendfile's chunks are not cut into short ones at each call;
// clearing it pushes what is left. nginx does the same with tcp_nopush.
func setCork(c syscall.Conn, on bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	v := 0
	if on {
		v = 1
	}
	_ = rc.Control(func(fd uintptr) {
		// Best effort: a socket that refuses keeps working uncorked.
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK, v)
	})
}
