package pxe

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// newHandler is the HTTP side for cfg (defaults applied).
func (s *Server) newHandler(cfg Config) *handler {
	return &handler{
		inv:      cfg.Inventory,
		assets:   cfg.Assets,
		ipxe:     s.cfg.IPXE,
		bus:      &s.bus,
		baseURL:  s.base,
		baseURL6: s.base6,
		macForIP: s.macForIP,
		log:      s.log,
		urlKey:   cfg.URLKey,
		urlTTL:   cfg.URLTTL,
		done:     s.streamsDone,

		sb:             s.sb,
		httpsBaseURL:   s.httpsBase,
		filesHTTPSOnly: s.tls != nil && s.cfg.FilesHTTPSOnly,
	}
}

// Reload applies next while the server serves: its Subnets (pools,
// options, lease times), Reservations, Subnets6, Reservations6 (and the
// prefixes router advertisements name), Inventory, Assets, Boot, Boot6,
// URLKey and URLTTL. Nothing in flight is dropped: DHCP keeps every lease and offer
// (dhcp.Server.Reconfigure), a TFTP transfer or HTTP download that started
// finishes from the file it opened, and a request that started before the
// reload is answered under the config it started with. What the server
// was built on — the interface, namespace, addresses, ports, TFTP window,
// proxy mode, lease file, router advertisements, whether DHCPv4 and
// DHCPv6 run, the sockets and the iPXE builds — cannot change while it
// serves: next must repeat them (IPXE and
// the sockets and LeaseStore are not compared; the ones New got stay), or Reload refuses
// it. A next that does not validate, or that changes one of those, is
// refused whole with every problem under its field path, and the server
// keeps serving the config it had.
func (s *Server) Reload(next Config) error {
	errs := next.Validate()
	errs = append(errs, s.fixed(next)...)
	if len(errs) == 0 {
		// With the interface's network known, subnets and reservations
		// are checked together.
		if s.dhcp != nil {
			errs = (Config{Subnets: s.subnets(next.Subnets), Reservations: next.Reservations, ProxyDHCP: next.ProxyDHCP}).validateSubnets()
		}
		errs = append(errs, (Config{Subnets6: s.subnets6(next.Subnets6), Reservations6: next.Reservations6}).validateSubnets6()...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("pxe: reload refused: %w", errs.ToAggregate())
	}
	// The fixed fields are equal, so the defaults resolve the same way;
	// keep what New resolved (the located iPXE builds) rather than look
	// again.
	next.IPXE = s.cfg.IPXE
	next.SecureBoot, next.TLSCertificate = s.cfg.SecureBoot, s.cfg.TLSCertificate
	next, err := next.withDefaults()
	if err != nil {
		return fmt.Errorf("pxe: reload refused: %w", err)
	}
	next.Logger = s.log
	if s.dhcp != nil {
		if err := s.dhcp.Reconfigure(s.subnets(next.Subnets), next.Reservations); err != nil {
			return fmt.Errorf("pxe: reload refused: %w", err)
		}
	}
	if s.dhcp6 != nil {
		// Checked above with the interface's network, as Reconfigure
		// checks it: it cannot fail here after DHCPv4 took its part.
		if err := s.dhcp6.Reconfigure(s.subnets6(next.Subnets6), next.Reservations6); err != nil {
			return fmt.Errorf("pxe: reload refused: %w", err)
		}
		if err := s.ra.Reconfigure(true, true, s.onLinkPrefixes(next.Subnets6)); err != nil {
			return fmt.Errorf("pxe: reload refused: %w", err)
		}
	}
	s.live.Store(&next)
	s.http.Store(s.newHandler(next))
	s.log.Info("boot server reloaded", "subnets", len(next.Subnets), "reservations", len(next.Reservations),
		"inventoryRevision", next.Inventory.Revision())
	return nil
}

// fixed reports the fields of next that differ from what the server was
// built on and so need a restart.
func (s *Server) fixed(next Config) field.ErrorList {
	var errs field.ErrorList
	check := func(name string, now, was any) {
		if now != was {
			errs = append(errs, field.Forbidden(field.NewPath(name),
				fmt.Sprintf("cannot change while serving (%v, was %v): restart to apply", now, was)))
		}
	}
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	cur := s.cfg
	check("interface", next.Interface, cur.Interface)
	check("netns", next.NetNS, cur.NetNS)
	check("addr", next.Addr, cur.Addr)
	check("httpPort", def(next.HTTPPort, 80), cur.HTTPPort)
	check("tftpPort", def(next.TFTPPort, 69), cur.TFTPPort)
	check("tftpWindowSize", windowOf(next.TFTPWindowSize), cur.TFTPWindowSize)
	check("proxyDHCP", next.ProxyDHCP, cur.ProxyDHCP)
	check("leaseFile", next.LeaseFile, cur.LeaseFile)
	check("routerAdvertisement", next.RouterAdvertisement, cur.RouterAdvertisement)
	check("routerLifetime", next.RouterLifetime, cur.RouterLifetime)
	// HTTPS and Secure Boot: the listener, its certificate and the URLs
	// handed out are set up once (the loaders and an in-memory
	// certificate are not compared; the ones New got stay).
	secureBootHTTP := next.SecureBootHTTP
	if secureBootHTTP == "" {
		secureBootHTTP = SecureBootDiskImage
	}
	check("secureBootHTTP", secureBootHTTP, cur.SecureBootHTTP)
	check("tlsCertFile", next.TLSCertFile, cur.TLSCertFile)
	check("tlsKeyFile", next.TLSKeyFile, cur.TLSKeyFile)
	check("tlsLabCA", next.TLSLabCA, cur.TLSLabCA)
	check("httpsPort", def(next.HTTPSPort, DefaultHTTPSPort), cur.HTTPSPort)
	check("httpsBoot", next.HTTPSBoot, cur.HTTPSBoot)
	check("filesHTTPSOnly", next.FilesHTTPSOnly, cur.FilesHTTPSOnly)
	// IPv6: whether DHCPv4 and DHCPv6 run is what the server was built
	// on; so is its IPv6 address.
	check("subnets6 (DHCPv6 on)", len(next.Subnets6) > 0, len(cur.Subnets6) > 0)
	check("subnets (DHCPv4 on)", len(next.Subnets) > 0 || len(next.Subnets6) == 0, s.dhcp != nil)
	check("addr6", next.Addr6, cur.Addr6)
	return errs
}

// windowOf is what withDefaults makes of a TFTPWindowSize.
func windowOf(w int) int {
	switch {
	case w == 0:
		return DefaultTFTPWindowSize
	case w < 0:
		return 0
	}
	return w
}
