package peers

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

func TestKea(t *testing.T) {
	dir := t.TempDir()
	k := Kea{Interface: "pxkbs0", Dir: dir, Subnet: "192.0.2.0/24", PoolStart: "192.0.2.10", PoolEnd: "192.0.2.250"}
	cmd, err := k.Command()
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Name != "kea-dhcp4" || !slices.Equal(cmd.Args, []string{"-c", filepath.Join(dir, "kea.json")}) ||
		!slices.Contains(cmd.Env, "KEA_PIDFILE_DIR="+dir) || !slices.Contains(cmd.Env, "KEA_LOCKFILE_DIR="+dir) {
		t.Errorf("command %+v", cmd)
	}
	b, err := os.ReadFile(filepath.Join(dir, "kea.json"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Dhcp4 struct {
			Interfaces struct {
				Interfaces []string `json:"interfaces"`
				SocketType string   `json:"dhcp-socket-type"`
			} `json:"interfaces-config"`
			Leases struct {
				Type        string `json:"type"`
				Persist     bool   `json:"persist"`
				Name        string `json:"name"`
				LFCInterval *int   `json:"lfc-interval"`
			} `json:"lease-database"`
			Lifetime int `json:"valid-lifetime"`
			Subnets  []struct {
				ID     int    `json:"id"`
				Subnet string `json:"subnet"`
				Pools  []struct {
					Pool string `json:"pool"`
				} `json:"pools"`
			} `json:"subnet4"`
			MT *struct {
				Enable bool `json:"enable-multi-threading"`
				Pool   int  `json:"thread-pool-size"`
			} `json:"multi-threading"`
		}
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatalf("kea.json: %v\n%s", err, b)
	}
	d := conf.Dhcp4
	// Relayed traffic on a UDP socket; leases persisted to a CSV in Dir
	// and never compacted during a run; one subnet with the pool.
	if !slices.Equal(d.Interfaces.Interfaces, []string{"pxkbs0"}) || d.Interfaces.SocketType != "udp" {
		t.Errorf("interfaces-config %+v", d.Interfaces)
	}
	if d.Leases.Type != "memfile" || !d.Leases.Persist || d.Leases.Name != filepath.Join(dir, "kea-leases4.csv") || d.Leases.LFCInterval == nil || *d.Leases.LFCInterval != 0 {
		t.Errorf("lease-database %+v", d.Leases)
	}
	if d.Lifetime != 3600 || len(d.Subnets) != 1 || d.Subnets[0].Subnet != "192.0.2.0/24" || len(d.Subnets[0].Pools) != 1 || d.Subnets[0].Pools[0].Pool != "192.0.2.10 - 192.0.2.250" {
		t.Errorf("lifetime %d, subnets %+v", d.Lifetime, d.Subnets)
	}
	if d.MT != nil {
		t.Errorf("multi-threading %+v without Threads", *d.MT)
	}
	k.Threads = 2
	b, _ = k.Config()
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	if mt := conf.Dhcp4.MT; mt == nil || !mt.Enable || mt.Pool != 2 {
		t.Errorf("Threads 2: multi-threading %+v", mt)
	}
}

// dnsmasqTest has dnsmasq itself check a command line.
func dnsmasqTest(t *testing.T, args []string) {
	t.Helper()
	pxetest.RequireCmd(t, "dnsmasq", "dnsmasq-base")
	if out, err := exec.Command("dnsmasq", append([]string{"--test"}, args...)...).CombinedOutput(); err != nil {
		t.Errorf("dnsmasq rejects %q: %v: %s", args, err, out)
	}
}

func TestDnsmasq(t *testing.T) {
	dir := t.TempDir()
	d := Dnsmasq{Interface: "pxkbs0", Dir: dir, PoolStart: "192.0.2.10", PoolEnd: "192.0.2.250"}
	args := d.Args()
	for _, want := range []string{"-k", "--port=0", "--interface=pxkbs0", "--bind-interfaces", "--dhcp-range=192.0.2.10,192.0.2.250,1h",
		"--dhcp-leasefile=" + filepath.Join(dir, "dnsmasq.leases"), "--log-facility=" + filepath.Join(dir, "dnsmasq.log"), "--no-ping"} {
		if !slices.Contains(args, want) {
			t.Errorf("DHCP only: no %s in %q", want, args)
		}
	}
	if slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--dhcp-boot") || strings.HasPrefix(a, "--enable-tftp")
	}) {
		t.Errorf("DHCP only, with boot or TFTP options: %q", args)
	}
	dnsmasqTest(t, args)
	d.Ping = true
	if slices.Contains(d.Args(), "--no-ping") {
		t.Error("as shipped, with --no-ping")
	}

	// The storm's stack: firmware gets ipxe.efi from tftpd-hpa, iPXE the script.
	d = Dnsmasq{Interface: "pxkbs0", Dir: dir, PoolStart: "192.0.2.10", PoolEnd: "192.0.2.250", Quiet: true,
		Boot: &DnsmasqBoot{EFI: "ipxe.efi", NextServer: "192.0.2.1", Script: "http://192.0.2.1/boot.ipxe"}}
	args = d.Args()
	boot := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return !strings.HasPrefix(a, "--dhcp-boot") })
	if want := []string{"--dhcp-boot=tag:ipxe,http://192.0.2.1/boot.ipxe", "--dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi,,192.0.2.1"}; !slices.Equal(boot, want) {
		t.Errorf("storm boot options %q, want %q", boot, want)
	}
	for _, want := range []string{"--dhcp-userclass=set:ipxe,iPXE", "--dhcp-match=set:efi64,option:client-arch,7", "--quiet-dhcp"} {
		if !slices.Contains(args, want) {
			t.Errorf("storm: no %s in %q", want, args)
		}
	}
	dnsmasqTest(t, args)

	// The QEMU baseline: dnsmasq's own TFTP, per-firmware scripts, a log
	// of every exchange on stderr.
	d = Dnsmasq{Interface: "pxkq0", Dir: dir, PoolStart: "192.0.2.10", PoolEnd: "192.0.2.250", LogDHCP: true, TFTPRoot: filepath.Join(dir, "tftp"),
		Boot: &DnsmasqBoot{EFI: "ipxe.efi", BIOS: "undionly.kpxe", Script: "http://192.0.2.1/boot.ipxe", EFIScript: "http://192.0.2.1/boot-efi.ipxe"}}
	args = d.Args()
	boot = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return !strings.HasPrefix(a, "--dhcp-boot") })
	if want := []string{"--dhcp-boot=tag:ipxe,tag:efi64,http://192.0.2.1/boot-efi.ipxe", "--dhcp-boot=tag:ipxe,tag:!efi64,http://192.0.2.1/boot.ipxe",
		"--dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi", "--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe"}; !slices.Equal(boot, want) {
		t.Errorf("QEMU boot options %q, want %q", boot, want)
	}
	for _, want := range []string{"--log-dhcp", "--log-facility=-", "--enable-tftp", "--tftp-root=" + filepath.Join(dir, "tftp")} {
		if !slices.Contains(args, want) {
			t.Errorf("QEMU: no %s in %q", want, args)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "tftp"), 0o755); err != nil {
		t.Fatal(err)
	}
	dnsmasqTest(t, args)
	if c := d.Command(); c.Name != "dnsmasq" || !slices.Equal(c.Args, args) {
		t.Errorf("Command %+v", c)
	}
}

func TestTFTPServers(t *testing.T) {
	c := TFTPDHPA{Addr: "192.0.2.1:1069", Root: "/srv/tftp"}.Command()
	if c.Name != "in.tftpd" || !slices.Equal(c.Args, []string{"-L", "-a", "192.0.2.1:1069", "-s", "-u", "root", "/srv/tftp"}) {
		t.Errorf("tftpd-hpa: %+v", c)
	}
	c = Atftpd{IP: "192.0.2.1", Port: 2069, Root: "/srv/tftp", LogFile: "/tmp/a.log"}.Command()
	if filepath.Base(c.Name) != "atftpd" || !slices.Equal(c.Args, []string{"--daemon", "--no-fork", "--bind-address", "192.0.2.1", "--port", "2069",
		"--user", "root.root", "--logfile", "/tmp/a.log", "--maxthread", "100", "/srv/tftp"}) {
		t.Errorf("atftpd: %+v", c)
	}
}

func TestNginx(t *testing.T) {
	nginx := pxetest.RequireCmd(t, "nginx", "nginx-light")
	dir := t.TempDir()
	n := Nginx{Dir: dir, Listen: "127.0.0.1:8080", Root: dir, KeepaliveRequests: 1000000}
	conf := n.Config()
	for _, want := range []string{"daemon off;", "worker_processes 2;", "worker_connections 1024;", "access_log off;", "sendfile on;", "tcp_nopush on;",
		"keepalive_requests 1000000;", "listen 127.0.0.1:8080;", "root " + dir + ";", "pid " + dir + "/nginx.pid;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("HTTP part's nginx.conf lacks %q:\n%s", want, conf)
		}
	}
	// The QEMU baseline's: every request logged with its time, a phone-home.
	q := Nginx{Dir: dir, Listen: "127.0.0.1:80", Root: dir + "/www", WorkerConnections: 4096, AccessLog: true, PhoneHome: true}
	qc := q.Config()
	for _, want := range []string{"worker_connections 4096;", "log_format stamped '$msec", "access_log " + dir + "/access.log stamped;",
		`location = /phonehome { return 200 "welcome\n"; }`} {
		if !strings.Contains(qc, want) {
			t.Errorf("QEMU nginx.conf lacks %q:\n%s", want, qc)
		}
	}
	if strings.Contains(qc, "keepalive_requests") || strings.Contains(qc, "access_log off") {
		t.Errorf("QEMU nginx.conf:\n%s", qc)
	}
	for _, c := range []Nginx{n, q} {
		cmd, err := c.Command()
		if err != nil {
			t.Fatal(err)
		}
		// nginx -t parses the whole configuration and opens its files.
		if out, err := exec.Command(nginx, append([]string{"-t"}, cmd.Args...)...).CombinedOutput(); err != nil {
			t.Errorf("nginx -t: %v: %s\n%s", err, out, c.Config())
		}
	}
}
