// Package memorybench is the comparison's memory part: what 100,000
// leases cost pxekit's DHCP server in heap and on disk.
package memorybench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/dhcp"
)

// Run measures what 100,000 leases cost the DHCP server: heap after New
// loads them from the bbolt file, and the file's size. No packet is sent:
// the addresses (198.18.0.0/15, the benchmarking range) exist only in
// memory and in a file under h.Dir.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	const n = 100_000
	dir := filepath.Join(h.Dir, "memory")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "leases.db")
	st, err := dhcp.OpenBoltStore(path)
	if err != nil {
		return nil, err
	}
	base := netip.MustParseAddr("198.18.0.10").As4()
	exp := time.Now().Add(time.Hour)
	ops := make([]dhcp.Op, 0, 5000)
	for i := 0; i < n; i++ {
		a := base
		v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(i)
		ip := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		mac := net.HardwareAddr{0x52, 0x54, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		ops = append(ops, dhcp.Op{Lease: dhcp.Lease{IP: ip, MAC: mac, Hostname: fmt.Sprintf("node-%06d", i), Expiry: exp, State: dhcp.Bound}})
		if len(ops) == cap(ops) {
			if err := st.Apply(ops); err != nil {
				st.Close()
				return nil, err
			}
			ops = ops[:0]
		}
	}
	st.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	srv, err := dhcp.New(dhcp.Config{
		Subnets: []dhcp.Subnet{{
			Prefix: netip.MustParsePrefix("198.18.0.0/15"),
			Pools:  []dhcp.Range{{Start: netip.MustParseAddr("198.18.0.10"), End: netip.MustParseAddr("198.19.255.250")}},
		}},
		LeaseFile: path,
	})
	if err != nil {
		return nil, err
	}
	after := heap()
	active := srv.Stats().ActiveLeases
	runtime.KeepAlive(srv)
	srv.Close()
	if active != n {
		return nil, fmt.Errorf("loaded %d active leases, want %d", active, n)
	}
	return []report.Row{
		{Group: "Memory", Case: "DHCP heap per 100k leases", Unit: "MB", Lower: true, Pxekit: float64(after-before) / 1e6,
			Note: "Go heap after dhcp.New loads 100,000 bound leases from bbolt, minus before (GC'd both times)"},
		{Group: "Memory", Case: "bbolt lease file per 100k leases", Unit: "MB", Lower: true, Pxekit: float64(fi.Size()) / 1e6,
			Note: "one binary record per address (schema 2), keyed by the address"},
	}, nil
}
