package pxe

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/macaddr"
)

// Subnet6Spec is one DHCPv6 subnet (dhcp6.Subnet) of the config file's
// subnets6 section. Its pools are IPv6 ranges inside one /64.
type Subnet6Spec struct {
	// Prefix may be left out for the interface's own IPv6 network (one
	// subnet at most).
	Prefix       netip.Prefix `json:"prefix,omitzero"`
	Pools        []PoolSpec   `json:"pools,omitempty"`
	DNS          []netip.Addr `json:"dns,omitempty"`
	DomainSearch []string     `json:"domainSearch,omitempty"`
	// LeaseTime is the valid lifetime (default 1h), PreferredLifetime the
	// preferred one (default LeaseTime).
	LeaseTime         Duration `json:"leaseTime,omitzero"`
	PreferredLifetime Duration `json:"preferredLifetime,omitzero"`
}

// Reservation6Spec pins a DHCPv6 client, named by its DUID or by its MAC,
// to an IPv6 address (dhcp6.Reservation).
type Reservation6Spec struct {
	// DUID is hex, with or without colons ("00:01:00:01:…").
	DUID     string     `json:"duid,omitempty"`
	MAC      string     `json:"mac,omitempty"`
	IP       netip.Addr `json:"ip"`
	Hostname string     `json:"hostname,omitempty"`
}

// parseDUID reads a DUID written as hex bytes, colons allowed.
func parseDUID(s string) ([]byte, error) {
	return hex.DecodeString(strings.ReplaceAll(s, ":", ""))
}

// convert6 adds the file's IPv6 side to cfg.
func (f *ConfigFile) convert6(cfg *Config) field.ErrorList {
	var errs field.ErrorList
	cfg.Addr6 = f.Address6
	for _, s := range f.Subnets6 {
		sn := dhcp6.Subnet{Prefix: s.Prefix, DNS: s.DNS, DomainSearch: s.DomainSearch,
			LeaseTime: s.LeaseTime.Duration, PreferredLifetime: s.PreferredLifetime.Duration}
		for _, p := range s.Pools {
			sn.Pools = append(sn.Pools, dhcp6.Range{Start: p.Start, End: p.End})
		}
		cfg.Subnets6 = append(cfg.Subnets6, sn)
	}
	for i, r := range f.Reservations6 {
		p := field.NewPath("reservations6").Index(i)
		res := dhcp6.Reservation{IP: r.IP, Hostname: r.Hostname}
		if r.DUID != "" {
			d, err := parseDUID(r.DUID)
			if err != nil {
				errs = append(errs, field.Invalid(p.Child("duid"), r.DUID, "must be hex bytes such as 00:01:00:01:2a:3b:4c:5d:52:54:00:12:34:56"))
			}
			res.DUID = d
		}
		if r.MAC != "" {
			mac, err := macaddr.ParseUnicast(r.MAC)
			if err != nil {
				msg := strings.TrimPrefix(err.Error(), strconv.Quote(r.MAC)+": ")
				errs = append(errs, field.Invalid(p.Child("mac"), r.MAC, msg))
			}
			res.MAC = mac
		}
		// Kept when it did not parse, so the others keep their index;
		// reported once (covered6).
		cfg.Reservations6 = append(cfg.Reservations6, res)
	}
	return errs
}

// covered6 reports whether e is about a reservation whose DUID or MAC
// did not parse (in conv): that is its problem, not a missing client name.
func covered6(e *field.Error, conv field.ErrorList) bool {
	for _, c := range conv {
		if i := strings.Index(c.Field, "]"); strings.HasPrefix(c.Field, "reservations6[") && i > 0 &&
			strings.HasPrefix(e.Field, c.Field[:i+1]+".") {
			return true
		}
	}
	return false
}
