package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
)

// stormPeerName is the stack the storm compares pxekit with: what a PXE
// setup is usually built from today.
const stormPeerName = "dnsmasq+tftpd-hpa+nginx"

// stormPeer runs the same storm against dnsmasq (DHCP only, the boot file
// for firmware and the script URL for iPXE by user class), tftpd-hpa
// serving the same ipxe.efi and nginx serving the same kernel and initrd
// and a static copy of the script pxekit renders. dir is the pxekit run's
// directory: its assets/ are reused as they are.
func stormPeer(h *harness.Harness, ctx context.Context, dir string, n int, want map[string]stormclient.File, efi []byte) (*stormclient.Report, error) {
	if m := harness.Missing("dnsmasq", "in.tftpd", "nginx"); m != "" {
		return nil, fmt.Errorf("missing %s (packages dnsmasq-base, tftpd-hpa, nginx-light)", m)
	}
	pdir := filepath.Join(dir, "peer")
	tftpRoot := filepath.Join(pdir, "tftp")
	if err := os.MkdirAll(tftpRoot, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tftpRoot, "ipxe.efi"), efi, 0o644); err != nil {
		return nil, err
	}
	base := "http://" + harness.ServerIP
	// What pxekit's storm profile renders for a UEFI machine.
	script := fmt.Sprintf("#!ipxe\nkernel %[1]s/assets/vmlinuz console=ttyS0 panic=-1 quiet pxekit.phonehome=%[1]s/phonehome initrd=initrd.gz\ninitrd %[1]s/assets/initrd.gz\nboot\n", base)
	if err := os.WriteFile(filepath.Join(dir, "boot.ipxe"), []byte(script), 0o644); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path %[1]s/body;
  server { listen %[2]s:80; root %[3]s; }
}
`, pdir, harness.ServerIP, dir)
	cpath := filepath.Join(pdir, "nginx.conf")
	if err := os.WriteFile(cpath, []byte(conf), 0o644); err != nil {
		return nil, err
	}

	var procs []*harness.Proc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	start := func(name string, args ...string) (*harness.Proc, error) {
		p, err := h.Start(h.Srv, name, args...)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}
	// --no-ping: every pool address answers ping from the client's veth,
	// and the other servers do not probe either.
	dm, err := start("dnsmasq", "-k", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
		"--interface="+h.SrvIf, "--bind-interfaces", "--user=root", "--pid-file="+filepath.Join(pdir, "dnsmasq.pid"),
		"--dhcp-range="+harness.PoolStart+","+harness.PoolEnd+",1h", "--dhcp-leasefile="+filepath.Join(pdir, "dnsmasq.leases"),
		"--dhcp-lease-max=1000", "--no-ping", "--quiet-dhcp", "--log-facility="+filepath.Join(pdir, "dnsmasq.log"),
		"--dhcp-userclass=set:ipxe,iPXE",
		"--dhcp-match=set:efi64,option:client-arch,7",
		"--dhcp-boot=tag:efi64,tag:!ipxe,ipxe.efi,,"+harness.ServerIP,
		"--dhcp-boot=tag:ipxe,"+base+"/boot.ipxe")
	if err != nil {
		return nil, err
	}
	tf, err := start("in.tftpd", "-L", "-a", harness.ServerIP+":69", "-s", "-u", "root", tftpRoot)
	if err != nil {
		return nil, err
	}
	ng, err := start("nginx", "-c", cpath, "-p", pdir)
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
	rep, err := runStormClients(h, ctx, n, want, filepath.Join(pdir, "storm-peer.json"))
	for _, p := range procs {
		if e := p.Exited(); e != nil && err == nil {
			err = fmt.Errorf("%s died in the storm: %w", p.Name(), e)
		}
	}
	return rep, err
}
