package harvester

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/grub"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

func loadCluster(t *testing.T) *Cluster {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCluster(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func nodes(n int, zones ...string) []Node {
	var out []Node
	for i := range n {
		nd := Node{Hostname: fmt.Sprintf("node%d", i+1), MAC: fmt.Sprintf("52:54:00:00:00:%02x", i+1)}
		if i < len(zones) && zones[i] != "" {
			nd.Labels = map[string]string{ZoneLabel: zones[i]}
		}
		out = append(out, nd)
	}
	return out
}

func TestPlanModesAndRoles(t *testing.T) {
	c := loadCluster(t)
	c.Nodes = nodes(5)
	plan, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		mode Mode
		role Role
	}{{ModeCreate, RoleManagement}, {ModeJoin, RoleManagement}, {ModeJoin, RoleManagement}, {ModeJoin, RoleWorker}, {ModeJoin, RoleWorker}}
	for i, n := range plan.Nodes {
		if n.Mode != want[i].mode || n.Role != want[i].role {
			t.Errorf("%s: %s/%s, want %s/%s", n.Hostname, n.Mode, n.Role, want[i].mode, want[i].role)
		}
		if n.Mode == ModeJoin && (n.Config.ServerURL != "https://10.100.0.99:443" || n.Config.Install.VIP != "") {
			t.Errorf("%s joins at %q with vip %q", n.Hostname, n.Config.ServerURL, n.Config.Install.VIP)
		}
	}
	if c := plan.Nodes[0].Config; c.Install.VIP != "10.100.0.99" || c.Install.VIPMode != VIPStatic || c.ServerURL != "" {
		t.Errorf("create node: %+v", c)
	}
}

// With zone labels Harvester promotes one management node per zone: node2
// shares node1's zone, so node3 and node4 (new zones) are promoted.
func TestPlanZones(t *testing.T) {
	c := loadCluster(t)
	c.Nodes = nodes(5, "a", "a", "b", "c", "b")
	plan, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var mgmt []string
	for _, n := range plan.Nodes {
		if n.Role == RoleManagement {
			mgmt = append(mgmt, n.Hostname)
		}
	}
	if strings.Join(mgmt, ",") != "node1,node3,node4" {
		t.Errorf("management nodes %v", mgmt)
	}
	c.Nodes = nodes(4, "a", "b", "a", "b")
	if _, err := c.Plan(); err == nil || !strings.Contains(err.Error(), "at least three zones") {
		t.Errorf("two zones: %v", err)
	}
}

func TestPlanErrors(t *testing.T) {
	c := loadCluster(t)
	c.Version = "latest"
	c.VIP = ""
	c.Nodes = append(nodes(2), Node{Hostname: "node1", MAC: "52:54:00:00:00:01"}, Node{Hostname: "", MAC: "nope"})
	c.Boot.Extra = []string{"ip=eth0:dhcp"}
	_, err := c.Plan()
	if err == nil {
		t.Fatal("plan of a broken cluster")
	}
	for _, want := range []string{"version", "vip", "nodes[2].mac", "nodes[2].hostname", "nodes[3].mac", "nodes[3].hostname", "boot", "nodes[0].config.install.vip"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

// The inventory's scripts, for BIOS and UEFI, are the install guide's with the boot
// server's URLs: kernel, initrd and rootfs from /assets/ under their real
// names, the config at /machines/<mac>/config-<mode>.yaml.
func TestInventoryScripts(t *testing.T) {
	plan, err := loadCluster(t).Plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range plan.Nodes {
		for _, fw := range []ipxe.Firmware{ipxe.BIOS, ipxe.EFI} {
			got, err := plan.RenderScript(n, "http://192.0.2.1", fw)
			if err != nil {
				t.Fatal(err)
			}
			pxetest.CheckGolden(t, fmt.Sprintf("served-%s-%s.ipxe", n.Hostname, fw), got)
			if !strings.Contains(string(got), "harvester.install.config_url=http://192.0.2.1/machines/"+n.MACAddr.String()+"/config-"+string(n.Mode)+".yaml") {
				t.Errorf("%s %s script:\n%s", n.Hostname, fw, got)
			}
		}
	}
}

// planned plans c and makes the boot server's inventory of it.
func planned(t *testing.T, c *Cluster) (*Plan, *pxe.StaticInventory) {
	t.Helper()
	plan, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := plan.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	return plan, inv
}

// With boot.secureBoot every node's profile is a Secure Boot one, and its
// grub.cfg passes the same Harvester arguments as its iPXE script (GRUB
// loads the initrd itself: no initrd=).
func TestInventorySecureBoot(t *testing.T) {
	c := loadCluster(t)
	c.Boot.SecureBoot = true
	plan, inv := planned(t, c)
	for _, n := range plan.Nodes {
		if _, p, _ := inv.Lookup(n.MACAddr); p.Kind != pxe.ProfileSecureBoot {
			t.Errorf("%s: profile kind %q", n.Hostname, p.Kind)
		}
		got, err := plan.RenderGRUB(n, "http://192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		pxetest.CheckGolden(t, fmt.Sprintf("served-%s-secureboot.grub.cfg", n.Hostname), got)
		if probs := grub.Lint(string(got), grub.ForSecureBoot()); len(probs) > 0 {
			t.Errorf("%s grub.cfg: %v", n.Hostname, probs)
		}
		script, err := plan.RenderScript(n, "http://192.0.2.1", ipxe.BIOS)
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Fields(strings.Split(string(script), "\n")[1])[2:] // kernel URL args...
		for _, a := range args {
			if !strings.Contains(string(got), grub.Quote(a)) {
				t.Errorf("%s: grub.cfg lacks the script's argument %s", n.Hostname, a)
			}
		}
		if strings.Contains(string(got), "initrd=") {
			t.Errorf("%s: grub.cfg names an initrd= argument", n.Hostname)
		}
	}
}

// A password that looks like a template stays a password in the served
// config: the config is a literal for the boot server, not a template.
func TestInventoryConfigIsLiteral(t *testing.T) {
	c := loadCluster(t)
	c.Password = `{{.MAC}}"}}{{`
	plan, inv := planned(t, c)
	m, p, _ := inv.Lookup(plan.Nodes[0].MACAddr)
	out, err := pxe.RenderFile(m, p, "config-create.yaml", "http://192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.OS.Password != c.Password {
		t.Errorf("password served as %q", back.OS.Password)
	}
}

// Through the boot server's HTTP side: node1's script carries a signed
// config URL; the config is served through it; node2's config without a
// signature or lease is refused; no log line or event carries the token or
// password.
func TestServedSecretsStayOutOfLogsAndEvents(t *testing.T) {
	c := loadCluster(t)
	c.Token, c.Password = "tok-7f3a9c-SECRET", "pw-51be02-SECRET"
	plan, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := plan.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv, err := pxe.New(pxe.Config{
		Interface: "lo", Inventory: inv, IPXE: fstest.MapFS{},
		URLKey: []byte("k-0123456789abcdef-0123456789ab"), URLTTL: time.Minute,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := srv.Subscribe(ctx)
	h := srv.Handler()
	get := func(target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.RemoteAddr = "192.0.2.50:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := get("/boot.ipxe?mac=52:54:00:6b:13:e2&fw=efi")
	var cfgURL string
	for _, f := range strings.Fields(w.Body.String()) {
		if v, ok := strings.CutPrefix(f, "harvester.install.config_url="); ok {
			cfgURL = v
		}
	}
	if w.Code != 200 || !strings.Contains(cfgURL, "sig=") {
		t.Fatalf("script %d:\n%s", w.Code, w.Body)
	}
	w = get(cfgURL)
	if w.Code != 200 || !strings.Contains(w.Body.String(), c.Token) {
		t.Fatalf("signed config: %d %s", w.Code, w.Body)
	}
	w = get("/machines/52:54:00:69:d5:92/config-join.yaml")
	if w.Code != 403 || strings.Contains(w.Body.String(), c.Token) {
		t.Fatalf("node2's config without lease or signature: %d %s", w.Code, w.Body)
	}
	cancel()
	var all strings.Builder
	kinds := map[pxe.EventKind]int{}
	for e := range events {
		fmt.Fprintf(&all, "%+v\n", e)
		kinds[e.Kind]++
	}
	if kinds[pxe.EventConfigServed] != 1 || kinds[pxe.EventDenied] != 1 {
		t.Errorf("events: %s", all.String())
	}
	for _, s := range []string{c.Token, c.Password} {
		if strings.Contains(logs.String(), s) || strings.Contains(all.String(), s) {
			t.Errorf("secret %q leaked:\nlogs: %s\nevents: %s", s, logs.String(), all.String())
		}
	}
	_, _ = io.Copy(io.Discard, &logs)
}
