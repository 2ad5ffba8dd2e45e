package pxe

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

func exampleConfig(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pxetest.ModuleRoot(t), "examples", "pxelab", "config", name))
	must(t, err)
	return b
}

// The documented example files decode strictly and validate, and say
// what their comments say.
func TestExampleConfigFiles(t *testing.T) {
	f, errs := ParseConfig(exampleConfig(t, "harvester.yaml"))
	if len(errs) > 0 {
		t.Fatalf("harvester.yaml: %v", errs)
	}
	cfg, _ := f.convert()
	spec := f.inventorySpec()
	if len(cfg.Subnets) != 1 || cfg.Subnets[0].Prefix.String() != "10.100.0.0/24" || cfg.Subnets[0].Pools[0].Size() != 154 ||
		cfg.Subnets[0].LeaseTime != 12*time.Hour || cfg.Addr != netip.MustParseAddr("10.100.0.10") {
		t.Errorf("harvester.yaml subnets %+v addr %s", cfg.Subnets, cfg.Addr)
	}
	if len(spec.Machines) != 2 || spec.Machines[0].Profile != "create" || spec.Machines[1].Profile != "join" || spec.Default != "" {
		t.Errorf("harvester.yaml machines %+v default %q", spec.Machines, spec.Default)
	}
	if cfg.LeaseFile != "/var/lib/pxekit/leases.db" || f.URLSigning == nil || f.URLSigning.TTL.Duration != time.Hour {
		t.Errorf("harvester.yaml store %q signing %+v", cfg.LeaseFile, f.URLSigning)
	}

	f, errs = ParseConfig(exampleConfig(t, "kubevirt-lab.yaml"))
	if len(errs) > 0 {
		t.Fatalf("kubevirt-lab.yaml: %v", errs)
	}
	cfg, _ = f.convert()
	if len(cfg.Subnets) != 1 || cfg.Subnets[0].Prefix.IsValid() || !cfg.RouterAdvertisement || cfg.HTTPPort != 8080 ||
		len(cfg.Reservations) != 1 || f.inventorySpec().Default != "lab" {
		t.Errorf("kubevirt-lab.yaml: %+v", cfg)
	}
}

// A file with many problems gets all of them at once, each under its path
// and on its line, an unknown field with where it belongs.
func TestConfigFileErrors(t *testing.T) {
	doc := `apiVersion: pxekit/v1alpha1
kind: BootServer
interface: br0
subnets:
  - prefix: 192.0.2.0/24
    pools:
      - {start: 192.0.2.200, end: 192.0.2.100}
    leasetime: 1h
reservations:
  - {mac: "ff:ff:ff:ff:ff:ff", ip: 192.0.2.5}
profiles:
  lab: {initrd: initrd.gz}
machines:
  - {mac: "52:54:00:00:00:01", profile: nope}
defaultProfile: lab
http: {port: 70000}
store:
  bbolt: {path: leases.db}
  etcd:
    endpoints: [etcd-0:2379]
    auth: {username: pxe}
tls: {certFile: tls.crt}
log: {level: loud}
`
	_, errs := ParseConfig([]byte(doc))
	if len(errs) != 11 || !strings.Contains(errs[0].Error(), "subnets[0].leasetime") || !strings.Contains(errs[0].Error(), `did you mean "leaseTime"`) {
		t.Fatalf("unknown field: %v, want subnets[0].leasetime with a hint, then the 10 other problems", errs)
	}
	doc = strings.Replace(doc, "leasetime", "leaseTime", 1)
	path := filepath.Join(t.TempDir(), "pxekit.yaml")
	must(t, os.WriteFile(path, []byte(doc), 0o644))
	_, err := LoadConfig(path)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadConfig: %v, want a *ConfigError", err)
	}
	want := map[string]int{ // path → line
		"subnets[0].pools[0].end":      7,
		"reservations[0].mac":          10,
		"profiles[lab]":                12,
		"machines[0].profile":          14,
		"http.port":                    16,
		"store.etcd":                   19,
		"store.etcd.endpoints[0]":      20,
		"store.etcd.auth.passwordFile": 21,
		"tls.certFile":                 22,
		"log.level":                    23,
	}
	got := map[string]int{}
	for _, e := range ce.Errors {
		got[e.Field] = ce.Line(e)
	}
	for p, line := range want {
		if l, ok := got[p]; !ok || l != line {
			t.Errorf("%s: line %d (reported: %v), want line %d", p, l, ok, line)
		}
	}
	msg := err.Error()
	if !strings.Contains(msg, path+":16: http.port: Invalid value: 70000") {
		t.Errorf("error text does not read FILE:LINE: path: message:\n%s", msg)
	}
	if n := strings.Count(msg, "\n") + 1; n != len(ce.Errors) {
		t.Errorf("%d lines for %d errors", n, len(ce.Errors))
	}
}

func TestConfigFileSyntaxAndTypeErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"", "empty"},
		{"interface: [br0\n", "line"},
		{"apiVersion: pxekit/v1alpha1\nkind: BootServer\ninterface: br0\nhttp: {port: eighty}\n", "http.port"},
		{"apiVersion: pxekit/v1alpha1\nkind: BootServer\ninterface: br0\nshutdownGrace: soon\n", `"soon" is not a duration`},
		{"apiVersion: pxekit/v1alpha1\nkind: BootServer\ninterface: br0\naddress: 192.0.2.300\n", "address"},
		{"apiVersion: v1\nkind: Pod\ninterface: br0\n", "apiVersion: Unsupported value"},
		{"apiVersion: pxekit/v1alpha1\nkind: BootServer\ninterface: br0\ninterface: br1\n", "Duplicate"},
	} {
		_, errs := ParseConfig([]byte(c.doc))
		if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.doc, errs, c.want)
		}
	}
}

// Config opens what the file names and builds a server config; names are
// relative to the file; what is missing on the host is named.
func TestConfigFileConfig(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "assets"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "assets", "vmlinuz"), []byte("kernel"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "ipxe"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "ipxe", "undionly.kpxe"), []byte("ipxe"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "url.key"), []byte(strings.Repeat("k", MinURLKeyLen)+"\n"), 0o600))
	doc := `apiVersion: pxekit/v1alpha1
kind: BootServer
interface: lo
subnets:
  - prefix: 192.0.2.0/24
    pools: [{start: 192.0.2.100, end: 192.0.2.199}]
directories: {assets: assets, ipxe: ipxe}
profiles: {lab: {kernel: vmlinuz}}
defaultProfile: lab
urlSigning: {keyFile: url.key}
store: {bbolt: {path: leases.db}}
`
	path := filepath.Join(dir, "pxekit.yaml")
	must(t, os.WriteFile(path, []byte(doc), 0o644))
	f, err := LoadConfig(path)
	must(t, err)
	cfg, release, err := f.Config()
	must(t, err)
	defer release()
	if cfg.LeaseFile != filepath.Join(dir, "leases.db") || len(cfg.URLKey) != MinURLKeyLen || cfg.Inventory.Revision() == 0 {
		t.Errorf("config %+v", cfg)
	}
	if b, err := fs.ReadFile(cfg.Assets, "vmlinuz"); err != nil || string(b) != "kernel" {
		t.Errorf("assets: %q %v", b, err)
	}
	srv, err := New(cfg)
	must(t, err)
	srv.Close()

	doc = strings.Replace(doc, "assets: assets", "assets: missing", 1)
	doc += "tls: {certFile: tls.crt, keyFile: tls.key}\n"
	must(t, os.WriteFile(path, []byte(doc), 0o644))
	f, err = LoadConfig(path)
	must(t, err)
	_, _, err = f.Config()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Config with missing files: %v", err)
	}
	var fields []string
	for _, e := range ce.Errors {
		fields = append(fields, e.Field)
	}
	slices.Sort(fields)
	if strings.Join(fields, " ") != "directories.assets tls.certFile tls.keyFile" {
		t.Errorf("missing files reported at %v", fields)
	}
	if !strings.Contains(err.Error(), path+":7: directories.assets") {
		t.Errorf("error %q does not name the file and line", err)
	}
}
