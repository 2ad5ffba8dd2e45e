package soak

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/pxetest"
)

// Commands are the real clients the workload runs: each program and the
// Debian package that ships it.
func Commands() [][2]string {
	return [][2]string{{"udhcpc", "udhcpc"}, {"dhclient", "isc-dhcp-client"}, {"tftp", "tftp-hpa"}, {"atftp", "atftp"}, {"curl", "curl"}}
}

// startLoad starts every worker; they stop when ctx ends, and the
// WaitGroup is done when all have.
func (s *soak) startLoad(ctx context.Context) (*sync.WaitGroup, error) {
	wg := &sync.WaitGroup{}
	relay, err := s.net.AddHost("pxsr", relayAddr)
	if err != nil {
		return wg, err
	}
	files, err := s.net.AddHost("pxsf", filesAddr)
	if err != nil {
		return wg, err
	}
	real := map[string]*pxetest.Host{}
	for _, name := range []string{"udhcpc", "dhclient", "churn"} {
		h, err := s.net.AddHost("pxsc", netip.Prefix{})
		if err != nil {
			return wg, err
		}
		real[name] = h
	}
	for i := 0; i < s.cfg.RelayClients; i++ {
		conn, err := relay.NS.ListenPacket("udp4", net.JoinHostPort(relayAddr.Addr().String(), "0"))
		if err != nil {
			return wg, err
		}
		wg.Go(func() {
			defer conn.Close()
			s.relayClient(ctx, conn)
		})
	}
	dir := filepath.Join(s.cfg.Dir, "clients")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return wg, err
	}
	wg.Go(func() { s.tftpLoop(ctx, files.NS, dir, "tftp") })
	wg.Go(func() { s.tftpLoop(ctx, files.NS, dir, "atftp") })
	wg.Go(func() { s.httpLoop(ctx, files.NS, dir, "script") })
	wg.Go(func() { s.httpLoop(ctx, files.NS, dir, "asset") })
	wg.Go(func() { s.persistentUdhcpc(ctx, real["udhcpc"], dir) })
	wg.Go(func() { s.persistentDhclient(ctx, real["dhclient"], dir) })
	wg.Go(func() { s.churnUdhcpc(ctx, real["churn"], dir) })
	return wg, nil
}

// exchange relays req to the server from the relay host and returns the
// answer to it, sending it again every 1.5 s, four times in all, as a
// relay forwards a retransmitting client. Relay source port (RFC 8357)
// brings the answer back to this socket's own port.
func exchange(ctx context.Context, conn net.PacketConn, req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error) {
	req.GatewayIPAddr = net.IP(relayAddr.Addr().AsSlice())
	req.UpdateOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(19), nil)))
	to := &net.UDPAddr{IP: net.IP(serverAddr.AsSlice()), Port: 67}
	buf := make([]byte, 1500)
	for range 4 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, err := conn.WriteTo(req.ToBytes(), to); err != nil {
			return nil, err
		}
		_ = conn.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				break // timed out: send again
			}
			r, err := dhcpv4.FromBytes(buf[:n])
			if err == nil && r.TransactionID == req.TransactionID && r.OpCode == dhcpv4.OpcodeBootReply {
				return r, nil
			}
		}
	}
	return nil, fmt.Errorf("no answer to %s from %s", req.MessageType(), req.ClientHWAddr)
}

// relayClient is one simulated client after another behind the relay:
// DORA with a new MAC, a few renewals, then a release, or (one time in
// seven) walking away so the lease expires.
func (s *soak) relayClient(ctx context.Context, conn net.PacketConn) {
	for ctx.Err() == nil {
		mac := pxetest.NewMAC()
		var ack *dhcpv4.DHCPv4
		var sent time.Time
		err := retry(ctx, 3, func() error {
			d, err := dhcpv4.NewDiscovery(mac)
			if err != nil {
				return err
			}
			offer, err := exchange(ctx, conn, d)
			if err != nil {
				return err
			}
			if offer.MessageType() != dhcpv4.MessageTypeOffer {
				return fmt.Errorf("%s to a DISCOVER", offer.MessageType())
			}
			req, err := dhcpv4.NewRequestFromOffer(offer)
			if err != nil {
				return err
			}
			sent = time.Now()
			if ack, err = exchange(ctx, conn, req); err != nil {
				return err
			}
			if ack.MessageType() != dhcpv4.MessageTypeAck {
				return fmt.Errorf("%s to a REQUEST", ack.MessageType())
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.fail("relay dora", fmt.Errorf("%s: %w", mac, err))
			sleep(ctx, time.Second)
			continue
		}
		ip, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
		lease := ack.IPAddressLeaseTime(s.cfg.LeaseTime)
		s.track.ack(mac, ip, time.Now(), sent.Add(lease))
		s.ok("relay dora")
		for range int(between(1, 5)) {
			if !sleep(ctx, between(time.Second, 5*time.Second)) {
				return
			}
			err := retry(ctx, 3, func() error {
				req, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac),
					dhcpv4.WithClientIP(ack.YourIPAddr))
				if err != nil {
					return err
				}
				sent = time.Now()
				r, err := exchange(ctx, conn, req)
				if err != nil {
					return err
				}
				if r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(ack.YourIPAddr) {
					return fmt.Errorf("%s %s to a renewal of %s", r.MessageType(), r.YourIPAddr, ip)
				}
				lease = r.IPAddressLeaseTime(s.cfg.LeaseTime)
				return nil
			})
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.fail("relay renew", fmt.Errorf("%s: %w", mac, err))
				break
			}
			s.track.ack(mac, ip, time.Now(), sent.Add(lease))
			s.ok("relay renew")
		}
		if chance(1.0 / 7) {
			continue // walks away: the lease expires
		}
		rel, err := dhcpv4.NewReleaseFromACK(ack)
		if err != nil {
			s.fail("relay release", err)
			continue
		}
		rel.GatewayIPAddr = net.IP(relayAddr.Addr().AsSlice())
		// No answer comes to a release; one lost to the impairment leaves
		// the lease to expire, which the tracker allows for as it keeps
		// the address held until then.
		s.track.release(mac, ip, time.Now())
		if _, err := conn.WriteTo(rel.ToBytes(), &net.UDPAddr{IP: net.IP(serverAddr.AsSlice()), Port: 67}); err != nil {
			s.fail("relay release", err)
			continue
		}
		s.ok("relay release")
		sleep(ctx, between(0, time.Second))
	}
}

// tftpLoop downloads the TFTP file with tftp-hpa or atftp, again and
// again, checking its hash.
func (s *soak) tftpLoop(ctx context.Context, ns *pxetest.NetNS, dir, client string) {
	out := filepath.Join(dir, client+".out")
	for i := 0; ctx.Err() == nil; i++ {
		err := retry(ctx, 3, func() error {
			os.Remove(out)
			var cmd *exec.Cmd
			if client == "atftp" {
				// A block size as firmware asks for it, every other run.
				args := []string{"--option", "timeout 1", "-g", "-r", tftpFile, "-l", out}
				if i%2 == 0 {
					args = append([]string{"--option", "blksize 1468"}, args...)
				}
				cmd = pxetest.CommandContext(ctx, "atftp", append(args, serverAddr.String())...)
			} else {
				// tftp-hpa retransmits after rexmt seconds (default 5).
				cmd = pxetest.CommandContext(ctx, "tftp", serverAddr.String())
				cmd.Stdin = strings.NewReader(fmt.Sprintf("binary\nrexmt 1\ntimeout 60\nget %s %s\nquit\n", tftpFile, out))
			}
			b, err := runIn(ns, cmd)
			if err != nil {
				return fmt.Errorf("%v: %s", err, tail(b, 3))
			}
			return sameHash(out, s.boot)
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.fail(client, err)
		} else {
			s.ok(client)
		}
		sleep(ctx, between(100*time.Millisecond, time.Second))
	}
}

// httpLoop fetches a machine's iPXE script or the asset with curl, again
// and again, checking the script's kernel line or the asset's hash.
func (s *soak) httpLoop(ctx context.Context, ns *pxetest.NetNS, dir, what string) {
	out := filepath.Join(dir, "curl-"+what+".out")
	base := fmt.Sprintf("http://%s:%d", serverAddr, httpPort)
	for ctx.Err() == nil {
		mac := pxetest.NewMAC()
		url := base + "/assets/" + assetFile
		if what == "script" {
			url = base + "/boot.ipxe?mac=" + mac.String()
		}
		err := retry(ctx, 3, func() error {
			os.Remove(out)
			cmd := pxetest.CommandContext(ctx, "curl", "-sS", "--fail", "--max-time", "60", "-o", out, url)
			if b, err := runIn(ns, cmd); err != nil {
				return fmt.Errorf("%s: %v: %s", url, err, tail(b, 3))
			}
			if what == "asset" {
				return sameHash(out, s.asset)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				return err
			}
			if want := "kernel " + base + "/assets/" + assetFile; !strings.Contains(string(b), want) {
				return fmt.Errorf("%s: script lacks %q:\n%s", url, want, b)
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.fail("http "+what, err)
		} else {
			s.ok("http " + what)
		}
		sleep(ctx, between(100*time.Millisecond, time.Second))
	}
}

// runIn runs cmd in ns and returns its output.
func runIn(ns *pxetest.NetNS, cmd *exec.Cmd) (string, error) {
	var b lockedBuf
	cmd.Stdout, cmd.Stderr = &b, &b
	err := ns.Run(cmd)
	return b.String(), err
}

// The real clients' hooks configure a bound lease on the link (renewals
// and releases are sent from it) and log each call with its time, so the
// tracker knows when the lease began.
const (
	udhcpcHook = `#!/bin/sh
case $1 in
bound|renew) ip addr replace "$ip/$subnet" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
echo "$(date +%s.%N) $1 $ip ${lease:-0}" >>LOG
exit 0
`
	dhclientHook = `#!/bin/sh
case $reason in
PREINIT) ip link set dev "$interface" up ;;
BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
EXPIRE|FAIL|RELEASE|STOP) ip addr flush dev "$interface" ;;
esac
echo "$(date +%s.%N) $reason $new_ip_address ${new_dhcp_lease_time:-0}" >>LOG
exit 0
`
)

// hookEvent is one line of a hook's log.
type hookEvent struct {
	at     time.Time
	reason string
	ip     netip.Addr
	lease  time.Duration
}

// ParseHookLine reads a hook log line: "UNIX.NANOS REASON [IP] LEASE".
func parseHookLine(line string) (hookEvent, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || len(f) > 4 {
		return hookEvent{}, false
	}
	sec, frac, _ := strings.Cut(f[0], ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return hookEvent{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		ns, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return hookEvent{}, false
		}
	}
	e := hookEvent{at: time.Unix(s, ns), reason: f[1]}
	secs := f[len(f)-1]
	if len(f) == 4 {
		if e.ip, err = netip.ParseAddr(f[2]); err != nil {
			return hookEvent{}, false
		}
	}
	l, err := strconv.ParseUint(secs, 10, 32)
	if err != nil {
		return hookEvent{}, false
	}
	e.lease = time.Duration(l) * time.Second
	return e, true
}

// writeHook writes hook with its log at log and returns its path.
func writeHook(dir, name, hook, log string) (string, error) {
	p := filepath.Join(dir, name)
	hook = strings.ReplaceAll(hook, "LOG", "'"+log+"'")
	return p, os.WriteFile(p, []byte(hook), 0o755)
}

// hookTail follows a hook log: next returns the lines added since the
// last call.
type hookTail struct {
	path string
	off  int64
}

func (h *hookTail) next() []hookEvent {
	f, err := os.Open(h.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(h.off, 0); err != nil {
		return nil
	}
	var evs []hookEvent
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break // a line not finished yet is read next time
		}
		h.off += int64(len(line))
		if e, ok := parseHookLine(line); ok {
			evs = append(evs, e)
		}
	}
	return evs
}

// leaseUntil is how long the tracker holds an address the hook reported:
// from the hook's time, less a margin for the time between the server's
// commit and the hook, so it never outlasts the server's own lease.
func leaseUntil(e hookEvent) time.Time { return e.at.Add(e.lease - 2*time.Second) }

// follow reads a long-running client's hook log until ctx ends: bound and
// renewed leases are operations, losing the lease or failing to get one
// failures.
func (s *soak) follow(ctx context.Context, kind string, mac net.HardwareAddr, t *hookTail, good, bad map[string]bool, proc *exec.Cmd, done <-chan struct{}) {
	bound := false
	for {
		for _, e := range t.next() {
			switch {
			case good[e.reason]:
				bound = true
				s.track.ack(mac, e.ip, e.at, leaseUntil(e))
				s.ok(kind)
			case bad[e.reason] || (bound && (e.reason == "deconfig" || e.reason == "EXPIRE")):
				s.fail(kind, fmt.Errorf("%s: hook %s %s", mac, e.reason, e.ip))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
			if ctx.Err() == nil {
				s.fail(kind, fmt.Errorf("%s exited: %v", proc.Path, proc.ProcessState))
			}
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// persistentUdhcpc is a machine that keeps its lease all through the
// soak, renewing at T1 and now and then at once (SIGUSR1).
func (s *soak) persistentUdhcpc(ctx context.Context, h *pxetest.Host, dir string) {
	log := filepath.Join(dir, "udhcpc.log")
	hook, err := writeHook(dir, "udhcpc-hook", udhcpcHook, log)
	if err != nil {
		s.fail("udhcpc", err)
		return
	}
	mac, err := h.NS.HardwareAddr(h.Link)
	if err != nil {
		s.fail("udhcpc", err)
		return
	}
	// Ten DISCOVERs 2 s apart before it counts as a failure (leasefail).
	cmd := pxetest.CommandContext(ctx, "udhcpc", "-f", "-i", h.Link, "-s", hook, "-t", "10", "-T", "2", "-A", "1")
	var out lockedBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := h.NS.Start(cmd); err != nil {
		s.fail("udhcpc", err)
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	go func() {
		for sleep(ctx, between(4*time.Second, 8*time.Second)) {
			_ = cmd.Process.Signal(syscall.SIGUSR1)
		}
	}()
	s.follow(ctx, "udhcpc", mac, &hookTail{path: log}, map[string]bool{"bound": true, "renew": true},
		map[string]bool{"leasefail": true, "nak": true}, cmd, done)
	<-done
}

// persistentDhclient is a machine running ISC dhclient all through the
// soak: it renews by itself at T1.
func (s *soak) persistentDhclient(ctx context.Context, h *pxetest.Host, dir string) {
	log := filepath.Join(dir, "dhclient.log")
	hook, err := writeHook(dir, "dhclient-hook", dhclientHook, log)
	if err != nil {
		s.fail("dhclient", err)
		return
	}
	mac, err := h.NS.HardwareAddr(h.Link)
	if err != nil {
		s.fail("dhclient", err)
		return
	}
	// The soak's leases are seconds long, dhclient's resend timers are
	// made for hours: by default it waits 10 s, then up to 15 s, between
	// REQUESTs, so between T1 and expiry of a 30 s lease it sends about
	// three, and at 5 % loss each way one renewal in a thousand loses all
	// of them and the lease expires. Its timers are shrunk with the lease
	// (2 s, then 2–6 s apart): a renewal gets about five tries before the
	// lease ends.
	conf := filepath.Join(dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte("timeout 60;\nretry 1;\ninitial-interval 2;\nbackoff-cutoff 4;\n"), 0o644); err != nil {
		s.fail("dhclient", err)
		return
	}
	cmd := pxetest.CommandContext(ctx, "dhclient", "-4", "-d", "-v", "-sf", hook, "-cf", conf,
		"-lf", filepath.Join(dir, "dhclient.leases"), "-pf", filepath.Join(dir, "dhclient.pid"), h.Link)
	var out lockedBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := h.NS.Start(cmd); err != nil {
		s.fail("dhclient", err)
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.follow(ctx, "dhclient", mac, &hookTail{path: log}, map[string]bool{"BOUND": true, "RENEW": true, "REBIND": true, "REBOOT": true},
		map[string]bool{"FAIL": true, "TIMEOUT": true}, cmd, done)
	<-done
}

// churnUdhcpc is new machines one after another on one link: a new MAC,
// udhcpc takes a lease and releases it as it exits (-q -R).
func (s *soak) churnUdhcpc(ctx context.Context, h *pxetest.Host, dir string) {
	for i := 0; ctx.Err() == nil; i++ {
		mac := pxetest.NewMAC()
		log := filepath.Join(dir, fmt.Sprintf("churn-%d.log", i%2))
		os.Remove(log)
		hook, err := writeHook(dir, "churn-hook", udhcpcHook, log)
		if err != nil {
			s.fail("udhcpc churn", err)
			return
		}
		err = retry(ctx, 3, func() error {
			set := exec.Command("ip", "link", "set", "dev", h.Link, "address", mac.String())
			if b, err := runIn(h.NS, set); err != nil {
				return fmt.Errorf("ip link set address: %v: %s", err, b)
			}
			cmd := pxetest.CommandContext(ctx, "udhcpc", "-f", "-q", "-n", "-R", "-i", h.Link, "-s", hook, "-t", "5", "-T", "2")
			b, err := runIn(h.NS, cmd)
			t := &hookTail{path: log}
			var found bool
			for _, e := range t.next() {
				if e.reason == "bound" {
					// -q -R releases right after this: the address
					// is this machine's at the moment of its ACK only.
					found = true
					s.track.ack(mac, e.ip, e.at, e.at)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: udhcpc -q: %v: %s", mac, err, tail(b, 3))
			}
			if !found {
				return fmt.Errorf("%s: udhcpc exited without a bound lease: %s", mac, tail(b, 3))
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.fail("udhcpc churn", err)
		} else {
			s.ok("udhcpc churn")
		}
		sleep(ctx, between(200*time.Millisecond, 2*time.Second))
	}
}
