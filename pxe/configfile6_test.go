package pxe

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The IPv6-only example file turns into Subnets6, Reservations6 and
// Addr6, and no IPv4 subnet.
func TestExampleConfigFileIPv6(t *testing.T) {
	f, errs := ParseConfig(exampleConfig(t, "ipv6-lab.yaml"))
	if len(errs) > 0 {
		t.Fatalf("ipv6-lab.yaml: %v", errs)
	}
	cfg, errs := f.convert()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(cfg.Subnets) != 0 || len(cfg.Subnets6) != 1 || cfg.Subnets6[0].Prefix.IsValid() ||
		cfg.Subnets6[0].Pools[0].Size() != 256 || cfg.Subnets6[0].LeaseTime != time.Hour ||
		cfg.Subnets6[0].DomainSearch[0] != "lab.example" || cfg.Addr6 != netip.MustParseAddr("2001:db8::1") || !cfg.RouterAdvertisement || cfg.RouterLifetime != 30*time.Minute {
		t.Errorf("ipv6-lab.yaml: subnets %v subnets6 %+v addr6 %s", cfg.Subnets, cfg.Subnets6, cfg.Addr6)
	}
	r := cfg.Reservations6
	if len(r) != 2 || r[0].MAC.String() != "52:54:00:66:00:01" || r[0].IP != netip.MustParseAddr("2001:db8::10") ||
		len(r[1].DUID) != 18 || r[1].DUID[1] != 4 || r[1].MAC != nil || r[1].Hostname != "ipxe6" {
		t.Errorf("ipv6-lab.yaml reservations6 %+v", r)
	}
}

// The IPv6 sections are checked like the rest: each problem under its
// path in the file and on its line.
func TestConfigFileIPv6Errors(t *testing.T) {
	doc := `apiVersion: pxekit/v1alpha1
kind: BootServer
interface: br0
address6: fe80::1
subnets6:
  - prefix: 2001:db8::/64
    pools:
      - {start: 2001:db8::200, end: 2001:db8::100}
    leaseTime: 1s
  - prefix: 192.0.2.0/24
reservations6:
  - {duid: "zz:01", ip: 2001:db8::5}
  - {mac: "ff:ff:ff:ff:ff:ff", ip: 2001:db8::6}
  - {ip: 2001:db8::7}
`
	path := filepath.Join(t.TempDir(), "pxekit.yaml")
	must(t, os.WriteFile(path, []byte(doc), 0o644))
	_, err := LoadConfig(path)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadConfig: %v, want a *ConfigError", err)
	}
	want := map[string]int{ // path → line
		"address6":                 4,
		"subnets6[0].pools[0].end": 8,
		"subnets6[0].leaseTime":    9,
		"subnets6[1].prefix":       10,
		"reservations6[0].duid":    12,
		"reservations6[1].mac":     13,
		"reservations6[2].duid":    14,
	}
	got := map[string]int{}
	for _, e := range ce.Errors {
		got[e.Field] = ce.Line(e)
	}
	for p, line := range want {
		if l, ok := got[p]; !ok || l != line {
			t.Errorf("%s: line %d (reported: %v), want line %d\n%v", p, l, ok, line, err)
		}
	}
	if len(ce.Errors) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(ce.Errors), len(want), err)
	}
	if !strings.Contains(err.Error(), path+":8: subnets6[0].pools[0].end") {
		t.Errorf("error text does not read FILE:LINE: path: message:\n%s", err)
	}
}
