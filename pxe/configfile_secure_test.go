package pxe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The config file's tls section, secureBootHTTP, directories.secureBoot
// and a profile's kind become the Config fields of HTTPS and Secure Boot,
// with paths relative to the file; what cannot work is refused at its path.
func TestConfigFileSecure(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "assets"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "assets", "vmlinuz"), []byte("kernel"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "ipxe"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "ipxe", "undionly.kpxe"), []byte("ipxe"), 0o644))
	doc := `apiVersion: pxekit/v1alpha1
kind: BootServer
interface: lo
subnets:
  - prefix: 192.0.2.0/24
    pools: [{start: 192.0.2.100, end: 192.0.2.199}]
directories: {assets: assets, ipxe: ipxe}
profiles: {node: {kind: secureboot, kernel: vmlinuz}}
defaultProfile: node
tls: {labCA: ca, port: 8443, httpsBoot: true, filesHTTPSOnly: true}
secureBootHTTP: shim
`
	path := filepath.Join(dir, "pxekit.yaml")
	must(t, os.WriteFile(path, []byte(doc), 0o644))
	f, err := LoadConfig(path)
	must(t, err)
	cfg, release, err := f.Config()
	must(t, err)
	defer release()
	if cfg.TLSLabCA != filepath.Join(dir, "ca") || cfg.HTTPSPort != 8443 || !cfg.HTTPSBoot || !cfg.FilesHTTPSOnly ||
		cfg.TLSCertFile != "" || cfg.SecureBootHTTP != SecureBootShim {
		t.Errorf("TLS and Secure Boot settings: labCA %q port %d httpsBoot %v filesHTTPSOnly %v cert %q secureBootHTTP %q",
			cfg.TLSLabCA, cfg.HTTPSPort, cfg.HTTPSBoot, cfg.FilesHTTPSOnly, cfg.TLSCertFile, cfg.SecureBootHTTP)
	}
	if _, p, err := cfg.Inventory.Lookup(macSB); err != nil || p.Kind != ProfileSecureBoot {
		t.Errorf("the default profile: %+v %v, want kind %q", p, err, ProfileSecureBoot)
	}

	// A directory without the signed loaders is named as the one at fault.
	must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	must(t, os.WriteFile(path, []byte(strings.Replace(doc, "ipxe: ipxe}", "ipxe: ipxe, secureBoot: empty}", 1)), 0o644))
	f, err = LoadConfig(path)
	must(t, err)
	_, _, err = f.Config()
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Errors) != 1 || ce.Errors[0].Field != "directories.secureBoot" {
		t.Errorf("a directory without shim and GRUB: %v", err)
	}

	for _, c := range []struct{ tls, want string }{
		{"{labCA: ca, certFile: c.pem, keyFile: k.pem}", "tls.labCA: Forbidden"},
		{"{clientCAFile: ca.pem}", "tls.clientCAFile: Forbidden"},
		{"{labCA: ca, port: 70000}", "tls.port: Invalid value: 70000"},
	} {
		_, errs := ParseConfig([]byte(strings.Replace(doc, "{labCA: ca, port: 8443, httpsBoot: true, filesHTTPSOnly: true}", c.tls, 1)))
		if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), c.want) {
			t.Errorf("tls: %s: %v, want %q", c.tls, errs, c.want)
		}
	}
}
