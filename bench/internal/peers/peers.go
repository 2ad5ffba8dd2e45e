// Package peers is how the comparison runs the servers pxekit is measured
// against — Kea and dnsmasq for DHCP, tftpd-hpa and atftpd for TFTP,
// nginx for HTTP — each as its users would for the load at hand: the
// configuration each is given and the command that starts it (in a
// namespace, with harness.Start).
package peers

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pxekit/pxekit/bench/internal/harness"
)

// Kea is kea-dhcp4 with a memfile lease database that persists to CSV
// (appended, not fsync'd), on a UDP socket (relayed traffic needs no raw
// one), handing out Pool on a /24.
type Kea struct {
	Interface string
	Dir       string // the config, the lease file, Kea's pid and lock files
	Subnet    string // e.g. 192.0.2.0/24
	PoolStart string
	PoolEnd   string
	// Threads is the size of Kea's packet-processing thread pool; 0 keeps
	// Kea 2.2's default, multi-threading off (one thread serves).
	Threads int
}

// Config is the kea-dhcp4 configuration file.
func (k Kea) Config() ([]byte, error) {
	dhcp4 := map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{k.Interface}, "dhcp-socket-type": "udp"},
		"lease-database":    map[string]any{"type": "memfile", "persist": true, "name": filepath.Join(k.Dir, "kea-leases4.csv"), "lfc-interval": 0},
		"valid-lifetime":    3600,
		"subnet4":           []any{map[string]any{"id": 1, "subnet": k.Subnet, "pools": []any{map[string]any{"pool": k.PoolStart + " - " + k.PoolEnd}}}},
		"loggers":           []any{map[string]any{"name": "kea-dhcp4", "severity": "WARN", "output_options": []any{map[string]any{"output": "stderr"}}}},
	}
	if k.Threads > 0 {
		dhcp4["multi-threading"] = map[string]any{"enable-multi-threading": true, "thread-pool-size": k.Threads, "packet-queue-size": 256}
	}
	return json.MarshalIndent(map[string]any{"Dhcp4": dhcp4}, "", "  ")
}

// Command writes the configuration into Dir and returns kea-dhcp4 in the
// foreground on it, its pid and lock files in Dir.
func (k Kea) Command() (harness.Command, error) {
	conf, err := k.Config()
	if err != nil {
		return harness.Command{}, err
	}
	path := filepath.Join(k.Dir, "kea.json")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		return harness.Command{}, err
	}
	return harness.Command{Name: "kea-dhcp4", Args: []string{"-c", path},
		Env: []string{"KEA_PIDFILE_DIR=" + k.Dir, "KEA_LOCKFILE_DIR=" + k.Dir}}, nil
}

// Dnsmasq is dnsmasq as a DHCP server only (no DNS), in the foreground,
// with its lease file, handing out PoolStart–PoolEnd for an hour.
type Dnsmasq struct {
	Interface string
	Dir       string // pid, lease and log files
	PoolStart string
	PoolEnd   string
	// Ping keeps dnsmasq as shipped: it pings an address before its first
	// offer to a new client (conflict detection, which pxekit and Kea do
	// not do) and leaves that client's first DISCOVER unanswered. False
	// runs it with --no-ping.
	Ping bool
	// LogDHCP logs every DHCP exchange to stderr (--log-dhcp), for a
	// timeline; otherwise dnsmasq logs to Dir/dnsmasq.log, and with Quiet
	// not even each lease.
	LogDHCP bool
	Quiet   bool
	// Boot, when set, is what the machines boot.
	Boot *DnsmasqBoot
	// TFTPRoot, when set, turns on dnsmasq's own TFTP server on it.
	TFTPRoot string
}

// DnsmasqBoot is the classic chainloading recipe: firmware gets iPXE as
// its boot file over TFTP, iPXE (user class "iPXE") gets the script's URL.
type DnsmasqBoot struct {
	EFI  string // boot file for UEFI x86-64 firmware (client arch 7)
	BIOS string // boot file for every other firmware ("": none)
	// NextServer is the TFTP server named with the boot files ("": the
	// DHCP server itself).
	NextServer string
	Script     string // the script URL for iPXE
	EFIScript  string // the script URL for iPXE on UEFI ("": Script)
}

// Args are dnsmasq's command line.
func (d Dnsmasq) Args() []string {
	a := []string{"-k", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
		"--interface=" + d.Interface, "--bind-interfaces", "--user=root", "--pid-file=" + filepath.Join(d.Dir, "dnsmasq.pid"),
		"--dhcp-range=" + d.PoolStart + "," + d.PoolEnd + ",1h", "--dhcp-leasefile=" + filepath.Join(d.Dir, "dnsmasq.leases"),
		"--dhcp-lease-max=1000"}
	if d.LogDHCP {
		a = append(a, "--log-dhcp", "--log-facility=-")
	} else {
		a = append(a, "--log-facility="+filepath.Join(d.Dir, "dnsmasq.log"))
	}
	if !d.Ping {
		a = append(a, "--no-ping")
	}
	if d.Quiet {
		a = append(a, "--quiet-dhcp")
	}
	if b := d.Boot; b != nil {
		next := ""
		if b.NextServer != "" {
			next = ",," + b.NextServer
		}
		a = append(a, "--dhcp-userclass=set:ipxe,iPXE", "--dhcp-match=set:efi64,option:client-arch,7")
		if b.EFIScript != "" {
			a = append(a, "--dhcp-boot=tag:ipxe,tag:efi64,"+b.EFIScript, "--dhcp-boot=tag:ipxe,tag:!efi64,"+b.Script)
		} else {
			a = append(a, "--dhcp-boot=tag:ipxe,"+b.Script)
		}
		a = append(a, "--dhcp-boot=tag:!ipxe,tag:efi64,"+b.EFI+next)
		if b.BIOS != "" {
			a = append(a, "--dhcp-boot=tag:!ipxe,tag:!efi64,"+b.BIOS+next)
		}
	}
	if d.TFTPRoot != "" {
		a = append(a, "--enable-tftp", "--tftp-root="+d.TFTPRoot)
	}
	return a
}

// Command is dnsmasq with Args.
func (d Dnsmasq) Command() harness.Command {
	return harness.Command{Name: "dnsmasq", Args: d.Args()}
}

// TFTPDHPA is tftpd-hpa in the foreground (-L), chrooted (-s) into Root,
// on Addr (host:port).
type TFTPDHPA struct {
	Addr string
	Root string
}

// Command is in.tftpd for t.
func (t TFTPDHPA) Command() harness.Command {
	return harness.Command{Name: "in.tftpd", Args: []string{"-L", "-a", t.Addr, "-s", "-u", "root", t.Root}}
}

// Atftpd is atftpd in the foreground, with up to 100 transfers at once,
// on IP and Port, logging to LogFile.
type Atftpd struct {
	IP      string
	Port    int
	Root    string
	LogFile string
}

// Command is atftpd (AtftpdPath) for a.
func (a Atftpd) Command() harness.Command {
	return harness.Command{Name: AtftpdPath(), Args: []string{"--daemon", "--no-fork", "--bind-address", a.IP, "--port", strconv.Itoa(a.Port),
		"--user", "root.root", "--logfile", a.LogFile, "--maxthread", "100", a.Root}}
}

// AtftpdPath is atftpd from PATH, or unpacked by `make bench-deps` into
// .cache/bench of the working directory: Debian's atftpd package
// conflicts with tftpd-hpa (both ship /usr/sbin/in.tftpd), so it is not
// installed beside it.
func AtftpdPath() string {
	if p, err := exec.LookPath("atftpd"); err == nil {
		return p
	}
	p, _ := filepath.Abs(".cache/bench/atftpd/usr/sbin/atftpd")
	return p
}

// Nginx is nginx in the foreground with two workers, serving Root on
// Listen with sendfile and tcp_nopush (a static file server as tuned for
// large files), its pid, error log and temporary files in Dir.
type Nginx struct {
	Dir    string
	Listen string // host:port
	Root   string
	// WorkerConnections is each worker's connection limit (0: 1024).
	WorkerConnections int
	// KeepaliveRequests is how many requests one connection may carry
	// (0: nginx's default, 1000).
	KeepaliveRequests int
	// AccessLog logs every request to Dir/access.log with its end time
	// ($msec), for a timeline; otherwise nothing is logged per request.
	AccessLog bool
	// PhoneHome answers /phonehome with 200 "welcome", as pxekit's boot
	// server does for the guest's phone-home.
	PhoneHome bool
}

// Config is nginx.conf.
func (n Nginx) Config() string {
	wc := n.WorkerConnections
	if wc == 0 {
		wc = 1024
	}
	var b strings.Builder
	fmt.Fprintf(&b, "daemon off;\nmaster_process on;\nworker_processes 2;\npid %[1]s/nginx.pid;\nerror_log %[1]s/nginx-error.log warn;\nevents { worker_connections %[2]d; }\nhttp {\n", n.Dir, wc)
	if n.AccessLog {
		fmt.Fprintf(&b, "  log_format stamped '$msec \"$request\" $status $body_bytes_sent';\n  access_log %s/access.log stamped;\n", n.Dir)
	} else {
		b.WriteString("  access_log off;\n")
	}
	b.WriteString("  sendfile on;\n  tcp_nopush on;\n")
	if n.KeepaliveRequests > 0 {
		fmt.Fprintf(&b, "  keepalive_requests %d;\n", n.KeepaliveRequests)
	}
	fmt.Fprintf(&b, "  default_type application/octet-stream;\n  client_body_temp_path %s/body;\n", n.Dir)
	fmt.Fprintf(&b, "  server {\n    listen %s;\n    root %s;\n", n.Listen, n.Root)
	if n.PhoneHome {
		b.WriteString("    location = /phonehome { return 200 \"welcome\\n\"; }\n")
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// Command writes Config to Dir/nginx.conf and returns nginx on it.
func (n Nginx) Command() (harness.Command, error) {
	path := filepath.Join(n.Dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(n.Config()), 0o644); err != nil {
		return harness.Command{}, err
	}
	return harness.Command{Name: "nginx", Args: []string{"-c", path, "-p", n.Dir}}, nil
}
