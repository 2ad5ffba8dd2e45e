package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/pxekit/pxekit/bench/internal/dhcpload"
	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/stormclient"
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/tftp"
)

// Pool handed out by every DHCP server in the comparison: 241 addresses,
// so perfdhcp simulates 240 clients (-R 240) and never exhausts it.
var (
	labPrefix = netip.MustParsePrefix("192.0.2.0/24")
	poolStart = netip.MustParseAddr("192.0.2.10")
	poolEnd   = netip.MustParseAddr("192.0.2.250")
)

// runRole is the child side: a pxekit server (or the storm client) running
// inside the namespace it was started in, until SIGTERM.
func runRole(role string, args []string) int {
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	iface := fs.String("iface", "", "interface to serve on")
	dir := fs.String("dir", "", "root directory (files, assets, lease file)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile here")
	stats := fs.String("stats", "", "pxe: write the DHCP server's counters here (JSON) on exit")
	routerAdvert := fs.Bool("ra", false, "pxe: answer IPv6 router solicitations (pxe.Config.RouterAdvertisement)")
	clients := fs.Int("clients", 1000, "storm: machines to boot")
	spread := fs.Duration("spread", time.Second, "storm: the machines power on over this long")
	deadline := fs.Duration("deadline", 150*time.Second, "storm: a machine not booted by then failed")
	want := fs.String("want", "", "storm: name=size:crc32hex,... of every file a machine may fetch")
	out := fs.String("out", "", "storm: write the report here (JSON)")
	rate := fs.Int("rate", 1000, "dhcpload: DORA exchanges offered per second")
	secs := fs.Int("secs", 5, "dhcpload: seconds of load")
	drop := fs.Duration("drop", 2*time.Second, "dhcpload: an exchange not done by then is lost")
	_ = fs.Parse(args)

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	var err error
	switch role {
	case "dhcp":
		err = serveDHCP(ctx, log, *iface, *dir)
	case "tftp":
		err = serveTFTP(ctx, log, *dir)
	case "pxe":
		err = servePXE(ctx, log, *iface, *dir, *stats, *routerAdvert)
	case "storm":
		var w map[string]stormclient.File
		if w, err = stormclient.ParseWant(*want); err == nil {
			var rep *stormclient.Report
			rep, err = stormclient.Run(ctx, stormclient.Config{
				Server: netip.MustParseAddr(harness.ServerIP), Relay: netip.MustParseAddr(harness.ClientIP),
				Clients: *clients, Spread: *spread, Deadline: *deadline, Want: w,
			})
			if err == nil {
				err = writeJSON(*out, rep)
			}
		}
	case "dhcpload":
		var r *dhcpload.Report
		r, err = dhcpload.Run(ctx, dhcpload.Config{Server: netip.MustParseAddr(harness.ServerIP), Relay: netip.MustParseAddr(harness.ClientIP),
			Rate: *rate, Secs: *secs, Clients: *clients, Drop: *drop})
		if err == nil {
			err = json.NewEncoder(os.Stdout).Encode(r)
		}
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		return 1
	}
	return 0
}

// serveDHCP is pxekit's DHCP server as a user would deploy it for this
// load: leases in the bbolt file (fsync'd group commit before each ACK),
// no per-MAC rate limit because perfdhcp's 240 simulated clients each come
// back hundreds of times a second.
func serveDHCP(ctx context.Context, log *slog.Logger, iface, dir string) error {
	s, err := dhcp.New(dhcp.Config{
		Interfaces: []string{iface},
		Subnets:    []dhcp.Subnet{{Prefix: labPrefix, Pools: []dhcp.Range{{Start: poolStart, End: poolEnd}}, LeaseTime: time.Hour}},
		LeaseFile:  filepath.Join(dir, "pxekit-leases.db"),
		ClientRate: -1,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// serveTFTP is pxekit's TFTP server with RFC 7440 windowsize up to 64.
func serveTFTP(ctx context.Context, log *slog.Logger, dir string) error {
	root, r, err := tftp.Dir(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	s, err := tftp.New(tftp.Config{Root: root, Addr: harness.ServerIP + ":69", MaxWindowSize: 64, Logger: nil})
	if err != nil {
		return err
	}
	_ = log
	return s.Serve(ctx)
}

// servePXE is the whole boot server (DHCP + TFTP + HTTP) with the storm's
// inventory: every machine gets the default profile. The DHCP server keeps
// its default per-MAC rate limit (pxe.Config has no knob for it): the storm
// checks that well-behaved machines never hit it. With stats set, the DHCP
// counters are written there when the server stops.
func servePXE(ctx context.Context, log *slog.Logger, iface, dir, stats string, routerAdvert bool) error {
	s, err := pxe.New(pxe.Config{
		Interface:           iface,
		Addr:                netip.MustParseAddr(harness.ServerIP),
		Subnet:              dhcp.Subnet{Prefix: labPrefix, Pools: []dhcp.Range{{Start: poolStart, End: poolEnd}}, LeaseTime: time.Hour},
		LeaseFile:           filepath.Join(dir, "pxe-leases.db"),
		RouterAdvertisement: routerAdvert,
		HTTPPort:            80,
		TFTPPort:            69,
		Assets:              os.DirFS(filepath.Join(dir, "assets")),
		Inventory: pxe.Inventory{
			Profiles: map[string]pxe.Profile{"storm": {
				Kernel: "vmlinuz", Initrd: "initrd.gz",
				Args: []string{"console=ttyS0", "panic=-1", "quiet", "pxekit.phonehome={{.BaseURL}}/phonehome"},
			}},
			Default: "storm",
		},
		Logger: log,
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
		b, jerr := json.Marshal(pxeStats{DHCP: d.Stats(), Events: events})
		if jerr == nil {
			jerr = os.WriteFile(stats, b, 0o644)
		}
		err = errors.Join(err, jerr)
	}
	return err
}

// pxeStats is what the pxe role writes on exit with -stats.
type pxeStats struct {
	DHCP   dhcp.Stats               `json:"dhcp"`
	Events map[pxe.EventKind]uint64 `json:"events"`
}

// writeJSON writes v as JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
