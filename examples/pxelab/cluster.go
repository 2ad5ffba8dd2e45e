package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pxekit/pxekit/etcdstore"
	"github.com/pxekit/pxekit/internal/netnsrun"
	"github.com/pxekit/pxekit/pxe"
)

// etcdOptions are the flags that put leases and inventory in etcd.
type etcdOptions struct {
	endpoints, prefix, ca, cert, key, user, passwordFile, member string
	memberTTL                                                    time.Duration
}

func (e *etcdOptions) register(fl *flag.FlagSet) {
	fl.StringVar(&e.endpoints, "etcd", "", "etcd client URLs, comma-separated: leases and inventory live in etcd, shared with the other servers")
	fl.StringVar(&e.prefix, "etcd-prefix", etcdstore.DefaultPrefix, "etcd key prefix")
	fl.StringVar(&e.ca, "etcd-ca", "", "PEM file of the CAs that sign etcd's certificates")
	fl.StringVar(&e.cert, "etcd-cert", "", "client certificate (PEM) for etcd")
	fl.StringVar(&e.key, "etcd-key", "", "client key (PEM) for etcd")
	fl.StringVar(&e.user, "etcd-user", "", "etcd user name (authentication on)")
	fl.StringVar(&e.passwordFile, "etcd-password-file", "", "file holding the etcd user's password")
}

// config is the connection the flags describe.
func (e *etcdOptions) config(netns string, log *slog.Logger) (etcdstore.Config, error) {
	cfg := etcdstore.Config{
		Endpoints: strings.Split(e.endpoints, ","),
		Prefix:    e.prefix,
		CAFile:    e.ca, CertFile: e.cert, KeyFile: e.key,
		Username: e.user,
		NetNS:    netns,
		Logger:   log,
	}
	if e.passwordFile != "" {
		b, err := os.ReadFile(e.passwordFile)
		if err != nil {
			return cfg, fmt.Errorf("--etcd-password-file: %w", err)
		}
		cfg.Password = strings.TrimSpace(string(b))
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return cfg, fmt.Errorf("--etcd: %w", errs.ToAggregate())
	}
	return cfg, nil
}

// cluster joins the etcd cluster and fills cfg with what it shares: the
// lease store, the split of clients, the inventory and the URL key. The
// returned function leaves.
func (o *serveOptions) cluster(ctx context.Context, cfg *pxe.Config) (func(), error) {
	ecfg, err := o.etcd.config(o.netns, cfg.Logger.With("store", "etcd"))
	if err != nil {
		return nil, err
	}
	c, err := etcdstore.Open(ctx, ecfg)
	if err != nil {
		return nil, err
	}
	id := o.etcd.member
	if id == "" {
		if id, err = interfaceIPv4(o.netns, o.iface); err != nil {
			c.Close()
			return nil, err
		}
	}
	m, err := c.Join(ctx, id, o.etcd.memberTTL)
	if err != nil {
		c.Close()
		return nil, err
	}
	inv, err := c.Inventory(ctx)
	if err != nil {
		m.Close()
		c.Close()
		return nil, err
	}
	key, err := c.URLKey(ctx)
	if err != nil {
		inv.Close()
		m.Close()
		c.Close()
		return nil, err
	}
	cfg.LeaseStore, cfg.Sharing, cfg.Inventory, cfg.URLKey, cfg.LeaseFile = m.LeaseStore(), m, inv, key, ""
	cfg.Logger.Info("pxelab: serving with etcd", "member", id, "members", strings.Join(m.Members(), ","), "prefix", c.Prefix())
	return func() { inv.Close(); m.Close(); c.Close() }, nil
}

// interfaceIPv4 is the first IPv4 address of link (inside netns): the
// server's name in the cluster when --etcd-member is not given.
func interfaceIPv4(netns, link string) (string, error) {
	var out string
	err := netnsrun.Run(netns, func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		as, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				out = n.IP.To4().String()
				return nil
			}
		}
		return fmt.Errorf("interface %s has no IPv4 address", link)
	})
	return out, err
}

// inventory is "pxelab inventory get|apply": the inventory in etcd as
// YAML.
func inventory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "get" && args[0] != "apply") {
		fmt.Fprintln(stderr, "usage: pxelab inventory get|apply [-f FILE] --etcd ENDPOINTS [--etcd-prefix P] [--etcd-ca F --etcd-cert F --etcd-key F] [--etcd-user U --etcd-password-file F]")
		return 2
	}
	verb := args[0]
	var e etcdOptions
	var file, netns string
	fl := flag.NewFlagSet("pxelab inventory "+verb, flag.ContinueOnError)
	fl.SetOutput(stderr)
	e.register(fl)
	fl.StringVar(&netns, "netns", "", "reach etcd from this network namespace")
	if verb == "apply" {
		fl.StringVar(&file, "f", "", "YAML inventory file (- for standard input)")
	}
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if e.endpoints == "" {
		fmt.Fprintln(stderr, "pxelab inventory: --etcd is required")
		return 2
	}
	if verb == "apply" && file == "" {
		fmt.Fprintln(stderr, "pxelab inventory apply: -f FILE is required")
		return 2
	}
	netns = netnsPath(netns)
	cfg, err := e.config(netns, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintf(stderr, "pxelab inventory: %v\n", err)
		return 2
	}
	c, err := etcdstore.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pxelab inventory: %v\n", err)
		return 1
	}
	defer c.Close()
	if verb == "get" {
		spec, err := c.GetInventory(ctx)
		if err != nil && spec.Profiles == nil {
			fmt.Fprintf(stderr, "pxelab inventory get: %v\n", err)
			return 1
		}
		b, merr := etcdstore.MarshalInventoryFile(spec)
		if merr != nil {
			fmt.Fprintf(stderr, "pxelab inventory get: %v\n", merr)
			return 1
		}
		stdout.Write(b)
		if err != nil {
			fmt.Fprintf(stderr, "pxelab inventory get: %v\n", err)
			return 1
		}
		return 0
	}
	var data []byte
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pxelab inventory apply: %v\n", err)
		return 1
	}
	spec, err := etcdstore.ParseInventoryFile(data)
	if err != nil {
		fmt.Fprintf(stderr, "pxelab inventory apply: %s: %v\n", file, err)
		return 1
	}
	if err := c.PutInventory(ctx, spec); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (is etcd reachable and in quorum?)", err)
		}
		fmt.Fprintf(stderr, "pxelab inventory apply: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "inventory: %d machines, %d profiles written to %s\n", len(spec.Machines), len(spec.Profiles), c.Prefix())
	return 0
}
