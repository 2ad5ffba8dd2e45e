package pxe

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// brokenInventory validates itself and finds a problem.
type brokenInventory struct{ StaticInventory }

func (*brokenInventory) Validate() field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath("machines").Index(2).Child("mac"), "1:2", "must be a 6-byte Ethernet address")}
}

func TestConfigValidate(t *testing.T) {
	bad := Config{
		Addr: netip.MustParseAddr("2001:db8::1"), HTTPPort: 70000, TFTPPort: -1, TFTPWindowSize: -2,
		URLKey: []byte("short"), URLTTL: -1, Inventory: &brokenInventory{},
	}
	var fields []string
	for _, e := range bad.Validate() {
		fields = append(fields, e.Field)
	}
	want := "interface addr httpPort tftpPort tftpWindowSize urlKey urlTTL inventory.machines[2].mac"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("Validate paths %q, want %q", got, want)
	}
	_, err := New(bad)
	if err == nil || !strings.Contains(err.Error(), "inventory.machines[2].mac: Invalid value") {
		t.Errorf("New(bad) = %v", err)
	}
	if errs := (Config{Interface: "lo"}).Validate(); len(errs) != 0 {
		t.Errorf("a Config with only Interface: %v", errs)
	}
}

// New finds the interface's address, so the URLs a server hands out are
// known before it serves, and its DHCP server and responder exist from
// the start.
func TestNewResolvesAndBuilds(t *testing.T) {
	s, err := New(Config{Interface: "lo", HTTPPort: 8080, IPXE: fstest.MapFS{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.BaseURL() != "http://127.0.0.1:8080" {
		t.Errorf("BaseURL %q before Serve, want http://127.0.0.1:8080", s.BaseURL())
	}
	if s.DHCP() == nil || s.RA() == nil {
		t.Fatal("DHCP() or RA() is nil after New")
	}
	// A nil Inventory denies every machine.
	if w := do(s.Handler(), "GET", "/boot.ipxe?mac=52:54:00:00:00:01", "127.0.0.1:4000", nil); w.Code != 403 {
		t.Errorf("script with no inventory: %d", w.Code)
	}
	if _, err := New(Config{Interface: "no-such-link0", IPXE: fstest.MapFS{}}); err == nil || !strings.Contains(err.Error(), "no-such-link0") {
		t.Errorf("New on a missing interface: %v", err)
	}
	if _, err := New(Config{Interface: "lo", Addr: netip.MustParseAddr("192.0.2.77"), IPXE: fstest.MapFS{}}); err == nil || !strings.Contains(err.Error(), "does not have 192.0.2.77") {
		t.Errorf("New with an address lo lacks: %v", err)
	}
	if _, err := s.SignedFileURL(net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}, "x", 0); err == nil {
		t.Error("SignedFileURL without a URLKey")
	}
}
