package pxetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/pxekit/pxekit/pxetest/impair"
)

// Lab subnet defaults: TEST-NET-1, never routed anywhere.
var (
	defaultPrefix = netip.MustParsePrefix("192.0.2.0/24")
	defaultServer = netip.PrefixFrom(netip.MustParseAddr("192.0.2.1"), defaultPrefix.Bits())
)

// DefaultPrefix is the lab subnet, 192.0.2.0/24 (TEST-NET-1).
func DefaultPrefix() netip.Prefix { return defaultPrefix }

// DefaultServer6 is the boot server's IPv6 address on an IPv6 lab network,
// 2001:db8::1/64 (the documentation prefix, RFC 3849).
func DefaultServer6() netip.Prefix { return netip.MustParsePrefix("2001:db8::1/64") }

// NetworkConfig describes a lab network. The zero value is the usual lab:
// namespace pxk-<random>, bridge br0 with 192.0.2.1/24 on it.
type NetworkConfig struct {
	// Name prefixes the namespace's name (default "pxk").
	Name string
	// Bridge is the bridge's name (default "br0").
	Bridge string
	// Server is the boot server's address on the bridge (default
	// 192.0.2.1/24).
	Server netip.Prefix
	// Switch leaves the bridge without an address: it only switches
	// between its taps and the hosts AddHost puts on it (a proxyDHCP lab
	// where the DHCP server and the boot server are separate hosts).
	Switch bool
	// Server6, when set, is the boot server's IPv6 address on the bridge
	// too (DefaultServer6 for the usual IPv6 lab); NoIPv4 leaves the
	// bridge without Server, for an IPv6-only lab.
	Server6 netip.Prefix
	NoIPv4  bool
	// Impair, when set, puts an impairment relay between the server and
	// its clients: the server's address stays on Bridge, while taps
	// (AddTap) and hosts (AddHost) attach to a second bridge,
	// ClientBridge, whose only way to Bridge is through the relay.
	Impair *impair.Config
}

// Network is a lab network: a fresh network namespace holding a bridge with
// the server address on it, taps for VMs and hosts (namespaces of their own
// on a veth) on that bridge. Everything lives in namespaces, so nothing
// touches the host's interfaces.
type Network struct {
	NS     *NetNS
	Bridge string       // bridge name inside NS ("br0")
	Server netip.Prefix // server address on the bridge (192.0.2.1/24); invalid for a Switch or NoIPv4
	// Server6 is the server's IPv6 address on the bridge, when
	// NetworkConfig gave one.
	Server6 netip.Prefix

	mu    sync.Mutex
	taps  int
	hosts []*NetNS
	logf  func(format string, args ...any) // the test's log, for TempNetwork's

	relay     *impair.Relay // between Bridge and ClientBridge, when impaired
	stopRelay func()
}

// NewNetwork creates the namespace, its bridge and the server address on
// it, as cfg says. Close removes it all.
func NewNetwork(cfg NetworkConfig) (*Network, error) {
	if cfg.Name == "" {
		cfg.Name = "pxk"
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "br0"
	}
	if !cfg.Server.IsValid() && !cfg.Switch {
		cfg.Server = defaultServer
	}
	if cfg.Switch {
		cfg.Server, cfg.Server6 = netip.Prefix{}, netip.Prefix{}
	}
	if cfg.NoIPv4 {
		cfg.Server = netip.Prefix{}
	}
	ns, err := NewNetNS(cfg.Name)
	if err != nil {
		return nil, err
	}
	n := &Network{NS: ns, Bridge: cfg.Bridge, Server: cfg.Server, Server6: cfg.Server6}
	var addrs []netip.Prefix
	for _, a := range []netip.Prefix{cfg.Server, cfg.Server6} {
		if a.IsValid() {
			addrs = append(addrs, a)
		}
	}
	if err := ns.AddBridge(n.Bridge, addrs...); err != nil {
		ns.Close()
		return nil, err
	}
	if cfg.Impair != nil {
		if err := n.setupImpair(*cfg.Impair); err != nil {
			ns.Close()
			return nil, err
		}
	}
	return n, nil
}

// TempNetwork is NewNetwork for a test: it needs root (skipping outside CI,
// failing in CI) and removes the namespaces when the test ends.
func TempNetwork(tb testing.TB, cfg NetworkConfig) *Network {
	tb.Helper()
	RequireRoot(tb)
	n, err := NewNetwork(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	n.logf = tb.Logf
	closeAtEnd(tb, n.NS.Name(), n.Close)
	return n
}

// ServerAddr is the server's address on the bridge (192.0.2.1).
func (n *Network) ServerAddr() netip.Addr { return n.Server.Addr() }

// ServerAddr6 is the server's IPv6 address on the bridge (2001:db8::1),
// invalid when it has none.
func (n *Network) ServerAddr6() netip.Addr { return n.Server6.Addr() }

// AddTap creates the next tap (tap0, tap1, …) on the bridge for a VM (on
// ClientBridge in an impaired lab).
func (n *Network) AddTap() (string, error) {
	n.mu.Lock()
	name := fmt.Sprintf("tap%d", n.taps)
	n.taps++
	n.mu.Unlock()
	if err := n.NS.AddTap(name, n.clientBridge()); err != nil {
		return "", err
	}
	return name, nil
}

// Host is a machine on the lab network: a namespace of its own whose link
// is a veth peer of a port on the bridge.
type Host struct {
	NS   *NetNS
	Link string       // the host's end of the veth, "eth0"
	Addr netip.Prefix // its address, if it was given one
}

// AddHost creates a host named prefix-<random> on the bridge (on
// ClientBridge in an impaired lab), its link
// eth0 carrying addr (none when addr is the zero Prefix). Network.Close
// removes it.
func (n *Network) AddHost(prefix string, addr netip.Prefix) (*Host, error) {
	ns, err := NewNetNS(prefix)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	port := fmt.Sprintf("port%d", len(n.hosts))
	n.hosts = append(n.hosts, ns)
	n.mu.Unlock()
	if n.logf != nil {
		n.logf("pxetest: netns %s (host on %s, %s)", ns.Name(), port, n.clientBridge())
	}
	h := &Host{NS: ns, Link: "eth0", Addr: addr}
	if err := n.NS.AddVeth(Veth{Name: port, Bridge: n.clientBridge(), Peer: h.Link, PeerNS: ns, PeerAddr: addr}); err != nil {
		return nil, err
	}
	return h, nil
}

// Close stops the impairment relay, if any, and removes the hosts and the
// namespace with everything in it.
func (n *Network) Close() error {
	if n.stopRelay != nil {
		n.stopRelay()
		n.stopRelay = nil
	}
	n.mu.Lock()
	hosts := n.hosts
	n.hosts = nil
	n.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(append(errs, n.NS.Close())...)
}

// NewMAC returns a random locally administered unicast MAC (02:xx:…), so
// VMs never collide with real hardware addresses.
func NewMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac[1:])
	mac[0] = 0x02
	return mac
}
