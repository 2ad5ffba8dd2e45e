package dhcp

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Config describes a DHCPv4 server. Build one, check it with Validate (New
// does too) and run it with Server.Serve.
type Config struct {
	// Interfaces names the links to serve on. Empty means every link that
	// has an IPv4 address inside one of Subnets. With Conn set no socket is
	// bound to them, but they still are the links whose addresses answer.
	Interfaces []string
	// NetNS is the path of a network namespace (e.g. /var/run/netns/lab)
	// in which the server opens its sockets and looks up its interfaces.
	// Empty means the caller's namespace.
	NetNS string
	// Conn, when set, is used instead of opening a socket on port 67: the
	// caller chooses where it listens (tests, socket activation, a relay
	// port). A *net.UDPConn gets IP_PKTINFO so replies leave the receiving
	// link. Serve closes it when it returns.
	Conn net.PacketConn
	// ListenAddr overrides 0.0.0.0:67 when the server opens its own socket.
	ListenAddr netip.AddrPort

	// ServerID is the server identifier (option 54) and the address relays
	// and renewing clients send to. When zero, the receiving interface's
	// address inside the client's subnet is used.
	ServerID netip.Addr
	// Subnets the server hands out addresses on.
	Subnets []Subnet
	// Reservations pin a MAC to an address (and a host name). A reserved
	// address is never handed to another client.
	Reservations []Reservation

	// Store persists leases. Nil means LeaseFile, or memory if that is
	// empty too. The server does not close a Store it was given.
	Store Store
	// LeaseFile is a bbolt database the server opens (and closes) when
	// Store is nil.
	LeaseFile string

	// Boot chooses boot information for PXE clients. Nil means no boot
	// information (a plain DHCP server).
	Boot BootPolicy

	// ProxyDHCP makes the server hand out no addresses at all: it answers
	// only PXE clients, with boot information, on port 67 and on
	// ProxyPort, beside another DHCP server that owns the addresses.
	ProxyDHCP bool
	// ProxyPort is the PXE boot-server port (default 4011); 0 keeps the
	// default, -1 disables the second socket.
	ProxyPort int

	// Workers is the number of goroutines that decode and answer packets
	// (default 2 × GOMAXPROCS). QueueLen bounds the packets waiting for a
	// worker (default 1024); beyond it packets are dropped and counted.
	Workers  int
	QueueLen int
	// OfferHold is how long an offered address stays reserved for the
	// client it was offered to (default 30s), so two DISCOVERs never get
	// the same address.
	OfferHold time.Duration
	// DeclineHold is how long a declined address is quarantined (default
	// 10m).
	DeclineHold time.Duration
	// MaxCommitBatch bounds how many lease writes share one store commit
	// (default 512).
	MaxCommitBatch int

	// ClientRate and ClientBurst limit packets per second from one MAC
	// (default 20/s, burst 40); RelayRate and RelayBurst limit packets per
	// second from one relay (giaddr) (default 50000/s, burst 10000).
	// A negative rate disables that limit.
	ClientRate, RelayRate   float64
	ClientBurst, RelayBurst int
	// RelayLeaseCap and PortLeaseCap bound the addresses (offered or
	// bound) held by the clients behind one relay (giaddr) and behind one
	// relay port (option 82 circuit-id and remote-id, within a relay), so
	// a flood of invented MACs through one port or relay cannot empty a
	// pool other ports share. A client already holding an address is
	// never refused by them; refusals count as DropPoolCap. RelayLeaseCap
	// 0 means none (one relay often serves a whole subnet); PortLeaseCap
	// 0 means 64 and a negative value none. Direct (unrelayed) clients
	// are not capped.
	RelayLeaseCap, PortLeaseCap int

	// Sharing, when set, splits new clients between the servers that
	// share Store (a SharedStore): this server answers only the DISCOVERs
	// and INIT-REBOOT REQUESTs of the clients Sharing gives it, and takes
	// new addresses from its part of each pool first. Nil answers every
	// client (active-active on a shared store: the claims still keep an
	// address from going to two clients).
	Sharing Sharing

	// OnEvent, when set, is called for every boot event. It runs on a
	// worker goroutine: it must return quickly.
	OnEvent func(Event)
	// Logger receives operational logs (default slog.Default()).
	Logger *slog.Logger

	// Clock is where the server reads time (nil: the host's clocks).
	// Leases run on its monotonic time, so wall-clock steps do not move
	// them; see Clock.
	Clock Clock
}

// Subnet is one IPv4 network the server gives addresses on, with the
// options its clients get.
type Subnet struct {
	// Prefix is the network, e.g. 192.0.2.0/24 (option 1 derives from it).
	Prefix netip.Prefix
	// Pools are the dynamic ranges inside Prefix.
	Pools []Range
	// Routers (option 3), DNS (option 6), DomainName (option 15).
	Routers    []netip.Addr
	DNS        []netip.Addr
	DomainName string
	// LeaseTime is option 51 (default 1h). Renewal (T1) and rebinding
	// (T2) times are 1/2 and 7/8 of it.
	LeaseTime time.Duration
	// MTU is option 26 (interface MTU, e.g. 9000 for jumbo frames); 0
	// omits it.
	MTU uint16
	// ServerID overrides Config.ServerID for this subnet.
	ServerID netip.Addr
}

// Range is an inclusive range of IPv4 addresses.
type Range struct {
	Start, End netip.Addr
}

// Contains reports whether a is inside r.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is4() && r.Start.Compare(a) <= 0 && a.Compare(r.End) <= 0
}

// Size is the number of addresses in r.
func (r Range) Size() int {
	if !r.Start.Is4() || !r.End.Is4() || r.End.Less(r.Start) {
		return 0
	}
	return int(ip4u(r.End)-ip4u(r.Start)) + 1
}

// Reservation is a static lease: MAC → IP (+ host name, option 12).
type Reservation struct {
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string
}

func ip4u(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u2ip4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Validate reports every problem in c with its field path.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.ServerID.IsValid() && !c.ServerID.Is4() {
		errs = append(errs, field.Invalid(field.NewPath("serverID"), c.ServerID.String(), "must be an IPv4 address"))
	}
	if c.ProxyDHCP && c.Boot == nil {
		errs = append(errs, field.Required(field.NewPath("boot"), "proxyDHCP only sends boot information: a boot policy is required"))
	}
	if !c.ProxyDHCP && len(c.Subnets) == 0 {
		errs = append(errs, field.Required(field.NewPath("subnets"), "at least one subnet is required unless proxyDHCP is set"))
	}
	if c.Store != nil && c.LeaseFile != "" {
		errs = append(errs, field.Forbidden(field.NewPath("leaseFile"), "set either store or leaseFile, not both"))
	}
	if c.ProxyPort < -1 || c.ProxyPort > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("proxyPort"), c.ProxyPort, "must be -1 (off), 0 (4011) or a UDP port"))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"workers", c.Workers}, {"queueLen", c.QueueLen}, {"maxCommitBatch", c.MaxCommitBatch}, {"clientBurst", c.ClientBurst}, {"relayBurst", c.RelayBurst}} {
		if n.v < 0 {
			errs = append(errs, field.Invalid(field.NewPath(n.name), n.v, "must not be negative"))
		}
	}
	if c.OfferHold < 0 {
		errs = append(errs, field.Invalid(field.NewPath("offerHold"), c.OfferHold.String(), "must not be negative"))
	}
	if c.DeclineHold < 0 {
		errs = append(errs, field.Invalid(field.NewPath("declineHold"), c.DeclineHold.String(), "must not be negative"))
	}

	type span struct {
		r    Range
		path *field.Path
	}
	var spans []span
	for i, s := range c.Subnets {
		p := field.NewPath("subnets").Index(i)
		if !s.Prefix.IsValid() || !s.Prefix.Addr().Is4() {
			errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix.String(), "must be an IPv4 prefix such as 192.0.2.0/24"))
			continue
		}
		if s.Prefix.Bits() > 30 {
			errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix.String(), "must be /30 or larger to hold clients"))
		}
		if s.Prefix.Masked() != s.Prefix {
			errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix.String(), fmt.Sprintf("has host bits set; the network is %s", s.Prefix.Masked())))
		}
		for j, o := range c.Subnets[:i] {
			if o.Prefix.IsValid() && o.Prefix.Overlaps(s.Prefix) {
				errs = append(errs, field.Duplicate(p.Child("prefix"), fmt.Sprintf("%s overlaps subnets[%d] %s", s.Prefix, j, o.Prefix)))
			}
		}
		pfx := s.Prefix.Masked()
		network := pfx.Addr()
		bcast := u2ip4(ip4u(network) | (1<<(32-pfx.Bits()) - 1))
		for j, r := range s.Pools {
			pp := p.Child("pools").Index(j)
			if !r.Start.Is4() || !r.End.Is4() {
				errs = append(errs, field.Invalid(pp, fmt.Sprintf("%s-%s", r.Start, r.End), "start and end must be IPv4 addresses"))
				continue
			}
			if r.End.Less(r.Start) {
				errs = append(errs, field.Invalid(pp.Child("end"), r.End.String(), "must not be before start "+r.Start.String()))
				continue
			}
			if !pfx.Contains(r.Start) || !pfx.Contains(r.End) {
				errs = append(errs, field.Invalid(pp, fmt.Sprintf("%s-%s", r.Start, r.End), "must lie inside "+pfx.String()))
				continue
			}
			if r.Contains(network) || r.Contains(bcast) {
				errs = append(errs, field.Invalid(pp, fmt.Sprintf("%s-%s", r.Start, r.End), "must not include the network or broadcast address"))
			}
			for _, o := range spans {
				if r.Start.Compare(o.r.End) <= 0 && o.r.Start.Compare(r.End) <= 0 {
					errs = append(errs, field.Duplicate(pp, fmt.Sprintf("%s-%s overlaps %s", r.Start, r.End, o.path)))
				}
			}
			spans = append(spans, span{r, pp})
		}
		for j, a := range s.Routers {
			if !a.Is4() {
				errs = append(errs, field.Invalid(p.Child("routers").Index(j), a.String(), "must be an IPv4 address"))
			}
		}
		for j, a := range s.DNS {
			if !a.Is4() {
				errs = append(errs, field.Invalid(p.Child("dns").Index(j), a.String(), "must be an IPv4 address"))
			}
		}
		if s.LeaseTime < 0 {
			errs = append(errs, field.Invalid(p.Child("leaseTime"), s.LeaseTime.String(), "must not be negative"))
		}
		if s.LeaseTime > 0 && s.LeaseTime < 10*time.Second {
			errs = append(errs, field.Invalid(p.Child("leaseTime"), s.LeaseTime.String(), "must be at least 10s"))
		}
		if s.MTU != 0 && s.MTU < 68 {
			errs = append(errs, field.Invalid(p.Child("mtu"), s.MTU, "must be at least 68 (RFC 2132 §5.1)"))
		}
		if s.ServerID.IsValid() && !s.ServerID.Is4() {
			errs = append(errs, field.Invalid(p.Child("serverID"), s.ServerID.String(), "must be an IPv4 address"))
		}
		if len(s.DomainName) > 255 {
			errs = append(errs, field.TooLong(p.Child("domainName"), s.DomainName, 255))
		}
	}

	macs := map[string]int{}
	ips := map[netip.Addr]int{}
	for i, r := range c.Reservations {
		p := field.NewPath("reservations").Index(i)
		if len(r.MAC) == 0 || len(r.MAC) > 16 {
			errs = append(errs, field.Invalid(p.Child("mac"), r.MAC.String(), "must be a hardware address of 1 to 16 bytes"))
		} else if j, dup := macs[string(r.MAC)]; dup {
			errs = append(errs, field.Duplicate(p.Child("mac"), fmt.Sprintf("%s (also reservations[%d])", r.MAC, j)))
		} else {
			macs[string(r.MAC)] = i
		}
		if !r.IP.Is4() {
			errs = append(errs, field.Invalid(p.Child("ip"), r.IP.String(), "must be an IPv4 address"))
			continue
		}
		if j, dup := ips[r.IP]; dup {
			errs = append(errs, field.Duplicate(p.Child("ip"), fmt.Sprintf("%s (also reservations[%d])", r.IP, j)))
		}
		ips[r.IP] = i
		if !c.ProxyDHCP {
			in := false
			for _, s := range c.Subnets {
				if s.Prefix.IsValid() && s.Prefix.Masked().Contains(r.IP) {
					in = true
				}
			}
			if !in {
				errs = append(errs, field.Invalid(p.Child("ip"), r.IP.String(), "is inside no subnet"))
			}
		}
		if len(r.Hostname) > 255 {
			errs = append(errs, field.TooLong(p.Child("hostname"), r.Hostname, 255))
		}
	}
	return errs
}
