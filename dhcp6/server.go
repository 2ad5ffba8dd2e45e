package dhcp6

import (
	"context"
	"crypto/rand"
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

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/internal/dropcount"
	"github.com/pxekit/pxekit/internal/netnsrun"
	"github.com/pxekit/pxekit/internal/ratelimit"
)

// allServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1), where
// clients on the link send.
var allServers = netip.MustParseAddr("ff02::1:2")

// Server is a DHCPv6 server. Create it with New, run it with Serve.
type Server struct {
	cfg         Config
	log         *slog.Logger
	duid        dhcpv6.DUID
	table       *table
	store       dhcp.Store
	shared      dhcp.SharedStore // cfg.Store when several servers write it
	ownStore    *dhcp.BoltStore
	clientLimit *ratelimit.Keyed
	relayLimit  *ratelimit.Keyed
	cnt         counters
	now         func() time.Time
	// mu guards what Reconfigure swaps (cfg.Subnets, cfg.Reservations):
	// packets are answered under the read lock.
	mu sync.RWMutex
	// links is filled by Serve before any worker starts and read-only
	// afterwards.
	links map[int]link
	// queued counts datagrams handed to workers and not yet handled: the
	// QueueLen bound.
	queued  atomic.Int64
	ready   chan struct{}
	started atomic.Bool
	closed  sync.Once
}

// New checks cfg, applies defaults, opens the lease store and loads the
// leases in it. It opens no socket: Serve does.
func New(cfg Config) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("dhcp6: invalid config: %w", errs.ToAggregate())
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
	cfg.Subnets = append([]Subnet(nil), cfg.Subnets...)
	cfg.Reservations = append([]Reservation(nil), cfg.Reservations...)
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		table:       newTable(cfg.Subnets, cfg.Reservations),
		store:       cfg.Store,
		clientLimit: ratelimit.New(cfg.ClientRate, cfg.ClientBurst, 4096),
		relayLimit:  ratelimit.New(cfg.RelayRate, cfg.RelayBurst, 256),
		now:         time.Now,
		links:       map[int]link{},
		ready:       make(chan struct{}),
	}
	s.cnt.dropped = dropcount.New(dropReasons()...)
	s.cnt.requests = dropcount.New(requestTypes()...)
	raw := cfg.ServerDUID
	if len(raw) == 0 {
		raw = s.defaultDUID()
	}
	d, err := dhcpv6.DUIDFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("dhcp6: server DUID %x: %w", raw, err)
	}
	s.duid = d
	if s.store == nil && cfg.LeaseFile != "" {
		bs, err := dhcp.OpenBoltStore(cfg.LeaseFile)
		if err != nil {
			return nil, fmt.Errorf("dhcp6: %w", err)
		}
		s.store, s.ownStore = bs, bs
	}
	if s.store == nil {
		s.store = dhcp.NewMemStore()
	}
	ls, err := s.store.Load()
	if err != nil && ls == nil {
		s.closeStore()
		return nil, fmt.Errorf("dhcp6: load leases: %w", err)
	}
	if err != nil {
		s.log.Warn("dhcp6: skipped unreadable lease records", "err", err)
	}
	s.table.load(ls)
	s.shared, _ = s.store.(dhcp.SharedStore)
	return s, nil
}

// defaultDUID is a DUID-LL of the first named interface that has a MAC
// (looked up in the namespace), else a random DUID-UUID: stable across
// restarts where it can be.
func (s *Server) defaultDUID() []byte {
	var mac net.HardwareAddr
	_ = netnsrun.Run(s.cfg.NetNS, func() error {
		for _, n := range s.cfg.Interfaces {
			if ifi, err := net.InterfaceByName(n); err == nil && len(ifi.HardwareAddr) == 6 {
				mac = ifi.HardwareAddr
				return nil
			}
		}
		return nil
	})
	if mac != nil {
		return (&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: mac}).ToBytes()
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	return (&dhcpv6.DUIDUUID{UUID: u}).ToBytes()
}

func (s *Server) closeStore() {
	s.closed.Do(func() {
		if s.ownStore != nil {
			s.ownStore.Close()
		}
	})
}

// Close releases the lease file the server opened (Config.LeaseFile).
// Serve does this when it returns; Close is for a server that never
// served.
func (s *Server) Close() error {
	s.closeStore()
	return nil
}

// Ready is closed once Serve listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ServerDUID is the DUID the server answers with (option 2).
func (s *Server) ServerDUID() []byte { return s.duid.ToBytes() }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Received:    s.cnt.received.Load(),
		Replied:     s.cnt.replied.Load(),
		Relayed:     s.cnt.relayed.Load(),
		Advertises:  s.cnt.advertises.Load(),
		Binds:       s.cnt.binds.Load(),
		Refusals:    s.cnt.refusals.Load(),
		Declines:    s.cnt.declines.Load(),
		Releases:    s.cnt.releases.Load(),
		Informs:     s.cnt.informs.Load(),
		Commits:     s.cnt.commits.Load(),
		LeaseWrites: s.cnt.leaseWrites.Load(),
		Dropped:     s.cnt.dropped.Snapshot(),
		Requests:    s.cnt.requests.Snapshot(),
	}
	st.Subnets = s.table.countsBySubnet(s.now())
	for _, sn := range st.Subnets {
		st.ActiveLeases += sn.ActiveLeases
	}
	return st
}

// LeaseByIP returns the active lease on ip: how a boot server maps the
// source address of an HTTP or TFTP request to a machine (MAC).
func (s *Server) LeaseByIP(ip netip.Addr) (dhcp.Lease, bool) {
	return s.table.lookup(ip.WithZone(""), "", s.now())
}

// LeaseByMAC returns the active lease of the client with that MAC.
func (s *Server) LeaseByMAC(mac net.HardwareAddr) (dhcp.Lease, bool) {
	return s.table.lookup(netip.Addr{}, "m"+string(mac), s.now())
}

// Leases returns every bound or quarantined record, expired ones included,
// sorted by address.
func (s *Server) Leases() []dhcp.Lease {
	ls := s.table.all()
	sort.Slice(ls, func(i, j int) bool { return ls[i].IP.Less(ls[j].IP) })
	return ls
}

// Reconfigure replaces the subnets and reservations while the server
// serves, keeping every lease and outstanding offer with its client (also
// one whose address no pool holds any more: it keeps renewing it until it
// lets it go). The change is checked first, as New checks a Config; on an
// error nothing changes.
func (s *Server) Reconfigure(subnets []Subnet, reservations []Reservation) error {
	check := s.cfg
	check.Subnets, check.Reservations = subnets, reservations
	check.Conn, check.Store = nil, nil
	if errs := check.Validate(); len(errs) > 0 {
		return fmt.Errorf("dhcp6: invalid config: %w", errs.ToAggregate())
	}
	subnets = append([]Subnet(nil), subnets...)
	reservations = append([]Reservation(nil), reservations...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Subnets, s.cfg.Reservations = subnets, reservations
	s.table.reconfigure(subnets, reservations)
	s.log.Info("dhcp6: reconfigured", "subnets", len(subnets), "reservations", len(reservations))
	return nil
}

// Serve answers requests until ctx is cancelled, then stops gracefully:
// reading stops, queued requests are answered, pending lease writes are
// committed, and the lease file (if the server opened it) is closed. It
// can run once. It closes Config.Conn when it returns, also when it fails
// to start.
func (s *Server) Serve(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("dhcp6: Serve called twice")
	}
	defer s.closeStore()
	c, err := s.open()
	if err != nil {
		if s.cfg.Conn != nil {
			s.cfg.Conn.Close()
		}
		return err
	}
	if s.shared != nil {
		// Before the first packet: what other servers write from the
		// revision Load read on reaches the table.
		if err := s.shared.Watch(ctx, s.table.remote); err != nil {
			c.conn.Close()
			return fmt.Errorf("dhcp6: watch the lease store: %w", err)
		}
	}
	jobs := make(chan *batch, s.cfg.QueueLen)
	commits := make(chan outcome, 2*s.cfg.MaxCommitBatch)
	var workers sync.WaitGroup
	committerDone := make(chan struct{})
	go func() { defer close(committerDone); s.committer(c, commits) }()
	for range s.cfg.Workers {
		workers.Go(func() { s.worker(c, jobs, commits) })
	}
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); s.reader(ctx, c, jobs) }()
	close(s.ready)
	s.log.Info("dhcp6: serving", "links", len(s.links), "workers", s.cfg.Workers, "duid", fmt.Sprintf("%x", s.duid.ToBytes()))

	<-ctx.Done()
	c.conn.SetReadDeadline(time.Unix(1, 0)) // wakes the reader; the socket stays open for the queued replies
	<-readerDone
	close(jobs)
	workers.Wait()
	close(commits)
	<-committerDone
	c.conn.Close()
	s.log.Info("dhcp6: stopped")
	return nil
}

// sock is the socket the server reads from and answers on.
type sock struct {
	conn net.PacketConn
	pc   *ipv6.PacketConn // nil when the conn gives no control messages
}

// open creates the socket (inside cfg.NetNS if set), learns the links and
// joins ff02::1:2 on each.
func (s *Server) open() (*sock, error) {
	var c *sock
	err := netnsrun.Run(s.cfg.NetNS, func() error {
		ifs, err := s.findLinks()
		if err != nil {
			return err
		}
		conn := s.cfg.Conn
		if conn == nil {
			addr := s.cfg.ListenAddr
			if !addr.IsValid() {
				addr = netip.AddrPortFrom(netip.IPv6Unspecified(), serverPort)
			}
			if conn, err = listenUDP6(addr); err != nil {
				return err
			}
		}
		c = &sock{conn: conn}
		if uc, ok := conn.(*net.UDPConn); ok {
			pc := ipv6.NewPacketConn(uc)
			if pc.SetControlMessage(ipv6.FlagInterface|ipv6.FlagDst, true) == nil {
				c.pc = pc
			}
			if s.cfg.Conn == nil {
				var errs []error
				for _, ifi := range ifs {
					if err := pc.JoinGroup(&ifi, &net.UDPAddr{IP: allServers.AsSlice()}); err != nil {
						errs = append(errs, fmt.Errorf("join %s on %s: %w", allServers, ifi.Name, err))
					}
				}
				if err := errors.Join(errs...); err != nil {
					conn.Close()
					return fmt.Errorf("dhcp6: %w", err)
				}
			}
		}
		return nil
	})
	return c, err
}

// findLinks maps interface index → name and global IPv6 prefixes for the
// links to serve: cfg.Interfaces, or every link with an address inside a
// subnet. It returns those links' interfaces, to join ff02::1:2 on.
func (s *Server) findLinks() ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("dhcp6: list interfaces: %w", err)
	}
	var errs field.ErrorList
	for i, n := range s.cfg.Interfaces {
		found := false
		for _, ifi := range all {
			found = found || ifi.Name == n
		}
		if !found {
			errs = append(errs, field.NotFound(field.NewPath("interfaces").Index(i), n))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("dhcp6: %w", errs.ToAggregate())
	}
	var served []net.Interface
	for _, ifi := range all {
		named := false
		for _, n := range s.cfg.Interfaces {
			named = named || n == ifi.Name
		}
		lk := link{name: ifi.Name}
		as, _ := ifi.Addrs()
		for _, a := range as {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() != nil {
				continue
			}
			ip, _ := netip.AddrFromSlice(ipn.IP)
			if ip.IsLinkLocalUnicast() {
				continue
			}
			ones, _ := ipn.Mask.Size()
			lk.prefixes = append(lk.prefixes, netip.PrefixFrom(ip, ones))
		}
		inSubnet := false
		for _, p := range lk.prefixes {
			inSubnet = inSubnet || s.table.subnetOf(p.Addr()) >= 0
		}
		if named || len(s.cfg.Interfaces) == 0 && inSubnet {
			s.links[ifi.Index] = lk
			if ifi.Flags&net.FlagMulticast != 0 {
				served = append(served, ifi)
			}
		}
	}
	return served, nil
}

// listenUDP6 opens an IPv6-only UDP socket on addr that shares its port
// (SO_REUSEADDR) and has a deep receive queue for bursts.
func listenUDP6(addr netip.AddrPort) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); serr != nil {
				return
			}
			// FORCE needs CAP_NET_ADMIN; the plain option is capped by
			// net.core.rmem_max.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "udp6", addr.String())
	if err != nil {
		return nil, fmt.Errorf("dhcp6: listen %s: %w", addr, err)
	}
	return c, nil
}
