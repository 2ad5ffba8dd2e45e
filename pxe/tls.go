package pxe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/internal/netnsrun"
	"github.com/pxekit/pxekit/pxe/labca"
)

// DefaultHTTPSPort is the HTTPS port when Config says none.
const DefaultHTTPSPort = 443

// tlsSources counts how many of the three ways to give a certificate are
// set.
func (c Config) tlsSources() int {
	n := 0
	if c.TLSCertFile != "" || c.TLSKeyFile != "" {
		n++
	}
	if c.TLSCertificate != nil {
		n++
	}
	if c.TLSLabCA != "" {
		n++
	}
	return n
}

// servesHTTPS reports whether the configuration asks for HTTPS.
func (c Config) servesHTTPS() bool { return c.tlsSources() > 0 }

// validateSecure checks the Secure Boot and HTTPS fields.
func (c Config) validateSecure() field.ErrorList {
	var errs field.ErrorList
	switch c.SecureBootHTTP {
	case "", SecureBootDiskImage, SecureBootShim:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("secureBootHTTP"), c.SecureBootHTTP, []string{string(SecureBootDiskImage), string(SecureBootShim)}))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, field.Required(field.NewPath("tlsKeyFile"), "tlsCertFile and tlsKeyFile go together"))
	}
	if c.tlsSources() > 1 {
		errs = append(errs, field.Forbidden(field.NewPath("tlsLabCA"), "give the certificate one way: tlsCertFile and tlsKeyFile, tlsCertificate, or tlsLabCA"))
	}
	if c.HTTPSPort < 0 || c.HTTPSPort > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("httpsPort"), c.HTTPSPort, "must be 0 (the default) or a port"))
	}
	https := c.HTTPSPort
	if https == 0 {
		https = DefaultHTTPSPort
	}
	http := c.HTTPPort
	if http == 0 {
		http = 80
	}
	if c.servesHTTPS() && https == http {
		errs = append(errs, field.Duplicate(field.NewPath("httpsPort"), https))
	}
	if !c.servesHTTPS() {
		for _, f := range []struct {
			name string
			on   bool
		}{{"httpsBoot", c.HTTPSBoot}, {"filesHTTPSOnly", c.FilesHTTPSOnly}} {
			if f.on {
				errs = append(errs, field.Invalid(field.NewPath(f.name), true, "needs HTTPS: set tlsCertFile and tlsKeyFile, tlsCertificate or tlsLabCA"))
			}
		}
	}
	return errs
}

// secureDefaults fills the Secure Boot and HTTPS defaults.
func (c Config) secureDefaults() Config {
	if c.HTTPSPort == 0 {
		c.HTTPSPort = DefaultHTTPSPort
	}
	if c.SecureBootHTTP == "" {
		c.SecureBootHTTP = SecureBootDiskImage
	}
	return c
}

// certificate is the HTTPS certificate the configuration gives, issued
// for addr when it names a lab CA.
func (c Config) certificate(addr netip.Addr) (tls.Certificate, error) {
	switch {
	case c.TLSCertificate != nil:
		return *c.TLSCertificate, nil
	case c.TLSCertFile != "":
		crt, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("tls: %w", err)
		}
		return crt, nil
	}
	ca, err := labca.Open(c.TLSLabCA)
	if err != nil {
		return tls.Certificate{}, err
	}
	if _, err := ca.WriteFirmwareFiles(c.TLSLabCA); err != nil {
		return tls.Certificate{}, fmt.Errorf("tls lab CA: %w", err)
	}
	return ca.Issue(addr)
}

// setupTLS loads the HTTPS certificate, checks that it names the server's
// address, and builds the listener's configuration.
func (s *Server) setupTLS() error {
	if !s.cfg.servesHTTPS() {
		return nil
	}
	crt, err := s.cfg.certificate(s.addr)
	if err != nil {
		return err
	}
	leaf := crt.Leaf
	if leaf == nil && len(crt.Certificate) > 0 {
		if leaf, err = x509.ParseCertificate(crt.Certificate[0]); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	}
	if leaf == nil {
		return errors.New("tls: the certificate is empty")
	}
	if err := leaf.VerifyHostname(s.addr.String()); err != nil {
		// Every https URL the server hands out has its address as the
		// host, and firmware checks the IP SAN.
		return fmt.Errorf("tls: the certificate does not name %s, the host of every https URL this server hands out: %w", s.addr, err)
	}
	s.tls = bootTLSConfig(crt)
	s.httpsBase = "https://" + s.addr.String()
	if s.cfg.HTTPSPort != DefaultHTTPSPort {
		s.httpsBase += ":" + strconv.Itoa(s.cfg.HTTPSPort)
	}
	return nil
}

// bootTLSConfig is the HTTPS listener's configuration: TLS 1.2 and 1.3
// with Go's default suites, and one more for UEFI firmware. OVMF 2022.11's
// HTTPS boot (edk2's TlsDxe) speaks TLS 1.2 only and offers only suites
// with RSA key exchange; with a server that allows them it settles on
// AES256-GCM-SHA384. Go removed RSA key exchange from its defaults in 1.22
// (it has no forward secrecy), so the boot listener enables that one suite
// by name, and nothing weaker: a boot server's clients are firmware.
func bootTLSConfig(crt tls.Certificate) *tls.Config {
	var suites []uint16
	for _, cs := range tls.CipherSuites() {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			suites = append(suites, cs.ID)
		}
	}
	suites = append(suites, tls.TLS_RSA_WITH_AES_256_GCM_SHA384)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{crt},
		CipherSuites: suites,
	}
}

// listenHTTPS opens the HTTPS listener in the namespace, or returns nil
// without HTTPS.
func (s *Server) listenHTTPS() (net.Listener, error) {
	if s.tls == nil {
		return nil, nil
	}
	var ln net.Listener
	err := netnsrun.Run(s.cfg.NetNS, func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(s.addr, uint16(s.cfg.HTTPSPort)).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("https: %w", err)
	}
	return ln, nil
}

// serveHTTPS runs the HTTPS server on ln in g until ctx is done.
func (s *Server) serveHTTPS(ctx context.Context, g *errgroup.Group, ln net.Listener) {
	srv := &http.Server{Handler: s.service, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnContext: connContext, TLSConfig: s.tls, ConnState: s.tlsConnState,
		// Failed handshakes become events (tlsConnState); what net/http
		// would print about them goes to the debug log.
		ErrorLog: slog.NewLogLogger(s.log.With("server", "https").Handler(), slog.LevelDebug)}
	s.runHTTP(ctx, g, srv, "https", func() error { return srv.ServeTLS(ln, "", "") })
}

// tlsConnState publishes a connection that closed before its TLS handshake
// completed as EventDenied: UEFI firmware that does not trust the
// certificate (another CA, no CA given to it, a certificate that does not
// name the address) resets the connection without a TLS alert, so this
// is all the server sees of it.
func (s *Server) tlsConnState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed {
		return
	}
	tc, ok := c.(*tls.Conn)
	if !ok || tc.ConnectionState().HandshakeComplete {
		return
	}
	var mac net.HardwareAddr
	from := c.RemoteAddr().String()
	if ap, err := netip.ParseAddrPort(from); err == nil {
		mac, _ = s.macForIP(ap.Addr().Unmap())
	}
	s.bus.publishMAC(mac, EventDenied, "https: the TLS handshake with "+from+" did not complete (firmware that does not trust the server's certificate closes the connection)")
}
