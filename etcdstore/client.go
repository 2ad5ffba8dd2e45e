package etcdstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/internal/netnsrun"
)

// DefaultPrefix is where the keys live when Config.Prefix is empty.
const DefaultPrefix = "/pxekit"

// DefaultMaxTxnOps is etcd's --max-txn-ops default: the most operations
// one transaction may carry. A commit of more leases is split.
const DefaultMaxTxnOps = 128

// Config is how to reach an etcd cluster.
type Config struct {
	// Endpoints are client URLs, http:// or https://.
	Endpoints []string
	// Prefix is the key prefix (default DefaultPrefix); several pxekit
	// clusters can share one etcd under different prefixes.
	Prefix string
	// DialTimeout bounds connecting (default 5 s); RequestTimeout each
	// request, a lease commit included (default 2 s): a commit that takes
	// longer fails and its clients get no answer.
	DialTimeout    time.Duration
	RequestTimeout time.Duration
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates; CertFile and KeyFile this client's certificate (etcd's
	// --client-cert-auth). TLS, when set, is used as is instead.
	CAFile, CertFile, KeyFile string
	TLS                       *tls.Config
	// Username and Password log in (etcd's auth enable).
	Username, Password string
	// MaxTxnOps is the server's --max-txn-ops (default DefaultMaxTxnOps).
	MaxTxnOps int
	// NetNS, when set, is the path of a network namespace
	// (/var/run/netns/NAME) in which every connection to etcd is made;
	// the process stays where it is.
	NetNS string
	// Logger receives logs (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports every problem in c with its field path.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if len(c.Endpoints) == 0 {
		errs = append(errs, field.Required(field.NewPath("endpoints"), "at least one client URL, e.g. https://192.0.2.10:2379"))
	}
	for i, ep := range c.Endpoints {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, field.Invalid(field.NewPath("endpoints").Index(i), ep, "must be an http:// or https:// URL with a host"))
		}
	}
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/")) {
		errs = append(errs, field.Invalid(field.NewPath("prefix"), c.Prefix, "must start with / and not end with /"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, field.Required(field.NewPath("certFile"), "certFile and keyFile come together"))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, field.Required(field.NewPath("username"), "a password needs a user"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"dialTimeout", c.DialTimeout}, {"requestTimeout", c.RequestTimeout}} {
		if d.v < 0 {
			errs = append(errs, field.Invalid(field.NewPath(d.name), d.v.String(), "must not be negative"))
		}
	}
	if c.MaxTxnOps < 0 {
		errs = append(errs, field.Invalid(field.NewPath("maxTxnOps"), c.MaxTxnOps, "must not be negative"))
	}
	return errs
}

// Cluster is a connection to etcd under one prefix.
type Cluster struct {
	cli     *clientv3.Client
	cfg     Config
	log     *slog.Logger
	prefix  string
	timeout time.Duration
}

// Open connects to etcd and checks that it answers under cfg (TLS and
// login included).
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("etcdstore: invalid config: %w", errs.ToAggregate())
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 2 * time.Second
	}
	if cfg.MaxTxnOps == 0 {
		cfg.MaxTxnOps = DefaultMaxTxnOps
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	tc := cfg.TLS
	if tc == nil && (cfg.CAFile != "" || cfg.CertFile != "" || hasHTTPS(cfg.Endpoints)) {
		var err error
		if tc, err = tlsConfig(cfg); err != nil {
			return nil, err
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		// A dead connection is noticed within seconds, not at the next
		// TCP timeout.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		TLS:                  tc,
		Username:             cfg.Username,
		Password:             cfg.Password,
		Logger:               zap.NewNop(),
		DialOptions:          dialOptions(cfg.NetNS),
		Context:              context.WithoutCancel(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("etcdstore: connect %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	c := &Cluster{cli: cli, cfg: cfg, log: cfg.Logger, prefix: cfg.Prefix, timeout: cfg.RequestTimeout}
	rctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := cli.Get(rctx, c.prefix+"/", clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcdstore: %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	return c, nil
}

func hasHTTPS(eps []string) bool {
	for _, e := range eps {
		if strings.HasPrefix(e, "https://") {
			return true
		}
	}
	return false
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcdstore: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcdstore: CA file %s: no PEM certificate in it", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcdstore: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// dialOptions make gRPC open its connections inside netns: a socket
// belongs to the namespace it was made in, and gRPC reconnects from
// goroutines of its own.
func dialOptions(netns string) []grpc.DialOption {
	if netns == "" {
		return nil
	}
	return []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		var c net.Conn
		err := netnsrun.Run(netns, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			return err
		})
		return c, err
	})}
}

// Close ends the connection. Members, stores and inventories made from
// the cluster stop working.
func (c *Cluster) Close() error { return c.cli.Close() }

// Prefix is the key prefix in use.
func (c *Cluster) Prefix() string { return c.prefix }

// Client is the underlying etcd client, for what this package does not
// cover (an operator's tooling, tests).
func (c *Cluster) Client() *clientv3.Client { return c.cli }

func (c *Cluster) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// errUnavailable wraps errors of a cluster that cannot be reached.
var errUnavailable = errors.New("etcd unavailable")
