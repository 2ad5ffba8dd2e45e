package impair

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DisableOffloads turns off TSO, GSO, GRO, scatter-gather and transmit
// checksum offload on ifname (in the calling thread's namespace). Frames a
// packet socket reads from a link are taken as the kernel holds them: with
// offloads on, a local TCP sender's segments arrive as one super-frame
// larger than the MTU with its checksum left for hardware to fill, which a
// relay cannot send on. With them off on the links that transmit into the
// relay, the kernel segments and checksums before the frame crosses, so
// every frame is whole, MTU-sized and valid. (TPACKET with vnet headers
// would keep the offloads but makes the relay segment and checksum itself;
// lab links are slow enough that software segmentation costs nothing.)
func DisableOffloads(ifname string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("impair: offloads on %s: %w", ifname, err)
	}
	defer unix.Close(fd)
	// Order matters: TSO needs scatter-gather and checksumming, so it goes
	// first; the kernel refuses to leave a feature on whose needs are off
	// only by turning it off itself.
	for _, c := range []struct {
		cmd  uint32
		name string
	}{{unix.ETHTOOL_STSO, "tso"}, {unix.ETHTOOL_SGSO, "gso"}, {unix.ETHTOOL_SGRO, "gro"}, {unix.ETHTOOL_SSG, "sg"}, {unix.ETHTOOL_STXCSUM, "tx-checksum"}} {
		if err := ethtoolSet(fd, ifname, c.cmd, 0); err != nil {
			return fmt.Errorf("impair: %s off on %s: %w", c.name, ifname, err)
		}
	}
	return nil
}

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct{ cmd, data uint32 }

// ifreqData is struct ifreq with its union holding a pointer.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

func ethtoolSet(fd int, ifname string, cmd, v uint32) error {
	if len(ifname) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q too long", ifname)
	}
	val := ethtoolValue{cmd: cmd, data: v}
	var ifr ifreqData
	copy(ifr.name[:], ifname)
	ifr.data = uintptr(unsafe.Pointer(&val))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&val)
	if errno != 0 {
		return errno
	}
	return nil
}
