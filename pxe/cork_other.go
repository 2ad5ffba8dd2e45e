//go:build !linux

package pxe

import "syscall"

// setCork does nothing where TCP_CORK does not exist.
func setCork(syscall.Conn, bool) {}
