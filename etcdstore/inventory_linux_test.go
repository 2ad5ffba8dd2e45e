package etcdstore

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pxekit/pxekit/internal/etcdlab"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// enableAuth creates user "pxekit" (password "lab-password", read-write
// under /pxekit) and root, then turns authentication on.
func enableAuth(t *testing.T, lab *etcdlab.Cluster, ns *pxetest.NetNS) {
	t.Helper()
	c := open(t, lab, ns, Config{CAFile: lab.CA, CertFile: lab.ClientCert, KeyFile: lab.ClientKey})
	ctx := context.Background()
	cli := c.Client()
	steps := []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", "root-password"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "pxekit"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "pxekit", "/pxekit/", clientv3.GetPrefixRangeEnd("/pxekit/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "pxekit", "lab-password"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "pxekit", "pxekit"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("auth step %d: %v", i, err)
		}
	}
}

func labInventory(t *testing.T, hostname string) pxe.InventorySpec {
	t.Helper()
	mac, _ := macaddr.Parse("02:00:00:00:00:01")
	return pxe.InventorySpec{
		Machines: []pxe.Machine{{MAC: mac, Hostname: hostname, Profile: "node1"}},
		Profiles: map[string]pxe.Profile{
			"node1": {Kernel: "vmlinuz", Initrd: "initrd.img", Args: []string{"console=ttyS0"},
				Files: map[string]string{"config.yaml": "token: {{.Vars.token}}\nhostname: " + hostname + "\n"}},
			"default": {Kernel: "vmlinuz"},
		},
		Default: "default",
	}
}

// The inventory in etcd with TLS (client certificates required) and
// authentication on, because secrets live there: a client without the
// certificate or the password is refused; what one client writes, a
// running server's Inventory serves without restart; a state that does
// not validate is not taken; and the URL key is one for all servers.
func TestInventoryOverTLSWithAuth(t *testing.T) {
	lab, ns := startEtcd(t, true)
	enableAuth(t, lab, ns)
	good := Config{CAFile: lab.CA, CertFile: lab.ClientCert, KeyFile: lab.ClientKey, Username: "pxekit", Password: "lab-password", DialTimeout: 3 * time.Second}

	for name, cfg := range map[string]Config{
		"no client certificate": {CAFile: lab.CA, Username: "pxekit", Password: "lab-password", DialTimeout: 3 * time.Second},
		"wrong password":        {CAFile: lab.CA, CertFile: lab.ClientCert, KeyFile: lab.ClientKey, Username: "pxekit", Password: "guess", DialTimeout: 3 * time.Second},
		"no password":           {CAFile: lab.CA, CertFile: lab.ClientCert, KeyFile: lab.ClientKey, DialTimeout: 3 * time.Second},
	} {
		cfg.Endpoints, cfg.NetNS = lab.Endpoints(), ns.Path()
		if c, err := Open(context.Background(), cfg); err == nil {
			c.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}

	admin := open(t, lab, ns, good)
	ctx := context.Background()
	if err := admin.PutInventory(ctx, labInventory(t, "node-1")); err != nil {
		t.Fatal(err)
	}
	server := open(t, lab, ns, good)
	inv, err := server.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	mac, _ := macaddr.Parse("02:00:00:00:00:01")
	m, p, err := inv.Lookup(mac)
	if err != nil || m.Hostname != "node-1" || !strings.Contains(p.Files["config.yaml"], "node-1") {
		t.Fatalf("Lookup: %+v %+v %v", m, p, err)
	}

	// A change by another client: served without restart.
	rev := inv.Revision()
	start := time.Now()
	if err := admin.PutInventory(ctx, labInventory(t, "node-1b")); err != nil {
		t.Fatal(err)
	}
	for m, _, _ := inv.Lookup(mac); m.Hostname != "node-1b"; m, _, _ = inv.Lookup(mac) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("change not seen; hostname still %q", m.Hostname)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("inventory change seen by the other client after %v", time.Since(start))
	if inv.Revision() == rev {
		t.Fatal("Revision did not move")
	}
	// A machine naming a profile that does not exist, written by hand:
	// refused, the last valid inventory stays.
	if _, err := admin.Client().Put(ctx, "/pxekit/inventory/machines/02:00:00:00:00:02", `{"mac":"02:00:00:00:00:02","profile":"nope"}`); err != nil {
		t.Fatal(err)
	}
	for inv.Rejected() == 0 {
		if time.Since(start) > 10*time.Second {
			t.Fatal("invalid change not noticed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if m, _, _ := inv.Lookup(mac); m.Hostname != "node-1b" {
		t.Fatalf("after an invalid change: %+v", m)
	}
	if got, err := admin.GetInventory(ctx); err == nil {
		t.Fatalf("GetInventory of an invalid state: %+v", got)
	}

	// One URL key: signed by one server, honoured by another.
	k1, err := admin.URLKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := server.URLKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := pxe.MachineFilePath(mac.String(), "config.yaml")
	q, _ := url.ParseQuery(pxe.SignPath(k1, path, time.Now().Add(time.Minute)))
	if err := pxe.VerifySignedPath(k2, path, q, time.Now()); err != nil {
		t.Fatalf("a URL signed with one server's key, checked with the other's: %v", err)
	}
}
