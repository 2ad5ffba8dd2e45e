// Package grub builds and checks GRUB configurations for Secure Boot
// network boots, and finds the signed loaders that run them.
//
// Under UEFI Secure Boot the firmware runs only binaries signed by a key in
// its db (Microsoft's UEFI CA on most machines), and iPXE as distributions
// build it is not. The signed chain is shim (signed by Microsoft, carrying
// the distribution's certificate), then GRUB (signed by the distribution),
// then a kernel signed by the distribution: shim checks GRUB, GRUB asks
// shim to check the kernel and refuses one without a trusted signature.
//
// Config renders a grub.cfg (echo, set, source, sleep, halt, exit and a
// guarded Linux boot) in which every value is single-quoted, so none can
// inject a GRUB command, expand a variable or split into two words; values
// GRUB would hand to the kernel changed (quotes, backslashes) or that are
// not one printable line are refused, each with its line. Linux boots a
// kernel and its initrds and, when GRUB cannot (a refused signature, a
// missing file), says so and reads a report path so that a boot server,
// which cannot see GRUB's console, learns why.
//
// Lint checks a grub.cfg from elsewhere the way the signed network GRUB
// would fail on it: syntax (quotes, if/fi, braces), commands that
// Debian 12's signed grubnetx64.efi does not have (modules cannot be loaded
// under Secure Boot), http paths it cannot read, a linux without a kernel.
// Quote and Words are GRUB's quoting and word splitting.
//
// Locate finds Debian's and Ubuntu's signed shim (shim-signed) and network
// GRUB (grub-efi-amd64-signed), checks that both carry a signature and that
// shim's revocation level (SBAT) admits this GRUB, and BinaryFS serves them
// under the names the chain asks for: shimx64.efi, and grubx64.efi beside
// it. The network GRUB reads only /grub/grub.cfg from its boot server
// (its built-in prefix); a server selects per machine inside that file.
package grub
