package stormbench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
)

// peerStack is a DHCP server the storm pairs with tftpd-hpa and nginx.
type peerStack struct {
	name string
	bin  string // the DHCP server's command, for Missing
	// dhcp is its command for the storm's subnets; dir is its own.
	dhcp func(h *harness.Harness, dir, script string) (harness.Command, error)
}

var (
	dnsmasqStack = peerStack{name: "dnsmasq+tftpd-hpa+nginx", bin: "dnsmasq", dhcp: dnsmasqCommand}
	keaStack     = peerStack{name: "Kea+tftpd-hpa+nginx", bin: "kea-dhcp4", dhcp: keaCommand}
)

// dnsmasqCommand is dnsmasq (DHCP only) with one range per relayed subnet,
// which it picks by the link selection the relay sends, the boot file for
// UEFI firmware and the script URL for iPXE by user class; no ping check
// (the other servers do not probe either).
func dnsmasqCommand(h *harness.Harness, dir, script string) (harness.Command, error) {
	d := peers.Dnsmasq{Interface: h.SrvIf, Dir: dir, PoolStart: harness.PoolStart, PoolEnd: harness.PoolEnd, Quiet: true,
		Boot: &peers.DnsmasqBoot{EFI: string(ipxe.IPXEEFI), NextServer: harness.ServerIP, Script: script}}
	// Every machine of the largest storm holds a lease at once: the
	// shared recipe's --dhcp-lease-max=1000 gives way (dnsmasq refuses a
	// repeated flag).
	var args []string
	for _, a := range d.Args() {
		if !strings.HasPrefix(a, "--dhcp-lease-max=") {
			args = append(args, a)
		}
	}
	for _, p := range roles.StormSubnets(Subnets) {
		start, end := roles.StormPool(p)
		args = append(args, fmt.Sprintf("--dhcp-range=%s,%s,255.255.255.0,1h", start, end))
	}
	args = append(args, fmt.Sprintf("--dhcp-lease-max=%d", Subnets*253+1000))
	return harness.Command{Name: "dnsmasq", Args: args}, nil
}

// keaCommand is kea-dhcp4 (memfile, persisted, on a UDP socket) with the
// 40 subnets, which it picks by link selection, and two client classes:
// iPXE (user class "iPXE") gets the script URL, UEFI x86-64 firmware
// (client arch 7) gets ipxe.efi from the TFTP server.
func keaCommand(h *harness.Harness, dir, script string) (harness.Command, error) {
	var subnets []any
	for i, p := range roles.StormSubnets(Subnets) {
		start, end := roles.StormPool(p)
		subnets = append(subnets, map[string]any{"id": i + 1, "subnet": p.String(), "pools": []any{map[string]any{"pool": start.String() + " - " + end.String()}}})
	}
	conf := map[string]any{"Dhcp4": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{h.SrvIf}, "dhcp-socket-type": "udp"},
		"lease-database":    map[string]any{"type": "memfile", "persist": true, "name": filepath.Join(dir, "kea-leases4.csv"), "lfc-interval": 0},
		"valid-lifetime":    3600,
		"client-classes": []any{
			map[string]any{"name": "ipxe", "test": "substring(option[77].hex,0,4) == 'iPXE'", "boot-file-name": script},
			map[string]any{"name": "efi64", "test": "option[93].hex == 0x0007 and not member('ipxe')",
				"next-server": harness.ServerIP, "boot-file-name": string(ipxe.IPXEEFI)},
		},
		"subnet4": subnets,
		"loggers": []any{map[string]any{"name": "kea-dhcp4", "severity": "WARN", "output_options": []any{map[string]any{"output": "stderr"}}}},
	}}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return harness.Command{}, err
	}
	path := filepath.Join(dir, "kea.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return harness.Command{}, err
	}
	return harness.Command{Name: "kea-dhcp4", Args: []string{"-c", path},
		Env: []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}}, nil
}

// runPeer runs the storm of n machines against ps's DHCP server,
// tftpd-hpa serving the same ipxe.efi and nginx serving the same kernel
// and initrd and a static copy of the script pxekit renders.
func (e *env) runPeer(ctx context.Context, n int, ps peerStack) (o outcome) {
	h := e.h
	defer func() {
		if o.err != nil {
			h.Log.Warn("storm: no peer figures", "peer", ps.name, "machines", n, "err", o.err)
		}
	}()
	if m := harness.Missing(ps.bin, "in.tftpd", "nginx"); m != "" {
		return outcome{err: fmt.Errorf("missing %s (packages dnsmasq-base, kea-dhcp4-server, tftpd-hpa, nginx-light)", m)}
	}
	pdir := filepath.Join(e.dir, fmt.Sprintf("peer-%s-%d", ps.bin, n))
	tftpRoot := filepath.Join(pdir, "tftp")
	if err := os.MkdirAll(tftpRoot, 0o755); err != nil {
		return outcome{err: err}
	}
	if err := os.WriteFile(filepath.Join(tftpRoot, string(ipxe.IPXEEFI)), e.efi, 0o644); err != nil {
		return outcome{err: err}
	}
	base := "http://" + harness.ServerIP
	// The bytes pxekit's pxe role serves a UEFI machine of the storm.
	script, err := pxe.RenderScript(pxe.Machine{Profile: "storm"}, roles.StormProfile(), base, ipxe.EFI)
	if err != nil {
		return outcome{err: err}
	}
	if err := os.WriteFile(filepath.Join(e.dir, "boot.ipxe"), script, 0o644); err != nil {
		return outcome{err: err}
	}
	ngCmd, err := peers.Nginx{Dir: pdir, Listen: harness.ServerIP + ":80", Root: e.dir, WorkerConnections: 16384}.Command()
	if err != nil {
		return outcome{err: err}
	}
	dhCmd, err := ps.dhcp(h, pdir, base+"/boot.ipxe")
	if err != nil {
		return outcome{err: err}
	}
	var procs []*harness.Proc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	for _, c := range []harness.Command{dhCmd, peers.TFTPDHPA{Addr: harness.ServerIP + ":69", Root: tftpRoot}.Command(), ngCmd} {
		p, err := harness.Start(h.Srv, c)
		if err != nil {
			return outcome{err: err}
		}
		procs = append(procs, p)
	}
	if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, harness.ServerIP+":80"), procs...); err != nil {
		return outcome{err: err}
	}
	for _, w := range []struct {
		p    *harness.Proc
		port string
	}{{procs[0], "67"}, {procs[1], "69"}} {
		if err := harness.WaitReady(ctx, harness.UDPBound(ctx, h.Srv, w.port), w.p); err != nil {
			return outcome{err: err}
		}
	}
	var roots []int
	for _, p := range procs {
		roots = append(roots, p.PID())
	}
	rs := sampleRSS(ctx, roots)
	rep, elapsed, err := e.runClients(ctx, n, ps.bin)
	rss := rs.Peak()
	for _, p := range procs {
		if x := p.Exited(); x != nil && err == nil {
			err = fmt.Errorf("%s died in the storm: %w: %s", p.Name(), x, harness.Tail(p.Output(), 300))
		}
	}
	if err != nil {
		return outcome{err: err}
	}
	o = outcome{rep: rep, elapsed: elapsed, rss: rss, s: summarize(rep, false)}
	h.Log.Info("storm", "server", ps.name, "machines", n, "elapsed", elapsed.Round(time.Millisecond), "failed", o.s.failed,
		"peakRSS MB", rss>>20, "client CPU", rep.CPU.Round(time.Millisecond))
	return o
}
