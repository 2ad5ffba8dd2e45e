// Package kubetest runs a real Kubernetes API server for tests: Debian's
// etcd and a kube-apiserver built from k8s.io/kubernetes v1.34.3 (make
// testdeps builds it into .cache/kube-apiserver), both inside a network
// namespace, with a CA-signed serving certificate, token authentication,
// RBAC, service-account tokens and, on request, an audit log; then the
// CRDs of every kind pxekit prints (testdata/crds) are installed. Tests
// reach it through clients that dial inside the namespace; a process the
// test starts in the namespace reaches it with Kubeconfig's file.
//
// Outside CI a test skips when root, etcd or the kube-apiserver binary is
// missing (saying how to get them); in CI it fails.
package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/pxekit/pxekit/pxetest"
)

// APIServerEnv names an environment variable holding the path of a
// kube-apiserver binary to use instead of .cache/kube-apiserver's.
const APIServerEnv = "PXEKIT_KUBE_APISERVER"

// Port is the API server's secure port inside its namespace.
const Port = 6443

// Config says how to start a cluster. The zero value starts one in a
// namespace of its own on 127.0.0.1 with every CRD of testdata/crds.
type Config struct {
	// NS is the namespace etcd and the API server run in (nil: a new one,
	// removed when the test ends).
	NS *pxetest.NetNS
	// Addr is the address the API server listens on inside NS (default
	// 127.0.0.1). A lab's bridge address lets hosts on the bridge reach
	// it too.
	Addr netip.Addr
	// CRDs are the testdata/crds files to install, by name; nil installs
	// them all, an empty non-nil slice none.
	CRDs []string
	// Audit records every request made as a service account (Metadata
	// level: who, verb, resource, response code) for Cluster.Audit.
	Audit bool
}

// Cluster is a running etcd and API server.
type Cluster struct {
	// NS is the namespace both run in.
	NS *pxetest.NetNS
	// Addr is the API server's address inside NS.
	Addr netip.AddrPort
	// CA is the PEM certificate of the CA that signed its serving
	// certificate.
	CA []byte

	tb         testing.TB
	dir        string
	adminToken string
	binary     string
	args       []string
	apiserver  *pxetest.Process
	auditLog   string
}

// Start starts etcd and the API server, waits until the API server is
// ready and installs cfg's CRDs. Both are killed, and their data removed,
// when the test ends.
func Start(tb testing.TB, cfg Config) *Cluster {
	tb.Helper()
	pxetest.RequireRoot(tb)
	etcd := pxetest.RequireCmd(tb, "etcd", "etcd-server")
	binary := apiServerBinary(tb)
	ns := cfg.NS
	if ns == nil {
		ns = pxetest.TempNetNS(tb, "kube")
	}
	addr := cfg.Addr
	if !addr.IsValid() {
		addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	dir := tb.TempDir()
	p, err := newPKI(dir, addr)
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{NS: ns, Addr: netip.AddrPortFrom(addr, Port), CA: p.caPEM, tb: tb, dir: dir, binary: binary, adminToken: randomToken(tb)}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(c.adminToken+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	// etcd on the namespace's loopback: every cluster has a namespace of
	// its own, so the fixed ports never meet another test's.
	etcdProc := pxetest.Start(tb, ns, exec.Command(etcd,
		"--name", "kubetest", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "kubetest=http://127.0.0.1:2380", "--log-level", "warn"))
	c.args = []string{
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=" + addr.String(), "--secure-port=" + strconv.Itoa(Port), "--advertise-address=" + addr.String(),
		"--tls-cert-file=" + p.certFile, "--tls-private-key-file=" + p.keyFile,
		"--token-auth-file=" + tokens, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.saPublicFile, "--service-account-signing-key-file=" + p.saSigningKey,
		// Configuration only: no traffic goes to this range.
		"--service-cluster-ip-range=10.96.0.0/16",
		"--cert-dir=" + filepath.Join(dir, "certs"),
	}
	if cfg.Audit {
		c.auditLog = filepath.Join(dir, "audit.log")
		policy := filepath.Join(dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			tb.Fatal(err)
		}
		c.args = append(c.args, "--audit-policy-file="+policy, "--audit-log-path="+c.auditLog, "--audit-log-format=json", "--audit-log-mode=blocking")
	}
	c.startAPIServer()
	if etcdProc.Exited() {
		tb.Fatalf("kubetest: etcd exited:\n%s", etcdProc.Output())
	}
	c.installCRDs(cfg.CRDs)
	return c
}

// auditPolicy logs the requests of service accounts, the identities
// whose privileges a test checks.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`

// apiServerBinary finds kube-apiserver: $PXEKIT_KUBE_APISERVER, else
// .cache/kube-apiserver/kube-apiserver of the module under test.
func apiServerBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(APIServerEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			pxetest.Missing(tb, "kube-apiserver", fmt.Sprintf("$%s=%s: %v", APIServerEnv, p, err))
		}
		return p
	}
	p := filepath.Join(pxetest.ModuleRoot(tb), ".cache", "kube-apiserver", "kube-apiserver")
	if _, err := os.Stat(p); err != nil {
		pxetest.Missing(tb, "kube-apiserver ("+p+")", "run `make testdeps` (scripts/build-kube-apiserver.sh builds it), or set $"+APIServerEnv)
	}
	return p
}

func randomToken(tb testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startAPIServer starts the API server with c.args and waits until
// /readyz answers ok.
func (c *Cluster) startAPIServer() {
	c.tb.Helper()
	c.apiserver = pxetest.Start(c.tb, c.NS, exec.Command(c.binary, c.args...))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound for a hung server, not a timing check
	defer cancel()
	hc := c.httpClient()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL()+"/readyz", nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.adminToken)
	var last string
	for {
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if c.apiserver.Exited() {
			c.tb.Fatalf("kubetest: kube-apiserver exited:\n%s", tail(c.apiserver.Output(), 4000))
		}
		select {
		case <-ctx.Done():
			c.tb.Fatalf("kubetest: kube-apiserver not ready (%s):\n%s", last, tail(c.apiserver.Output(), 4000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Restart stops the API server and starts it again on the same etcd,
// address and certificates, as an upgrade or a crash would: every open
// watch breaks.
func (c *Cluster) Restart() {
	c.tb.Helper()
	c.apiserver.Stop()
	c.startAPIServer()
}

// Stop stops the API server (etcd keeps running); StartAgain starts it.
func (c *Cluster) Stop() { c.apiserver.Stop() }

// StartAgain starts the API server Stop stopped and waits until it is
// ready.
func (c *Cluster) StartAgain() {
	c.tb.Helper()
	c.startAPIServer()
}

// URL is the API server's base URL.
func (c *Cluster) URL() string { return "https://" + c.Addr.String() }

// Dial dials inside the cluster's namespace, where the API server
// listens; clients of the test use it.
func (c *Cluster) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := c.NS.Do(func() error {
		var err error
		conn, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

func (c *Cluster) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CA)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:     c.Dial,
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}

// REST returns a client configuration that authenticates with token and
// dials inside the namespace.
func (c *Cluster) REST(token string) *rest.Config {
	return &rest.Config{
		Host:            c.URL(),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CA},
		Dial:            c.Dial,
		QPS:             100,
		Burst:           200,
		UserAgent:       "pxekit-kubetest",
	}
}

// Admin returns the configuration of a cluster administrator (group
// system:masters).
func (c *Cluster) Admin() *rest.Config { return c.REST(c.adminToken) }

// Clientset returns the administrator's typed client.
func (c *Cluster) Clientset() kubernetes.Interface {
	cs, err := kubernetes.NewForConfig(c.Admin())
	if err != nil {
		c.tb.Fatal(err)
	}
	return cs
}

// Kubeconfig writes a kubeconfig file for token, with namespace as the
// context's namespace, and returns its path. Its server address is the
// one inside the namespace: for a process the test starts there.
func (c *Cluster) Kubeconfig(token, namespace string) string {
	c.tb.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: c.URL(), CertificateAuthorityData: c.CA}
	cfg.AuthInfos["kubetest"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest", Namespace: namespace}
	cfg.CurrentContext = "kubetest"
	f, err := os.CreateTemp(c.dir, "kubeconfig-*")
	if err != nil {
		c.tb.Fatal(err)
	}
	f.Close()
	if err := clientcmd.WriteToFile(*cfg, f.Name()); err != nil {
		c.tb.Fatal(err)
	}
	return f.Name()
}

// CreateNamespace creates namespace name.
func (c *Cluster) CreateNamespace(ctx context.Context, name string) {
	c.tb.Helper()
	_, err := c.Clientset().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		c.tb.Fatal(err)
	}
}

// ServiceAccountToken returns a token for service account name in
// namespace (TokenRequest, valid for an hour): an identity with nothing
// but what RBAC grants it.
func (c *Cluster) ServiceAccountToken(ctx context.Context, namespace, name string) string {
	c.tb.Helper()
	tr, err := c.Clientset().CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		c.tb.Fatal(err)
	}
	return tr.Status.Token
}

// ErrNoAudit is returned by Audit for a cluster started without
// Config.Audit.
var ErrNoAudit = errors.New("kubetest: the cluster keeps no audit log (Config.Audit)")

// AuditEvents returns the requests the audit log recorded so far.
func (c *Cluster) AuditEvents() ([]AuditEvent, error) {
	if c.auditLog == "" {
		return nil, ErrNoAudit
	}
	b, err := os.ReadFile(c.auditLog)
	if err != nil {
		return nil, err
	}
	return parseAudit(b)
}

// Output is what the API server wrote so far.
func (c *Cluster) Output() string { return c.apiserver.Output() }
