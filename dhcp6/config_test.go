package dhcp6

import (
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/dhcp"
)

// Every problem of a config is reported at once, under its path.
func TestValidate(t *testing.T) {
	c := Config{
		ServerDUID: []byte{0, 1},
		Store:      dhcp.NewMemStore(),
		LeaseFile:  "x.db",
		Workers:    -1,
		Subnets: []Subnet{
			labSubnet(),
			{Prefix: mustPrefix("192.0.2.0/24")},
			{Prefix: mustPrefix("2001:db8::/48")},
			{Prefix: mustPrefix("2001:db8:1::1/64")},
			{Prefix: mustPrefix("2001:db8:2::/64"), LeaseTime: time.Second, PreferredLifetime: 2 * time.Hour,
				DNS: []netip.Addr{mustAddr("192.0.2.53")},
				Pools: []Range{
					{mustAddr("2001:db8:2::200"), mustAddr("2001:db8:2::100")},
					{mustAddr("2001:db8:3::1"), mustAddr("2001:db8:3::2")},
					{mustAddr("2001:db8:2::"), mustAddr("2001:db8:2::10")},
					{mustAddr("2001:db8:2::5"), mustAddr("2001:db8:2::6")},
				}},
			{Prefix: mustPrefix("fe80::/64")},
		},
		Reservations: []Reservation{
			{IP: mustAddr("2001:db8::10")},
			{DUID: []byte{0, 4, 1}, MAC: mustMAC("52:54:00:00:00:01"), IP: mustAddr("2001:db8::11")},
			{DUID: []byte{0, 4, 1}, IP: mustAddr("2001:db8:7::1")},
			{MAC: mustMAC("52:54:00:00:00:02"), IP: mustAddr("2001:db8::11")},
		},
	}
	var got []string
	for _, e := range c.Validate() {
		got = append(got, e.Field+": "+e.Type.String())
	}
	sort.Strings(got)
	want := []string{
		"leaseFile: Forbidden",
		"reservations[0].duid: Required value",
		"reservations[1].mac: Forbidden",
		"reservations[2].duid: Duplicate value",
		"reservations[2].ip: Invalid value",
		"reservations[3].ip: Duplicate value",
		"serverDUID: Invalid value",
		"subnets[1].prefix: Invalid value",
		"subnets[2].prefix: Duplicate value",
		"subnets[3].prefix: Invalid value",
		"subnets[4].dns[0]: Invalid value",
		"subnets[4].leaseTime: Invalid value",
		"subnets[4].pools[0].end: Invalid value",
		"subnets[4].pools[1]: Invalid value",
		"subnets[4].pools[2]: Invalid value",
		"subnets[4].pools[3]: Duplicate value",
		"subnets[4].preferredLifetime: Invalid value",
		"subnets[5].prefix: Invalid value",
		"workers: Invalid value",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := (Config{Subnets: []Subnet{labSubnet()}}).Validate(); len(errs) != 0 {
		t.Errorf("the lab config: %v", errs)
	}
}

func TestRangeSize(t *testing.T) {
	for _, c := range []struct {
		r    Range
		want uint64
	}{
		{Range{mustAddr("2001:db8::100"), mustAddr("2001:db8::1ff")}, 256},
		{Range{mustAddr("2001:db8::1"), mustAddr("2001:db8::1")}, 1},
		{Range{mustAddr("2001:db8::"), mustAddr("2001:db8::ffff:ffff:ffff:ffff")}, 1<<64 - 1},
		{Range{mustAddr("2001:db8::2"), mustAddr("2001:db8::1")}, 0},
		{Range{mustAddr("2001:db8::1"), mustAddr("2001:db8:0:1::1")}, 0},
		{Range{mustAddr("192.0.2.1"), mustAddr("192.0.2.9")}, 0},
	} {
		if got := c.r.Size(); got != c.want {
			t.Errorf("%v: size %d, want %d", c.r, got, c.want)
		}
	}
}
