// Package roles is the child side of the comparison: the comparison's
// binary re-executes itself as "-role NAME flags..." inside a namespace,
// to run a pxekit server (so its peak RSS is its own and kill -9 hits only
// it) or a client (so its sockets are in the clients' namespace).
package roles

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pxekit/pxekit/bench/internal/dhcpload"
	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/procfs"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/etcdstore"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/tftp"
)

// The roles, by the name after -role.
const (
	// DHCP is pxekit's DHCP server (-iface, -dir for the lease file).
	DHCP = "dhcp"
	// TFTP is pxekit's TFTP server on harness.ServerIP:69 (-dir, the root).
	TFTP = "tftp"
	// PXE is the whole boot server, DHCP + TFTP + HTTP (-iface, -dir with
	// assets/ and the lease file; -stats, -ra).
	PXE = "pxe"
	// Storm boots machines against harness.ServerIP (-clients, -spread,
	// -deadline, -want) and writes its report to -out.
	Storm = "storm"
	// DHCPLoad runs the batched DORA client against harness.ServerIP, or
	// the -servers it relays to (-rate, -secs, -clients, -drop,
	// -rebind-rate, -record, -verify, -relay), and prints its report.
	DHCPLoad = "dhcpload"
	// DHCPEtcd is pxekit's DHCP server sharing its leases in etcd with
	// others (-iface, -etcd, -member, -prefix): etcdstore's lease store
	// and client split, as pxelab serve --etcd runs it.
	DHCPEtcd = "dhcp-etcd"

	// DHCP6 is pxekit's DHCPv6 server (-iface, -dir for the lease file),
	// see dhcp6.go.
	DHCP6 = "dhcp6"
)

// CPUProfile is the flag that makes a role write its CPU profile to
// o.Out/name.cpu.pprof, when o.PProf is on (none otherwise).
func CPUProfile(o harness.Options, name string) []string {
	if !o.PProf {
		return nil
	}
	return []string{"-cpuprofile", filepath.Join(o.Out, name+".cpu.pprof")}
}

// RunTests is TestMain for a package whose tests start roles: the test
// binary, re-executed as a role, runs it instead of the tests.
func RunTests(m *testing.M) {
	if code, ok := Child(os.Args); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// Child runs a role when args (os.Args) ask for one, "-role NAME" first,
// and returns its exit code; ok is false for any other command line. The
// comparison's main calls it first, as does TestMain of every package
// whose tests start roles.
func Child(args []string) (code int, ok bool) {
	if len(args) < 3 || args[1] != "-role" {
		return 0, false
	}
	return Main(args[2], args[3:], os.Stdout, os.Stderr), true
}

// Main runs role with its flags until it is done or gets SIGTERM, and
// returns its exit code: a dhcpload report goes to stdout, errors to
// stderr.
func Main(role string, args []string, stdout, stderr io.Writer) int {
	if role == DHCPPool {
		return mainOwn(role, args, stderr, dhcpPool)
	}
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	iface := fs.String("iface", "", "interface to serve on")
	dir := fs.String("dir", "", "root directory (files, assets, lease file)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile here")
	stats := fs.String("stats", "", "pxe: write the DHCP server's counters and the boot events by kind here (JSON) on exit")
	routerAdvert := fs.Bool("ra", false, "pxe: answer IPv6 router solicitations (pxe.Config.RouterAdvertisement)")
	ipv6 := fs.String("ipv6", "", "pxe: serve an IPv6-only lab (2001:db8::/64, DHCPv6 and RA) instead: \"pxe\" boots UEFI PXE over IPv6, \"http\" UEFI HTTP boot over IPv6 only")
	clients := fs.Int("clients", 1000, "storm, dhcpload: machines to boot, clients to simulate")
	spread := fs.Duration("spread", time.Second, "storm: the machines power on over this long")
	deadline := fs.Duration("deadline", 150*time.Second, "storm: a machine not booted by then failed")
	want := fs.String("want", "", "storm: name=size:crc32hex,... of every file a machine may fetch")
	out := fs.String("out", "", "storm: write the report here (JSON)")
	linkSubnets := fs.String("subnets", "", "storm: comma-separated prefixes behind the relay, named by link selection; pxe: how many of StormSubnets to serve beside the link's own")
	sources := fs.String("sources", "", "storm, with -subnets: comma-separated local addresses the machines fetch from")
	first := fs.Int("first", 0, "storm: index of the first machine (its MAC, UUID)")
	rate := fs.Int("rate", 1000, "dhcpload: DORA exchanges offered per second")
	secs := fs.Int("secs", 5, "dhcpload: seconds of load")
	drop := fs.Duration("drop", 2*time.Second, "dhcpload: an exchange not done by then is lost")
	servers := fs.String("servers", harness.ServerIP, "dhcpload: comma-separated DHCP servers every request is relayed to")
	relayAddr := fs.String("relay", harness.ClientIP, "dhcpload: the relay agent's address (giaddr)")
	rebindRate := fs.Int("rebind-rate", 0, "dhcpload: rebinding REQUESTs a second from clients holding an address")
	record := fs.Bool("record", false, "dhcpload: report every exchange")
	retry := fs.Duration("retry", 0, "dhcpload: retransmit unanswered exchanges as firmware does (1 s, then every 2 s) for this long")
	verify := fs.String("verify", "", "dhcpload: rebind the leases in this JSON file ([{client, ip}]) instead")
	etcd := fs.String("etcd", "", "dhcp-etcd: comma-separated etcd client URLs")
	member := fs.String("member", "", "dhcp-etcd: this server's name among those sharing etcd")
	prefix := fs.String("prefix", "", "dhcp-etcd: etcd key prefix (default etcdstore's)")
	addr := fs.String("addr", "", "dhcp-etcd: the address it listens on (port 67) and names itself by (option 54); default every address, the receiving link's")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	server := netip.MustParseAddr(harness.ServerIP)
	var err error
	switch role {
	case DHCP:
		err = serveDHCP(ctx, log, *iface, *dir)
	case TFTP:
		err = serveTFTP(ctx, *dir)
	case PXE:
		if *ipv6 != "" {
			err = servePXE6(ctx, log, *iface, *dir, *ipv6)
		} else {
			err = servePXE(ctx, log, *iface, *dir, *stats, *routerAdvert, *linkSubnets)
		}
	case Storm:
		var w map[string]stormclient.File
		cfg := stormclient.Config{Server: server, Clients: *clients, Spread: *spread, Deadline: *deadline, First: *first}
		if w, err = stormclient.ParseWant(*want); err == nil {
			cfg.Want = w
			cfg.Relay, err = netip.ParseAddr(*relayAddr)
		}
		if err == nil {
			cfg.Subnets, cfg.Sources, err = stormLinks(*linkSubnets, *sources)
		}
		if err == nil {
			var rep *stormclient.Report
			rep, err = stormclient.Run(ctx, cfg)
			if err == nil {
				rep.CPU, _ = procfs.CPU(os.Getpid())
				err = writeJSON(*out, rep)
			}
		}
	case DHCPLoad:
		var cfg dhcpload.Config
		if cfg, err = loadConfig(*servers, *relayAddr, *verify); err == nil {
			cfg.Rate, cfg.Secs, cfg.Clients, cfg.Drop, cfg.RebindRate, cfg.Record = *rate, *secs, *clients, *drop, *rebindRate, *record
			cfg.Retry = *retry
			var r *dhcpload.Report
			if r, err = dhcpload.Run(ctx, cfg); err == nil {
				err = json.NewEncoder(stdout).Encode(r)
			}
		}
	case DHCPEtcd:
		err = serveDHCPEtcd(ctx, log, *iface, *etcd, *member, *prefix, *addr)
	case DHCP6:
		err = serveDHCP6(ctx, log, *iface, *dir)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, role+":", err)
		return 1
	}
	return 0
}

// mainOwn runs a role that parses its own flags, until SIGTERM.
func mainOwn(role string, args []string, stderr io.Writer, run func(context.Context, *slog.Logger, []string) error) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	if err := run(ctx, log, args); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, role+":", err)
		return 1
	}
	return 0
}

// stormLinks parses the storm role's -subnets and -sources.
func stormLinks(subnets, sources string) ([]netip.Prefix, []netip.Addr, error) {
	var ps []netip.Prefix
	var as []netip.Addr
	for _, s := range strings.Split(subnets, ",") {
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, nil, fmt.Errorf("-subnets: %w", err)
		}
		ps = append(ps, p)
	}
	for _, s := range strings.Split(sources, ",") {
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, nil, fmt.Errorf("-sources: %w", err)
		}
		as = append(as, a)
	}
	return ps, as, nil
}

// StormSubnets are the n relayed subnets of the multi-subnet storm:
// 198.18.0.0/24, 198.18.1.0/24, … (n at most 512, the /15). They are
// data only: pools handed out and link-selection values, never an
// address a packet goes to.
func StormSubnets(n int) []netip.Prefix {
	ps := make([]netip.Prefix, 0, n)
	for i := range min(n, 512) {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>8), byte(i), 0}), 24))
	}
	return ps
}

// StormPool is the pool of a StormSubnets subnet: .2–.254, 253
// addresses (.1 is its router).
func StormPool(p netip.Prefix) (start, end netip.Addr) {
	a := p.Masked().Addr().As4()
	a[3] = 2
	start = netip.AddrFrom4(a)
	a[3] = 254
	return start, netip.AddrFrom4(a)
}

// loadConfig is the dhcpload role's servers, relay address and list of
// leases to verify.
func loadConfig(servers, relay, verify string) (dhcpload.Config, error) {
	var cfg dhcpload.Config
	for _, s := range strings.Split(servers, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return cfg, fmt.Errorf("-servers: %w", err)
		}
		cfg.Servers = append(cfg.Servers, a)
	}
	var err error
	if cfg.Relay, err = netip.ParseAddr(relay); err != nil {
		return cfg, fmt.Errorf("-relay: %w", err)
	}
	if verify != "" {
		b, err := os.ReadFile(verify)
		if err != nil {
			return cfg, err
		}
		if err := json.Unmarshal(b, &cfg.Verify); err != nil {
			return cfg, fmt.Errorf("-verify %s: %w", verify, err)
		}
		if len(cfg.Verify) == 0 {
			return cfg, fmt.Errorf("-verify %s: no lease to rebind", verify)
		}
	}
	return cfg, nil
}

// writeJSON writes v as JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// subnet is the lab's, with the pool every DHCP server of the comparison
// hands out.
func subnet() dhcp.Subnet {
	return dhcp.Subnet{Prefix: netip.MustParsePrefix(harness.Prefix), LeaseTime: time.Hour,
		Pools: []dhcp.Range{{Start: netip.MustParseAddr(harness.PoolStart), End: netip.MustParseAddr(harness.PoolEnd)}}}
}

// serveDHCP is pxekit's DHCP server as a user would deploy it for this
// load: leases in the bbolt file (fsync'd group commit before each ACK),
// no per-MAC rate limit because perfdhcp's 240 simulated clients each come
// back hundreds of times a second.
func serveDHCP(ctx context.Context, log *slog.Logger, iface, dir string) error {
	s, err := dhcp.New(dhcp.Config{
		Interfaces: []string{iface},
		Subnets:    []dhcp.Subnet{subnet()},
		LeaseFile:  filepath.Join(dir, "pxekit-leases.db"),
		ClientRate: -1,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// serveDHCPEtcd is pxekit's DHCP server as one of several sharing etcd:
// each ACK claimed in etcd before it leaves, the other servers' leases
// seen through the watch, new clients split between the live members by
// a hash of their MAC (etcdstore.Member). As for serveDHCP, no per-MAC
// rate limit.
// With addr set it listens on addr:67 only and names itself addr, so two
// of them can share one namespace and link.
func serveDHCPEtcd(ctx context.Context, log *slog.Logger, iface, endpoints, member, prefix, addr string) error {
	if endpoints == "" || member == "" {
		return errors.New("-etcd and -member are required")
	}
	var listen netip.AddrPort
	var id netip.Addr
	if addr != "" {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return fmt.Errorf("-addr: %w", err)
		}
		listen, id = netip.AddrPortFrom(a, 67), a
	}
	c, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: strings.Split(endpoints, ","), Prefix: prefix, Logger: log})
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := c.Join(ctx, member, 0)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := dhcp.New(dhcp.Config{
		Interfaces: []string{iface},
		Subnets:    []dhcp.Subnet{subnet()},
		Store:      m.LeaseStore(),
		Sharing:    m,
		ListenAddr: listen,
		ServerID:   id,
		ClientRate: -1,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// serveTFTP is pxekit's TFTP server with RFC 7440 windowsize up to 64,
// logging as it does by default (slog.Default, every transfer at Info).
func serveTFTP(ctx context.Context, dir string) error {
	root, r, err := tftp.Dir(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	s, err := tftp.New(tftp.Config{Root: root, Addr: harness.ServerIP + ":69", MaxWindowSize: 64})
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// StormProfile is what the pxe role boots every machine with: the
// assets/vmlinuz and assets/initrd.gz of its -dir, and the arguments of
// the lab's guest (its /init phones home). The peers' static scripts are
// rendered from it too, so both stacks hand a machine the same bytes.
func StormProfile() pxe.Profile {
	return pxe.Profile{
		Kernel: "vmlinuz", Initrd: "initrd.gz",
		Args: []string{"console=ttyS0", "panic=-1", "quiet", pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"},
	}
}

// servePXE is the whole boot server (DHCP + TFTP + HTTP) with the storm's
// inventory: every machine gets StormProfile. The DHCP server keeps its
// default per-MAC rate limit (pxe.Config has no knob for it): the storm
// checks that well-behaved machines never hit it. With stats set, the
// counters are written there when the server stops.
func servePXE(ctx context.Context, log *slog.Logger, iface, dir, stats string, routerAdvert bool, relayed string) error {
	subnets := []dhcp.Subnet{subnet()}
	maxTransfers := 0
	if relayed != "" {
		// The multi-subnet storm boots up to 10,000 machines at once:
		// every one gets its TFTP transfer rather than waiting out a
		// dropped request.
		maxTransfers = 16384
		n, err := strconv.Atoi(relayed)
		if err != nil || n < 0 || n > 512 {
			return fmt.Errorf("-subnets %q: want 0 to 512", relayed)
		}
		for _, p := range StormSubnets(n) {
			start, end := StormPool(p)
			a := p.Addr().As4()
			a[3] = 1
			subnets = append(subnets, dhcp.Subnet{Prefix: p, LeaseTime: time.Hour, Routers: []netip.Addr{netip.AddrFrom4(a)},
				Pools: []dhcp.Range{{Start: start, End: end}}})
		}
	}
	// Every machine boots the storm profile: the default of an inventory that
	// lists none.
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{
		Profiles: map[string]pxe.Profile{"storm": StormProfile()},
		Default:  "storm",
	})
	if err != nil {
		return err
	}
	s, err := pxe.New(pxe.Config{
		Interface:           iface,
		Addr:                netip.MustParseAddr(harness.ServerIP),
		Subnets:             subnets,
		TFTPMaxTransfers:    maxTransfers,
		LeaseFile:           filepath.Join(dir, "pxe-leases.db"),
		RouterAdvertisement: routerAdvert,
		HTTPPort:            80,
		TFTPPort:            69,
		Assets:              os.DirFS(filepath.Join(dir, "assets")),
		Inventory:           inv,
		Logger:              log,
	})
	if err != nil {
		return err
	}
	// The boot events, counted by kind, are the server's own account of
	// the TFTP transfers, scripts and assets it finished and the requests
	// it refused (pxe.Server has no TFTP counters to read). The bus drops
	// events for a slow subscriber, so the counts are a floor.
	events := map[pxe.EventKind]uint64{}
	counted := make(chan struct{})
	if stats != "" {
		ch := s.Subscribe(ctx)
		go func() {
			defer close(counted)
			for e := range ch {
				events[e.Kind]++
			}
		}()
	} else {
		close(counted)
	}
	err = s.Serve(ctx)
	if d := s.DHCP(); stats != "" && d != nil {
		<-counted
		err = errors.Join(err, writeJSON(stats, PXEStats{DHCP: d.Stats(), Events: events}))
	}
	return err
}

// PXEStats is what the pxe role writes on exit with -stats.
type PXEStats struct {
	DHCP   dhcp.Stats               `json:"dhcp"`
	Events map[pxe.EventKind]uint64 `json:"events"`
}
