package ipxe

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/pxekit/pxekit/internal/binfs"
)

// Binary is the canonical name under which an iPXE build is served.
type Binary string

// The iPXE builds a boot server hands out.
const (
	UndionlyKPXE Binary = "undionly.kpxe" // BIOS PXE: iPXE on top of the NIC's UNDI driver
	IPXEEFI      Binary = "ipxe.efi"      // UEFI x86-64 with iPXE's own NIC drivers
	SNPOnlyEFI   Binary = "snponly.efi"   // UEFI x86-64 using the firmware's SNP driver only
)

// Binaries lists the builds Locate looks for (a function, not a package
// variable: no global state a caller could change).
func Binaries() []Binary { return []Binary{UndionlyKPXE, IPXEEFI, SNPOnlyEFI} }

// DefaultDirs are where distributions install iPXE builds: Debian and
// Ubuntu's ipxe package (/usr/lib/ipxe), Fedora/RHEL's ipxe-bootimgs and
// openSUSE, Arch and Alpine (/usr/share/ipxe and subdirectories).
func DefaultDirs() []string {
	return []string{"/usr/lib/ipxe", "/usr/share/ipxe", "/usr/share/ipxe/x86_64", "/usr/share/ipxe/bin-x86_64-efi", "/usr/lib/ipxe/efi"}
}

// aliases are the file names distributions use for each build.
func aliases() map[Binary][]string {
	return map[Binary][]string{
		UndionlyKPXE: {"undionly.kpxe"},
		IPXEEFI:      {"ipxe.efi", "ipxe-x86_64.efi", "ipxe-snp-x86_64.efi"},
		SNPOnlyEFI:   {"snponly.efi", "ipxe-snponly-x86_64.efi", "snponly-x86_64.efi"},
	}
}

// Locate finds the iPXE builds in dirs, or in DefaultDirs when none are
// given; the first directory that has a build wins. It returns what it
// found (canonical name → path) and an error naming every build it did
// not find and where it looked.
func Locate(dirs ...string) (map[Binary]string, error) {
	if len(dirs) == 0 {
		dirs = DefaultDirs()
	}
	found, missing := binfs.Find(Binaries(), aliases(), dirs)
	if len(missing) > 0 {
		return found, fmt.Errorf("iPXE builds not found: %s (looked in %s; on Debian: apt-get install ipxe)",
			strings.Join(missing, ", "), strings.Join(dirs, ", "))
	}
	return found, nil
}

// BinaryFS serves located builds under their canonical names, flat, so a
// TFTP or HTTP root can hand out "ipxe.efi" whatever the distribution
// calls it.
func BinaryFS(found map[Binary]string) fs.FS { return binfs.FS(Binaries(), found) }
