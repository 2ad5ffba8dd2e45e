package grub

import (
	"debug/pe"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pxekit/pxekit/internal/binfs"
)

// Binary is the name under which a signed loader is served.
type Binary string

// The two loaders of the Secure Boot chain, under the names it asks for.
const (
	// Shim is what the firmware loads first (the DHCP boot file).
	Shim Binary = "shimx64.efi"
	// GRUB is what shim loads next, from its own directory, under this
	// name; served beside Shim.
	GRUB Binary = "grubx64.efi"
)

// Binaries lists the loaders Locate looks for.
func Binaries() []Binary { return []Binary{Shim, GRUB} }

// DefaultDirs are where Debian and Ubuntu install the signed loaders:
// shim-signed's /usr/lib/shim and grub-efi-amd64-signed's
// /usr/lib/grub/x86_64-efi-signed.
func DefaultDirs() []string { return []string{"/usr/lib/shim", "/usr/lib/grub/x86_64-efi-signed"} }

// aliases are the files each loader is, signed: Microsoft's signature on
// shim, Debian's on the network GRUB (the image with tftp built in and
// /grub as its prefix). A directory of one's own may hold them under the
// served names. Debian's unsigned /usr/lib/shim/shimx64.efi is not taken:
// the .signed file is looked for first, and Locate checks the signature.
func aliases() map[Binary][]string {
	return map[Binary][]string{
		Shim: {"shimx64.efi.signed", string(Shim)},
		GRUB: {"grubnetx64.efi.signed", string(GRUB)},
	}
}

// Locate finds shim and the network GRUB in dirs, or in DefaultDirs when
// none are given, and checks that both are signed PE images and that
// shim's automatic revocation level admits this GRUB (CheckSBAT). It
// returns what it found (served name → path); the error names what is
// missing or unusable and how to get it.
func Locate(dirs ...string) (map[Binary]string, error) {
	if len(dirs) == 0 {
		dirs = DefaultDirs()
	}
	found, missing := binfs.Find(Binaries(), aliases(), dirs)
	if len(missing) > 0 {
		return found, fmt.Errorf("Secure Boot loaders not found: %s (looked in %s; on Debian: apt-get install shim-signed grub-efi-amd64-signed)",
			strings.Join(missing, ", "), strings.Join(dirs, ", "))
	}
	var errs []error
	for _, b := range Binaries() {
		if ok, err := Signed(found[b]); err != nil || !ok {
			if err == nil {
				err = errors.New("it has no Authenticode signature")
			}
			errs = append(errs, fmt.Errorf("%s (%s): %w", b, found[b], err))
		}
	}
	if len(errs) == 0 {
		if err := CheckSBAT(found[Shim], found[GRUB]); err != nil {
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}

// BinaryFS serves located loaders under their names, flat: a TFTP or HTTP
// directory with shimx64.efi and grubx64.efi side by side, as shim wants.
func BinaryFS(found map[Binary]string) fs.FS { return binfs.FS(Binaries(), found) }

// Signed reports whether the PE image at path carries an Authenticode
// signature (a certificate table, the security data directory): what
// shim and the firmware check. It does not verify the signature.
func Signed(path string) (bool, error) {
	f, err := pe.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	const security = 4 // IMAGE_DIRECTORY_ENTRY_SECURITY
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		return oh.NumberOfRvaAndSizes > security && oh.DataDirectory[security].Size > 0, nil
	case *pe.OptionalHeader32:
		return oh.NumberOfRvaAndSizes > security && oh.DataDirectory[security].Size > 0, nil
	}
	return false, errors.New("no PE optional header")
}
