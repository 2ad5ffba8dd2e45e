// Command harvester-pxe installs a Harvester cluster over PXE, as
// Harvester's PXE boot install guide does with nginx and ISC dhcpd,
// from one cluster.yaml, or from the ISC dhcpd.conf an operator already
// has, with pxekit's boot server in place of nginx + ISC dhcpd.
//
//	harvester-pxe render --cluster cluster.yaml [--base-url URL] [--show-secrets]
//	harvester-pxe serve  --cluster cluster.yaml [--dhcpd-conf dhcpd.conf] --interface IF
//	                     [--netns PATH] [--port 80] [--assets DIR] [--pool A-B] [--sign-urls]
//
// render prints every node's iPXE scripts (BIOS and UEFI) and config, with
// the token and password redacted unless --show-secrets. serve runs DHCP,
// TFTP and HTTP; each node's config is served to that node only. With
// --dhcpd-conf the nodes, subnet and range come from dhcpd.conf (the host
// whose group boots ipxe-create creates, the others join) and DHCP answers
// as that file says, its URLs pointed at this server.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxe/harvester"
	"github.com/pxekit/pxekit/pxe/iscdhcp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "harvester-pxe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: harvester-pxe render|serve --cluster cluster.yaml ...")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	clusterFile := fs.String("cluster", "", "cluster.yaml: version, VIP, secrets, shared settings, nodes")
	dhcpdConf := fs.String("dhcpd-conf", "", "ISC dhcpd.conf to take nodes, subnet and boot policy from")
	baseURL := fs.String("base-url", "http://192.0.2.1", "render: the boot server's HTTP root")
	showSecrets := fs.Bool("show-secrets", false, "render: print token and password")
	iface := fs.String("interface", "", "serve: interface")
	netns := fs.String("netns", "", "serve: network namespace path")
	port := fs.Int("port", 80, "serve: HTTP port")
	assets := fs.String("assets", "", "serve: directory with the release files (default: the cluster's assetDir)")
	pool := fs.String("pool", "", "serve: DHCP range START-END (default: from dhcpd.conf)")
	signURLs := fs.Bool("sign-urls", false, "serve: put signed, expiring config URLs in scripts")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *clusterFile == "" {
		return errors.New("--cluster is required")
	}
	data, err := os.ReadFile(*clusterFile)
	if err != nil {
		return err
	}
	cl, err := harvester.ParseCluster(data)
	if err != nil {
		return err
	}
	var conf *iscdhcp.Config
	if *dhcpdConf != "" {
		src, err := os.ReadFile(*dhcpdConf)
		if err != nil {
			return err
		}
		if conf, err = iscdhcp.Parse(src); err != nil {
			return err
		}
		for _, w := range conf.Warnings {
			fmt.Fprintf(out, "%s: note: %s\n", *dhcpdConf, w)
		}
		if cl.Nodes, err = nodesFromDHCPD(conf); err != nil {
			return err
		}
	}
	plan, err := cl.Plan()
	if err != nil {
		return err
	}
	switch args[0] {
	case "render":
		return render(out, plan, *baseURL, *showSecrets)
	case "serve":
		return serve(ctx, plan, conf, serveOpts{iface: *iface, netns: *netns, port: *port,
			assets: orDefault(*assets, cl.AssetDir), pool: *pool, sign: *signURLs})
	}
	return fmt.Errorf("unknown command %q (render or serve)", args[0])
}

// nodesFromDHCPD takes the hosts of dhcpd.conf as nodes: the ones whose
// iPXE script is *create* first (the first of them creates the cluster),
// then the rest, which join.
func nodesFromDHCPD(conf *iscdhcp.Config) ([]harvester.Node, error) {
	var create, join []harvester.Node
	for _, h := range conf.Hosts {
		n := harvester.Node{Hostname: h.Name, MAC: h.MAC.String()}
		switch s := conf.ScriptName(h); {
		case strings.Contains(s, "create"):
			create = append(create, n)
		case strings.Contains(s, "join"):
			join = append(join, n)
		default:
			return nil, fmt.Errorf("host %s boots %q: cannot tell CREATE from JOIN", h.Name, s)
		}
	}
	if len(create) != 1 {
		return nil, fmt.Errorf("dhcpd.conf has %d hosts booting a create script, want exactly 1", len(create))
	}
	return append(create, join...), nil
}

func render(out io.Writer, plan *harvester.Plan, base string, showSecrets bool) error {
	for _, n := range plan.Nodes {
		for _, fw := range []ipxe.Firmware{ipxe.BIOS, ipxe.EFI} {
			s, err := plan.RenderScript(n, base, fw)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "# %s (%s, %s): iPXE script, %s\n%s\n", n.Hostname, n.Mode, n.Role, fw, s)
		}
		cfg, err := harvester.RenderConfig(n, base, !showSecrets)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# %s: %s%s\n%s\n", n.Hostname, base, pxe.MachineFilePath(n.MACAddr.String(), n.ConfigFile), cfg)
	}
	return nil
}

type serveOpts struct {
	iface, netns, assets, pool string
	port                       int
	sign                       bool
}

func serve(ctx context.Context, plan *harvester.Plan, conf *iscdhcp.Config, o serveOpts) error {
	if o.iface == "" {
		return errors.New("serve: --interface is required")
	}
	inv, err := plan.Inventory()
	if err != nil {
		return err
	}
	cfg := pxe.Config{Interface: o.iface, NetNS: o.netns, HTTPPort: o.port, Inventory: inv}
	if o.assets != "" {
		cfg.Assets = os.DirFS(o.assets)
	}
	var subnet dhcp.Subnet
	if conf != nil {
		if subnet, err = conf.DHCPSubnet(netip.Addr{}); err != nil {
			return err
		}
		cfg.Reservations = conf.Reservations()
		cfg.Boot = conf.Policy(harvester.ServerURL)
	}
	if o.pool != "" {
		a, b, _ := strings.Cut(o.pool, "-")
		start, err1 := netip.ParseAddr(a)
		end, err2 := netip.ParseAddr(b)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("--pool %q: want START-END", o.pool)
		}
		subnet.Pools = []dhcp.Range{{Start: start, End: end}}
	}
	cfg.Subnets = []dhcp.Subnet{subnet}
	if o.sign {
		cfg.URLKey = make([]byte, 32)
		if _, err := rand.Read(cfg.URLKey); err != nil {
			return err
		}
	}
	srv, err := pxe.New(cfg)
	if err != nil {
		return err
	}
	go func() {
		for e := range srv.Subscribe(ctx) {
			slog.Info("boot", "mac", e.MAC, "kind", e.Kind, "detail", e.Detail)
		}
	}()
	return srv.Serve(ctx)
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
