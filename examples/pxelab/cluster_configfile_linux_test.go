package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/etcdstore"
	"github.com/pxekit/pxekit/internal/etcdlab"
	"github.com/pxekit/pxekit/pxetest"
)

// pxelab serve -c with the config file's store.etcd section: the leases
// live in a three-member etcd that serves over TLS with client
// certificates required and authentication on, reached with the CA,
// certificate, key and password file the file names (relative to the
// file); a flag overrides the file (--etcd-prefix: the file's prefix is
// one the user may not write). A real client (udhcpc) is bound, and its
// lease is in etcd under the flag's prefix, written by this server.
func TestServeConfigFileEtcdStore(t *testing.T) {
	t.Parallel()
	l := newClusterLabTLS(t, 1, []byte("a kernel"), nil, true)
	admin, err := etcdstore.Open(context.Background(), etcdstore.Config{Endpoints: l.etcd.Endpoints(), NetNS: l.etcdNet.NS.Path(),
		CAFile: l.etcd.CA, CertFile: l.etcd.ClientCert, KeyFile: l.etcd.ClientKey, Logger: pxetest.Logger(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	err = etcdlab.EnableAuth(context.Background(), admin.Client(), "/lab/", "pxekit", "lab-password")
	admin.Close()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	for name, from := range map[string]string{"ca.pem": l.etcd.CA, "client.pem": l.etcd.ClientCert, "client-key.pem": l.etcd.ClientKey} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etcd-password"), []byte("lab-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vmlinuz"), []byte("a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "pxekit.yaml")
	conf := fmt.Sprintf(`apiVersion: pxekit/v1alpha1
kind: BootServer
interface: eth0
http: {port: 8080}
subnets:
  - prefix: 192.0.2.0/25
    pools: [{start: 192.0.2.10, end: 192.0.2.120}]
directories: {assets: .}
profiles:
  lab: {kernel: vmlinuz, args: [console=ttyS0]}
defaultProfile: lab
store:
  etcd:
    endpoints: [%s]
    prefix: /not-granted
    tls: {caFile: ca.pem, certFile: client.pem, keyFile: client-key.pem}
    auth: {username: pxekit, passwordFile: etcd-password}
`, strings.Join(l.etcd.Endpoints(), ", "))
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s := l.servers[0]
	// The file alone: its prefix is not the user's, etcd refuses.
	out, err := pxetest.Run(t, s.host.NS, exec.Command(l.bin(), "serve", "-c", file))
	if err == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("serve -c with a prefix the etcd user may not write: err %v, want permission denied:\n%s", err, out)
	}
	s.args = []string{"serve", "-c", file, "--etcd-prefix", "/lab"}
	l.start(s)
	if !strings.Contains(s.output(), "prefix=/lab") {
		t.Errorf("the server did not say it serves with etcd under /lab:\n%s", s.output())
	}
	cl := l.client()
	got := l.bound(60 * time.Second)[cl.mac.String()]

	c, err := etcdstore.Open(context.Background(), etcdstore.Config{Endpoints: l.etcd.Endpoints(), NetNS: l.etcdNet.NS.Path(), Prefix: "/lab",
		CAFile: l.etcd.CA, CertFile: l.etcd.ClientCert, KeyFile: l.etcd.ClientKey, Username: "pxekit", Password: "lab-password", Logger: pxetest.Logger(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Join(context.Background(), "test-reader", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ls, err := m.LeaseStore().Load()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, le := range ls {
		if le.IP == got && le.MAC.String() == cl.mac.String() {
			found = true
		}
	}
	if !found {
		t.Errorf("client %s bound %s; the leases in etcd under /lab: %+v", cl.mac, got, ls)
	}
	for _, k := range l.checkNoDuplicate() {
		if k.server != s.name {
			t.Errorf("ACK from %s, not the one server", k.server)
		}
	}
}
