// Package leasesbench is the comparison's large-table part (-only
// leases1m): a pool of a /12 with a million bound leases in pxekit's bbolt
// file and, the same leases, in Kea's memfile CSV. It measures each
// server's start-up (process start to its first OFFER), resident memory
// and pxekit's heap, the files' sizes, and relayed DORA/s at ≤ 1 % loss
// with a thousand and with a million leases bound.
//
// The /12 is 240.0.0.0/12, reserved and never routed: it exists only as
// data. Every packet goes between 192.0.2.1 (the server) and 192.0.2.2 (a
// relay agent, perfdhcp or the start-up probe) in the harness's
// namespaces; the relay names the pool's link by RFC 3527 link selection.
package leasesbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/bench/internal/dhcpbench"
	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/procfs"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/dhcp"
)

// The pool: all of 240.0.0.0/12 but its first and last address.
const (
	Subnet    = "240.0.0.0/12"
	PoolStart = "240.0.0.1"
	PoolEnd   = "240.15.255.254"
)

// linkSelection is the relay agent information option perfdhcp sends:
// sub-option 5 (link selection) naming 240.0.0.0.
var linkSelection = []byte{5, 4, 240, 0, 0, 0}

// plan is one run's sizes.
type plan struct {
	small, big int   // bound leases of the two cases
	starts     int   // start-ups measured per server and case (median)
	ladder     []int // perfdhcp rates tried
	secs       int   // seconds per rate
}

// Run is the part: 1,000 and 1,000,000 bound leases.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	p := plan{small: 1000, big: 1_000_000, starts: 3, secs: 5,
		// Steps of 500 where both servers top out on this machine: the
		// ratio of two rates is then not a step of 2,000 wide.
		ladder: []int{1000, 2000, 3000, 4000, 4500, 5000, 5500, 6000, 6500, 7000, 7500, 8000, 8500, 9000, 9500, 10000, 11000, 12000, 14000, 16000, 18000, 20000}}
	if h.Quick {
		p.big, p.starts, p.secs, p.ladder = 100_000, 1, 2, []int{1000, 4000}
	}
	return run(ctx, h, p)
}

// measured is one server with one lease file.
type measured struct {
	startup time.Duration // median over plan.starts
	cpu     time.Duration // CPU time the process spent to get there (median)
	rss     int64         // VmRSS once serving, bytes (median)
	heap    uint64        // pxekit: live heap after GC (median)
	rate    dhcpbench.Rate
}

func run(ctx context.Context, h *harness.Harness, p plan) ([]report.Row, error) {
	if m := harness.Missing("perfdhcp", "kea-dhcp4"); m != "" {
		return nil, fmt.Errorf("missing %s (packages kea-admin, kea-dhcp4-server)", m)
	}
	root := filepath.Join(h.Dir, "leases1m")
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	dirs := map[int]string{}
	var writeSecs float64
	var boltSize, csvSize int64
	for _, n := range []int{p.small, p.big} {
		d := filepath.Join(root, strconv.Itoa(n))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		dirs[n] = d
		t0 := time.Now()
		if err := WriteBolt(filepath.Join(d, "pxekit-leases.db"), n, exp); err != nil {
			return nil, err
		}
		if n == p.big {
			writeSecs = time.Since(t0).Seconds()
		}
		if err := WriteKeaCSV(filepath.Join(d, "kea-leases4.csv"), n, exp); err != nil {
			return nil, err
		}
		if n == p.big {
			boltSize, csvSize = fileSize(filepath.Join(d, "pxekit-leases.db")), fileSize(filepath.Join(d, "kea-leases4.csv"))
		}
		h.Log.Info("leases1m: wrote", "leases", n, "secs", time.Since(t0).Seconds())
	}

	pxStart := func(n int, heapFile, profile, serveProfile string) (*harness.Proc, error) {
		args := []string{"-iface", h.SrvIf, "-dir", dirs[n], "-subnet", Subnet, "-pool", PoolStart + "-" + PoolEnd, "-heap", heapFile}
		if profile != "" {
			args = append(args, "-cpuprofile", profile)
		}
		if serveProfile != "" {
			args = append(args, "-serveprofile", serveProfile)
		}
		return h.StartSelf(h.Srv, roles.DHCPPool, args...)
	}
	keaStart := func(n int) (*harness.Proc, error) {
		cmd, err := peers.Kea{Interface: h.SrvIf, Dir: dirs[n], Subnet: Subnet, PoolStart: PoolStart, PoolEnd: PoolEnd}.Command()
		if err != nil {
			return nil, err
		}
		return harness.Start(h.Srv, cmd)
	}

	px, kea := map[int]*measured{}, map[int]*measured{}
	for _, n := range []int{p.small, p.big} {
		px[n], kea[n] = &measured{}, &measured{}
		var ups, cpus []time.Duration
		var rss []int64
		var heaps []uint64
		for i := range p.starts {
			heapFile := filepath.Join(dirs[n], fmt.Sprintf("heap-%d.json", i))
			profile := ""
			if i == 0 && n == p.big && h.PProf {
				profile = filepath.Join(h.Out, "leases1m-startup.cpu.pprof")
			}
			up, proc, err := startUp(ctx, h, func() (*harness.Proc, error) { return pxStart(n, heapFile, profile, "") })
			if err != nil {
				return nil, fmt.Errorf("pxekit with %d leases: %w", n, err)
			}
			proc.Stop()
			var hp roles.Heap
			b, err := os.ReadFile(heapFile)
			if err == nil {
				err = json.Unmarshal(b, &hp)
			}
			if err != nil {
				return nil, fmt.Errorf("pxekit with %d leases: heap: %w", n, err)
			}
			if hp.Leases < n {
				return nil, fmt.Errorf("pxekit with %d leases: %d active after start-up", n, hp.Leases)
			}
			ups, cpus, rss, heaps = append(ups, up.wall), append(cpus, up.cpu), append(rss, up.rss), append(heaps, hp.Bytes)
			h.Log.Info("leases1m: pxekit start-up", "leases", n, "secs", up.wall.Seconds(), "cpuSecs", up.cpu.Seconds(), "rssMB", up.rss>>20, "heapMB", hp.Bytes>>20)
		}
		px[n].startup, px[n].cpu, px[n].rss, px[n].heap = median(ups), median(cpus), median(rss), median(heaps)

		ups, cpus, rss = nil, nil, nil
		for range p.starts {
			up, proc, err := startUp(ctx, h, func() (*harness.Proc, error) { return keaStart(n) })
			if err != nil {
				return nil, fmt.Errorf("kea with %d leases: %w", n, err)
			}
			proc.Stop()
			ups, cpus, rss = append(ups, up.wall), append(cpus, up.cpu), append(rss, up.rss)
			h.Log.Info("leases1m: kea start-up", "leases", n, "secs", up.wall.Seconds(), "cpuSecs", up.cpu.Seconds(), "rssMB", up.rss>>20)
		}
		kea[n].startup, kea[n].cpu, kea[n].rss = median(ups), median(cpus), median(rss)
	}

	// DORA/s: perfdhcp's 240 clients are new to both servers and take
	// free addresses of the pool beside the bound ones.
	extra := []string{"-o", fmt.Sprintf("82,%x", linkSelection)}
	for _, n := range []int{p.small, p.big} {
		for _, s := range []struct {
			m     map[int]*measured
			start func() (*harness.Proc, error)
		}{
			{px, func() (*harness.Proc, error) {
				profile := ""
				if h.PProf {
					profile = filepath.Join(h.Out, fmt.Sprintf("leases1m-dora-%d.cpu.pprof", n))
				}
				return pxStart(n, filepath.Join(dirs[n], "heap-load.json"), "", profile)
			}},
			{kea, func() (*harness.Proc, error) { return keaStart(n) }},
		} {
			_, proc, err := startUp(ctx, h, s.start)
			if err != nil {
				return nil, err
			}
			r, err := dhcpbench.Search(ctx, h, proc, p.ladder, p.secs, extra...)
			proc.Stop()
			if err != nil {
				return nil, fmt.Errorf("%s with %d leases: %w", proc.Name(), n, err)
			}
			s.m[n].rate = r
		}
	}
	return rows(p, px, kea, writeSecs, boltSize, csvSize), nil
}

// rows turns the measurements into the report's rows.
func rows(p plan, px, kea map[int]*measured, writeSecs float64, boltSize, csvSize int64) []report.Row {
	big, small := p.big, p.small
	name := fmt.Sprintf("%dk", big/1000)
	if big%1_000_000 == 0 {
		name = fmt.Sprintf("%dM", big/1_000_000)
	}
	perLease := func(m map[int]*measured) float64 { return float64(m[big].rss-m[small].rss) / float64(big-small) }
	runs := fmt.Sprintf("median of %d start-ups", p.starts)
	g := "Leases " + name
	return []report.Row{
		{Group: g, Case: "start-up, " + name + " bound leases", Unit: "s", Lower: true, Peer: "target", PeerV: 2, Pxekit: px[big].startup.Seconds(), Target: 1,
			Note: fmt.Sprintf("process start to its first OFFER to a relayed DISCOVER (probed every 10 ms), %s; target ≤ 2 s; CPU time spent by then %.2f s (user+system)", runs, px[big].cpu.Seconds())},
		{Group: g, Case: "start-up, " + name + " bound leases", Unit: "s", Lower: true, Peer: "kea memfile", PeerV: kea[big].startup.Seconds(), Pxekit: px[big].startup.Seconds(),
			Note: fmt.Sprintf("the same leases in Kea's CSV, %s; CPU time by then: pxekit %.2f s, kea %.2f s; with %d leases: pxekit %.3f s, kea %.3f s",
				runs, px[big].cpu.Seconds(), kea[big].cpu.Seconds(), small, px[small].startup.Seconds(), kea[small].startup.Seconds())},
		{Group: g, Case: "resident memory per lease", Unit: "B", Lower: true, Peer: "kea memfile", PeerV: perLease(kea), Pxekit: perLease(px), Target: 1,
			Note: fmt.Sprintf("(VmRSS serving %d leases − VmRSS serving %d) / %d, after start-up; pxekit %.1f / %.1f MB, kea %.1f / %.1f MB",
				big, small, big-small, mb(px[big].rss), mb(px[small].rss), mb(kea[big].rss), mb(kea[small].rss))},
		{Group: g, Case: "heap per lease", Unit: "B", Lower: true, Pxekit: float64(px[big].heap-px[small].heap) / float64(big-small),
			Note: fmt.Sprintf("pxekit's live heap after GC (runtime/metrics): %.1f MB with %d leases, %.1f MB with %d", mb(int64(px[big].heap)), big, mb(int64(px[small].heap)), small)},
		{Group: g, Case: "lease file, " + name + " leases", Unit: "MB", Lower: true, Peer: "kea memfile CSV", PeerV: mb(csvSize), Pxekit: mb(boltSize),
			Note: fmt.Sprintf("bbolt, binary records keyed by address; written in %.1f s (Apply of 10,000 leases a transaction)", writeSecs)},
		{Group: g, Case: "relayed DORA/s, " + name + " bound leases vs " + strconv.Itoa(small), Unit: "DORA/s", Peer: fmt.Sprintf("pxekit, %d bound", small),
			PeerV: px[small].rate.DORA, Pxekit: px[big].rate.DORA, Target: 0.9,
			Note: fmt.Sprintf("perfdhcp relayed with link selection, 240 new clients, ≤ 1%% loss; with %d: %s; with %d: %s", big, px[big].rate.Note, small, px[small].rate.Note)},
		{Group: g, Case: "relayed DORA/s, " + name + " bound leases", Unit: "DORA/s", Peer: "kea memfile", PeerV: kea[big].rate.DORA, Pxekit: px[big].rate.DORA,
			Note: fmt.Sprintf("kea with %d: %s; kea with %d: %.0f/s, %s", big, kea[big].rate.Note, small, kea[small].rate.DORA, kea[small].rate.Note)},
	}
}

func mb(b int64) float64 { return float64(b) / 1e6 }

func median[T int64 | uint64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// startUp starts a server and returns how long it took from the start to
// its first OFFER, the CPU time it spent by then (the machine may be
// shared: wall time alone would measure the neighbours) and its resident
// set then.
func startUp(ctx context.Context, h *harness.Harness, start func() (*harness.Proc, error)) (up started, p *harness.Proc, err error) {
	probe, err := newProbe(h)
	if err != nil {
		return up, nil, err
	}
	defer probe.Close()
	t0 := time.Now()
	if p, err = start(); err != nil {
		return up, nil, err
	}
	if err := probe.offer(ctx, p, 120*time.Second); err != nil {
		p.Stop()
		return up, nil, err
	}
	up.wall = time.Since(t0)
	up.cpu, _ = procfs.CPU(p.PID())
	if up.rss, err = vmRSS(p.PID()); err != nil {
		p.Stop()
		return up, nil, err
	}
	return up, p, nil
}

// started is a server's start-up.
type started struct {
	wall, cpu time.Duration // process start to first OFFER; CPU time spent by then
	rss       int64         // VmRSS then, bytes
}

// vmRSS is a process's resident set now, in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	v, ok := procfs.StatusField(b, "VmRSS")
	if !ok {
		return 0, fmt.Errorf("pid %d: no VmRSS", pid)
	}
	kb, err := strconv.ParseInt(v, 10, 64)
	return kb << 10, err
}

// probe is a relay agent in the clients' namespace (192.0.2.2, port 67)
// that asks for an address in the pool's link.
type probe struct {
	conn *net.UDPConn
}

func newProbe(h *harness.Harness) (*probe, error) {
	var c *net.UDPConn
	err := h.Cli.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(harness.ClientIP), Port: 67})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("start-up probe: %w", err)
	}
	return &probe{conn: c}, nil
}

func (p *probe) Close() error { return p.conn.Close() }

// offer sends a relayed DISCOVER every 10 ms until an OFFER comes back,
// srv exits or limit passes.
func (p *probe) offer(ctx context.Context, srv *harness.Proc, limit time.Duration) error {
	mac := net.HardwareAddr{0x02, 0x70, 0x72, 0x6f, 0x62, 0x65}
	d, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithRelay(net.ParseIP(harness.ClientIP)),
		dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(linkSelection[0]), linkSelection[2:]))))
	if err != nil {
		return err
	}
	dst := &net.UDPAddr{IP: net.ParseIP(harness.ServerIP), Port: 67}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := srv.Exited(); err != nil {
			return err
		}
		if _, err := p.conn.WriteToUDP(d.ToBytes(), dst); err != nil {
			return err
		}
		_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		for {
			n, _, err := p.conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			r, err := dhcpv4.FromBytes(buf[:n])
			if err == nil && r.TransactionID == d.TransactionID && r.MessageType() == dhcpv4.MessageTypeOffer {
				if !netip.MustParsePrefix(Subnet).Contains(netip.AddrFrom4([4]byte(r.YourIPAddr.To4()))) {
					return fmt.Errorf("offered %s, outside %s", r.YourIPAddr, Subnet)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("no OFFER within %v: %s", limit, harness.Tail(srv.Output(), 600))
}

// Lease is the i-th bound lease both servers are given: 240.0.0.1+i, MAC
// 52:54:01 and i, hostname node-<i>.
func Lease(i int, exp time.Time) dhcp.Lease {
	v := uint32(240)<<24 + 1 + uint32(i)
	return dhcp.Lease{
		IP:       netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}),
		MAC:      net.HardwareAddr{0x52, 0x54, 0x01, byte(i >> 16), byte(i >> 8), byte(i)},
		Hostname: fmt.Sprintf("node-%07d", i),
		Expiry:   exp,
		State:    dhcp.Bound,
	}
}

// WriteBolt writes n bound leases into a new bbolt lease file at path
// through the dhcp package's store, 10,000 a transaction.
func WriteBolt(path string, n int, exp time.Time) error {
	_ = os.Remove(path)
	st, err := dhcp.OpenBoltStore(path)
	if err != nil {
		return err
	}
	ops := make([]dhcp.Op, 0, 10_000)
	for i := range n {
		ops = append(ops, dhcp.Op{Lease: Lease(i, exp)})
		if len(ops) == cap(ops) || i == n-1 {
			if err := st.Apply(ops); err != nil {
				st.Close()
				return err
			}
			ops = ops[:0]
		}
	}
	return st.Close()
}

// keaHeader is Kea 2.2's lease4 CSV header.
const keaHeader = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"

// WriteKeaCSV writes the same n leases as Kea's memfile at path: subnet
// id 1, state 0 (assigned), a lifetime of 24 h ending at exp.
func WriteKeaCSV(path string, n int, exp time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, keaHeader)
	for i := range n {
		l := Lease(i, exp)
		fmt.Fprintf(w, "%s,%s,,%d,%d,1,0,0,%s,0,\n", l.IP, l.MAC, 86400, exp.Unix(), l.Hostname)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
