package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/pxe"
)

// The IPv6 side of serve: --pool6 START-END runs DHCPv6 on the interface's
// IPv6 network beside DHCPv4 (--pool), or alone.

// parsePool6 reads --pool6: two IPv6 addresses of one /64, START ≤ END.
func parsePool6(s string) (dhcp6.Range, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return dhcp6.Range{}, fmt.Errorf("--pool6 %q: want START-END", s)
	}
	start, err := netip.ParseAddr(strings.TrimSpace(a))
	if err != nil {
		return dhcp6.Range{}, fmt.Errorf("--pool6 %q: %v", s, err)
	}
	end, err := netip.ParseAddr(strings.TrimSpace(b))
	if err != nil {
		return dhcp6.Range{}, fmt.Errorf("--pool6 %q: %v", s, err)
	}
	if !start.Is6() || start.Is4In6() || !end.Is6() || end.Is4In6() || end.Less(start) {
		return dhcp6.Range{}, fmt.Errorf("--pool6 %q: want two IPv6 addresses, START ≤ END", s)
	}
	return dhcp6.Range{Start: start, End: end}, nil
}

// config6 adds --pool6 to cfg. iPXE asks DHCPv6 only when a router
// advertisement says M, so --pool6 turns advertisements on: they say M
// and O, name the interface's prefix on-link but not autonomous, and
// offer no default route.
func (o *serveOptions) config6(cfg *pxe.Config) error {
	if o.pool6 == "" {
		return nil
	}
	rng, err := parsePool6(o.pool6)
	if err != nil {
		return err
	}
	cfg.Subnets6 = []dhcp6.Subnet{{Pools: []dhcp6.Range{rng}, LeaseTime: o.leaseTime}}
	cfg.RouterAdvertisement = true
	cfg.RouterLifetime = o.routerLifetime
	return nil
}

// override6 applies --pool6 to a config file: the first IPv6 subnet's
// pools become the flag's (a subnet on the interface's network is added
// when the file has none), and advertisements are turned on as config6
// does.
func (o *serveOptions) override6(f *pxe.ConfigFile) error {
	rng, err := parsePool6(o.pool6)
	if err != nil {
		return err
	}
	if len(f.Subnets6) == 0 {
		f.Subnets6 = append(f.Subnets6, pxe.Subnet6Spec{})
	}
	f.Subnets6[0].Pools = []pxe.PoolSpec{{Start: rng.Start, End: rng.End}}
	f.RouterAdvertisement = true
	return nil
}
