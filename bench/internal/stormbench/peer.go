package stormbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
)

// peerName is the stack the storm compares pxekit with: what a PXE setup
// is usually built from today.
const peerName = "dnsmasq+tftpd-hpa+nginx"

// runPeer runs the same storm against dnsmasq (DHCP only, the boot file
// for firmware and the script URL for iPXE by user class), tftpd-hpa
// serving the same ipxe.efi and nginx serving the same kernel and initrd
// and a static copy of the script pxekit renders. dir is the pxekit run's
// directory: its assets/ are reused as they are.
func runPeer(ctx context.Context, h *harness.Harness, dir string, n int, want map[string]stormclient.File, efi []byte) (*stormclient.Report, error) {
	if m := harness.Missing("dnsmasq", "in.tftpd", "nginx"); m != "" {
		return nil, fmt.Errorf("missing %s (packages dnsmasq-base, tftpd-hpa, nginx-light)", m)
	}
	pdir := filepath.Join(dir, "peer")
	tftpRoot := filepath.Join(pdir, "tftp")
	if err := os.MkdirAll(tftpRoot, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tftpRoot, string(ipxe.IPXEEFI)), efi, 0o644); err != nil {
		return nil, err
	}
	base := "http://" + harness.ServerIP
	// The bytes pxekit's pxe role serves a UEFI machine of the storm.
	script, err := pxe.RenderScript(pxe.Machine{Profile: "storm"}, roles.StormProfile(), base, ipxe.EFI)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "boot.ipxe"), script, 0o644); err != nil {
		return nil, err
	}
	ngCmd, err := peers.Nginx{Dir: pdir, Listen: harness.ServerIP + ":80", Root: dir, WorkerConnections: 4096}.Command()
	if err != nil {
		return nil, err
	}

	var procs []*harness.Proc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	start := func(c harness.Command) (*harness.Proc, error) {
		p, err := harness.Start(h.Srv, c)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}
	// No ping check: every pool address answers ping from the clients'
	// veth, and the other servers do not probe either.
	dm, err := start(peers.Dnsmasq{Interface: h.SrvIf, Dir: pdir, PoolStart: harness.PoolStart, PoolEnd: harness.PoolEnd, Quiet: true,
		Boot: &peers.DnsmasqBoot{EFI: string(ipxe.IPXEEFI), NextServer: harness.ServerIP, Script: base + "/boot.ipxe"}}.Command())
	if err != nil {
		return nil, err
	}
	tf, err := start(peers.TFTPDHPA{Addr: harness.ServerIP + ":69", Root: tftpRoot}.Command())
	if err != nil {
		return nil, err
	}
	ng, err := start(ngCmd)
	if err != nil {
		return nil, err
	}
	if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, harness.ServerIP+":80"), ng); err != nil {
		return nil, err
	}
	for _, w := range []struct {
		p    *harness.Proc
		port string
	}{{dm, "67"}, {tf, "69"}} {
		if err := harness.WaitReady(ctx, harness.UDPBound(ctx, h.Srv, w.port), w.p); err != nil {
			return nil, err
		}
	}
	rep, err := runClients(ctx, h, n, want, filepath.Join(pdir, "storm-peer.json"))
	for _, p := range procs {
		if e := p.Exited(); e != nil && err == nil {
			err = fmt.Errorf("%s died in the storm: %w", p.Name(), e)
		}
	}
	return rep, err
}
