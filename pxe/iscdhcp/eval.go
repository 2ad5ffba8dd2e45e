package iscdhcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
)

// Result is what ISC dhcpd would put in its reply to a client.
type Result struct {
	// Host is the host declaration the client's MAC matched, or nil.
	Host *Host
	// Filename is the boot file (file field / option 67); empty: none.
	Filename string
	// NextServer is siaddr, when a next-server statement applied.
	NextServer netip.Addr
	// VendorClass is option 60 as the reply carries it ("HTTPClient" for
	// UEFI HTTP boot).
	VendorClass string
	// Options are the options the scopes set, by name, values as written
	// and joined with ", ".
	Options map[string]string
	// LeaseTime is default-lease-time, when set.
	LeaseTime time.Duration
}

// Evaluate runs the scopes that apply to client the way ISC dhcpd does:
// global, then the subnet of addr (or of the client's relay, or the only
// subnet when addr is not given), then the groups enclosing the client's
// host declaration from outermost to innermost, then the host itself;
// a later scope overrides an earlier one, and within a scope statements run
// in order. A client with no host declaration gets only global and subnet.
func (c *Config) Evaluate(cl dhcp.Client, addr netip.Addr) Result {
	r := Result{Options: map[string]string{}}
	var chain []*Scope
	chain = append(chain, c.Global)
	if sn := c.subnetFor(addr, cl.Relay); sn != nil {
		chain = append(chain, sn.Scope)
	}
	for _, h := range c.Hosts {
		if bytes.Equal(h.MAC, cl.MAC) {
			r.Host = h
			var up []*Scope
			for sc := h.Scope; sc != nil; sc = sc.Parent {
				if !slices.Contains(chain, sc) {
					up = append(up, sc)
				}
			}
			for i := len(up) - 1; i >= 0; i-- {
				chain = append(chain, up[i])
			}
			break
		}
	}
	for _, sc := range chain {
		c.exec(sc.body, cl, &r)
	}
	return r
}

func (c *Config) subnetFor(addr, relay netip.Addr) *Subnet {
	for _, a := range []netip.Addr{addr, relay} {
		if !a.IsValid() {
			continue
		}
		for _, sn := range c.Subnets {
			if sn.Prefix.Contains(a) {
				return sn
			}
		}
		return nil
	}
	if len(c.Subnets) == 1 {
		return c.Subnets[0]
	}
	return nil
}

func (c *Config) exec(body []stmt, cl dhcp.Client, r *Result) {
	for _, s := range body {
		switch s := s.(type) {
		case filenameStmt:
			r.Filename = s.name
		case nextServerStmt:
			r.NextServer = s.addr
		case leaseTimeStmt:
			if s.name == "default-lease-time" {
				r.LeaseTime = s.d
			}
		case optionStmt:
			vals := make([]string, len(s.values))
			for i, v := range s.values {
				vals[i] = v.text
			}
			r.Options[s.name] = strings.Join(vals, ", ")
			if s.name == "vendor-class-identifier" {
				r.VendorClass = vals[0]
			}
		case ifStmt:
			for _, b := range s.branches {
				if b.cond == nil || c.truth(b.cond, cl) {
					c.exec(b.body, cl, r)
					break
				}
			}
		}
	}
}

// truth evaluates a boolean expression; ISC treats a condition it cannot
// evaluate (a missing option) as false.
func (c *Config) truth(e expr, cl dhcp.Client) bool {
	switch e := e.(type) {
	case existsExpr:
		_, ok := c.optionValue(e.option, cl)
		return ok
	case andExpr:
		return c.truth(e.left, cl) && c.truth(e.right, cl)
	case orExpr:
		return c.truth(e.left, cl) || c.truth(e.right, cl)
	case notExpr:
		return !c.truth(e.e, cl)
	case equalExpr:
		l, lok := c.data(e.left, cl)
		r, rok := c.data(e.right, cl)
		// ISC's tree.c: two values compare bytewise; two missing ones
		// are equal; one missing one is not equal to anything.
		var eq bool
		switch {
		case lok && rok:
			eq = bytes.Equal(l, r)
		case !lok && !rok:
			eq = true
		}
		return eq != e.negate
	}
	return false
}

func (c *Config) data(e expr, cl dhcp.Client) ([]byte, bool) {
	switch e := e.(type) {
	case constData:
		return e.b, true
	case optionData:
		return c.optionValue(e.option, cl)
	case substringExpr:
		b, ok := c.data(e.data, cl)
		if !ok {
			return nil, false
		}
		// ISC: an offset past the end gives empty data, a length past
		// the end what there is.
		if e.offset >= len(b) {
			return []byte{}, true
		}
		end := min(e.offset+e.len, len(b))
		return b[e.offset:end], true
	}
	return nil, false
}

// optionValue is the raw option the client sent, by option name.
func (c *Config) optionValue(name string, cl dhcp.Client) ([]byte, bool) {
	code, ok := builtinOptions[name]
	if !ok {
		def, ok := c.Options[name]
		if !ok {
			return nil, false
		}
		code = def.Code
	}
	var v []byte
	switch code {
	case 12:
		v = []byte(cl.Hostname)
	case 60:
		v = []byte(cl.VendorClass)
	case 61:
		v = cl.ClientID
	case 77:
		// iPXE sends the bare string "iPXE"; dhcp.Client keeps it as one
		// entry, which is also how ISC (option type text) compares it. An
		// RFC 3004 list of several classes is re-framed.
		switch len(cl.UserClasses) {
		case 0:
		case 1:
			v = []byte(cl.UserClasses[0])
		default:
			for _, u := range cl.UserClasses {
				v = append(v, byte(len(u)))
				v = append(v, u...)
			}
		}
	case 82:
		v = cl.RelayAgentInfo
	case 93:
		for _, a := range cl.Archs {
			v = binary.BigEndian.AppendUint16(v, uint16(a))
		}
	case 97:
		v = cl.UUID
	default:
		return nil, false
	}
	if len(v) == 0 {
		return nil, false
	}
	return v, true
}

// Policy is a boot policy that answers like the imported dhcpd.conf.
// rewrite (nil: none) maps a filename to what this server should hand out
// instead, e.g. the URLs of the old nginx to the boot server's own (see
// pxe.Config.Boot for {base} and {mac}).
func (c *Config) Policy(rewrite func(string) string) dhcp.BootPolicy {
	return func(cl dhcp.Client) dhcp.BootDecision {
		r := c.Evaluate(cl, netip.Addr{})
		if r.Filename == "" {
			return dhcp.BootDecision{}
		}
		f := r.Filename
		if rewrite != nil {
			f = rewrite(f)
		}
		return dhcp.BootDecision{Filename: f, NextServer: r.NextServer, VendorClass: r.VendorClass}
	}
}

// ScriptName is the iPXE script a host is sent to: the last path element
// of the filename it gets as iPXE on BIOS (user class "iPXE", arch 0),
// e.g. "ipxe-create" for the first group of Harvester's PXE install guide. Empty when that is not a
// URL.
func (c *Config) ScriptName(h *Host) string {
	r := c.Evaluate(dhcp.Client{MAC: h.MAC, UserClasses: []string{"iPXE"}, Archs: []dhcp.Arch{dhcp.ArchBIOS}}, h.FixedAddress)
	if !strings.Contains(r.Filename, "://") {
		return ""
	}
	return path.Base(r.Filename)
}

// Inventory maps every host to the profile named like its script
// (ScriptName), which profiles must have.
func (c *Config) Inventory(profiles map[string]pxe.Profile) (*pxe.StaticInventory, error) {
	inv := pxe.InventorySpec{Profiles: profiles}
	for _, h := range c.Hosts {
		name := c.ScriptName(h)
		if _, ok := profiles[name]; !ok {
			return nil, fmt.Errorf("host %s (line %d): boots script %q, which is not a profile", h.Name, h.Scope.Line, name)
		}
		inv.Machines = append(inv.Machines, pxe.Machine{MAC: h.MAC, Hostname: h.Name, Profile: name})
	}
	return pxe.NewStaticInventory(inv)
}

// DHCPSubnet is the subnet containing addr (or the only one) as the dhcp
// package serves it: prefix, ranges, routers, DNS, domain, lease time.
func (c *Config) DHCPSubnet(addr netip.Addr) (dhcp.Subnet, error) {
	sn := c.subnetFor(addr, netip.Addr{})
	if sn == nil {
		if len(c.Subnets) == 0 {
			return dhcp.Subnet{}, errNoSubnet
		}
		return dhcp.Subnet{}, fmt.Errorf("no subnet declaration contains %s", addr)
	}
	r := Result{Options: map[string]string{}}
	c.exec(c.Global.body, dhcp.Client{}, &r)
	c.exec(sn.Scope.body, dhcp.Client{}, &r)
	out := dhcp.Subnet{Prefix: sn.Prefix, LeaseTime: r.LeaseTime, DomainName: r.Options["domain-name"]}
	for _, rg := range sn.Ranges {
		out.Pools = append(out.Pools, dhcp.Range{Start: rg.Start, End: rg.End})
	}
	for name, dst := range map[string]*[]netip.Addr{"routers": &out.Routers, "domain-name-servers": &out.DNS} {
		if v := r.Options[name]; v != "" {
			for _, s := range strings.Split(v, ", ") {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return dhcp.Subnet{}, fmt.Errorf("option %s: %w", name, err)
				}
				*dst = append(*dst, a)
			}
		}
	}
	return out, nil
}

// Reservations are the hosts with a fixed-address.
func (c *Config) Reservations() []dhcp.Reservation {
	var out []dhcp.Reservation
	for _, h := range c.Hosts {
		if h.FixedAddress.IsValid() {
			out = append(out, dhcp.Reservation{MAC: net.HardwareAddr(bytes.Clone(h.MAC)), IP: h.FixedAddress, Hostname: h.Name})
		}
	}
	return out
}
