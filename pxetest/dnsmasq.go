package pxetest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// StartDnsmasq runs dnsmasq (package dnsmasq-base) as a DHCP server on
// link in ns for the rest of the test: in the foreground, no DNS
// (--port=0), bound to link only, every exchange logged (--log-dhcp) into
// the process's Output, leases and pid file in a temporary directory. args
// add to its command line: --dhcp-range=…, --dhcp-boot=…, --enable-tftp,
// ….
func StartDnsmasq(tb testing.TB, ns *NetNS, link string, args ...string) *Process {
	tb.Helper()
	bin := RequireCmd(tb, "dnsmasq", "dnsmasq-base")
	dir := tb.TempDir()
	base := []string{"--no-daemon", "--conf-file=/dev/null", "--user=root", "--port=0", "--log-dhcp",
		"--interface=" + link, "--bind-interfaces",
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"), "--pid-file=" + filepath.Join(dir, "dnsmasq.pid")}
	return Start(tb, ns, exec.Command(bin, append(base, args...)...))
}
