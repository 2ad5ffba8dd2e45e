package pxetest

import (
	"crypto/rand"
	"fmt"
)

// ipv6Args are QEMU's firmware arguments for UEFIPXE6 and UEFIHTTP6: OVMF
// with its own network stack (no iPXE ROM on the NIC) and IPv4 switched
// off, so PXE over IPv6 runs first and HTTP boot over IPv6 after it.
func ipv6Args(cfg VMConfig, nic string) []string {
	ovmf := cfg.OVMF
	if ovmf == "" {
		ovmf = OVMFImage
	}
	return []string{
		"-bios", ovmf,
		"-device", nic + ",romfile=",
		// IPv4Support=n removes both IPv4 boot options (PXEv4 and HTTPv4);
		// without it each waits 60 s for a DHCPv4 answer first.
		"-fw_cfg", "name=opt/org.tianocore/IPv4Support,string=n",
	}
}

// newUUID is a random (version 4) UUID in QEMU's -uuid form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
