package pxetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/pxekit/pxekit/grub"
)

// RequireSecureBoot needs what a Secure Boot network boot runs: root, QEMU
// and Secure Boot OVMF (UEFISecureBoot, UEFISecureBootHTTP), and the signed
// shim and network GRUB a boot server serves (grub.Locate: Debian's
// shim-signed and grub-efi-amd64-signed). It returns the loaders' paths.
func RequireSecureBoot(tb testing.TB) map[grub.Binary]string {
	tb.Helper()
	RequireFirmware(tb, UEFISecureBoot, UEFISecureBootHTTP)
	found, err := grub.Locate()
	if err != nil {
		Missing(tb, "the signed shim and GRUB", err.Error())
	}
	return found
}

// StripSignature returns a copy of the PE image (a kernel, a loader)
// without its Authenticode signature, as sbattach --remove does: the
// certificate table at the end of the file is cut off, its data directory
// entry cleared and the header checksum computed again. Under Secure Boot
// shim and GRUB refuse such an image; without Secure Boot it runs as
// before.
func StripSignature(image []byte) ([]byte, error) {
	if len(image) < 0x40 || string(image[:2]) != "MZ" {
		return nil, errors.New("pxetest: not a PE image (no MZ header)")
	}
	pe := int(binary.LittleEndian.Uint32(image[0x3c:]))
	if pe < 0 || pe+24 > len(image) || string(image[pe:pe+4]) != "PE\x00\x00" {
		return nil, errors.New("pxetest: not a PE image (no PE signature)")
	}
	opt := pe + 24
	if opt+2 > len(image) {
		return nil, errors.New("pxetest: PE optional header cut short")
	}
	var dirs int
	switch magic := binary.LittleEndian.Uint16(image[opt:]); magic {
	case 0x20b: // PE32+
		dirs = opt + 112
	case 0x10b: // PE32
		dirs = opt + 96
	default:
		return nil, fmt.Errorf("pxetest: PE optional header magic %#x", magic)
	}
	const security = 4 // IMAGE_DIRECTORY_ENTRY_SECURITY
	entry := dirs + security*8
	if entry+8 > len(image) || binary.LittleEndian.Uint32(image[dirs-4:]) <= security {
		return nil, errors.New("pxetest: PE image without a security data directory")
	}
	off := int(binary.LittleEndian.Uint32(image[entry:]))
	size := int(binary.LittleEndian.Uint32(image[entry+4:]))
	if size == 0 {
		return nil, errors.New("pxetest: the image has no signature to strip")
	}
	if off <= entry || off+size != len(image) {
		return nil, fmt.Errorf("pxetest: the certificate table (%d bytes at %d) is not at the end of the %d-byte file", size, off, len(image))
	}
	out := append([]byte(nil), image[:off]...)
	clear(out[entry : entry+8])
	checksum := opt + 64
	binary.LittleEndian.PutUint32(out[checksum:], peChecksum(out, checksum))
	return out, nil
}

// peChecksum is the PE header checksum of b: the 16-bit one's-complement
// sum of the file with the checksum field skipped, plus the length.
func peChecksum(b []byte, field int) uint32 {
	var sum uint64
	for i := 0; i+1 < len(b); i += 2 {
		if i == field || i == field+2 {
			continue
		}
		sum += uint64(binary.LittleEndian.Uint16(b[i:]))
		sum = (sum & 0xffff) + (sum >> 16)
	}
	if len(b)%2 == 1 {
		sum += uint64(b[len(b)-1])
		sum = (sum & 0xffff) + (sum >> 16)
	}
	sum = (sum & 0xffff) + (sum >> 16)
	return uint32(sum) + uint32(len(b))
}
