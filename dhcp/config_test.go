package dhcp

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	c := labConfig()
	c.Subnets = append(c.Subnets, Subnet{
		Prefix: netip.MustParsePrefix("192.0.2.128/25"), // overlaps subnets[0]
		Pools:  []Range{{netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("192.0.2.150")}},
		MTU:    40,
	})
	c.Subnets[0].Pools = append(c.Subnets[0].Pools,
		Range{netip.MustParseAddr("192.0.2.150"), netip.MustParseAddr("192.0.2.160")}, // overlaps pools[0]
		Range{netip.MustParseAddr("192.0.2.250"), netip.MustParseAddr("192.0.2.255")}, // broadcast
		Range{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.9")},
	)
	c.Reservations = []Reservation{
		{MAC: mustMAC("52:54:00:6b:13:e2"), IP: netip.MustParseAddr("192.0.2.10")},
		{MAC: mustMAC("52:54:00:6b:13:e2"), IP: netip.MustParseAddr("192.0.2.10")},
		{MAC: mustMAC("52:54:00:69:d5:92"), IP: netip.MustParseAddr("203.0.113.5")},
	}
	errs := c.Validate()
	got := errs.ToAggregate().Error()
	for _, want := range []string{
		"subnets[1].prefix: Duplicate value",
		"subnets[1].pools[0].end: Invalid value",
		"subnets[1].mtu: Invalid value: 40",
		"subnets[0].pools[1]: Duplicate value",
		"subnets[0].pools[2]: Invalid value: \"192.0.2.250-192.0.2.255\": must not include the network or broadcast address",
		"subnets[0].pools[3]: Invalid value",
		"reservations[1].mac: Duplicate value",
		"reservations[1].ip: Duplicate value",
		"reservations[2].ip: Invalid value: \"203.0.113.5\": is inside no subnet",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(errs) != 9 {
		t.Errorf("%d errors, want 9:\n%s", len(errs), got)
	}
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "reservations[2].ip") {
		t.Errorf("New accepted a bad config: %v", err)
	}
	if errs := labConfig().Validate(); len(errs) != 0 {
		t.Errorf("lab config: %v", errs)
	}
	p := Config{ProxyDHCP: true}
	if got := p.Validate().ToAggregate().Error(); !strings.Contains(got, "boot: Required value") {
		t.Errorf("proxy without policy: %s", got)
	}
}
