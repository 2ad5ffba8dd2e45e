package dhcp6

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dhcp"
)

// Config describes a DHCPv6 server. Build one, check it with Validate (New
// does too) and run it with Server.Serve.
type Config struct {
	// Interfaces names the links to serve on: the server joins
	// All_DHCP_Relay_Agents_and_Servers (ff02::1:2) on each and answers
	// what arrives there. Empty means every link that has an address
	// inside one of Subnets. With Conn set they are still the links whose
	// addresses pick a client's subnet.
	Interfaces []string
	// NetNS is the path of a network namespace (/var/run/netns/NAME) in
	// which the server opens its socket and looks up its interfaces.
	NetNS string
	// Conn, when set, is served instead of a socket on port 547 (tests,
	// socket activation, a relay-only port). A *net.UDPConn gets
	// IPV6_RECVPKTINFO, so replies to clients on a link leave that link.
	// Serve closes it when it returns.
	Conn net.PacketConn
	// ListenAddr overrides [::]:547 when the server opens its own socket.
	ListenAddr netip.AddrPort

	// ServerDUID is the server's DUID (option 2), raw. Empty means a
	// DUID-LL (RFC 8415 §11.4) of the first served interface with a MAC,
	// which stays the same across restarts.
	ServerDUID []byte
	// Subnets the server hands out addresses on.
	Subnets []Subnet
	// Reservations pin a client (by DUID, or by MAC) to an address.
	Reservations []Reservation

	// Store persists leases: the same dhcp.Store the DHCPv4 server uses
	// (a bbolt file, an etcd cluster), so one store may hold both. Nil
	// means LeaseFile, or memory if that is empty too. The server does
	// not close a Store it was given. A dhcp.SharedStore (etcdstore)
	// makes every binding REPLY a claim and feeds the server's view from
	// the store's watch, as for the DHCPv4 server (see shared.go).
	Store dhcp.Store
	// LeaseFile is a bbolt database (dhcp.OpenBoltStore) the server opens
	// and closes when Store is nil.
	LeaseFile string

	// Boot chooses boot information (option 59 boot-file-url and its
	// parameters) for network-boot clients. Nil means none.
	Boot BootPolicy
	// RapidCommit answers a SOLICIT that carries the Rapid Commit option
	// with a REPLY that commits the lease at once (RFC 8415 §18.3.1): two
	// messages instead of four.
	RapidCommit bool
	// Preference is option 7 in every ADVERTISE. A client that gets 255
	// takes the offer at once instead of waiting for others (RFC 8415
	// §18.2.1); 0 leaves the option out.
	Preference uint8

	// Workers is the number of goroutines that decode and answer packets
	// (default 2 × GOMAXPROCS). QueueLen bounds the packets waiting for a
	// worker (default 1024); beyond it packets are dropped and counted.
	Workers  int
	QueueLen int
	// OfferHold is how long an advertised address stays set aside for the
	// client it was offered to (default 30s); DeclineHold how long a
	// declined address is quarantined (default 10m).
	OfferHold   time.Duration
	DeclineHold time.Duration
	// MaxCommitBatch bounds how many lease writes share one store commit
	// (default 512).
	MaxCommitBatch int

	// ClientRate and ClientBurst limit packets per second from one client
	// (DUID) (default 20/s, burst 40); RelayRate and RelayBurst from one
	// relay agent (default 50000/s, burst 10000). A negative rate
	// disables that limit.
	ClientRate, RelayRate   float64
	ClientBurst, RelayBurst int

	// OnEvent, when set, is called for every event. It runs on a worker
	// goroutine: it must return quickly.
	OnEvent func(Event)
	// Logger receives operational logs (default slog.Default()).
	Logger *slog.Logger
}

// Subnet is one IPv6 network the server gives addresses on, with the
// options its clients get.
type Subnet struct {
	// Prefix is the link's prefix, e.g. 2001:db8::/64. Clients on a link
	// with an address inside it, or behind a relay whose link-address is
	// inside it, are served from it.
	Prefix netip.Prefix
	// Pools are the dynamic ranges inside Prefix, each inside one /64.
	Pools []Range
	// DNS is option 23, DomainSearch option 24.
	DNS          []netip.Addr
	DomainSearch []string
	// LeaseTime is the valid lifetime of an address (default 1h);
	// PreferredLifetime its preferred lifetime (default LeaseTime). The
	// client renews (T1) at 1/2 and rebinds (T2) at 4/5 of the preferred
	// lifetime (RFC 8415 §21.4).
	LeaseTime         time.Duration
	PreferredLifetime time.Duration
}

// Range is an inclusive range of IPv6 addresses inside one /64.
type Range struct {
	Start, End netip.Addr
}

// Contains reports whether a is inside r.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && r.Start.Compare(a) <= 0 && a.Compare(r.End) <= 0
}

// Size is the number of addresses in r (saturating at 2⁶⁴-1 for a whole
// /64).
func (r Range) Size() uint64 {
	if !r.valid() {
		return 0
	}
	n := lo64(r.End) - lo64(r.Start)
	if n == ^uint64(0) {
		return n
	}
	return n + 1
}

// valid reports whether r is an IPv6 range, Start ≤ End, inside one /64.
func (r Range) valid() bool {
	return r.Start.Is6() && r.End.Is6() && !r.Start.Is4In6() && !r.End.Is4In6() &&
		!r.End.Less(r.Start) && hi64(r.Start) == hi64(r.End)
}

// at is the address off places after Start.
func (r Range) at(off uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi64(r.Start))
	binary.BigEndian.PutUint64(b[8:], lo64(r.Start)+off)
	return netip.AddrFrom16(b)
}

func hi64(a netip.Addr) uint64 { b := a.As16(); return binary.BigEndian.Uint64(b[:8]) }
func lo64(a netip.Addr) uint64 { b := a.As16(); return binary.BigEndian.Uint64(b[8:]) }

// Reservation is a static lease: a client, named by its DUID or by its
// MAC (from a DUID-LL or DUID-LLT, the relay's client link-layer address
// option, or an EUI-64 link-local source), gets IP and a host name.
type Reservation struct {
	DUID     []byte
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string
}

// Validate reports every problem in c with its field path.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if len(c.Subnets) == 0 {
		errs = append(errs, field.Required(field.NewPath("subnets"), "at least one subnet is required"))
	}
	if c.Store != nil && c.LeaseFile != "" {
		errs = append(errs, field.Forbidden(field.NewPath("leaseFile"), "set either store or leaseFile, not both"))
	}
	if n := len(c.ServerDUID); n != 0 && (n < 3 || n > 130) {
		errs = append(errs, field.Invalid(field.NewPath("serverDUID"), hex.EncodeToString(c.ServerDUID), "a DUID is a 2-byte type and 1 to 128 bytes (RFC 8415 §11.1)"))
	}
	if c.ListenAddr.IsValid() && !c.ListenAddr.Addr().Is6() {
		errs = append(errs, field.Invalid(field.NewPath("listenAddr"), c.ListenAddr.String(), "must be an IPv6 address and port"))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"workers", c.Workers}, {"queueLen", c.QueueLen}, {"maxCommitBatch", c.MaxCommitBatch}, {"clientBurst", c.ClientBurst}, {"relayBurst", c.RelayBurst}} {
		if n.v < 0 {
			errs = append(errs, field.Invalid(field.NewPath(n.name), n.v, "must not be negative"))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"offerHold", c.OfferHold}, {"declineHold", c.DeclineHold}} {
		if d.v < 0 {
			errs = append(errs, field.Invalid(field.NewPath(d.name), d.v.String(), "must not be negative"))
		}
	}
	errs = append(errs, validateSubnets(c.Subnets)...)
	errs = append(errs, validateReservations(c.Reservations, c.Subnets)...)
	return errs
}

func validateSubnets(subnets []Subnet) field.ErrorList {
	var errs field.ErrorList
	type span struct {
		r    Range
		path *field.Path
	}
	var spans []span
	for i, s := range subnets {
		p := field.NewPath("subnets").Index(i)
		if !s.Prefix.IsValid() || !s.Prefix.Addr().Is6() || s.Prefix.Addr().Is4In6() {
			errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix.String(), "must be an IPv6 prefix such as 2001:db8::/64"))
			continue
		}
		if s.Prefix.Bits() > 126 {
			errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix.String(), "must be /126 or larger to hold clients"))
		}
		if s.Prefix.Masked() != s.Prefix {
			errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix.String(), fmt.Sprintf("has host bits set; the network is %s", s.Prefix.Masked())))
		}
		if s.Prefix.Addr().IsLinkLocalUnicast() || s.Prefix.Addr().IsMulticast() {
			errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix.String(), "must be a global or unique local prefix, not link-local or multicast"))
		}
		for j, o := range subnets[:i] {
			if o.Prefix.IsValid() && o.Prefix.Overlaps(s.Prefix) {
				errs = append(errs, field.Duplicate(p.Child("prefix"), fmt.Sprintf("%s overlaps subnets[%d] %s", s.Prefix, j, o.Prefix)))
			}
		}
		pfx := s.Prefix.Masked()
		for j, r := range s.Pools {
			pp := p.Child("pools").Index(j)
			show := fmt.Sprintf("%s-%s", r.Start, r.End)
			switch {
			case !r.Start.Is6() || !r.End.Is6() || r.Start.Is4In6() || r.End.Is4In6():
				errs = append(errs, field.Invalid(pp, show, "start and end must be IPv6 addresses"))
				continue
			case r.End.Less(r.Start):
				errs = append(errs, field.Invalid(pp.Child("end"), r.End.String(), "must not be before start "+r.Start.String()))
				continue
			case !pfx.Contains(r.Start) || !pfx.Contains(r.End):
				errs = append(errs, field.Invalid(pp, show, "must lie inside "+pfx.String()))
				continue
			case hi64(r.Start) != hi64(r.End):
				errs = append(errs, field.Invalid(pp, show, "must lie inside one /64"))
				continue
			case r.Contains(pfx.Addr()):
				errs = append(errs, field.Invalid(pp, show, "must not include "+pfx.Addr().String()+", the subnet-router anycast address (RFC 4291 §2.6.1)"))
			}
			for _, o := range spans {
				if r.Start.Compare(o.r.End) <= 0 && o.r.Start.Compare(r.End) <= 0 {
					errs = append(errs, field.Duplicate(pp, fmt.Sprintf("%s overlaps %s", show, o.path)))
				}
			}
			spans = append(spans, span{r, pp})
		}
		for j, a := range s.DNS {
			if !a.Is6() || a.Is4In6() {
				errs = append(errs, field.Invalid(p.Child("dns").Index(j), a.String(), "must be an IPv6 address"))
			}
		}
		for j, d := range s.DomainSearch {
			if d == "" || len(d) > 253 {
				errs = append(errs, field.Invalid(p.Child("domainSearch").Index(j), d, "must be a domain name of 1 to 253 characters"))
			}
		}
		switch {
		case s.LeaseTime < 0:
			errs = append(errs, field.Invalid(p.Child("leaseTime"), s.LeaseTime.String(), "must not be negative"))
		case s.LeaseTime > 0 && s.LeaseTime < 10*time.Second:
			errs = append(errs, field.Invalid(p.Child("leaseTime"), s.LeaseTime.String(), "must be at least 10s"))
		}
		switch {
		case s.PreferredLifetime < 0:
			errs = append(errs, field.Invalid(p.Child("preferredLifetime"), s.PreferredLifetime.String(), "must not be negative"))
		case s.PreferredLifetime > validLifetime(s):
			errs = append(errs, field.Invalid(p.Child("preferredLifetime"), s.PreferredLifetime.String(),
				"must not be longer than the valid lifetime "+validLifetime(s).String()+" (RFC 8415 §21.6)"))
		}
	}
	return errs
}

func validateReservations(res []Reservation, subnets []Subnet) field.ErrorList {
	var errs field.ErrorList
	duids := map[string]int{}
	macs := map[string]int{}
	ips := map[netip.Addr]int{}
	for i, r := range res {
		p := field.NewPath("reservations").Index(i)
		switch {
		case len(r.DUID) == 0 && len(r.MAC) == 0:
			errs = append(errs, field.Required(p.Child("duid"), "a reservation names its client by DUID or by MAC"))
		case len(r.DUID) > 0 && len(r.MAC) > 0:
			errs = append(errs, field.Forbidden(p.Child("mac"), "name the client by DUID or by MAC, not both"))
		}
		if n := len(r.DUID); n > 0 {
			if n < 3 || n > 130 {
				errs = append(errs, field.Invalid(p.Child("duid"), hex.EncodeToString(r.DUID), "a DUID is a 2-byte type and 1 to 128 bytes (RFC 8415 §11.1)"))
			} else if j, dup := duids[string(r.DUID)]; dup {
				errs = append(errs, field.Duplicate(p.Child("duid"), fmt.Sprintf("%x (also reservations[%d])", r.DUID, j)))
			} else {
				duids[string(r.DUID)] = i
			}
		}
		if n := len(r.MAC); n > 0 {
			if n > 16 {
				errs = append(errs, field.Invalid(p.Child("mac"), r.MAC.String(), "must be a hardware address of 1 to 16 bytes"))
			} else if j, dup := macs[string(r.MAC)]; dup {
				errs = append(errs, field.Duplicate(p.Child("mac"), fmt.Sprintf("%s (also reservations[%d])", r.MAC, j)))
			} else {
				macs[string(r.MAC)] = i
			}
		}
		if !r.IP.Is6() || r.IP.Is4In6() {
			errs = append(errs, field.Invalid(p.Child("ip"), r.IP.String(), "must be an IPv6 address"))
			continue
		}
		if j, dup := ips[r.IP]; dup {
			errs = append(errs, field.Duplicate(p.Child("ip"), fmt.Sprintf("%s (also reservations[%d])", r.IP, j)))
		}
		ips[r.IP] = i
		in := false
		for _, s := range subnets {
			in = in || s.Prefix.IsValid() && s.Prefix.Masked().Contains(r.IP)
		}
		if !in {
			errs = append(errs, field.Invalid(p.Child("ip"), r.IP.String(), "is inside no subnet"))
		}
		if len(r.Hostname) > 255 {
			errs = append(errs, field.TooLong(p.Child("hostname"), r.Hostname, 255))
		}
	}
	return errs
}

// validLifetime is s's valid lifetime, or the default.
func validLifetime(s Subnet) time.Duration {
	if s.LeaseTime > 0 {
		return s.LeaseTime
	}
	return time.Hour
}

// preferredLifetime is s's preferred lifetime, or the default.
func preferredLifetime(s Subnet) time.Duration {
	if s.PreferredLifetime > 0 {
		return s.PreferredLifetime
	}
	return validLifetime(s)
}
