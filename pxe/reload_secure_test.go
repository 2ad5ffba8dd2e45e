package pxe

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/dhcp"
)

// A reload that makes a machine's profile a Secure Boot one with other
// arguments takes effect for its next DHCP request and grub.cfg, with the loaders
// and the HTTPS certificate New set up; one that changes the HTTPS
// settings is refused, as they need a restart.
func TestReloadSecureBoot(t *testing.T) {
	var cfg Config
	s := sbServer(t, func(c *Config) {
		c.TLSLabCA, c.HTTPSPort, c.HTTPSBoot = filepath.Join(t.TempDir(), "ca"), 8443, true
		cfg = *c
	})
	uefi := dhcp.Client{MAC: macIPXE, Archs: []dhcp.Arch{dhcp.ArchEFIx64}, VendorClass: "PXEClient:Arch:00007"}
	if d := s.bootPolicy()(uefi); d.Filename != "ipxe.efi" {
		t.Fatalf("before the reload node2 gets %+v, want ipxe.efi", d)
	}
	grubCfg := "/grub/" + macIPXE.String() + ".cfg"

	spec := sbInventory()
	plain := spec.Profiles["plain"]
	plain.Kind, plain.Args = ProfileSecureBoot, []string{"console=ttyS0", "pxekit.reloaded=1"}
	spec.Profiles["plain"] = plain
	next := cfg
	var err error
	if next.Inventory, err = NewStaticInventory(spec); err != nil {
		t.Fatal(err)
	}
	must(t, s.Reload(next))

	if d := s.bootPolicy()(uefi); d.Filename != "shimx64.efi" {
		t.Errorf("after the reload node2 gets %+v, want shimx64.efi", d)
	}
	http := dhcp.Client{MAC: macIPXE, Archs: []dhcp.Arch{dhcp.ArchEFIx64HTTP}, VendorClass: "HTTPClient:Arch:00016:UNDI:003000"}
	if d := s.bootPolicy()(http); d.Filename != "https://127.0.0.1:8443/secureboot/"+macIPXE.String()+".img" {
		t.Errorf("after the reload node2 over UEFI HTTP gets %+v, want its disk image over HTTPS", d)
	}
	if w := do(s.Handler(), "GET", grubCfg, "192.0.2.10:4000", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "if linux '/assets/vmlinuz' 'console=ttyS0' 'pxekit.reloaded=1' ; then") {
		t.Errorf("node2's grub.cfg over HTTP after the reload: %d %q", w.Code, w.Body)
	}
	if got := readFS(t, s.tftp.Root, strings.TrimPrefix(grubCfg, "/")); !strings.Contains(string(got), "'pxekit.reloaded=1'") {
		t.Errorf("node2's grub.cfg over TFTP after the reload: %q", got)
	}
	if got := readFS(t, s.tftp.Root, "grubx64.efi"); !strings.HasPrefix(string(got), "MZ grubnetx64") {
		t.Errorf("grubx64.efi over TFTP after the reload: %q", got)
	}

	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.HTTPSPort = 9443 }, "httpsPort: Forbidden"},
		{func(c *Config) { c.TLSLabCA = t.TempDir() }, "tlsLabCA: Forbidden"},
		{func(c *Config) { c.HTTPSBoot = false }, "httpsBoot: Forbidden"},
		{func(c *Config) { c.SecureBootHTTP = SecureBootShim }, "secureBootHTTP: Forbidden"},
	} {
		bad := next
		c.change(&bad)
		if err := s.Reload(bad); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "restart to apply") {
			t.Errorf("reload: %v, want %q", err, c.want)
		}
	}
	if d := s.bootPolicy()(uefi); d.Filename != "shimx64.efi" {
		t.Errorf("after refused reloads node2 gets %+v, want shimx64.efi still", d)
	}
}
