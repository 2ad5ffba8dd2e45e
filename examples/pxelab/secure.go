package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/pxekit/pxekit/grub"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/labca"
)

// secureOptions are serve's Secure Boot and HTTPS flags.
type secureOptions struct {
	secureBoot                   bool
	secureBootDir                string
	tlsCert, tlsKey, tlsLabCA    string
	httpsPort                    int
	httpsBoot, filesHTTPSOnly    bool
	secureBootShim               bool
	labCAFirmwareFile, labCAFile string // where --tls-lab-ca put the CA for clients
}

func (s *secureOptions) flags(fl *flag.FlagSet) {
	fl.BoolVar(&s.secureBoot, "secure-boot", false, "boot UEFI x86-64 machines under Secure Boot: shim, then GRUB, then the kernel, which must be signed by a key shim trusts (Debian's shim: Debian's kernels); BIOS machines keep iPXE")
	fl.StringVar(&s.secureBootDir, "secure-boot-dir", "", "directory with the signed shimx64.efi and grubx64.efi to serve (default: Debian's shim-signed and grub-efi-amd64-signed)")
	fl.BoolVar(&s.secureBootShim, "secure-boot-http-shim", false, "give UEFI HTTP boot shim itself instead of a disk image holding the chain (needs a GRUB that reads over HTTP; Debian 12's cannot)")
	fl.StringVar(&s.tlsCert, "tls-cert", "", "PEM certificate chain for HTTPS; it must name the server's address as an IP SAN (firmware checks it)")
	fl.StringVar(&s.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&s.tlsLabCA, "tls-lab-ca", "", "serve HTTPS with a certificate from the lab CA in `DIR` (created there if absent); DIR/cacerts.esl is the CA for OVMF (qemu -fw_cfg name=etc/edk2/https/cacerts,file=DIR/cacerts.esl), DIR/ca.pem for curl and the like")
	fl.IntVar(&s.httpsPort, "https-port", 443, "HTTPS port")
	fl.BoolVar(&s.httpsBoot, "https-boot", false, "give UEFI HTTP boot https:// URLs (the firmware must trust the CA)")
	fl.BoolVar(&s.filesHTTPSOnly, "files-https-only", false, "serve per-machine files (installer configs) over HTTPS only")
}

// apply sets cfg's Secure Boot and HTTPS fields and the kind of every
// profile in inv.
func (s *secureOptions) apply(cfg *pxe.Config, inv *pxe.InventorySpec) error {
	if s.secureBoot {
		for name, p := range inv.Profiles {
			p.Kind = pxe.ProfileSecureBoot
			inv.Profiles[name] = p
		}
	}
	if s.secureBootDir != "" {
		found, err := grub.Locate(s.secureBootDir)
		if err != nil {
			return fmt.Errorf("--secure-boot-dir: %w", err)
		}
		cfg.SecureBoot = grub.BinaryFS(found)
	}
	if s.secureBootShim {
		cfg.SecureBootHTTP = pxe.SecureBootShim
	}
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if s.tlsCert != "" && s.tlsLabCA != "" {
		return errors.New("--tls-cert/--tls-key or --tls-lab-ca, not both")
	}
	cfg.TLSCertFile, cfg.TLSKeyFile = s.tlsCert, s.tlsKey
	if s.tlsLabCA != "" {
		dir, err := filepath.Abs(s.tlsLabCA)
		if err != nil {
			return err
		}
		cfg.TLSLabCA = dir
		s.labCAFirmwareFile, s.labCAFile = filepath.Join(dir, labca.SignatureListFile), filepath.Join(dir, labca.CertFile)
	}
	cfg.HTTPSPort = s.httpsPort
	cfg.HTTPSBoot = s.httpsBoot
	cfg.FilesHTTPSOnly = s.filesHTTPSOnly
	return nil
}

// announce says where the lab CA is, for the clients that must trust it.
func (s *secureOptions) announce(w io.Writer) {
	if s.labCAFirmwareFile != "" {
		fmt.Fprintf(w, "pxelab: HTTPS certificate from the lab CA %s; give clients %s (OVMF: qemu -fw_cfg name=etc/edk2/https/cacerts,file=%s)\n",
			s.labCAFile, s.labCAFirmwareFile, s.labCAFirmwareFile)
	}
}
