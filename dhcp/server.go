package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/internal/dropcount"
	"github.com/pxekit/pxekit/internal/netnsrun"
)

// Server is a DHCPv4 server. Create it with New, run it with Serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	table    *table
	store    Store
	ownStore *BoltStore
	// shared is store when other servers write it too.
	shared      SharedStore
	clientLimit *limiter
	relayLimit  *limiter
	srcLimit    *limiter // per UDP source address, before decoding
	caps        *poolCaps
	cnt         counters
	now         func() time.Time
	// lclock is the lease clock now reads (Config.Clock).
	lclock *leaseClock
	// mu guards what Reconfigure swaps (cfg.Subnets, cfg.Reservations,
	// subOpts and the table's subnets): packets are answered under the
	// read lock.
	mu sync.RWMutex
	// links is filled by Serve before any worker starts and read-only
	// afterwards.
	links map[int]link
	// subOpts are each subnet's encoded options (swapped by Reconfigure).
	subOpts []dhcpv4.Options
	ready   chan struct{}
	bufs    sync.Pool
	batches sync.Pool
	// queued counts datagrams handed to workers and not yet handled: the
	// QueueLen bound.
	queued  atomic.Int64
	started atomic.Bool
	closed  sync.Once
}

// listener is one socket the server reads from and answers on.
type listener struct {
	conn  net.PacketConn
	pc    *ipv4.PacketConn // nil when the conn gives no control messages
	proxy bool
}

// pending is a reply waiting for its lease writes to be committed.
type pending struct {
	o outcome
	l *listener
}

// New checks cfg, applies defaults, opens the lease store and loads the
// leases in it. It opens no socket: Serve does.
func New(cfg Config) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("dhcp: invalid config: %w", errs.ToAggregate())
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = 1024
	}
	if cfg.OfferHold == 0 {
		cfg.OfferHold = 30 * time.Second
	}
	if cfg.DeclineHold == 0 {
		cfg.DeclineHold = 10 * time.Minute
	}
	if cfg.MaxCommitBatch == 0 {
		cfg.MaxCommitBatch = 512
	}
	if cfg.ProxyPort == 0 {
		cfg.ProxyPort = 4011
	}
	if cfg.ClientRate == 0 {
		cfg.ClientRate = 20
	}
	if cfg.ClientBurst == 0 {
		cfg.ClientBurst = 40
	}
	if cfg.RelayRate == 0 {
		cfg.RelayRate = 50000
	}
	if cfg.RelayBurst == 0 {
		cfg.RelayBurst = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// Copy what the caller could change under us.
	cfg.Subnets = append([]Subnet(nil), cfg.Subnets...)
	cfg.Reservations = append([]Reservation(nil), cfg.Reservations...)
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		table:       newTable(cfg.Subnets, cfg.Reservations),
		store:       cfg.Store,
		clientLimit: newLimiter(cfg.ClientRate, cfg.ClientBurst, 4096),
		relayLimit:  newLimiter(cfg.RelayRate, cfg.RelayBurst, 256),
		srcLimit:    newLimiter(cfg.RelayRate, cfg.RelayBurst, 256),
		caps:        newPoolCaps(cfg.RelayLeaseCap, cfg.PortLeaseCap),
		lclock:      newLeaseClock(cfg.Clock),
		links:       map[int]link{},
		ready:       make(chan struct{}),
	}
	s.now = s.lclock.now
	for i, sn := range cfg.Subnets {
		s.subOpts = append(s.subOpts, subnetOptions(sn, s.leaseTime(i)))
	}
	s.cnt.dropped = dropcount.New(dropReasons()...)
	s.cnt.requests = dropcount.New(requestTypes...)
	s.cnt.commitLatency = newHistogram(CommitBuckets())
	s.bufs.New = func() any { b := make([]byte, maxDatagram); return &b }
	s.batches.New = func() any { return &batch{in: make([]inbound, 0, readBatch)} }
	if s.store == nil && cfg.LeaseFile != "" {
		bs, err := OpenBoltStore(cfg.LeaseFile)
		if err != nil {
			return nil, err
		}
		s.store, s.ownStore = bs, bs
	}
	if s.store == nil {
		s.store = NewMemStore()
	}
	if n, err := s.table.loadStore(s.store); err != nil {
		if n == 0 {
			s.closeStore()
			return nil, fmt.Errorf("dhcp: load leases: %w", err)
		}
		// Unreadable records are skipped, not fatal: the addresses they
		// held are at worst offered again, which the client's ARP check
		// and DECLINE cover.
		s.log.Warn("dhcp: skipped unreadable lease records", "err", err)
	}
	s.shared, _ = s.store.(SharedStore)
	if sh := cfg.Sharing; sh != nil {
		s.table.share = sh.Share
	}
	return s, nil
}

func (s *Server) closeStore() {
	s.closed.Do(func() {
		if s.ownStore != nil {
			s.ownStore.Close()
		}
	})
}

// Close releases the lease file the server opened (Config.LeaseFile). Serve
// does this when it returns; Close is for a server that never served.
func (s *Server) Close() error {
	s.closeStore()
	return nil
}

// Ready is closed once Serve listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Received:    s.cnt.received.Load(),
		Replied:     s.cnt.replied.Load(),
		Offers:      s.cnt.offers.Load(),
		Acks:        s.cnt.acks.Load(),
		Naks:        s.cnt.naks.Load(),
		Declines:    s.cnt.declines.Load(),
		Releases:    s.cnt.releases.Load(),
		Informs:     s.cnt.informs.Load(),
		Commits:     s.cnt.commits.Load(),
		LeaseWrites: s.cnt.leaseWrites.Load(),
		Conflicts:   s.cnt.conflicts.Load(),
		// Commit faults.
		CommitErrors: s.cnt.commitErrors.Load(),
		Dropped:      s.cnt.dropped.Snapshot(),
	}
	st.Requests = s.cnt.requests.Snapshot()
	st.CommitLatency = s.cnt.commitLatency.snapshot()
	now := s.now()
	st.ActiveLeases, st.PoolFree, st.PoolSize = s.table.counts(now)
	st.Subnets = s.table.countsBySubnet(now)
	return st
}

// LeaseByIP returns the active lease on ip: how a boot server maps the
// source address of an HTTP request to a machine (MAC).
func (s *Server) LeaseByIP(ip netip.Addr) (Lease, bool) { return s.table.byIPLease(ip, s.now()) }

// LeaseByMAC returns mac's active lease.
func (s *Server) LeaseByMAC(mac net.HardwareAddr) (Lease, bool) {
	return s.table.byMACLease(string(mac), s.now())
}

// Leases returns every bound or quarantined record, expired ones included,
// sorted by address.
func (s *Server) Leases() []Lease {
	ls := s.table.all()
	sort.Slice(ls, func(i, j int) bool { return ls[i].IP.Less(ls[j].IP) })
	return ls
}

// Serve answers requests until ctx is cancelled, then stops gracefully:
// reading stops, queued requests are answered, pending lease writes are
// committed, and the lease file (if the server opened it) is closed. It can
// run once. Like http.Server.Serve with its listener, it closes
// Config.Conn when it returns, also when it fails to start.
func (s *Server) Serve(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("dhcp: Serve called twice")
	}
	defer s.closeStore()
	ls, err := s.open()
	if err != nil {
		if s.cfg.Conn != nil {
			s.cfg.Conn.Close()
		}
		return err
	}
	if s.shared != nil {
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		if err := s.watchShared(wctx); err != nil {
			for _, l := range ls {
				l.conn.Close()
			}
			return fmt.Errorf("dhcp: watch the shared lease store: %w", err)
		}
	}
	jobs := make(chan *batch, s.cfg.QueueLen)
	commits := make(chan pending, 2*s.cfg.MaxCommitBatch)

	var workers, readers sync.WaitGroup
	committerDone := make(chan struct{})
	go func() { defer close(committerDone); s.committer(commits) }()
	for range s.cfg.Workers {
		workers.Add(1)
		go func() { defer workers.Done(); s.worker(jobs, commits) }()
	}
	for _, l := range ls {
		readers.Add(1)
		go func() { defer readers.Done(); s.reader(ctx, l, jobs) }()
	}
	close(s.ready)
	s.log.Info("dhcp: serving", "sockets", len(ls), "workers", s.cfg.Workers, "proxyDHCP", s.cfg.ProxyDHCP)

	<-ctx.Done()
	for _, l := range ls {
		// A past deadline wakes a blocked read; the socket stays open
		// until the queued requests are answered on it.
		l.conn.SetReadDeadline(time.Unix(1, 0))
	}
	readers.Wait()
	close(jobs)
	workers.Wait()
	close(commits)
	<-committerDone
	for _, l := range ls {
		l.conn.Close()
	}
	s.log.Info("dhcp: stopped")
	return nil
}

// open creates the sockets (inside cfg.NetNS if set) and learns the links.
func (s *Server) open() ([]*listener, error) {
	var ls []*listener
	err := netnsrun.Run(s.cfg.NetNS, func() error {
		links, err := s.findLinks()
		if err != nil {
			return err
		}
		s.links = links
		if s.cfg.Conn != nil {
			ls = append(ls, s.wrap(s.cfg.Conn, false))
		} else {
			addr := s.cfg.ListenAddr
			if !addr.IsValid() {
				addr = netip.AddrPortFrom(netip.IPv4Unspecified(), serverPort)
			}
			c, err := s.listen(addr)
			if err != nil {
				return err
			}
			ls = append(ls, s.wrap(c, false))
		}
		if s.cfg.ProxyDHCP && s.cfg.ProxyPort > 0 {
			a := netip.IPv4Unspecified()
			if s.cfg.ListenAddr.IsValid() {
				a = s.cfg.ListenAddr.Addr()
			} else if s.cfg.Conn != nil {
				if ua, ok := s.cfg.Conn.LocalAddr().(*net.UDPAddr); ok {
					a = ua.AddrPort().Addr().Unmap()
				}
			}
			c, err := s.listen(netip.AddrPortFrom(a, uint16(s.cfg.ProxyPort)))
			if err != nil {
				return err
			}
			ls = append(ls, s.wrap(c, true))
		}
		return nil
	})
	if err != nil {
		// Config.Conn is closed by Serve.
		for _, l := range ls {
			if l.conn != s.cfg.Conn {
				l.conn.Close()
			}
		}
		return nil, err
	}
	return ls, nil
}

func (s *Server) wrap(c net.PacketConn, proxy bool) *listener {
	l := &listener{conn: c, proxy: proxy}
	if uc, ok := c.(*net.UDPConn); ok {
		pc := ipv4.NewPacketConn(uc)
		if err := pc.SetControlMessage(ipv4.FlagInterface, true); err == nil {
			l.pc = pc
		}
	}
	return l
}

// findLinks maps interface index → name and IPv4 addresses for the links
// to serve: cfg.Interfaces, or every up link when none are named.
func (s *Server) findLinks() (map[int]link, error) {
	links := map[int]link{}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("dhcp: list interfaces: %w", err)
	}
	want := map[string]bool{}
	for _, n := range s.cfg.Interfaces {
		want[n] = true
	}
	var errs field.ErrorList
	for i, n := range s.cfg.Interfaces {
		found := false
		for _, ifc := range ifs {
			found = found || ifc.Name == n
		}
		if !found {
			errs = append(errs, field.NotFound(field.NewPath("interfaces").Index(i), n))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("dhcp: %w", errs.ToAggregate())
	}
	for _, ifc := range ifs {
		if len(want) > 0 && !want[ifc.Name] {
			continue
		}
		lk := link{name: ifc.Name}
		as, _ := ifc.Addrs()
		for _, a := range as {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok {
					ones, _ := ipn.Mask.Size()
					lk.addrs = append(lk.addrs, netip.PrefixFrom(ip, ones))
				}
			}
		}
		links[ifc.Index] = lk
	}
	return links, nil
}

// listen opens the server's UDP socket on addr.
func (s *Server) listen(addr netip.AddrPort) (net.PacketConn, error) {
	dev := ""
	if len(s.cfg.Interfaces) == 1 {
		dev = s.cfg.Interfaces[0]
	}
	return listenUDP(addr, dev)
}

// listenUDP opens a UDP socket that may send and receive broadcasts,
// shares its port (SO_REUSEADDR: every such socket gets a copy of each
// broadcast), and with dev set stays on that interface.
func listenUDP(addr netip.AddrPort, dev string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr != nil {
				return
			}
			// A deep receive queue absorbs bursts (a rack powering on)
			// while the workers catch up; FORCE needs CAP_NET_ADMIN, the
			// plain option is capped by net.core.rmem_max.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
			}
			if dev != "" {
				serr = unix.BindToDevice(int(fd), dev)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "udp4", addr.String())
	if err != nil {
		return nil, fmt.Errorf("dhcp: listen %s: %w", addr, err)
	}
	return c, nil
}
