package pxe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/internal/netnsrun"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/ra"
	"github.com/pxekit/pxekit/tftp"
)

// EventRouterAdvert is published when the router-advertisement responder
// (Config.RouterAdvertisement) answers a machine's router solicitation; the
// detail names the solicitor's link-local address. MAC is the solicitation's
// source link-layer address (empty when it carried none).
const EventRouterAdvert EventKind = "router-advert"

// Config composes a DHCP, a TFTP and an HTTP server on one interface into a
// boot server.
type Config struct {
	// Interface is the link to serve on. Its first IPv4 address is the
	// server's address unless Addr is set.
	Interface string
	// NetNS, when set, is the path of a network namespace
	// (/var/run/netns/NAME) in which every socket is opened and Interface
	// is looked up. The calling process stays where it is.
	NetNS string
	// Addr is the server's address: DHCP server identifier, TFTP next
	// server, and the host of every URL handed out.
	Addr netip.Addr

	// Subnet is what DHCP hands out. Prefix defaults to the interface's
	// network; Pools must be given unless ProxyDHCP is set.
	Subnet dhcp.Subnet
	// Reservations pin MACs to addresses.
	Reservations []dhcp.Reservation
	// ProxyDHCP serves boot information only, beside another DHCP server
	// that owns the addresses.
	ProxyDHCP bool
	// LeaseFile is the bbolt lease database; empty keeps leases in memory.
	LeaseFile string
	// RouterAdvertisement runs an IPv6 router-advertisement responder
	// (package ra) on Interface: it answers router solicitations with an
	// advertisement that has no prefix, router lifetime 0 and neither M nor
	// O flag, so iPXE finishes its IPv6 autoconfiguration at once instead of
	// waiting about 13 s for a router. Lifetime 0 and no prefix mean no host
	// routes through this server or takes an address from it, but M=O=0
	// tells hosts the link has no DHCPv6: enable it only on a boot network
	// without an IPv6 router. Default off.
	RouterAdvertisement bool

	// HTTPPort is the HTTP port (default 80). TFTPPort is the TFTP port
	// (default 69).
	HTTPPort int
	TFTPPort int
	// TFTPWindowSize is the largest RFC 7440 windowsize granted to a TFTP
	// client that asks for one (edk2's PXE asks for 4 by default; SeaBIOS's
	// PXE ROM and iPXE do not ask, so they stay lock-step). 0 means
	// DefaultTFTPWindowSize; -1 keeps every transfer lock-step, as
	// tftpd-hpa and dnsmasq do.
	TFTPWindowSize int

	// IPXE holds the iPXE builds (undionly.kpxe, ipxe.efi, ...), served
	// over TFTP and under /ipxe/. Nil locates Debian's ipxe package.
	IPXE fs.FS
	// Assets holds kernels, initrds and images served under /assets/.
	Assets fs.FS
	// Inventory maps machines to profiles.
	Inventory Inventory

	// Boot, when set, replaces the default boot policy (for instance one
	// imported from an ISC dhcpd.conf by pxe/iscdhcp). It sees every
	// client, known or not. In the filename it returns, "{base}" becomes
	// the server's HTTP root (http://ADDR[:PORT]) and "{mac}" the client's
	// MAC, so a policy can point at this server's own URLs (PathScript,
	// PathIPXE) before the address is known.
	Boot dhcp.BootPolicy
	// URLKey, when set (at least MinURLKeyLen bytes), signs the
	// per-machine file URLs that scripts get from {{.FileURL "name"}}: such
	// a URL is served to whoever presents it until it expires, beside the
	// lease-bound access every machine has to its own files.
	URLKey []byte
	// URLTTL is how long a signed URL stays valid (default 1h): long
	// enough for an installer to boot and fetch its config, short enough
	// that a leaked console log is soon useless.
	URLTTL time.Duration

	// Logger receives logs (default slog.Default()).
	Logger *slog.Logger
}

// Server is a running boot server. Create it with New, run it with Serve.
type Server struct {
	cfg  Config
	log  *slog.Logger
	bus  Bus
	http *handler

	mu     sync.RWMutex
	dhcp   *dhcp.Server
	ra     *ra.Responder
	ready  chan struct{}
	closed bool
}

// DefaultTFTPWindowSize is the TFTP window granted when Config says
// nothing: it covers what edk2 asks for (4) with room for clients that
// ask more, and keeps a lost window's resend small.
const DefaultTFTPWindowSize = 16

// New checks cfg and returns a server ready to Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Interface == "" {
		return nil, errors.New("pxe: Interface is required")
	}
	if err := cfg.Inventory.Validate(); err != nil {
		return nil, fmt.Errorf("pxe: inventory: %w", err)
	}
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = 80
	}
	if cfg.TFTPPort == 0 {
		cfg.TFTPPort = 69
	}
	switch {
	case cfg.TFTPWindowSize == 0:
		cfg.TFTPWindowSize = DefaultTFTPWindowSize
	case cfg.TFTPWindowSize < 0:
		cfg.TFTPWindowSize = 0 // tftp: 0 grants no window
	case cfg.TFTPWindowSize > 65535:
		return nil, fmt.Errorf("pxe: TFTPWindowSize %d is over 65535", cfg.TFTPWindowSize)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.URLKey) > 0 && len(cfg.URLKey) < MinURLKeyLen {
		return nil, fmt.Errorf("pxe: URLKey has %d bytes, want at least %d", len(cfg.URLKey), MinURLKeyLen)
	}
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = time.Hour
	}
	if cfg.IPXE == nil {
		found, err := ipxe.Locate()
		if len(found) == 0 {
			return nil, fmt.Errorf("pxe: no iPXE builds (apt-get install ipxe, or set Config.IPXE): %w", err)
		}
		cfg.IPXE = ipxe.BinaryFS(found)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}
	s.http = &handler{
		inv:      &s.cfg.Inventory,
		assets:   cfg.Assets,
		ipxe:     cfg.IPXE,
		bus:      &s.bus,
		macForIP: s.macForIP,
		log:      cfg.Logger,
		urlKey:   cfg.URLKey,
		urlTTL:   cfg.URLTTL,
	}
	return s, nil
}

// SignedFileURL returns a URL for machine mac's per-profile file name that
// any requester may fetch until ttl has passed. It needs Config.URLKey and
// a running server (the URL's host is known once Ready).
func (s *Server) SignedFileURL(mac net.HardwareAddr, name string, ttl time.Duration) (string, error) {
	if len(s.cfg.URLKey) == 0 {
		return "", errors.New("pxe: no URLKey configured")
	}
	base := s.BaseURL()
	if base == "" {
		return "", errors.New("pxe: server is not ready")
	}
	p := MachineFilePath(mac.String(), name)
	return base + p + "?" + SignPath(s.cfg.URLKey, p, time.Now().Add(ttl)), nil
}

// Subscribe returns the boot events published from now on, until ctx is
// done.
func (s *Server) Subscribe(ctx context.Context) <-chan Event { return s.bus.Subscribe(ctx) }

// Handler is the HTTP side, to mount in another server if wanted. Its URLs
// are only right once Serve has resolved the server's address.
func (s *Server) Handler() http.Handler { return s.http }

// Ready is closed once every socket listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// BaseURL is the HTTP root handed to clients, e.g. http://192.0.2.1:8080.
// It is empty until Ready.
func (s *Server) BaseURL() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.http.baseURL
}

// RA returns the router-advertisement responder once Serve has built it
// (nil before, and when Config.RouterAdvertisement is off), for its
// counters.
func (s *Server) RA() *ra.Responder {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ra
}

// DHCP returns the DHCP server once Serve has built it (nil before), for
// its leases and counters.
func (s *Server) DHCP() *dhcp.Server {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dhcp
}

func (s *Server) macForIP(ip netip.Addr) (net.HardwareAddr, bool) {
	d := s.DHCP()
	if d == nil {
		return nil, false
	}
	l, ok := d.LeaseByIP(ip)
	if !ok || len(l.MAC) == 0 {
		return nil, false
	}
	return l.MAC, true
}

// Serve runs DHCP, TFTP and HTTP until ctx is cancelled, then stops them
// gracefully. An error from any of them stops all three.
func (s *Server) Serve(ctx context.Context) error {
	var (
		addr     netip.Addr
		prefix   netip.Prefix
		tftpConn net.PacketConn
		httpLn   net.Listener
	)
	// Sockets belong to the namespace they were opened in, so everything
	// that opens one or looks up the link happens inside it.
	err := netnsrun.Run(s.cfg.NetNS, func() error {
		var err error
		addr, prefix, err = interfaceAddr(s.cfg.Interface, s.cfg.Addr)
		if err != nil {
			return err
		}
		tftpConn, err = net.ListenPacket("udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(s.cfg.TFTPPort)).String())
		if err != nil {
			return fmt.Errorf("tftp: %w", err)
		}
		httpLn, err = net.Listen("tcp4", netip.AddrPortFrom(addr, uint16(s.cfg.HTTPPort)).String())
		if err != nil {
			tftpConn.Close()
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pxe: %w", err)
	}
	base := "http://" + addr.String()
	if s.cfg.HTTPPort != 80 {
		base += ":" + strconv.Itoa(s.cfg.HTTPPort)
	}

	subnet := s.cfg.Subnet
	if !subnet.Prefix.IsValid() {
		subnet.Prefix = prefix
	}
	policy := dhcp.DefaultPolicy{
		TFTPServer:   addr,
		HTTPBootURL:  base + PathIPXE + string(ipxe.IPXEEFI),
		ScriptURL:    base + PathScript + "?mac={mac}",
		ScriptURLEFI: base + PathScript + "?mac={mac}&fw=efi",
	}
	inv := &s.cfg.Inventory
	dcfg := dhcp.Config{
		Interfaces:   []string{s.cfg.Interface},
		NetNS:        s.cfg.NetNS,
		ServerID:     addr,
		Subnets:      []dhcp.Subnet{subnet},
		Reservations: s.cfg.Reservations,
		LeaseFile:    s.cfg.LeaseFile,
		ProxyDHCP:    s.cfg.ProxyDHCP,
		Boot: func(c dhcp.Client) dhcp.BootDecision {
			// Unknown machines without a default profile still get an
			// address, but nothing to boot: the way dnsmasq treats
			// untagged hosts.
			if s.cfg.Boot != nil {
				d := s.cfg.Boot(c)
				d.Filename = strings.NewReplacer("{base}", base, "{mac}", c.MAC.String()).Replace(d.Filename)
				return d
			}
			if inv.Default == "" && !inv.Known(c.MAC) {
				return dhcp.BootDecision{}
			}
			return policy.Decide(c)
		},
		OnEvent: s.dhcpEvent,
		Logger:  s.log.With("server", "dhcp"),
	}
	if s.cfg.ProxyDHCP {
		dcfg.Subnets[0].Pools = nil
	}
	d, err := dhcp.New(dcfg)
	if err != nil {
		tftpConn.Close()
		httpLn.Close()
		return fmt.Errorf("pxe: dhcp: %w", err)
	}
	t, err := tftp.New(tftp.Config{
		Conn: tftpConn,
		Root: s.cfg.IPXE,
		// Per-transfer sockets are opened in the listening socket's
		// namespace, so a lab netns needs no single-port mode (which
		// would also rule out windowsize).
		MaxWindowSize: s.cfg.TFTPWindowSize,
		Logger:        s.log.With("server", "tftp"),
		OnEvent:       s.tftpEvent,
		MACForIP:      s.macForIP,
	})
	if err != nil {
		tftpConn.Close()
		httpLn.Close()
		return fmt.Errorf("pxe: tftp: %w", err)
	}
	var adv *ra.Responder
	if s.cfg.RouterAdvertisement {
		adv, err = ra.New(ra.Config{
			Interface: s.cfg.Interface,
			NetNS:     s.cfg.NetNS,
			OnEvent:   s.raEvent,
			Logger:    s.log.With("server", "ra"),
		})
		if err != nil {
			tftpConn.Close()
			httpLn.Close()
			return fmt.Errorf("pxe: %w", err)
		}
	}
	s.mu.Lock()
	s.dhcp = d
	s.ra = adv
	s.http.baseURL = base
	s.mu.Unlock()

	// IdleTimeout closes keep-alive connections that firmware left open
	// once it jumped into the kernel; without it each booted machine
	// would hold one until the server stops.
	srv := &http.Server{Handler: s.http, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnContext: connContext}
	g, gctx := newGroup(ctx)
	g.Go(func() error { return d.Serve(gctx) })
	g.Go(func() error { return t.Serve(gctx) })
	if adv != nil {
		g.Go(func() error { return adv.Serve(gctx) })
	}
	g.Go(func() error {
		if err := srv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	go func() {
		if adv != nil {
			select {
			case <-adv.Ready():
			case <-gctx.Done():
				return
			}
		}
		select {
		case <-d.Ready():
			s.log.Info("boot server ready", "interface", s.cfg.Interface, "addr", addr, "http", base)
			close(s.ready)
		case <-gctx.Done():
		}
	}()
	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (s *Server) dhcpEvent(e dhcp.Event) {
	var kind EventKind
	detail := ""
	switch e.Kind {
	case dhcp.EventDiscovered:
		kind = EventDiscovered
		detail = describeClient(e.Client)
	case dhcp.EventOffered:
		kind, detail = EventOffered, e.IP.String()
	case dhcp.EventAcked:
		kind, detail = EventAcked, e.IP.String()
	case dhcp.EventNAK:
		kind, detail = EventNak, e.Reason
	case dhcp.EventDeclined:
		kind, detail = EventDeclined, e.IP.String()
	default:
		return
	}
	if e.Boot.Filename != "" && (kind == EventOffered || kind == EventAcked) {
		detail += " boot=" + e.Boot.Filename
	}
	if e.Proxy {
		detail += " (proxyDHCP)"
	}
	s.bus.Publish(Event{Time: e.Time, MAC: macString(e.MAC), Kind: kind, Detail: detail})
}

func (s *Server) raEvent(e ra.Event) {
	if e.Kind != ra.EventAdvertised {
		return // rate-limited or unsendable: counted in RA().Stats()
	}
	s.bus.Publish(Event{Time: e.Time, MAC: macString(e.MAC), Kind: EventRouterAdvert,
		Detail: "solicited by " + e.Source.String() + ", answered to " + e.Dest.String()})
}

func describeClient(c dhcp.Client) string {
	switch {
	case c.IsIPXE():
		return fmt.Sprintf("iPXE arch=%d", c.Arch())
	case c.IsHTTPClient():
		return fmt.Sprintf("UEFI HTTP boot arch=%d", c.Arch())
	case c.IsPXE():
		return fmt.Sprintf("PXE arch=%d", c.Arch())
	}
	return "not PXE"
}

func (s *Server) tftpEvent(e tftp.Event) {
	switch e.Kind {
	case tftp.EventSent:
		detail := fmt.Sprintf("%s %d bytes in %s (blksize %d", e.File, e.Bytes, e.Duration.Round(time.Millisecond), e.BlockSize)
		if e.WindowSize > 0 {
			detail += fmt.Sprintf(", windowsize %d", e.WindowSize)
		}
		s.bus.Publish(Event{Time: e.Time, MAC: macString(e.MAC), Kind: EventTFTPSent, Detail: detail + ")"})
	case tftp.EventRefused:
		s.bus.Publish(Event{Time: e.Time, MAC: macString(e.MAC), Kind: EventDenied,
			Detail: fmt.Sprintf("tftp %s: %v", e.File, e.Err)})
	}
}

// interfaceAddr finds name's IPv4 address (want, if given, must be one of
// them) and its network.
func interfaceAddr(name string, want netip.Addr) (netip.Addr, netip.Prefix, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("interface %s: %w", name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !ip.Unmap().Is4() {
			continue
		}
		ip = ip.Unmap()
		ones, _ := ipn.Mask.Size()
		if !want.IsValid() || want == ip {
			return ip, netip.PrefixFrom(ip, ones).Masked(), nil
		}
	}
	if want.IsValid() {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("interface %s does not have %s", name, want)
	}
	return netip.Addr{}, netip.Prefix{}, fmt.Errorf("interface %s has no IPv4 address", name)
}

// group runs functions until the first fails or ctx is done, then cancels
// the rest and returns the first error.
type group struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{cancel: cancel}, ctx
}

func (g *group) Go(fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(); err != nil {
			g.once.Do(func() { g.err = err; g.cancel() })
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
