package pxe

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/ipxe"
)

// The IPv6 side of the boot server: DHCPv6 (package dhcp6) beside DHCPv4,
// its boot policy, the IPv6 TFTP and HTTP listeners and URLs.

// ipv6Only reports a server with IPv6 subnets and no IPv4 ones: it runs
// no DHCPv4 and needs no IPv4 address.
func (s *Server) ipv6Only() bool { return len(s.cfg.Subnets) == 0 && len(s.cfg.Subnets6) > 0 }

// validateIPv6 checks the IPv6 fields as the DHCPv6 server will. A subnet
// that takes the interface's network is checked once New knows it.
func (c Config) validateIPv6() field.ErrorList {
	var errs field.ErrorList
	if c.Addr6.IsValid() && (!c.Addr6.Is6() || c.Addr6.Is4In6() || c.Addr6.IsLinkLocalUnicast()) {
		errs = append(errs, field.Invalid(field.NewPath("addr6"), c.Addr6.String(), "must be a global or unique local IPv6 address"))
	}
	if c.ProxyDHCP && len(c.Subnets6) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("subnets6"), "proxyDHCP hands out no addresses; DHCPv6 would"))
	}
	unset := -1
	for i, sn := range c.Subnets6 {
		if sn.Prefix.IsValid() {
			continue
		}
		if unset >= 0 {
			errs = append(errs, field.Required(field.NewPath("subnets6").Index(i).Child("prefix"),
				fmt.Sprintf("only one subnet may take the interface's network (subnets6[%d] does)", unset)))
		}
		unset = i
	}
	return append(errs, c.validateSubnets6()...)
}

// validateSubnets6 checks Subnets6 and Reservations6 as dhcp6.Config
// does, under this Config's names; with a subnet whose prefix is still
// unknown, the others are checked one by one.
func (c Config) validateSubnets6() field.ErrorList {
	rename := func(e *field.Error) *field.Error {
		for _, from := range []string{"subnets", "reservations"} {
			if strings.HasPrefix(e.Field, from) {
				e.Field = from + "6" + strings.TrimPrefix(e.Field, from)
			}
		}
		return e
	}
	all := true
	for _, sn := range c.Subnets6 {
		all = all && sn.Prefix.IsValid()
	}
	var errs field.ErrorList
	if all {
		if len(c.Subnets6) == 0 && len(c.Reservations6) == 0 {
			return nil
		}
		for _, e := range (dhcp6.Config{Subnets: c.Subnets6, Reservations: c.Reservations6}).Validate() {
			if strings.HasPrefix(e.Field, "subnets") || strings.HasPrefix(e.Field, "reservations") {
				errs = append(errs, rename(e))
			}
		}
		return errs
	}
	for i, sn := range c.Subnets6 {
		if !sn.Prefix.IsValid() {
			continue
		}
		for _, e := range (dhcp6.Config{Subnets: []dhcp6.Subnet{sn}}).Validate() {
			if strings.HasPrefix(e.Field, "subnets[0]") {
				e.Field = field.NewPath("subnets6").Index(i).String() + strings.TrimPrefix(e.Field, "subnets[0]")
				errs = append(errs, e)
			}
		}
	}
	return errs
}

// httpBase is the HTTP root of a server at a: http://192.0.2.1,
// http://[2001:db8::1]:8080.
func httpBase(a netip.Addr, port int) string {
	if !a.IsValid() {
		return ""
	}
	if port == 80 {
		return "http://" + hostLiteral(a)
	}
	return "http://" + netip.AddrPortFrom(a, uint16(port)).String()
}

// hostLiteral is a as a URL host: IPv6 in brackets.
func hostLiteral(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// tftpBase is the TFTP root a DHCPv6 boot file URL names:
// tftp://[2001:db8::1] (with its port when not 69).
func (s *Server) tftpBase() string {
	if s.cfg.TFTPPort == 69 {
		return "tftp://" + hostLiteral(s.addr6)
	}
	return "tftp://" + netip.AddrPortFrom(s.addr6, uint16(s.cfg.TFTPPort)).String()
}

// newDHCP builds the DHCP servers. With both, one bbolt file holds both
// servers' leases, through one handle opened here (a bbolt file takes one
// at a time).
func (s *Server) newDHCP() error {
	store, leaseFile := s.cfg.LeaseStore, s.cfg.LeaseFile
	if s.dhcpBoth() && store == nil && leaseFile != "" {
		bs, err := dhcp.OpenBoltStore(leaseFile)
		if err != nil {
			return fmt.Errorf("pxe: %w", err)
		}
		s.ownStore, store, leaseFile = bs, bs, ""
	}
	var err error
	if !s.ipv6Only() {
		c := s.dhcpConfig()
		c.Store, c.LeaseFile = store, leaseFile
		if s.dhcp, err = dhcp.New(c); err != nil {
			s.closeStore()
			return fmt.Errorf("pxe: dhcp: %w", err)
		}
	}
	if len(s.cfg.Subnets6) > 0 {
		c := s.dhcp6Config()
		c.Store, c.LeaseFile = store, leaseFile
		if s.dhcp6, err = dhcp6.New(c); err != nil {
			s.Close()
			return fmt.Errorf("pxe: dhcp6: %w", err)
		}
	}
	return nil
}

// dhcpBoth reports a dual-stack server: DHCPv4 and DHCPv6.
func (s *Server) dhcpBoth() bool { return !s.ipv6Only() && len(s.cfg.Subnets6) > 0 }

// closeStore closes the lease file both DHCP servers share, once.
func (s *Server) closeStore() {
	s.storeOnce.Do(func() {
		if s.ownStore != nil {
			s.ownStore.Close()
		}
	})
}

// dhcp6Config is the DHCPv6 server of the boot server.
func (s *Server) dhcp6Config() dhcp6.Config {
	return dhcp6.Config{
		Interfaces:   []string{s.cfg.Interface},
		NetNS:        s.cfg.NetNS,
		Subnets:      s.subnets6(s.cfg.Subnets6),
		Reservations: s.cfg.Reservations6,
		Boot:         s.bootPolicy6(),
		// Firmware waits for other servers' ADVERTISEs unless one says
		// preference 255; rapid commit saves iPXE and Linux clients a round
		// trip when they ask for it.
		Preference:  255,
		RapidCommit: true,
		OnEvent:     s.dhcp6Event,
		Logger:      s.log.With("server", "dhcp6"),
		Conn:        s.cfg.DHCP6Conn,
	}
}

// subnets6 is what DHCPv6 serves: the subnet without a prefix gets the
// interface's IPv6 network.
func (s *Server) subnets6(in []dhcp6.Subnet) []dhcp6.Subnet {
	out := make([]dhcp6.Subnet, len(in))
	for i, sn := range in {
		if !sn.Prefix.IsValid() {
			sn.Prefix = s.prefix6
		}
		out[i] = sn
	}
	return out
}

// onLinkPrefixes are the prefixes of the subnets on the interface's own
// link (the interface has an address in them), which router
// advertisements name; relayed subnets are another link's.
func (s *Server) onLinkPrefixes(in []dhcp6.Subnet) []netip.Prefix {
	var out []netip.Prefix
	for _, sn := range s.subnets6(in) {
		if p := sn.Prefix.Masked(); p.IsValid() && (p.Contains(s.addr6) || p == s.prefix6) {
			out = append(out, p)
		}
	}
	return out
}

// bootPolicy6 is Config.Boot6 with {base} and {mac} filled in, or the
// default IPv6 policy pointing at this server for machines the inventory
// knows.
func (s *Server) bootPolicy6() dhcp6.BootPolicy {
	policy := dhcp6.DefaultPolicy{
		UEFIURL:      s.tftpBase() + "/" + string(ipxe.IPXEEFI),
		ARM64URL:     s.tftpBase() + "/arm64/ipxe.efi",
		HTTPBootURL:  s.base6 + PathIPXE + string(ipxe.IPXEEFI),
		ScriptURL:    s.base6 + PathScript + "?mac={mac}",
		ScriptURLEFI: s.base6 + PathScript + "?mac={mac}&fw=efi",
	}
	return func(c dhcp6.Client) dhcp6.BootDecision {
		live := s.live.Load()
		if live.Boot6 != nil {
			d := live.Boot6(c)
			d.URL = dhcp6.ExpandMAC(strings.ReplaceAll(d.URL, "{base}", s.base6), c)
			return d
		}
		if c.MAC == nil {
			return dhcp6.BootDecision{}
		}
		if _, _, err := live.Inventory.Lookup(c.MAC); err != nil {
			return dhcp6.BootDecision{}
		}
		return policy.Decide(c)
	}
}

// dhcp6Event publishes a DHCPv6 server's event as a boot step, with the
// same kinds as DHCPv4's so the tracker and the dashboard follow an IPv6
// boot alike.
func (s *Server) dhcp6Event(e dhcp6.Event) {
	var kind EventKind
	detail, fw := "", ""
	switch e.Kind {
	case dhcp6.EventSolicited:
		kind, detail, fw = EventDiscovered, describeClient(e.Client.Client), clientFirmware(e.Client.Client)
	case dhcp6.EventAdvertised:
		kind, detail = EventOffered, e.IP.String()
	case dhcp6.EventBound:
		kind, detail = EventAcked, e.IP.String()
	case dhcp6.EventRefused:
		kind, detail = EventNAK, e.Status
	case dhcp6.EventDeclined:
		kind, detail = EventDeclined, e.IP.String()
	default:
		return
	}
	if e.Boot.URL != "" && (kind == EventOffered || kind == EventAcked) {
		detail += " boot=" + e.Boot.URL
	}
	s.bus.Publish(Event{Time: e.Time, Kind: kind, MAC: e.MAC, Detail: detail + " (DHCPv6 " + e.Message + ")", Firmware: fw})
}

// DHCP6 returns the DHCPv6 server, for its leases and counters; nil
// without Subnets6.
func (s *Server) DHCP6() *dhcp6.Server { return s.dhcp6 }

// BaseURL6 is the HTTP root handed to IPv6 clients, e.g.
// http://[2001:db8::1]:8080; "" without IPv6.
func (s *Server) BaseURL6() string { return s.base6 }

// listenTFTP opens the TFTP socket: dual-stack with IPv6 (one socket,
// IPv4 clients as mapped addresses), IPv4 only otherwise.
func (s *Server) listenTFTP() (net.PacketConn, error) {
	if s.addr6.IsValid() {
		return net.ListenPacket("udp", netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(s.cfg.TFTPPort)).String())
	}
	return net.ListenPacket("udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(s.cfg.TFTPPort)).String())
}

// baseFor is the HTTP root for a request: the IPv6 one when it came to an
// IPv6 address, so a script and the URLs in it reach the server the way
// the client already did.
func (h *handler) baseFor(r *http.Request) string {
	if h.baseURL6 == "" {
		return h.baseURL
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil && ap.Addr().Is6() && !ap.Addr().Is4In6() {
			return h.baseURL6
		}
	}
	return h.baseURL
}

// interfaceAddr6 finds name's global IPv6 address (want, if given, must be
// one of them) and its network.
func interfaceAddr6(name string, want netip.Addr) (netip.Addr, netip.Prefix, error) {
	return interfaceAddrOf(name, want, "global IPv6 address (Subnets6 needs one)", func(a netip.Addr) bool {
		return a.Is6() && !a.IsLinkLocalUnicast()
	})
}

// leaseByMAC is mac's active lease, DHCPv4's first.
func (s *Server) leaseByMAC(mac net.HardwareAddr) (dhcp.Lease, bool) {
	if s.dhcp != nil {
		if l, ok := s.dhcp.LeaseByMAC(mac); ok {
			return l, true
		}
	}
	if s.dhcp6 != nil {
		return s.dhcp6.LeaseByMAC(mac)
	}
	return dhcp.Lease{}, false
}
