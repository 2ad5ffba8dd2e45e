package lab

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/pxekit/pxekit/internal/testenv"
)

// Lab subnet defaults: TEST-NET-1, never routed anywhere.
var (
	defaultPrefix = netip.MustParsePrefix("192.0.2.0/24")
	defaultServer = netip.MustParseAddr("192.0.2.1")
)

// DefaultPrefix is the lab subnet, 192.0.2.0/24 (TEST-NET-1).
func DefaultPrefix() netip.Prefix { return defaultPrefix }

// Network is a lab network: a fresh network namespace holding a bridge with
// the server address on it, and taps for VMs on that bridge. Everything
// lives in the namespace, so nothing touches the host's interfaces.
type Network struct {
	NS     *NetNS
	Bridge string       // bridge name inside NS ("br0")
	Server netip.Prefix // server address on the bridge (192.0.2.1/24)

	mu   sync.Mutex
	taps int
}

// NewNetwork creates the namespace (named prefix-<random>), the bridge br0
// and 192.0.2.1/24 on it.
func NewNetwork(prefix string) (*Network, error) {
	ns, err := NewNetNS(prefix)
	if err != nil {
		return nil, err
	}
	n := &Network{NS: ns, Bridge: "br0", Server: netip.PrefixFrom(defaultServer, defaultPrefix.Bits())}
	if err := ns.AddBridge(n.Bridge, n.Server); err != nil {
		ns.Close()
		return nil, err
	}
	return n, nil
}

// Setup is NewNetwork for tests: it needs root (skipping outside CI,
// failing in CI) and removes the namespace when the test ends.
func Setup(tb testing.TB) *Network {
	tb.Helper()
	testenv.RequireRoot(tb)
	n, err := NewNetwork("pxk")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
	})
	return n
}

// ServerAddr is the server's address on the bridge (192.0.2.1).
func (n *Network) ServerAddr() netip.Addr { return n.Server.Addr() }

// AddTap creates the next tap (tap0, tap1, …) on the bridge for a VM.
func (n *Network) AddTap() (string, error) {
	n.mu.Lock()
	name := fmt.Sprintf("tap%d", n.taps)
	n.taps++
	n.mu.Unlock()
	if err := n.NS.AddTap(name, n.Bridge); err != nil {
		return "", err
	}
	return name, nil
}

// Close removes the namespace with everything in it.
func (n *Network) Close() error { return n.NS.Close() }

// NewMAC returns a random locally administered unicast MAC (02:xx:…), so
// VMs never collide with real hardware addresses.
func NewMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac[1:])
	mac[0] = 0x02
	return mac
}
