package pxe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe/labca"
	"github.com/pxekit/pxekit/pxetest"
)

// ovmfTLS is what OVMF 2022.11's HTTPS boot offers: TLS 1.2 only, RSA key
// exchange only (it settles on AES256-GCM-SHA384 with a server that
// allows it).
func ovmfTLS(roots *x509.CertPool) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, RootCAs: roots,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}
}

// tlsGet fetches url from inside ns with cfg.
func tlsGet(ns *pxetest.NetNS, url string, cfg *tls.Config) (int, string, *tls.ConnectionState, error) {
	var code int
	var body string
	var state *tls.ConnectionState
	host := strings.SplitN(strings.TrimPrefix(url, "https://"), "/", 2)[0]
	// The socket is opened on the thread inside the namespace; the
	// transport, which dials from goroutines of its own, is handed it.
	var conn net.Conn
	if err := ns.Do(func() error {
		var err error
		conn, err = net.Dial("tcp4", host)
		return err
	}); err != nil {
		return 0, "", nil, err
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		conn.Close()
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	code, body, state = resp.StatusCode, string(b), resp.TLS
	return code, body, state, err
}

// The boot server's HTTPS listener, with a certificate from a lab CA kept
// in a directory: a client offering what OVMF offers gets its files over
// TLS 1.2 with RSA key exchange, which Go's default configuration would
// refuse; a client that trusts another CA is turned away, and the server
// reports it; curl with the CA file works too.
func TestHTTPSListener(t *testing.T) {
	curl := pxetest.RequireCmd(t, "curl", "curl")
	lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{})
	dir := filepath.Join(t.TempDir(), "ca")
	inv, err := NewStaticInventory(sbInventory())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Interface: lnet.Bridge, NetNS: lnet.NS.Path(),
		Subnets:  []dhcp.Subnet{{Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.110")}}}},
		HTTPPort: 8080, HTTPSPort: 8443, TLSLabCA: dir,
		IPXE: fstest.MapFS{}, SecureBoot: sbLoaders(), Assets: sbAssets(), Inventory: inv,
		Logger: pxetest.Logger(t, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	var events pxetest.Recorder[Event]
	go events.Record(srv.Subscribe(t.Context()))
	pxetest.Serve(t, srv)

	ca, err := labca.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	esl, err := os.ReadFile(filepath.Join(dir, labca.SignatureListFile))
	if err != nil {
		t.Fatal(err)
	}
	if certs, err := labca.Certificates(esl); err != nil || !certs[0].Equal(ca.Cert) {
		t.Errorf("%s does not hold the lab CA: %v", labca.SignatureListFile, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	url := "https://192.0.2.1:8443/secureboot/shimx64.efi"
	code, body, state, err := tlsGet(lnet.NS, url, ovmfTLS(roots))
	if err != nil || code != 200 || !strings.HasPrefix(body, "MZ shim") {
		t.Fatalf("GET %s as OVMF would: %d %q %v", url, code, body, err)
	}
	if state.Version != tls.VersionTLS12 || state.CipherSuite != tls.TLS_RSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("negotiated %s %s, want TLS 1.2 %s", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite),
			tls.CipherSuiteName(tls.TLS_RSA_WITH_AES_256_GCM_SHA384))
	}

	// The same offer against Go's defaults: no suite in common.
	crt, err := ca.Issue(netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.NS.Listen("tcp4", "192.0.2.1:9443")
	if err != nil {
		t.Fatal(err)
	}
	defaults := &http.Server{Handler: srv.Handler(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{crt}},
		ErrorLog: slog.NewLogLogger(pxetest.Logger(t, slog.LevelDebug).Handler(), slog.LevelDebug)}
	go defaults.ServeTLS(ln, "", "")
	t.Cleanup(func() { defaults.Close() })
	if _, _, _, err := tlsGet(lnet.NS, "https://192.0.2.1:9443/secureboot/shimx64.efi", ovmfTLS(roots)); err == nil || !strings.Contains(err.Error(), "handshake failure") {
		t.Errorf("Go's default TLS configuration served OVMF's offer: %v", err)
	}

	// A client that trusts another CA.
	other, err := labca.New("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other.Cert)
	var uerr *tls.CertificateVerificationError
	if _, _, _, err := tlsGet(lnet.NS, url, ovmfTLS(otherRoots)); !errors.As(err, &uerr) {
		t.Errorf("a client trusting another CA: %v, want a certificate verification error", err)
	}
	if _, err := events.Wait(t.Context(), func(all []Event) bool {
		for _, e := range all {
			if e.Kind == EventDenied && strings.Contains(e.Detail, "https: the TLS handshake with 192.0.2.1:") && strings.Contains(e.Detail, "did not complete") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("no event for the failed handshake: %v", err)
	}

	// curl, with the CA's PEM file.
	cmd := exec.Command(curl, "-sS", "--fail", "--cacert", filepath.Join(dir, labca.CertFile), "https://192.0.2.1:8443/grub/grub.cfg")
	out, err := pxetest.Run(t, lnet.NS, cmd)
	if err != nil || !strings.Contains(out, "source \"/grub/${net_default_mac}.cfg\"") {
		t.Errorf("curl --cacert: %v\n%s", err, out)
	}
}
