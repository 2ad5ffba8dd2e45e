package roles

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/dhcp"
)

// DHCPPool is pxekit's DHCP server on one subnet of the caller's choosing
// (-subnet, -pool START-END), reached through a relay's link selection,
// with its lease file in -dir; on exit it writes its live heap to -heap.
const DHCPPool = "dhcp-pool"

// Heap is what the dhcp-pool role writes to -heap when it stops.
type Heap struct {
	// Bytes is the heap's live objects after a GC, the leases the server
	// loaded and everything else it holds.
	Bytes uint64 `json:"bytes"`
	// Leases is the server's active lease count.
	Leases int `json:"leases"`
}

// dhcpPool parses the role's own flags and serves until ctx is done.
func dhcpPool(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet(DHCPPool, flag.ContinueOnError)
	iface := fs.String("iface", "", "interface to serve on")
	dir := fs.String("dir", "", "directory of the lease file (pxekit-leases.db)")
	subnet := fs.String("subnet", "", "the subnet, e.g. 240.0.0.0/12")
	pool := fs.String("pool", "", "its pool, START-END")
	heap := fs.String("heap", "", "write the live heap here (JSON) on exit")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the start-up (dhcp.New: the lease file's load) here")
	serveprofile := fs.String("serveprofile", "", "write a CPU profile of serving (after the start-up, until exit) here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pfx, err := netip.ParsePrefix(*subnet)
	if err != nil {
		return fmt.Errorf("-subnet: %w", err)
	}
	lo, hi, ok := strings.Cut(*pool, "-")
	start, err1 := netip.ParseAddr(lo)
	end, err2 := netip.ParseAddr(hi)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("-pool %q: want START-END", *pool)
	}
	stop := func() {}
	if *cpuprofile != "" {
		if f, err := os.Create(*cpuprofile); err == nil && pprof.StartCPUProfile(f) == nil {
			stop = func() { pprof.StopCPUProfile(); f.Close() }
		}
	}
	s, err := dhcp.New(dhcp.Config{
		Interfaces: []string{*iface},
		// The subnet is not on the link: the server names itself by the
		// address the relay reaches it at.
		ServerID:   netip.MustParseAddr(harness.ServerIP),
		Subnets:    []dhcp.Subnet{{Prefix: pfx, LeaseTime: time.Hour, Pools: []dhcp.Range{{Start: start, End: end}}}},
		LeaseFile:  filepath.Join(*dir, "pxekit-leases.db"),
		ClientRate: -1,
		Logger:     log,
	})
	stop()
	if err != nil {
		return err
	}
	stop = func() {}
	if *serveprofile != "" {
		if f, err := os.Create(*serveprofile); err == nil && pprof.StartCPUProfile(f) == nil {
			stop = func() { pprof.StopCPUProfile(); f.Close() }
		}
	}
	err = s.Serve(ctx)
	stop()
	if *heap != "" {
		runtime.GC()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(sample)
		b, _ := json.Marshal(Heap{Bytes: sample[0].Value.Uint64(), Leases: s.Stats().ActiveLeases})
		if werr := os.WriteFile(*heap, b, 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	runtime.KeepAlive(s)
	return err
}
