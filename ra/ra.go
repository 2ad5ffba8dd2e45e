// Package ra answers IPv6 Router Solicitations on a boot network with a
// Router Advertisement that tells hosts how the link is configured — by
// default that there is nothing to configure, so network-boot firmware
// stops waiting for IPv6; with a DHCPv6 server on the link (Config.Managed)
// that addresses come from DHCPv6.
//
// iPXE configures IPv6 beside DHCPv4 on every boot (ifconf/autoboot): it
// solicits a router and, on a network without one, waits until its retry
// timer gives up (about 13 s under QEMU TCG) before it moves on. An
// advertisement with neither the M nor the O flag completes that at once
// ("no DHCPv6 required"); one with M set makes it ask DHCPv6 for an
// address (stateful DHCPv6, which iPXE, OVMF and ISC dhclient speak).
//
// What is sent: ICMPv6 type 134 from the interface's link-local address with
// hop limit 255, cur hop limit 0 (hosts keep theirs), the M and O flags of
// Config, router lifetime 0 (or Config.RouterLifetime), reachable time and
// retrans timer 0, the interface's MAC as source link-layer address, and a
// Prefix Information option for each of Config.Prefixes with the on-link
// flag set and the autonomous flag clear: hosts reach those addresses
// directly, without a router, but form no address of their own there
// (SLAAC) — theirs comes from DHCPv6.
//
// Safety: router lifetime 0 (the default) means no host routes through this
// responder. But M=O=0 tells hosts that the link has no DHCPv6, so enable
// it only on a boot network that has no IPv6 router of its own (or one
// whose DHCPv6 this server is).
//
// Each valid solicitation (RFC 4861 §6.1.1: hop limit 255, code 0, at least
// 8 bytes, well-formed options, no source link-layer option from ::) is
// answered at once, unicast to its source (ff02::1 when the source is ::),
// within a token-bucket rate limit so a flood of solicitations never becomes
// a flood of advertisements. One unsolicited advertisement goes to ff02::1
// at start and then every Config.Interval. Everything dropped is counted by
// reason in Stats, and each valid solicitation is reported through
// Config.OnEvent as advertised or dropped.
package ra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/internal/netnsrun"
)

// Defaults for Config's zero values.
const (
	// DefaultInterval is the unsolicited advertisement period: RFC 4861's
	// MaxRtrAdvInterval is 600 s, but a lab host that missed a reply
	// should not wait that long.
	DefaultInterval = 30 * time.Second
	// PrefixLifetime is the valid and preferred lifetime of each
	// advertised prefix: long beside the advertisement interval, so a
	// host that misses some keeps the prefix on-link.
	PrefixLifetime = 24 * time.Hour
	// DefaultReplyRate and DefaultReplyBurst bound answers to
	// solicitations. A boot storm is hundreds of iPXEs soliciting within
	// seconds, and each one left unanswered waits ~13 s, so the bucket
	// holds a whole rack; a reply is unicast and no larger than the
	// request, so even the full rate (200 × 64 bytes a second) amplifies
	// nothing.
	DefaultReplyRate  = 200.0
	DefaultReplyBurst = 500
	// MaxRouterLifetime is RFC 4861's upper bound on a router lifetime.
	MaxRouterLifetime = 9000 * time.Second
)

var (
	allNodes   = netip.MustParseAddr("ff02::1")
	allRouters = netip.MustParseAddr("ff02::2")
)

// Config describes a responder.
type Config struct {
	// Interface is the link to advertise on (required).
	Interface string
	// NetNS, when set, is the path of a network namespace
	// (/var/run/netns/NAME) in which the socket is opened and Interface is
	// looked up. The calling process stays where it is.
	NetNS string
	// Conn, when set, is the ICMPv6 socket to serve on
	// (net.ListenPacket("ip6:ipv6-icmp", "::"), opened in the namespace of
	// Interface) instead of one Serve opens; Serve sets its filter and
	// options, and closes it when it returns.
	Conn net.PacketConn
	// Interval is the period of unsolicited advertisements (default
	// DefaultInterval).
	Interval time.Duration
	// ReplyRate is how many solicitations per second are answered on
	// average, ReplyBurst how many at once (defaults DefaultReplyRate,
	// DefaultReplyBurst). The rest are dropped and counted (DropRate).
	ReplyRate  float64
	ReplyBurst int
	// Managed and OtherConfig are the advertisement's M and O flags: set
	// M when a DHCPv6 server hands out addresses on the link (hosts then
	// ask it for one), O when it serves other configuration only.
	Managed, OtherConfig bool
	// Prefixes are advertised as on-link (L=1) but not for
	// autoconfiguration (A=0): the link's prefixes when DHCPv6 assigns the
	// addresses in them. Each is valid for PrefixLifetime.
	Prefixes []netip.Prefix
	// RouterLifetime, when set, advertises this host as a default router
	// for that long (whole seconds, at most MaxRouterLifetime). The zero
	// value, lifetime 0, says it is no router, so no host routes through
	// it. Set it only on a boot network with no IPv6 router, where this
	// host is the only one, for firmware that waits for a default router
	// before it uses its address: edk2's PXE over IPv6 polls its route
	// table for one for 10 s before it downloads the boot file.
	RouterLifetime time.Duration
	// OnEvent, when set, is called for every valid solicitation, answered
	// (EventAdvertised) or not (EventDropped). It runs on the read loop: it
	// must not block.
	OnEvent func(Event)
	// Logger receives logs (default slog.Default()).
	Logger *slog.Logger
}

// EventKind says what became of a valid Router Solicitation.
type EventKind string

// Event kinds.
const (
	EventAdvertised EventKind = "advertised" // an advertisement went to Dest
	EventDropped    EventKind = "dropped"    // no answer; Reason says why
)

// Event reports one valid Router Solicitation and what became of it.
type Event struct {
	Time time.Time
	Kind EventKind
	// MAC is the solicitation's source link-layer address option: the
	// solicitor's MAC, nil when it sent none (rdisc6 does not; iPXE does).
	MAC net.HardwareAddr
	// Source is the solicitor's IPv6 address (:: before it has one).
	Source netip.Addr
	// Dest is where the advertisement went, or would have gone: Source,
	// or ff02::1 for a solicitation from ::.
	Dest netip.Addr
	// Reason says why an EventDropped solicitation got no answer.
	Reason DropReason
}

// Stats are a responder's counters.
type Stats struct {
	// Solicitations counts valid Router Solicitations received on the
	// interface; Answered how many got an advertisement.
	Solicitations, Answered uint64
	// Advertisements counts every advertisement sent, solicited or not.
	Advertisements uint64
	// Dropped counts messages not answered (and unsolicited
	// advertisements not sent), by reason.
	Dropped map[DropReason]uint64
}

// Responder is a Router Advertisement responder. Create it with New, run it
// with Serve.
type Responder struct {
	cfg     Config
	log     *slog.Logger
	ready   chan struct{}
	started atomic.Bool

	mu    sync.Mutex
	stats Stats
	rate  bucket
	// msg is what is advertised (flags and prefixes), swapped by
	// Reconfigure.
	msg advert
}

// advert is what an advertisement says besides the MAC.
type advert struct {
	managed, other bool
	prefixes       []netip.Prefix
	lifetime       uint16 // router lifetime, seconds
}

// Validate reports every problem in c with its field path.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.Interface == "" {
		errs = append(errs, field.Required(field.NewPath("interface"), "the link to advertise on"))
	}
	if c.Interval < 0 {
		errs = append(errs, field.Invalid(field.NewPath("interval"), c.Interval.String(), "must not be negative"))
	}
	if c.ReplyRate < 0 {
		errs = append(errs, field.Invalid(field.NewPath("replyRate"), c.ReplyRate, "must not be negative"))
	}
	if c.ReplyBurst < 0 {
		errs = append(errs, field.Invalid(field.NewPath("replyBurst"), c.ReplyBurst, "must not be negative"))
	}
	errs = append(errs, ValidateRouterLifetime(field.NewPath("routerLifetime"), c.RouterLifetime)...)
	return append(errs, validatePrefixes(c.Prefixes)...)
}

// ValidateRouterLifetime checks a router lifetime as Config.Validate does,
// for callers that configure one under a path of their own.
func ValidateRouterLifetime(path *field.Path, d time.Duration) field.ErrorList {
	if d < 0 || d > MaxRouterLifetime || d%time.Second != 0 {
		return field.ErrorList{field.Invalid(path, d.String(), "must be whole seconds from 0 to 9000s")}
	}
	return nil
}

func validatePrefixes(ps []netip.Prefix) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ps {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() {
			errs = append(errs, field.Invalid(field.NewPath("prefixes").Index(i), p.String(), "must be a global or unique local IPv6 prefix"))
		} else if p.Masked() != p {
			errs = append(errs, field.Invalid(field.NewPath("prefixes").Index(i), p.String(), "has host bits set; the prefix is "+p.Masked().String()))
		}
	}
	return errs
}

// Reconfigure changes what is advertised (the M and O flags and the
// on-link prefixes) while the responder serves; the next advertisement,
// solicited or not, carries it. On an error nothing changes.
func (r *Responder) Reconfigure(managed, other bool, prefixes []netip.Prefix) error {
	if errs := validatePrefixes(prefixes); len(errs) > 0 {
		return fmt.Errorf("ra: invalid prefixes: %w", errs.ToAggregate())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msg = advert{managed: managed, other: other, prefixes: append([]netip.Prefix(nil), prefixes...), lifetime: r.msg.lifetime}
	return nil
}

// New checks cfg and returns a responder ready to Serve. It opens no
// socket: Serve does.
func New(cfg Config) (*Responder, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("ra: invalid config: %w", errs.ToAggregate())
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.ReplyRate == 0 {
		cfg.ReplyRate = DefaultReplyRate
	}
	if cfg.ReplyBurst == 0 {
		cfg.ReplyBurst = DefaultReplyBurst
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Responder{
		cfg:   cfg,
		log:   cfg.Logger,
		ready: make(chan struct{}),
		stats: Stats{Dropped: map[DropReason]uint64{}},
		rate:  bucket{rate: cfg.ReplyRate, burst: float64(cfg.ReplyBurst), tokens: float64(cfg.ReplyBurst)},
		msg: advert{managed: cfg.Managed, other: cfg.OtherConfig, prefixes: append([]netip.Prefix(nil), cfg.Prefixes...),
			lifetime: uint16(cfg.RouterLifetime / time.Second)},
	}, nil
}

// Ready is closed once the socket listens.
func (r *Responder) Ready() <-chan struct{} { return r.ready }

// Stats returns a copy of the counters.
func (r *Responder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Dropped = make(map[DropReason]uint64, len(r.stats.Dropped))
	for k, v := range r.stats.Dropped {
		s.Dropped[k] = v
	}
	return s
}

func (r *Responder) drop(why DropReason) {
	r.mu.Lock()
	r.stats.Dropped[why]++
	r.mu.Unlock()
}

// conn is the open socket and what sending needs.
type conn struct {
	p     *ipv6.PacketConn
	nl    *netlink.Handle // opened in the namespace: finds the link-local address
	index int
}

// Serve answers solicitations until ctx is cancelled, then closes its
// socket (Config.Conn too, also when it fails to start) and returns nil.
// It can run once.
func (r *Responder) Serve(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("ra: Serve called twice")
	}
	c, err := r.open()
	if err != nil {
		if r.cfg.Conn != nil {
			r.cfg.Conn.Close()
		}
		return fmt.Errorf("ra: %w", err)
	}
	defer c.nl.Close()
	close(r.ready)
	r.log.Info("router advertisements on", "interface", r.cfg.Interface, "interval", r.cfg.Interval)

	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		for {
			if why := r.send(c, allNodes); why != "" {
				r.drop(why)
			}
			select {
			case <-lctx.Done():
				c.p.Close() // unblocks the read loop
				return
			case <-t.C:
			}
		}
	}()
	err = r.readLoop(c)
	cancel()
	<-done
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("ra: %w", err)
}

func (r *Responder) readLoop(c *conn) error {
	buf := make([]byte, 1500)
	for {
		n, cm, src, err := c.p.ReadFrom(buf)
		if err != nil {
			return err
		}
		if cm == nil {
			r.drop(DropNoControl)
			continue
		}
		if cm.IfIndex != c.index {
			r.drop(DropOtherInterface)
			continue
		}
		var from netip.Addr
		if ia, ok := src.(*net.IPAddr); ok {
			from, _ = netip.AddrFromSlice(ia.IP)
		}
		sol, why := ParseSolicitation(buf[:n], from, cm.HopLimit)
		if why != "" {
			r.drop(why)
			continue
		}
		r.answer(c, sol, time.Now())
	}
}

// answer replies to one valid solicitation, within the rate limit.
func (r *Responder) answer(c *conn, sol Solicitation, now time.Time) {
	dst := sol.Source
	if !dst.IsValid() || dst.IsUnspecified() {
		dst = allNodes
	}
	r.mu.Lock()
	r.stats.Solicitations++
	ok := r.rate.take(now)
	r.mu.Unlock()
	ev := Event{Time: now, Kind: EventAdvertised, MAC: sol.LinkAddr, Source: sol.Source, Dest: dst}
	why := DropRate
	if ok {
		why = r.send(c, dst)
	}
	if why != "" {
		r.drop(why)
		ev.Kind, ev.Reason = EventDropped, why
	} else {
		r.mu.Lock()
		r.stats.Answered++
		r.mu.Unlock()
	}
	if r.cfg.OnEvent != nil {
		r.cfg.OnEvent(ev)
	}
}

// send sends one advertisement to dst. The source address and MAC are read
// each time: a bridge gets its link-local address only once a port has
// carrier and duplicate address detection is over, which can be after
// Serve starts.
func (r *Responder) send(c *conn, dst netip.Addr) DropReason {
	src, mac, err := linkLocal(c.nl, c.index)
	if err != nil {
		r.log.Debug("no link-local address", "interface", r.cfg.Interface, "err", err)
		return DropNoLinkLocal
	}
	cm := &ipv6.ControlMessage{HopLimit: 255, Src: src.AsSlice(), IfIndex: c.index}
	// The zone is the index: a name would be looked up in the caller's
	// namespace, not the socket's.
	to := &net.IPAddr{IP: dst.AsSlice(), Zone: strconv.Itoa(c.index)}
	r.mu.Lock()
	msg := r.msg
	r.mu.Unlock()
	if _, err := c.p.WriteTo(msg.encode(mac), cm, to); err != nil {
		r.log.Warn("sending router advertisement", "to", dst, "err", err)
		return DropSendError
	}
	r.mu.Lock()
	r.stats.Advertisements++
	r.mu.Unlock()
	return ""
}

// linkLocal is the link's MAC and first link-local address that is not
// tentative (still in duplicate address detection) nor dadfailed.
func linkLocal(h *netlink.Handle, index int) (netip.Addr, net.HardwareAddr, error) {
	l, err := h.LinkByIndex(index)
	if err != nil {
		return netip.Addr{}, nil, err
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, nil, err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && ip.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
			return ip, l.Attrs().HardwareAddr, nil
		}
	}
	return netip.Addr{}, nil, errors.New("no usable link-local address")
}

// open opens the ICMPv6 socket (and a netlink handle) in the namespace.
func (r *Responder) open() (*conn, error) {
	var c conn
	err := netnsrun.Run(r.cfg.NetNS, func() error {
		ifi, err := net.InterfaceByName(r.cfg.Interface)
		if err != nil {
			return fmt.Errorf("interface %s: %w", r.cfg.Interface, err)
		}
		c.index = ifi.Index
		if c.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		pc := r.cfg.Conn
		if pc == nil {
			if pc, err = net.ListenPacket("ip6:ipv6-icmp", "::"); err != nil {
				c.nl.Close()
				return err
			}
		}
		p := ipv6.NewPacketConn(pc)
		// Only solicitations reach the socket: the kernel filters the rest.
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeRouterSolicitation)
		steps := []func() error{
			func() error { return p.SetICMPFilter(&f) },
			func() error { return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagInterface, true) },
			// A host does not join all-routers; solicitations go there.
			func() error { return p.JoinGroup(ifi, &net.IPAddr{IP: allRouters.AsSlice()}) },
			func() error { return p.SetMulticastHopLimit(255) },
			func() error { return p.SetHopLimit(255) },
			func() error { return p.SetMulticastLoopback(false) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				p.Close()
				c.nl.Close()
				return fmt.Errorf("icmpv6 socket on %s: %w", r.cfg.Interface, err)
			}
		}
		c.p = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// take spends a token if one is left at now.
func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
