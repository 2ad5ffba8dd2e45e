package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/etcdstore"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// serveOptions are serve's flags; demo fills the same struct.
type serveOptions struct {
	iface, pool, kernel, initrd, cmdline, ipxeDir, state, netns string
	httpPort                                                    int
	machines, profiles                                          listFlag
	denyUnknown, verbose, routerAdvert                          bool
	// inventory is what config makes of --machine and --profile.
	inventory pxe.InventorySpec

	// configFile is -c FILE: serve from a config file instead (service.go).
	configFile string

	// Several servers sharing leases and inventory in etcd (cluster.go).
	etcd      etcdOptions
	leaseTime time.Duration

	// Secure Boot and HTTPS (secure.go).
	secure secureOptions
	// kube takes the machines from a cluster (--kubeconfig).
	kube kubeOptions

	// pool6 is --pool6: DHCPv6 beside DHCPv4, or alone (serve6.go).
	pool6 string
	// routerLifetime is --ipv6-router-lifetime (pxe.Config.RouterLifetime).
	routerLifetime time.Duration
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o serveOptions
	fl := flag.NewFlagSet("pxelab serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&o.iface, "interface", "", "interface to serve on (its IPv4 address is the server's)")
	fl.StringVar(&o.pool, "pool", "", "dynamic address range START-END, inside the interface's subnet")
	fl.StringVar(&o.kernel, "kernel", "", "kernel image to serve as /assets/<name>")
	fl.StringVar(&o.initrd, "initrd", "", "initrd to serve as /assets/<name>")
	fl.StringVar(&o.cmdline, "cmdline", "", "kernel arguments of the default profile; {{.BaseURL}}, {{.MAC}}, {{.Hostname}} expand")
	fl.StringVar(&o.ipxeDir, "ipxe-dir", "", "directory with undionly.kpxe and ipxe.efi (default: Debian's ipxe package)")
	fl.StringVar(&o.state, "state", "", "directory for the lease database (default: leases in memory)")
	fl.IntVar(&o.httpPort, "http-port", 80, "HTTP port")
	fl.Var(&o.machines, "machine", "MAC=PROFILE: boot this machine with PROFILE (repeatable)")
	fl.Var(&o.profiles, "profile", "NAME=CMDLINE: another profile with the same kernel and initrd (repeatable)")
	fl.StringVar(&o.netns, "netns", "", "serve inside this network namespace (a name from `ip netns list`, or a path)")
	fl.BoolVar(&o.denyUnknown, "deny-unknown", false, "give machines not named by --machine an address but nothing to boot")
	fl.BoolVar(&o.routerAdvert, "ipv6-ra", false, "answer IPv6 router solicitations with an advertisement that configures nothing (no prefix, lifetime 0, no DHCPv6), so iPXE does not wait ~13 s for a router; only on a boot network without an IPv6 router")
	fl.BoolVar(&o.verbose, "v", false, "log at debug level on stderr")
	// Running from a config file, as a service (service.go).
	fl.StringVar(&o.configFile, "c", "", "serve from this config file (reloaded on SIGHUP and when it changes); the flags given override it")
	fl.StringVar(&o.configFile, "config", "", "same as -c")
	// Sharing leases and inventory with other servers in etcd.
	o.etcd.register(fl)
	fl.StringVar(&o.etcd.member, "etcd-member", "", "this server's name among the servers sharing etcd (default: the interface's IPv4 address)")
	fl.DurationVar(&o.etcd.memberTTL, "etcd-member-ttl", etcdstore.DefaultMemberTTL, "how long a dead server keeps its share of the clients")
	fl.DurationVar(&o.leaseTime, "lease-time", 0, "DHCP lease time (default 1h; at least 10s); renewals come at half of it")
	o.secure.flags(fl)
	o.kube.flags(fl)
	// IPv6: DHCPv6 beside DHCPv4, or IPv6-only without --pool.
	fl.DurationVar(&o.routerLifetime, "ipv6-router-lifetime", 0, "with --pool6: advertise this host as the link's default router for this long (e.g. 30m, at most 2h30m); UEFI PXE over IPv6 then skips its 10 s wait for a router. Only on a boot network without an IPv6 router")
	fl.StringVar(&o.pool6, "pool6", "", "DHCPv6 address range START-END inside the interface's IPv6 /64: boot over IPv6 too (IPv6-only without --pool); turns on router advertisements that say M and O")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "pxelab serve: unexpected arguments %q\n", fl.Args())
		return 2
	}
	if o.configFile != "" {
		if o.kube.kubeconfig != "" {
			fmt.Fprintln(stderr, "pxelab serve: --kubeconfig and -c: a config file's machines and the cluster's do not mix yet; serve the cluster's with flags")
			return 2
		}
		return serveFile(ctx, &o, fl, stdout, stderr)
	}
	cfg, err := o.config(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
		return 2
	}
	if o.etcd.endpoints != "" {
		if len(o.machines) > 0 || len(o.profiles) > 0 {
			fmt.Fprintln(stderr, "pxelab serve: with --etcd the inventory lives in etcd: write it with pxelab inventory apply, not --machine/--profile")
			return 2
		}
		leave, err := o.cluster(ctx, &cfg)
		if err != nil {
			fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
			return 1
		}
		defer leave()
	}
	var srv *pxe.Server
	stopKube := func() {}
	if o.kube.kubeconfig != "" {
		srv, stopKube, err = o.kube.server(ctx, cfg, o.inventory.Profiles)
	} else {
		srv, err = o.server(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
		return 1
	}
	o.secure.announce(stderr)
	stopEvents := printEvents(ctx, srv, stdout, nil)
	err = srv.Serve(ctx)
	stopEvents()
	stopKube()
	if err != nil {
		fmt.Fprintf(stderr, "pxelab serve: %v\n", err)
		return 1
	}
	return 0
}

// server builds the boot server: cfg with the inventory the options name.
func (o *serveOptions) server(cfg pxe.Config) (*pxe.Server, error) {
	if cfg.Inventory == nil {
		inv, err := pxe.NewStaticInventory(o.inventory)
		if err != nil {
			return nil, err
		}
		cfg.Inventory = inv
	}
	return pxe.New(cfg)
}

// config turns the options into a boot server configuration, and
// o.inventory into what the inventory will hold; server checks that.
func (o *serveOptions) config(stderr io.Writer) (pxe.Config, error) {
	if o.iface == "" {
		return pxe.Config{}, errors.New("--interface is required")
	}
	if err := o.kube.check(o); err != nil {
		return pxe.Config{}, err
	}
	if o.pool == "" && o.pool6 == "" {
		return pxe.Config{}, errors.New("--pool START-END is required (or --pool6 START-END for an IPv6-only server)")
	}
	var subnets []dhcp.Subnet
	if o.pool != "" {
		rng, err := parsePool(o.pool)
		if err != nil {
			return pxe.Config{}, err
		}
		subnets = []dhcp.Subnet{{Pools: []dhcp.Range{rng}, LeaseTime: o.leaseTime}}
	}
	if o.kernel == "" {
		return pxe.Config{}, errors.New("--kernel is required")
	}
	files := filesFS{}
	for _, p := range []string{o.kernel, o.initrd} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return pxe.Config{}, err
		}
		files[filepath.Base(p)] = p
	}
	def := pxe.Profile{Kernel: filepath.Base(o.kernel), Args: strings.Fields(o.cmdline)}
	if o.initrd != "" {
		def.Initrd = filepath.Base(o.initrd)
	}
	inv := pxe.InventorySpec{Profiles: map[string]pxe.Profile{"default": def}}
	if !o.denyUnknown {
		inv.Default = "default"
	}
	for _, p := range o.profiles {
		name, cmdline, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return pxe.Config{}, fmt.Errorf("--profile %q: want NAME=CMDLINE", p)
		}
		prof := def
		prof.Args = strings.Fields(cmdline)
		inv.Profiles[name] = prof
	}
	for _, m := range o.machines {
		macStr, profile, ok := strings.Cut(m, "=")
		if !ok {
			return pxe.Config{}, fmt.Errorf("--machine %q: want MAC=PROFILE", m)
		}
		mac, err := macaddr.Parse(macStr)
		if err != nil {
			return pxe.Config{}, fmt.Errorf("--machine %q: %v", m, err)
		}
		inv.Machines = append(inv.Machines, pxe.Machine{MAC: mac, Hostname: hostnameFor(mac), Profile: profile})
	}
	var ipxeFS fs.FS
	if o.ipxeDir != "" {
		found, err := ipxe.Locate(o.ipxeDir)
		if len(found) == 0 {
			return pxe.Config{}, fmt.Errorf("--ipxe-dir: %v", err)
		}
		ipxeFS = ipxe.BinaryFS(found)
	}
	leaseFile := ""
	if o.state != "" {
		if err := os.MkdirAll(o.state, 0o700); err != nil {
			return pxe.Config{}, err
		}
		leaseFile = filepath.Join(o.state, "leases.db")
	}
	o.netns = netnsPath(o.netns)
	o.inventory = inv
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	cfg := pxe.Config{
		Interface: o.iface,
		NetNS:     o.netns,
		Subnets:   subnets,
		LeaseFile: leaseFile,
		// Off unless asked: on a network with an IPv6 router it would
		// tell hosts there is no DHCPv6.
		RouterAdvertisement: o.routerAdvert,
		HTTPPort:            o.httpPort,
		IPXE:                ipxeFS,
		Assets:              files,
		Logger:              slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if err := o.secure.apply(&cfg, &o.inventory); err != nil {
		return pxe.Config{}, err
	}
	return cfg, o.config6(&cfg)
}

func parsePool(s string) (dhcp.Range, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return dhcp.Range{}, fmt.Errorf("--pool %q: want START-END", s)
	}
	start, err := netip.ParseAddr(strings.TrimSpace(a))
	if err != nil {
		return dhcp.Range{}, fmt.Errorf("--pool %q: %v", s, err)
	}
	end, err := netip.ParseAddr(strings.TrimSpace(b))
	if err != nil {
		return dhcp.Range{}, fmt.Errorf("--pool %q: %v", s, err)
	}
	if !start.Is4() || !end.Is4() || end.Less(start) {
		return dhcp.Range{}, fmt.Errorf("--pool %q: want two IPv4 addresses, START ≤ END", s)
	}
	return dhcp.Range{Start: start, End: end}, nil
}

// hostnameFor names a machine after its MAC, the way lab inventories do
// when nobody has named them.
func hostnameFor(mac []byte) string {
	return fmt.Sprintf("node-%02x%02x%02x", mac[3], mac[4], mac[5])
}

// printEvents writes each boot event as one JSON line; also, if tee is not
// nil, hands it the event. The returned function stops it and waits.
func printEvents(ctx context.Context, srv *pxe.Server, w io.Writer, tee func(pxe.Event)) func() {
	ctx, cancel := context.WithCancel(ctx)
	events := srv.Subscribe(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		enc := json.NewEncoder(w)
		for e := range events {
			_ = enc.Encode(e)
			if tee != nil {
				tee(e)
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// filesFS serves named files from anywhere on disk: the kernel and initrd
// the user pointed at, under their base names.
type filesFS map[string]string

func (f filesFS) Open(name string) (fs.File, error) {
	p, ok := f[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return os.Open(p)
}

// netnsPath is a namespace given by name (ip netns list) or path, as a
// path.
func netnsPath(ns string) string {
	if ns != "" && !strings.Contains(ns, "/") {
		return filepath.Join("/var/run/netns", ns)
	}
	return ns
}
