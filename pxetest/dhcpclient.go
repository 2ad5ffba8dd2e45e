package pxetest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DHCPClient is a real DHCP client, ISC dhclient or busybox udhcpc, running
// on a link in a namespace for the rest of a test. Its hook script, used
// instead of the distribution's so it never touches the host's resolv.conf,
// configures a bound lease on the link and records every call, which
// Events and WaitEvent return.
type DHCPClient struct {
	*Process
	tb      testing.TB
	kind    string
	hookLog string
	renew   func() error
	release func() error
}

// LeaseEvent is one call of a DHCP client's hook script: why it ran and
// what lease it was handed.
type LeaseEvent struct {
	// Reason is why the hook ran, in the client's words: dhclient's
	// PREINIT, BOUND, RENEW, REBOOT, RELEASE, … (BOUND6, RENEW6, … with
	// -6); udhcpc's deconfig, bound, renew, leasefail, ….
	Reason string
	// IP is the leased address (invalid when the event carries none).
	IP netip.Addr
	// The lease's options, as the client hands them to its hook: Mask in
	// dotted form (DHCPv6: the prefix length), lists separated by spaces,
	// LeaseTime in seconds (DHCPv6: the valid lifetime), ServerID the DHCP
	// server identifier (DHCPv6: its DUID), File the boot file name
	// (DHCPv6: the boot file URL).
	Mask, Routers, DNS, Domain, MTU, LeaseTime, ServerID, File string
}

// String is the event as one line: "BOUND ip=192.0.2.100
// mask=255.255.255.0 router=192.0.2.1 dns=… domain=… mtu=… lease=… sid=…
// file=…".
func (e LeaseEvent) String() string {
	ip := ""
	if e.IP.IsValid() {
		ip = e.IP.String()
	}
	return fmt.Sprintf("%s ip=%s mask=%s router=%s dns=%s domain=%s mtu=%s lease=%s sid=%s file=%s",
		e.Reason, ip, e.Mask, e.Routers, e.DNS, e.Domain, e.MTU, e.LeaseTime, e.ServerID, e.File)
}

// hookLine is the printf both hooks log an event with: tab-separated
// fields, since lists hold spaces.
const hookLine = `printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n'`

// dhclientHook brings the link up before dhclient starts, adds a bound
// address, and logs each call once the address is configured.
const dhclientHook = `#!/bin/sh
case $reason in
PREINIT) ip link set dev "$interface" up ;;
BOUND|REBOOT) ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
esac
` + hookLine + ` "$reason" "$new_ip_address" "$new_subnet_mask" "$new_routers" "$new_domain_name_servers" "$new_domain_name" "$new_interface_mtu" "$new_dhcp_lease_time" "$new_dhcp_server_identifier" "$new_filename" >>HOOKLOG
exit 0
`

// udhcpcHook is dhclientHook for udhcpc, whose hook gets the event as $1.
const udhcpcHook = `#!/bin/sh
case $1 in
bound) ip addr add "$ip/$subnet" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
` + hookLine + ` "$1" "$ip" "$subnet" "$router" "$dns" "$domain" "$mtu" "$lease" "$serverid" "$boot_file" >>HOOKLOG
exit 0
`

// newClient writes the hook into a temporary directory and returns the
// client, not started yet, with the hook's path.
func newClient(tb testing.TB, kind, hook string) (*DHCPClient, string, string) {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, kind+"-hook")
	c := &DHCPClient{tb: tb, kind: kind, hookLog: filepath.Join(dir, "events")}
	// The log's path is written into the script: dhclient runs its hook
	// with an environment of its own making.
	hook = strings.ReplaceAll(hook, "HOOKLOG", "'"+strings.ReplaceAll(c.hookLog, "'", `'\''`)+"'")
	if err := os.WriteFile(path, []byte(hook), 0o755); err != nil {
		tb.Fatal(err)
	}
	return c, path, dir
}

// dhclient6Hook is dhclientHook for dhclient -6: the lease's address
// (with its prefix length as Mask), DNS servers, domain search list,
// valid lifetime, server DUID and boot file URL (option 59, when the
// dhclient.conf asks for it as dhcp6.bootfile-url).
const dhclient6Hook = `#!/bin/sh
case $reason in
PREINIT6) ip link set dev "$interface" up ;;
BOUND6|REBOOT6) ip -6 addr add "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" nodad ;;
esac
` + hookLine + ` "$reason" "$new_ip6_address" "$new_ip6_prefixlen" "" "$new_dhcp6_name_servers" "$new_dhcp6_domain_search" "" "$new_max_life" "$new_dhcp6_server_id" "$new_dhcp6_bootfile_url" >>HOOKLOG
exit 0
`

// StartDhclient runs ISC dhclient (package isc-dhcp-client) in the
// foreground on link in ns, with conf as its dhclient.conf and its lease
// and pid files in a temporary directory. Release runs dhclient -r.
func StartDhclient(tb testing.TB, ns *NetNS, link, conf string) *DHCPClient {
	tb.Helper()
	return startDhclient(tb, ns, link, conf, "-4", dhclientHook)
}

// StartDhclient6 is StartDhclient for DHCPv6 (dhclient -6, stateful: one
// address, IA_NA): the hook reports BOUND6, RENEW6, RELEASE6, ... with
// the address, prefix length, DNS servers, domain search list, valid
// lifetime, server DUID and boot file URL. It waits first for link's
// link-local address to leave duplicate address detection: dhclient -6
// sends from it and gives up when it cannot.
func StartDhclient6(tb testing.TB, ns *NetNS, link, conf string) *DHCPClient {
	tb.Helper()
	if _, err := ns.WaitLinkLocal(link, 10*time.Second); err != nil {
		tb.Fatal(err)
	}
	return startDhclient(tb, ns, link, conf, "-6", dhclient6Hook)
}

func startDhclient(tb testing.TB, ns *NetNS, link, conf, family, hookScript string) *DHCPClient {
	tb.Helper()
	bin := RequireCmd(tb, "dhclient", "isc-dhcp-client")
	c, hook, dir := newClient(tb, "dhclient", hookScript)
	cf := filepath.Join(dir, "dhclient.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	base := []string{family, "-v", "-sf", hook, "-lf", filepath.Join(dir, "leases"), "-pf", filepath.Join(dir, "pid"), "-cf", cf}
	c.Process = Start(tb, ns, exec.Command(bin, append(base, "-d", link)...))
	c.renew = func() error { return errors.New("pxetest: dhclient renews by itself at T1; it has no renew command") }
	c.release = func() error {
		// dhclient -r stops the running client (by its pid file) and sends
		// DHCPRELEASE.
		out, err := Run(tb, ns, exec.Command(bin, append(base, "-r", link)...))
		if err != nil {
			return fmt.Errorf("pxetest: dhclient -r: %w\n%s", err, out)
		}
		return nil
	}
	return c
}

// StartUdhcpc runs busybox udhcpc (package udhcpc) in the foreground on
// link in ns, args added to its command line ("-q", "-n" for one lease and
// exit; "-O", "mtu" to ask for an option). Renew and Release send it
// SIGUSR1 and SIGUSR2.
func StartUdhcpc(tb testing.TB, ns *NetNS, link string, args ...string) *DHCPClient {
	tb.Helper()
	bin := RequireCmd(tb, "udhcpc", "udhcpc")
	c, hook, _ := newClient(tb, "udhcpc", udhcpcHook)
	c.Process = Start(tb, ns, exec.Command(bin, append([]string{"-f", "-i", link, "-s", hook}, args...)...))
	c.renew = func() error { return c.Signal(syscall.SIGUSR1) }
	c.release = func() error { return c.Signal(syscall.SIGUSR2) }
	return c
}

// Renew makes the client renew its lease now (udhcpc only).
func (c *DHCPClient) Renew() error { return c.renew() }

// Release makes the client release its lease.
func (c *DHCPClient) Release() error { return c.release() }

// Events returns the hook's calls so far, in order.
func (c *DHCPClient) Events() []LeaseEvent {
	b, _ := os.ReadFile(c.hookLog)
	return parseHookLog(b)
}

// parseHookLog reads the hooks' log: one event a line, the ten fields
// hookLine prints. Other lines (a write cut short) are passed over.
func parseHookLog(b []byte) []LeaseEvent {
	var evs []LeaseEvent
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 10 {
			continue
		}
		e := LeaseEvent{Reason: f[0], Mask: f[2], Routers: f[3], DNS: f[4], Domain: f[5], MTU: f[6], LeaseTime: f[7], ServerID: f[8], File: f[9]}
		e.IP, _ = netip.ParseAddr(f[1])
		evs = append(evs, e)
	}
	return evs
}

// Event returns the first event with reason, if there is one yet.
func (c *DHCPClient) Event(reason string) (LeaseEvent, bool) {
	for _, e := range c.Events() {
		if e.Reason == reason {
			return e, true
		}
	}
	return LeaseEvent{}, false
}

// WaitEvent waits up to timeout (a bound for a hung client, not a timing
// check) for the first event with reason and returns it; it fails the test
// with the client's output when none comes.
func (c *DHCPClient) WaitEvent(reason string, timeout time.Duration) LeaseEvent {
	c.tb.Helper()
	for end := time.Now().Add(timeout); ; {
		if e, ok := c.Event(reason); ok {
			return e
		}
		if time.Now().After(end) {
			c.tb.Fatalf("pxetest: no %s %s event within %v; events %v\n%s output:\n%s", c.kind, reason, timeout, c.Events(), c.kind, c.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
