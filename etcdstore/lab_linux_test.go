package etcdstore

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/etcdlab"
	"github.com/pxekit/pxekit/pxetest"
)

// etcdAddr is where the test's etcd members listen, on the loopback of a
// namespace the test creates.
var etcdAddr = netip.MustParseAddr("192.0.2.129")

// startEtcd runs a three-member etcd (Debian's etcd-server) in a fresh
// namespace for the rest of the test.
func startEtcd(t *testing.T, tls bool) (*etcdlab.Cluster, *pxetest.NetNS) {
	t.Helper()
	pxetest.RequireRoot(t)
	pxetest.RequireFile(t, etcdlab.Binary, "etcd-server")
	ns := pxetest.TempNetNS(t, "etcd")
	if err := ns.AddAddr("lo", netip.PrefixFrom(etcdAddr, 32)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := etcdlab.Start(ctx, etcdlab.Config{NS: ns, Addr: etcdAddr, Dir: t.TempDir(), TLS: tls})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ns
}

// open connects to the lab's etcd from inside its namespace: the client's
// sockets are made there, and stay there.
func open(t *testing.T, lab *etcdlab.Cluster, ns *pxetest.NetNS, cfg Config) *Cluster {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = pxetest.Logger(t, slog.LevelInfo)
	}
	cfg.NetNS = ns.Path()
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = lab.Endpoints()
	}
	c, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
