// Package etcdlab runs a real etcd cluster (Debian's etcd-server, three
// members by default) inside a network namespace for the tests and the
// benchmark: members on one address with a port each, optionally with TLS
// (a CA made on the spot, client certificates required) and with
// authentication on. Every member runs in a process group of its own and
// is killed by Close.
package etcdlab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// Binary is Debian's etcd-server.
const Binary = "/usr/bin/etcd"

// Config describes a cluster.
type Config struct {
	// NS is the namespace the members listen in; Addr their address
	// there (it must be on one of NS's links, or loopback).
	NS   *pxetest.NetNS
	Addr netip.Addr
	// Members is the member count (default 3). Ports are 2379N (clients)
	// and 2380N (peers) for member N = 1, 2, ...
	Members int
	// Dir holds the members' data and, with TLS, the certificates.
	Dir string
	// TLS serves clients over https with a CA made for the cluster and
	// requires client certificates (ClientCert, ClientKey).
	TLS bool
	// MaxTxnOps is --max-txn-ops (0: etcd's default, 128).
	MaxTxnOps int
	// Log receives the members' output when not nil.
	Log func(format string, args ...any)
}

// Cluster is a running etcd cluster.
type Cluster struct {
	cfg     Config
	members []*member
	// CA, ClientCert and ClientKey are PEM files, with Config.TLS.
	CA, ClientCert, ClientKey string
	serverCert, serverKey     string
}

type member struct {
	name    string
	client  string
	peer    string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	out     strings.Builder
	stopped bool
}

// Start starts the members and waits until the cluster is healthy.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if _, err := os.Stat(Binary); err != nil {
		return nil, fmt.Errorf("etcdlab: %s: %w (apt-get install etcd-server)", Binary, err)
	}
	if cfg.Members == 0 {
		cfg.Members = 3
	}
	c := &Cluster{cfg: cfg}
	scheme := "http"
	if cfg.TLS {
		scheme = "https"
		if err := c.makeCerts(); err != nil {
			return nil, err
		}
	}
	var initial []string
	for i := 1; i <= cfg.Members; i++ {
		m := &member{
			name:   fmt.Sprintf("m%d", i),
			client: fmt.Sprintf("%s://%s", scheme, netip.AddrPortFrom(cfg.Addr, uint16(23790+i))),
			peer:   fmt.Sprintf("http://%s", netip.AddrPortFrom(cfg.Addr, uint16(23800+i))),
		}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peer)
	}
	for _, m := range c.members {
		if err := c.start(m, strings.Join(initial, ","), "new"); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitHealthy(ctx, cfg.Members); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(m *member, initial, state string) error {
	args := []string{
		"--name", m.name,
		"--data-dir", filepath.Join(c.cfg.Dir, m.name),
		"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
		"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
		"--initial-cluster", initial, "--initial-cluster-state", state,
		"--initial-cluster-token", "pxekit-lab",
		"--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
	}
	if c.cfg.MaxTxnOps > 0 {
		args = append(args, "--max-txn-ops", fmt.Sprint(c.cfg.MaxTxnOps))
	}
	if c.cfg.TLS {
		args = append(args, "--cert-file", c.serverCert, "--key-file", c.serverKey,
			"--trusted-ca-file", c.CA, "--client-cert-auth")
	}
	cmd := pxetest.CommandContext(context.Background(), Binary, args...)
	cmd.Stdout = &lockedWriter{m: m}
	cmd.Stderr = cmd.Stdout
	if err := c.cfg.NS.Start(cmd); err != nil {
		return fmt.Errorf("etcdlab: start %s: %w", m.name, err)
	}
	m.mu.Lock()
	m.cmd, m.done, m.stopped = cmd, make(chan struct{}), false
	done := m.done
	m.mu.Unlock()
	go func() { cmd.Wait(); close(done) }()
	return nil
}

type lockedWriter struct{ m *member }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.m.out.Len() < 1<<20 {
		w.m.out.Write(b)
	}
	return len(b), nil
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.client)
	}
	return out
}

// Kill kills member i (0-based) with SIGKILL.
func (c *Cluster) Kill(i int) error {
	m := c.members[i]
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.stopped = true
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	<-done
	return nil
}

// Restart starts a killed member again on its data directory.
func (c *Cluster) Restart(i int) error {
	var initial []string
	for _, m := range c.members {
		initial = append(initial, m.name+"="+m.peer)
	}
	return c.start(c.members[i], strings.Join(initial, ","), "existing")
}

// Output is what member i wrote.
func (c *Cluster) Output(i int) string {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.String()
}

// WaitHealthy waits until n members answer /health with true.
func (c *Cluster) WaitHealthy(ctx context.Context, n int) error {
	hc := c.httpClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := 0
		var last error
		for _, m := range c.members {
			if err := c.health(ctx, hc, m); err == nil {
				ok++
			} else {
				last = err
			}
		}
		if ok >= n {
			return nil
		}
		if time.Now().After(deadline) {
			var outs []string
			for i := range c.members {
				outs = append(outs, c.Output(i))
			}
			return fmt.Errorf("etcdlab: %d of %d members healthy after 30 s: %v\n%s", ok, n, last, strings.Join(outs, "\n"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) health(ctx context.Context, hc *http.Client, m *member) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.client+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b [256]byte
	n, _ := resp.Body.Read(b[:])
	if !strings.Contains(string(b[:n]), `"health":"true"`) {
		return fmt.Errorf("%s: %s", m.name, b[:n])
	}
	return nil
}

// Close kills every member.
func (c *Cluster) Close() error {
	for i := range c.members {
		c.Kill(i)
	}
	return nil
}

// makeCerts writes a CA, a server certificate for Addr and a client
// certificate into Dir.
func (c *Cluster) makeCerts() error {
	dir := filepath.Join(c.cfg.Dir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pxekit lab etcd CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	c.CA = filepath.Join(dir, "ca.pem")
	if err := writePEM(c.CA, "CERTIFICATE", caDER); err != nil {
		return err
	}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string, error) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		t := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			t.IPAddresses = append(t.IPAddresses, c.cfg.Addr.AsSlice())
			// etcd also dials its own client URL as a client.
			t.ExtKeyUsage = append(t.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		}
		der, err := x509.CreateCertificate(rand.Reader, t, caCert, &k.PublicKey, caKey)
		if err != nil {
			return "", "", err
		}
		kb, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return "", "", err
		}
		cp, kp := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		if err := writePEM(cp, "CERTIFICATE", der); err != nil {
			return "", "", err
		}
		return cp, kp, writePEM(kp, "EC PRIVATE KEY", kb)
	}
	if c.serverCert, c.serverKey, err = leaf("server", 2, x509.ExtKeyUsageServerAuth); err != nil {
		return err
	}
	c.ClientCert, c.ClientKey, err = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return err
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// httpClient reaches the members' /health (with the cluster's CA and
// client certificate under TLS).
func (c *Cluster) httpClient() *http.Client {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := c.cfg.NS.Do(func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}}
	if c.cfg.TLS {
		pool := x509.NewCertPool()
		if b, err := os.ReadFile(c.CA); err == nil {
			pool.AppendCertsFromPEM(b)
		}
		cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		tc := &tls.Config{RootCAs: pool}
		if err == nil {
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Second}
}
