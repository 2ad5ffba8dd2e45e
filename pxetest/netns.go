package pxetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetNS is a named network namespace the lab created (ip netns list shows
// it, ip -n NAME works on it). Close deletes it.
type NetNS struct {
	name string
	// mu guards handle and deleted: a goroutine the test left behind (a
	// client's late dial) may still enter the namespace while Close runs.
	mu      sync.RWMutex
	handle  netns.NsHandle
	deleted bool
}

// netnsDir is where iproute2 and netns.NewNamed bind-mount named
// namespaces.
const netnsDir = "/var/run/netns"

// NetNSPrefixEnv names an environment variable whose value, when set,
// starts the name of every namespace NewNetNS creates: a run whose
// namespaces must be told apart from everyone else's (CheckCleanup's child)
// sets it.
const NetNSPrefixEnv = "PXETEST_NETNS_PREFIX"

// NewNetNS creates a network namespace named prefix-<random hex> (unique, so
// parallel runs do not collide) with its loopback up. The calling goroutine's
// thread is restored to its namespace before NewNetNS returns.
func NewNetNS(prefix string) (*NetNS, error) {
	if prefix == "" {
		prefix = "pxk"
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	name := os.Getenv(NetNSPrefixEnv) + prefix + "-" + hex.EncodeToString(rnd[:])
	if len(name) > 64 {
		return nil, fmt.Errorf("pxetest: netns name %q too long", name)
	}
	var ns netns.NsHandle
	err := onThread(func() error {
		var err error
		// NewNamed creates the namespace, bind-mounts it under /run/netns
		// and moves this thread into it; onThread moves it back.
		ns, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pxetest: creating netns %s: %w", name, err)
	}
	n := &NetNS{name: name, handle: ns}
	if err := n.Do(func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		lo, err := h.LinkByName("lo")
		if err != nil {
			return err
		}
		return h.LinkSetUp(lo)
	}); err != nil {
		n.Close()
		return nil, fmt.Errorf("pxetest: netns %s: loopback up: %w", name, err)
	}
	return n, nil
}

// onThread runs fn on a locked OS thread and restores that thread's
// network namespace afterwards. If restoring fails the thread stays locked,
// so the runtime retires it instead of reusing a thread in the wrong
// namespace.
func onThread(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, fmt.Errorf("pxetest: restoring the thread's netns: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Name is the namespace's name (for ip -n NAME, ip netns exec NAME).
func (n *NetNS) Name() string { return n.name }

// Path is the namespace's bind mount, /var/run/netns/NAME: what the
// NetNS fields of pxekit's server configs (pxe, dhcp, ra) take.
func (n *NetNS) Path() string { return filepath.Join(netnsDir, n.name) }

// TempNetNS creates a namespace named prefix-<random> for the test and
// deletes it when the test ends (after the processes Start started in it
// are killed, since cleanups run last-in first-out). It needs root:
// outside CI it skips without it.
func TempNetNS(tb testing.TB, prefix string) *NetNS {
	tb.Helper()
	RequireRoot(tb)
	n, err := NewNetNS(prefix)
	if err != nil {
		tb.Fatal(err)
	}
	closeAtEnd(tb, n.Name(), n.Close)
	return n
}

// closeAtEnd logs the namespace's name (CheckCleanup reads it) and calls
// closeFn when the test ends.
func closeAtEnd(tb testing.TB, name string, closeFn func() error) {
	tb.Logf("pxetest: netns %s", name)
	tb.Cleanup(func() {
		if err := closeFn(); err != nil {
			tb.Error(err)
		}
	})
}

// Do runs fn with the calling goroutine's thread inside the namespace:
// sockets it opens (net.Listen, netlink) and links it creates belong to the
// namespace. Goroutines fn starts do NOT inherit it.
func (n *NetNS) Do(fn func() error) error {
	return onThread(func() error {
		if err := n.enter(); err != nil {
			return err
		}
		return fn()
	})
}

// enter moves the calling thread into the namespace; once there the
// thread holds the namespace itself, so only the setns needs the handle.
func (n *NetNS) enter() error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.deleted || !n.handle.IsOpen() {
		return fmt.Errorf("pxetest: entering netns %s: it is closed", n.name)
	}
	if err := netns.Set(n.handle); err != nil {
		return fmt.Errorf("pxetest: entering netns %s: %w", n.name, err)
	}
	return nil
}

// fd is the namespace's file descriptor, for netlink calls that name it.
func (n *NetNS) fd() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return int(n.handle)
}

// Start starts cmd inside the namespace: the child is forked from a thread
// in it, so it inherits the namespace (like ip netns exec, without /etc/netns
// bind mounts). A nil NetNS starts cmd where the caller is. Build cmd with
// CommandContext to have it in a process group of its own; in a test, the
// package-level Start also kills it when the test ends.
func (n *NetNS) Start(cmd *exec.Cmd) error {
	if n == nil {
		return cmd.Start()
	}
	return n.Do(cmd.Start)
}

// Run runs cmd inside the namespace and waits for it.
func (n *NetNS) Run(cmd *exec.Cmd) error {
	if err := n.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// Listen opens a listener inside the namespace, e.g. Listen("tcp",
// "192.0.2.1:0"); it keeps working from any goroutine.
func (n *NetNS) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// ListenPacket opens a packet socket (UDP) inside the namespace.
func (n *NetNS) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := n.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// netlinkDo runs fn with a NETLINK_ROUTE-only handle in the namespace
// (default families also open XFRM/NETFILTER sockets, which fail where those
// modules are missing).
func (n *NetNS) netlinkDo(fn func(h *netlink.Handle) error) error {
	return n.Do(func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		return fn(h)
	})
}

// AddBridge creates a bridge (STP off), assigns addrs and brings it up.
func (n *NetNS) AddBridge(name string, addrs ...netip.Prefix) error {
	if err := checkIfName(name); err != nil {
		return err
	}
	return n.netlinkDo(func(h *netlink.Handle) error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := h.LinkAdd(br); err != nil {
			return fmt.Errorf("pxetest: bridge %s: %w", name, err)
		}
		for _, a := range addrs {
			if err := h.AddrAdd(br, labAddr(a)); err != nil {
				return fmt.Errorf("pxetest: bridge %s: address %s: %w", name, a, err)
			}
		}
		if err := h.LinkSetUp(br); err != nil {
			return fmt.Errorf("pxetest: bridge %s up: %w", name, err)
		}
		return nil
	})
}

// AddTap creates a persistent tap device for QEMU (-netdev
// tap,ifname=NAME,script=no), enslaves it to bridge (if not empty) and
// brings it up. QEMU must run in this namespace to open it.
func (n *NetNS) AddTap(name, bridge string) error {
	if err := checkIfName(name); err != nil {
		return err
	}
	// TUNSETIFF creates the tap in the calling thread's namespace, hence
	// inside Do rather than through a handle opened at the namespace.
	return n.netlinkDo(func(h *netlink.Handle) error {
		tap := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TAP,
			Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR}
		if err := h.LinkAdd(tap); err != nil {
			return fmt.Errorf("pxetest: tap %s: %w", name, err)
		}
		return n.attach(h, name, bridge)
	})
}

// Veth describes a veth pair for NetNS.AddVeth: one end in the namespace
// AddVeth is called on, the other there too or in PeerNS.
type Veth struct {
	// Name is this end's name; Bridge, if set, is a bridge in the same
	// namespace it becomes a port of; Addr, if valid, is its address.
	Name   string
	Bridge string
	Addr   netip.Prefix
	// Peer is the other end's name, created in PeerNS (nil: the same
	// namespace), with address PeerAddr if that is valid.
	Peer     string
	PeerNS   *NetNS
	PeerAddr netip.Prefix
}

// AddVeth creates the veth pair v, enslaves its Name end to v.Bridge (if
// set), gives each end its address (if set) and brings both up. A peer in
// another namespace makes that namespace a host on this one's link.
func (n *NetNS) AddVeth(v Veth) error {
	for _, s := range []string{v.Name, v.Peer} {
		if err := checkIfName(s); err != nil {
			return err
		}
	}
	peerNS := v.PeerNS
	if peerNS == nil {
		peerNS = n
	}
	err := n.netlinkDo(func(h *netlink.Handle) error {
		link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: v.Name}, PeerName: v.Peer}
		if peerNS != n {
			link.PeerNamespace = netlink.NsFd(peerNS.fd())
		}
		if err := h.LinkAdd(link); err != nil {
			return fmt.Errorf("pxetest: veth %s/%s: %w", v.Name, v.Peer, err)
		}
		if v.Addr.IsValid() {
			if err := n.addAddr(h, v.Name, v.Addr); err != nil {
				return err
			}
		}
		return n.attach(h, v.Name, v.Bridge)
	})
	if err != nil {
		return err
	}
	return peerNS.netlinkDo(func(h *netlink.Handle) error {
		if v.PeerAddr.IsValid() {
			if err := peerNS.addAddr(h, v.Peer, v.PeerAddr); err != nil {
				return err
			}
		}
		return peerNS.attach(h, v.Peer, "")
	})
}

func (n *NetNS) attach(h *netlink.Handle, name, bridge string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	if bridge != "" {
		br, err := h.LinkByName(bridge)
		if err != nil {
			return fmt.Errorf("pxetest: bridge %s: %w", bridge, err)
		}
		if err := h.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("pxetest: %s master %s: %w", name, bridge, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("pxetest: %s up: %w", name, err)
	}
	return nil
}

// MoveLink moves link name from the namespace into to and brings it up
// there (a veth end that becomes a host in another namespace).
func (n *NetNS) MoveLink(name string, to *NetNS) error {
	err := n.netlinkDo(func(h *netlink.Handle) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		return h.LinkSetNsFd(l, to.fd())
	})
	if err != nil {
		return fmt.Errorf("pxetest: move %s to netns %s: %w", name, to.name, err)
	}
	return to.netlinkDo(func(h *netlink.Handle) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		return h.LinkSetUp(l)
	})
}

// WaitLinkLocal waits up to timeout for link's IPv6 link-local address to
// pass duplicate address detection (a second or two after link up; until
// then nothing can be sent from it) and returns it.
func (n *NetNS) WaitLinkLocal(link string, timeout time.Duration) (netip.Addr, error) {
	var ll netip.Addr
	err := n.netlinkDo(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		for deadline := time.Now().Add(timeout); ; {
			addrs, err := h.AddrList(l, netlink.FAMILY_V6)
			if err != nil {
				return err
			}
			for _, a := range addrs {
				if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
					ll = ip
					return nil
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("pxetest: %s in netns %s: no usable link-local address after %v: %v", link, n.name, timeout, addrs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ll, err
}

// AddAddr adds an address to a link in the namespace.
func (n *NetNS) AddAddr(link string, addr netip.Prefix) error {
	return n.netlinkDo(func(h *netlink.Handle) error { return n.addAddr(h, link, addr) })
}

func (n *NetNS) addAddr(h *netlink.Handle, link string, addr netip.Prefix) error {
	l, err := h.LinkByName(link)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(l, labAddr(addr)); err != nil {
		return fmt.Errorf("pxetest: %s in netns %s: address %s: %w", link, n.name, addr, err)
	}
	return nil
}

// HardwareAddr is the MAC address of a link in the namespace.
func (n *NetNS) HardwareAddr(link string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := n.netlinkDo(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		mac = l.Attrs().HardwareAddr
		return nil
	})
	return mac, err
}

// MACOf looks ip up in the namespace's neighbour (ARP) table: the MAC the
// kernel last saw that address answer from. A server in the namespace uses
// it to tie a TCP peer (RemoteAddr) to a machine, independently of what the
// machine claims.
func (n *NetNS) MACOf(ip netip.Addr) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := n.netlinkDo(func(h *netlink.Handle) error {
		neighs, err := h.NeighList(0, unix.AF_INET)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
		for _, ne := range neighs {
			if a, ok := netip.AddrFromSlice(ne.IP); ok && a.Unmap() == ip.Unmap() && len(ne.HardwareAddr) == 6 &&
				ne.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
				mac = ne.HardwareAddr
				return nil
			}
		}
		return fmt.Errorf("pxetest: no neighbour entry for %s in netns %s", ip, n.name)
	})
	return mac, err
}

// Close deletes the namespace. Links inside it (bridge, taps, veths) go
// with it once no process holds it; stop the processes started in it first.
func (n *NetNS) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return nil
	}
	if n.handle.IsOpen() {
		n.handle.Close()
	}
	if err := deleteNamed(n.name); err != nil {
		return fmt.Errorf("pxetest: deleting netns %s: %w", n.name, err)
	}
	n.deleted = true
	return nil
}

func checkIfName(name string) error {
	if name == "" || len(name) > unix.IFNAMSIZ-1 {
		return fmt.Errorf("pxetest: interface name %q: want 1 to %d bytes", name, unix.IFNAMSIZ-1)
	}
	return nil
}

// labAddr is p as netlink adds it. An IPv6 address skips duplicate
// address detection (ip addr add … nodad): a lab address is the lab's
// alone, and until DAD ends (a second or two) it could neither send nor
// receive.
func labAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: prefixToIPNet(p)}
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// deleteNamed unmounts and removes /var/run/netns/name. Unlike
// netns.DeleteNamed it can be retried: a retry after the unmount worked
// but the removal did not (a process that just exited may still hold the
// file for a moment) must not fail with EINVAL from a second unmount.
func deleteNamed(name string) error {
	p := filepath.Join(netnsDir, name)
	var err error
	for i := 0; i < 20; i++ {
		err = unix.Unmount(p, unix.MNT_DETACH)
		if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			if err = os.Remove(p); err == nil || errors.Is(err, os.ErrNotExist) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}
