package pxe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/internal/netnsrun"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/ra"
	"github.com/pxekit/pxekit/tftp"
)

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

	// Subnets are what DHCP hands out: the interface's own network and
	// any number of networks behind DHCP relays (their giaddr picks the
	// subnet). One subnet may leave Prefix unset: it gets the
	// interface's network. No subnet at all means that one, empty. Pools
	// must be given unless ProxyDHCP is set.
	Subnets []dhcp.Subnet
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
	// without an IPv6 router. Default off. With Subnets6 the
	// advertisements say the opposite: M and O set, the subnets' prefixes
	// on-link, so hosts ask DHCPv6 for their address.
	RouterAdvertisement bool
	// RouterLifetime, with RouterAdvertisement on, advertises this host as
	// the link's default router for that long (ra.Config.RouterLifetime;
	// whole seconds up to 9000 s). Zero, the default, advertises no
	// router. edk2's PXE over IPv6 waits 10 s for a default router before
	// it downloads its boot file, so on a boot network that has no IPv6
	// router (a lab, an isolated provisioning VLAN) a lifetime, as
	// dnsmasq's enable-ra advertises by default (1800 s), saves each UEFI
	// machine those 10 s. Never set it where a real router serves the link.
	RouterLifetime time.Duration

	// HTTPPort is the HTTP port (default 80).
	HTTPPort int
	// HTTPMaxConnsPerClient bounds the open connections of one client
	// address on the plain HTTP listeners, as nginx's limit_conn does (0
	// means DefaultHTTPMaxConnsPerClient, negative no limit). Firmware opens one or
	// two; a connection beyond the bound is closed at once and counted
	// (HTTPConnStats.OverClientLimit), so a slowloris from one address
	// holds that many connections for the 10 s header timeout at most.
	HTTPMaxConnsPerClient int
	// TFTPPort is the TFTP port (default 69).
	TFTPPort int
	// TFTPWindowSize is the largest RFC 7440 windowsize granted to a TFTP
	// client that asks for one (edk2's PXE asks for 4 by default; SeaBIOS's
	// PXE ROM and iPXE do not ask, so they stay lock-step). 0 means
	// DefaultTFTPWindowSize; -1 keeps every transfer lock-step, as
	// tftpd-hpa and dnsmasq do.
	TFTPWindowSize int
	// TFTPMaxTransfers bounds concurrent TFTP transfers; 0 means
	// tftp.DefaultMaxTransfers. A request beyond it is dropped and the
	// client asks again after its own timeout: raise it for a boot storm
	// of more machines than that at once.
	TFTPMaxTransfers int

	// IPXE holds the iPXE builds (undionly.kpxe, ipxe.efi, ...), served
	// over TFTP and under /ipxe/. Nil locates Debian's ipxe package.
	IPXE fs.FS
	// Assets holds kernels, initrds and images served under /assets/.
	Assets fs.FS
	// Inventory maps machines to profiles; it is asked on every DHCP and
	// HTTP request, so a change shows on the next one. Nil is an empty
	// inventory: every machine is denied.
	Inventory Inventory

	// Boot, when set, replaces the default boot policy (for instance one
	// imported from an ISC dhcpd.conf by pxe/iscdhcp). It sees every
	// client, known or not. In the filename it returns, "{base}" becomes
	// the server's HTTP root (http://ADDR[:PORT]) and "{mac}" the client's
	// MAC, so a policy can point at this server's own URLs (PathScript,
	// PathIPXE) without knowing its address.
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

	// Sockets the caller opened (systemd socket activation, tests): when
	// set, the server serves on them instead of opening its own, and Serve
	// closes them when it returns, as http.Server.Serve closes its
	// listener. DHCPConn is port 67's socket (dhcp.Config.Conn), TFTPConn
	// port 69's, HTTPListener the HTTP port's; HTTPPort still names the
	// port in the URLs handed out.
	DHCPConn     net.PacketConn
	TFTPConn     net.PacketConn
	HTTPListener net.Listener

	// Running as a service. Metrics, when set, is served at PathMetrics
	// (package pxe/metrics makes one for Prometheus; pxe itself depends on
	// no metrics library). ShutdownGrace bounds how long TFTP transfers
	// and HTTP requests still running when Serve's context is cancelled
	// may take to finish (default DefaultShutdownGrace); then they are
	// cut off.
	Metrics       http.Handler
	ShutdownGrace time.Duration
	// LeaseStore, when set, persists leases instead of LeaseFile: a store
	// the program built (one shared by several boot servers, say). The
	// server does not close it.
	LeaseStore dhcp.Store
	// Sharing splits the DHCP clients between the servers that share
	// LeaseStore (dhcp.Config.Sharing; package etcdstore builds both).
	Sharing dhcp.Sharing

	// Secure Boot and HTTPS (secureboot.go, tls.go). Machines whose
	// profile is of kind ProfileSecureBoot boot through shim and GRUB.
	// These fields cannot change while serving (Reload).

	// SecureBoot holds the signed loaders, grub.Shim and grub.GRUB
	// (shimx64.efi, grubx64.efi), served over TFTP beside the iPXE builds
	// and under PathSecureBoot. Nil locates Debian's shim-signed and
	// grub-efi-amd64-signed (grub.Locate).
	SecureBoot fs.FS
	// SecureBootHTTP is what UEFI HTTP boot clients of a Secure Boot
	// profile download (default SecureBootDiskImage).
	SecureBootHTTP SecureBootHTTP
	// TLSCertFile and TLSKeyFile are the PEM certificate chain and key of
	// an HTTPS listener on HTTPSPort; TLSCertificate is the same in
	// memory, and TLSLabCA a directory whose lab CA (pxe/labca.Open,
	// created there if absent) issues one for Addr at New, writing the
	// CA for firmware (cacerts.esl) beside it. Set one of the three to
	// serve HTTPS. The certificate must name Addr as an IP SAN: UEFI
	// firmware checks it.
	TLSCertFile, TLSKeyFile string
	TLSCertificate          *tls.Certificate
	TLSLabCA                string
	// HTTPSPort is the HTTPS port (default 443).
	HTTPSPort int
	// HTTPSBoot hands UEFI HTTP boot clients https:// URLs. Their firmware
	// must trust the certificate's CA (OVMF reads it from fw_cfg
	// etc/edk2/https/cacerts); one that does not fails to boot.
	HTTPSBoot bool
	// FilesHTTPSOnly serves per-machine files (Profile.Files: installer
	// configs, which carry tokens and passwords) over HTTPS only: FileURL
	// hands out https:// URLs and a request over plain HTTP is denied.
	FilesHTTPSOnly bool

	// IPv6 (ipv6.go). Subnets6, when set, runs a DHCPv6 server (package
	// dhcp6) on Interface: stateful addresses from its pools, and option
	// 59 boot file URLs for the IPv6 boot path (UEFI PXE → TFTP ipxe.efi,
	// UEFI HTTP boot → http://[…]/ipxe/ipxe.efi, iPXE → its script). One
	// subnet may leave Prefix unset: it gets the interface's global IPv6
	// network. TFTP and HTTP then listen on IPv6 too, and every URL handed
	// to a client that came over IPv6 names the server by Addr6
	// (http://[2001:db8::1]/…); the same per-machine files are served to
	// the machine its DHCPv6 lease names. With RouterAdvertisement on, the
	// advertisements set the M and O flags and name the on-link subnets'
	// prefixes on-link but not autonomous, so iPXE and other hosts take
	// their address from DHCPv6 (iPXE asks DHCPv6 only when told to by an
	// advertisement). Without Subnets the server is IPv6-only: it runs no
	// DHCPv4 and needs no IPv4 address. The leases share LeaseFile or
	// LeaseStore with DHCPv4.
	Subnets6      []dhcp6.Subnet
	Reservations6 []dhcp6.Reservation
	// Addr6 is the server's IPv6 address: TFTP and HTTP host of IPv6
	// URLs (default: the interface's first global IPv6 address).
	Addr6 netip.Addr
	// Boot6, when set, replaces the default IPv6 boot policy, as Boot does
	// for DHCPv4 ("{base}" becomes http://[ADDR6][:PORT], "{mac}" the
	// client's MAC).
	Boot6 dhcp6.BootPolicy
	// DHCP6Conn is port 547's socket when the caller opened it
	// (dhcp6.Config.Conn).
	DHCP6Conn net.PacketConn
}

// DefaultShutdownGrace is Config.ShutdownGrace's default: a 100 MB image
// over a slow link still finishes, and a stop still ends within a
// systemd TimeoutStopSec.
const DefaultShutdownGrace = 30 * time.Second

// DefaultTFTPWindowSize is the TFTP window granted when Config says
// nothing: it covers what edk2 asks for (4) with room for clients that
// ask more, and keeps a lost window's resend small.
const DefaultTFTPWindowSize = 16

// Validate reports every problem in c with its field path. An inventory
// that validates itself (StaticInventory does) is checked too, under
// "inventory".
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.Interface == "" {
		errs = append(errs, field.Required(field.NewPath("interface"), "the link to serve on"))
	}
	if c.Addr.IsValid() && !c.Addr.Is4() {
		errs = append(errs, field.Invalid(field.NewPath("addr"), c.Addr.String(), "must be an IPv4 address"))
	}
	errs = append(errs, c.validateIPv6()...)
	if c.RouterLifetime != 0 && !c.RouterAdvertisement {
		errs = append(errs, field.Invalid(field.NewPath("routerLifetime"), c.RouterLifetime.String(), "needs routerAdvertisement"))
	} else {
		errs = append(errs, ra.ValidateRouterLifetime(field.NewPath("routerLifetime"), c.RouterLifetime)...)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"httpPort", c.HTTPPort}, {"tftpPort", c.TFTPPort}} {
		if p.v < 0 || p.v > 65535 {
			errs = append(errs, field.Invalid(field.NewPath(p.name), p.v, "must be 0 (the default) or a port"))
		}
	}
	unset := -1
	for i, sn := range c.Subnets {
		if sn.Prefix.IsValid() {
			continue
		}
		if unset >= 0 {
			errs = append(errs, field.Required(field.NewPath("subnets").Index(i).Child("prefix"),
				fmt.Sprintf("only one subnet may take the interface's network (subnets[%d] does)", unset)))
		}
		unset = i
	}
	if c.TFTPWindowSize < -1 || c.TFTPWindowSize > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("tftpWindowSize"), c.TFTPWindowSize, "must be -1 (lock-step), 0 (the default) or at most 65535"))
	}
	if len(c.URLKey) > 0 && len(c.URLKey) < MinURLKeyLen {
		errs = append(errs, field.Invalid(field.NewPath("urlKey"), fmt.Sprintf("%d bytes", len(c.URLKey)), fmt.Sprintf("must have at least %d bytes", MinURLKeyLen)))
	}
	if c.LeaseStore != nil && c.LeaseFile != "" {
		errs = append(errs, field.Forbidden(field.NewPath("leaseStore"), "set either leaseStore or leaseFile, not both"))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, field.Invalid(field.NewPath("shutdownGrace"), c.ShutdownGrace.String(), "must not be negative"))
	}
	if c.URLTTL < 0 {
		errs = append(errs, field.Invalid(field.NewPath("urlTTL"), c.URLTTL.String(), "must not be negative"))
	}
	errs = append(errs, c.validateSubnets()...)
	errs = append(errs, c.validateSecure()...)
	if v, ok := c.Inventory.(interface{ Validate() field.ErrorList }); ok {
		for _, e := range v.Validate() {
			e.Field = field.NewPath("inventory").String() + "." + e.Field
			errs = append(errs, e)
		}
	}
	return errs
}

// validateSubnets checks Subnets and Reservations as the DHCP server
// will. A subnet that takes the interface's network is checked once New
// knows it; until then the others are checked one by one.
func (c Config) validateSubnets() field.ErrorList {
	check := func(subnets []dhcp.Subnet, res []dhcp.Reservation) field.ErrorList {
		var out field.ErrorList
		for _, e := range (dhcp.Config{Subnets: subnets, Reservations: res, ProxyDHCP: c.ProxyDHCP, Boot: noBoot}).Validate() {
			if strings.HasPrefix(e.Field, "subnets") || strings.HasPrefix(e.Field, "reservations") {
				out = append(out, e)
			}
		}
		return out
	}
	all := true
	for _, sn := range c.Subnets {
		all = all && sn.Prefix.IsValid()
	}
	if all && len(c.Subnets) > 0 {
		return check(c.Subnets, c.Reservations)
	}
	var errs field.ErrorList
	for i, sn := range c.Subnets {
		if !sn.Prefix.IsValid() {
			continue
		}
		for _, e := range check([]dhcp.Subnet{sn}, nil) {
			e.Field = field.NewPath("subnets").Index(i).String() + strings.TrimPrefix(e.Field, "subnets[0]")
			errs = append(errs, e)
		}
	}
	return errs
}

// noBoot stands for a boot policy where only its presence is checked.
func noBoot(dhcp.Client) dhcp.BootDecision { return dhcp.BootDecision{} }

// withDefaults fills what a zero Config leaves open.
func (c Config) withDefaults() (Config, error) {
	if c.HTTPPort == 0 {
		c.HTTPPort = 80
	}
	if c.TFTPPort == 0 {
		c.TFTPPort = 69
	}
	if c.HTTPMaxConnsPerClient == 0 {
		c.HTTPMaxConnsPerClient = DefaultHTTPMaxConnsPerClient
	}
	c.TFTPWindowSize = windowOf(c.TFTPWindowSize) // tftp: 0 grants no window
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.URLTTL == 0 {
		c.URLTTL = time.Hour
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.Inventory == nil {
		c.Inventory = &StaticInventory{}
	}
	c = c.secureDefaults()
	if c.IPXE == nil {
		found, err := ipxe.Locate()
		if len(found) == 0 {
			return c, fmt.Errorf("no iPXE builds (apt-get install ipxe, or set Config.IPXE): %w", err)
		}
		c.IPXE = ipxe.BinaryFS(found)
	}
	return c, nil
}

// Server is a boot server. Create it with New, run it with Serve.
type Server struct {
	cfg Config
	log *slog.Logger
	bus Bus
	// httpConns counts HTTP connections closed before a request.
	httpConns connTracker
	// http is the boot routes' handler and live the parts of the config
	// that Reload may swap (Inventory, Assets, Boot, URLKey, URLTTL);
	// each request and DHCP decision loads the current ones.
	http atomic.Pointer[handler]
	live atomic.Pointer[Config]
	// addr and base are the server's address and HTTP root, resolved by
	// New; prefix is the interface's network.
	addr   netip.Addr
	prefix netip.Prefix
	base   string
	// addr6, prefix6 and base6 are the same for IPv6 (Subnets6), zero
	// without it.
	addr6   netip.Addr
	prefix6 netip.Prefix
	base6   string

	// dhcp is nil when the server is IPv6-only; dhcp6 is nil without
	// Subnets6. ownStore is the lease file both share, opened here.
	dhcp      *dhcp.Server
	dhcp6     *dhcp6.Server
	ownStore  *dhcp.BoltStore
	storeOnce sync.Once
	ra        *ra.Responder
	tftp      tftp.Config // Serve adds the socket
	ready     chan struct{}
	started   atomic.Bool

	// What running as a service adds: the TFTP server Serve runs (for its
	// counters), the HTTP counters, the boot tracker behind the dashboard,
	// ServiceHandler, and whether Serve's context is done.
	tftpSrv   atomic.Pointer[tftp.Server]
	httpStats httpCounters
	tracker   *BootTracker
	service   http.Handler
	stopping  atomic.Bool
	// streamsDone is closed when the HTTP server shuts down: event
	// streams end then.
	streamsDone chan struct{}

	// httpsBase is the HTTPS root ("" without HTTPS), tls the HTTPS
	// listener's configuration; sb the Secure Boot loaders and what
	// every handler shares of them, sbMissing why none were found.
	httpsBase string
	tls       *tls.Config
	sb        *sbState
	sbMissing error
}

// New checks cfg, finds the interface's address (inside Config.NetNS) and
// builds the DHCP server and the router-advertisement responder. It opens
// the lease file, but no socket: Serve does. A server that never serves
// should be closed with Close.
func New(cfg Config) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("pxe: invalid config: %w", errs.ToAggregate())
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pxe: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), streamsDone: make(chan struct{})}
	err = netnsrun.Run(cfg.NetNS, func() error {
		var err error
		if !s.ipv6Only() {
			if s.addr, s.prefix, err = interfaceAddr(cfg.Interface, cfg.Addr); err != nil {
				return err
			}
		}
		if len(cfg.Subnets6) > 0 {
			s.addr6, s.prefix6, err = interfaceAddr6(cfg.Interface, cfg.Addr6)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pxe: %w", err)
	}
	s.base = httpBase(s.addr, cfg.HTTPPort)
	if s.addr6.IsValid() {
		s.base6 = httpBase(s.addr6, cfg.HTTPPort)
	}
	if s.ipv6Only() {
		s.base = s.base6
	}
	if err := s.setupTLS(); err != nil {
		return nil, fmt.Errorf("pxe: %w", err)
	}
	s.setupSecureBoot()
	s.live.Store(&cfg)
	s.http.Store(s.newHandler(cfg))
	s.tracker = NewBootTracker(s.Inventory)
	s.service = s.newServiceHandler()
	s.tftp = s.tftpConfig()
	if errs := s.tftp.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("pxe: tftp: %w", errs.ToAggregate())
	}
	if s.ra, err = ra.New(s.raConfig()); err != nil {
		return nil, fmt.Errorf("pxe: %w", err)
	}
	// Last: the DHCP servers open the lease file, which the errors above
	// would leave open.
	if err := s.newDHCP(); err != nil {
		return nil, err
	}
	return s, nil
}

// dhcpConfig is the DHCP server of the boot server on the interface's
// network prefix.
func (s *Server) dhcpConfig() dhcp.Config {
	return dhcp.Config{
		Interfaces:   []string{s.cfg.Interface},
		NetNS:        s.cfg.NetNS,
		ServerID:     s.addr,
		Subnets:      s.subnets(s.cfg.Subnets),
		Reservations: s.cfg.Reservations,
		LeaseFile:    s.cfg.LeaseFile,
		Store:        s.cfg.LeaseStore,
		Sharing:      s.cfg.Sharing,
		ProxyDHCP:    s.cfg.ProxyDHCP,
		Boot:         s.bootPolicy(),
		OnEvent:      s.dhcpEvent,
		Logger:       s.log.With("server", "dhcp"),
		Conn:         s.cfg.DHCPConn,
	}
}

// subnets is what DHCP serves of cfg: the subnet without a prefix gets the
// interface's network, and proxyDHCP hands out no pools.
func (s *Server) subnets(in []dhcp.Subnet) []dhcp.Subnet {
	if len(in) == 0 {
		in = []dhcp.Subnet{{}}
	}
	out := make([]dhcp.Subnet, len(in))
	for i, sn := range in {
		if !sn.Prefix.IsValid() {
			sn.Prefix = s.prefix
		}
		if s.cfg.ProxyDHCP {
			sn.Pools = nil
		}
		out[i] = sn
	}
	return out
}

// bootPolicy is Config.Boot with {base} and {mac} filled in, or the
// default policy pointing at this server for machines the inventory
// knows.
func (s *Server) bootPolicy() dhcp.BootPolicy {
	policy := dhcp.DefaultPolicy{
		TFTPServer:   s.addr,
		HTTPBootURL:  s.base + PathIPXE + string(ipxe.IPXEEFI),
		ScriptURL:    s.base + PathScript + "?mac={mac}",
		ScriptURLEFI: s.base + PathScript + "?mac={mac}&fw=efi",
	}
	if s.cfg.HTTPSBoot {
		policy.HTTPBootURL = s.httpsBase + PathIPXE + string(ipxe.IPXEEFI)
	}
	return func(c dhcp.Client) dhcp.BootDecision {
		live := s.live.Load()
		if live.Boot != nil {
			d := live.Boot(c)
			d.Filename = strings.NewReplacer("{base}", s.base, "{mac}", c.MAC.String()).Replace(d.Filename)
			return d
		}
		// Unknown machines without a default profile still get an
		// address, but nothing to boot: the way dnsmasq treats untagged
		// hosts.
		m, p, err := live.Inventory.Lookup(c.MAC)
		if err != nil || firmwareBootsNext(m, c) {
			return dhcp.BootDecision{}
		}
		if p.Kind == ProfileSecureBoot {
			if d, ok := s.secureBootDecision(c); ok {
				return d
			}
		}
		return policy.Decide(c)
	}
}

// tftpConfig is the TFTP server of iPXE builds; Serve adds its socket.
func (s *Server) tftpConfig() tftp.Config {
	return tftp.Config{
		// The iPXE builds, and the Secure Boot chain's files beside them.
		Root: tftpRoot{s: s},
		// Per-transfer sockets are opened in the listening socket's
		// namespace, so a lab netns needs no single-port mode (which
		// would also rule out windowsize).
		MaxWindowSize: s.cfg.TFTPWindowSize,
		MaxTransfers:  s.cfg.TFTPMaxTransfers,
		ShutdownGrace: s.cfg.ShutdownGrace,
		Logger:        s.log.With("server", "tftp"),
		OnEvent:       s.tftpEvent,
		MACForIP:      s.macForIP,
	}
}

// raConfig is the router-advertisement responder on the interface; with
// DHCPv6 it advertises the M and O flags and the on-link prefixes.
func (s *Server) raConfig() ra.Config {
	managed := len(s.cfg.Subnets6) > 0
	return ra.Config{
		Interface:   s.cfg.Interface,
		NetNS:       s.cfg.NetNS,
		Managed:     managed,
		OtherConfig: managed,
		Prefixes:    s.onLinkPrefixes(s.cfg.Subnets6),
		// A router lifetime only with DHCPv6: an advertisement that
		// configures nothing names no router either.
		RouterLifetime: s.routerLifetime(),
		OnEvent:        s.raEvent,
		Logger:         s.log.With("server", "ra"),
	}
}

// Close releases what New opened (the lease file) for a server that never
// served; Serve releases it when it returns.
func (s *Server) Close() error {
	if s.dhcp != nil {
		s.dhcp.Close()
	}
	if s.dhcp6 != nil {
		s.dhcp6.Close()
	}
	s.closeStore()
	return nil
}

// SignedFileURL returns a URL for machine mac's per-profile file name that
// any requester may fetch until ttl has passed. It needs Config.URLKey.
func (s *Server) SignedFileURL(mac net.HardwareAddr, name string, ttl time.Duration) (string, error) {
	key := s.live.Load().URLKey
	if len(key) == 0 {
		return "", errors.New("pxe: no URLKey configured")
	}
	p := MachineFilePath(mac.String(), name)
	return s.base + p + "?" + SignPath(key, p, time.Now().Add(ttl)), nil
}

// Subscribe returns the boot events published from now on, until ctx is
// done.
func (s *Server) Subscribe(ctx context.Context) <-chan Event { return s.bus.Subscribe(ctx) }

// Handler is the HTTP side, to mount in another server if wanted: the
// boot routes (PathScript, PathAssets, ...), always the ones of the
// current config (Reload).
func (s *Server) Handler() http.Handler {
	return s.httpStats.counted(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.http.Load().ServeHTTP(w, r) }))
}

// Ready is closed once Serve listens on every socket.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// BaseURL is the HTTP root handed to clients, e.g. http://192.0.2.1:8080.
func (s *Server) BaseURL() string { return s.base }

// DHCP returns the DHCP server, for its leases and counters; nil when the
// server is IPv6-only.
func (s *Server) DHCP() *dhcp.Server { return s.dhcp }

// RA returns the router-advertisement responder, for its counters. It is
// served only when Config.RouterAdvertisement is on; otherwise its counters
// stay at zero.
func (s *Server) RA() *ra.Responder { return s.ra }

func (s *Server) macForIP(ip netip.Addr) (net.HardwareAddr, bool) {
	var l dhcp.Lease
	ok := false
	switch ip = ip.Unmap(); {
	case ip.Is4() && s.dhcp != nil:
		l, ok = s.dhcp.LeaseByIP(ip)
	case ip.Is6() && s.dhcp6 != nil:
		l, ok = s.dhcp6.LeaseByIP(ip)
	}
	if !ok || len(l.MAC) == 0 {
		return nil, false
	}
	return l.MAC, true
}

// interfaceAddr finds name's IPv4 address (want, if given, must be one of
// them) and its network.
func interfaceAddr(name string, want netip.Addr) (netip.Addr, netip.Prefix, error) {
	return interfaceAddrOf(name, want, "IPv4 address", netip.Addr.Is4)
}

// interfaceAddrOf finds name's first address that is (want, if given,
// must be one of them) and its network; what names the kind in errors.
func interfaceAddrOf(name string, want netip.Addr, what string, is func(netip.Addr) bool) (netip.Addr, netip.Prefix, error) {
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
		if !ok || !is(ip.Unmap()) {
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
	return netip.Addr{}, netip.Prefix{}, fmt.Errorf("interface %s has no %s", name, what)
}

// routerLifetime is what the advertisements say of this host as a router:
// Config.RouterLifetime when DHCPv6 is served, else none.
func (s *Server) routerLifetime() time.Duration {
	if len(s.cfg.Subnets6) == 0 {
		return 0
	}
	return s.cfg.RouterLifetime
}
