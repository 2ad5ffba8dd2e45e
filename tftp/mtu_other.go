//go:build !linux

package tftp

import "net"

// linkMTU returns the MTU of interface ifIndex (looked up in the calling
// thread's view of the interfaces; Linux asks through the socket instead).
func linkMTU(_ net.PacketConn, ifIndex int) (int, bool) {
	ifc, err := net.InterfaceByIndex(ifIndex)
	if err != nil || ifc.MTU <= 0 {
		return 0, false
	}
	return ifc.MTU, true
}
