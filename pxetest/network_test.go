package pxetest

import (
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// dialFrom opens a TCP connection from inside ns to addr and returns what
// the peer wrote.
func dialFrom(t *testing.T, ns *NetNS, addr string) string {
	t.Helper()
	var got []byte
	err := ns.Do(func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err = io.ReadAll(c)
		return err
	})
	if err != nil {
		t.Fatalf("dial %s from netns %s: %v", addr, ns.Name(), err)
	}
	return string(got)
}

// greeter listens on addr (port 0: any) inside ns until the test ends,
// writes hello to the first connection, and returns the address it got.
func greeter(t *testing.T, ns *NetNS, addr string) string {
	t.Helper()
	ln, err := ns.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestAddHost: a host is a namespace of its own whose eth0 sits on the
// bridge; it reaches the server address, and Close removes it with the
// network.
func TestAddHost(t *testing.T) {
	lnet := TempNetwork(t, NetworkConfig{Name: "pxn"})
	h, err := lnet.AddHost("pxh", netip.MustParsePrefix("192.0.2.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	if got := dialFrom(t, h.NS, greeter(t, lnet.NS, "192.0.2.1:0")); got != "hello" {
		t.Errorf("host → server: %q", got)
	}
	out, err := Run(t, lnet.NS, exec.Command(RequireCmd(t, "ip", "iproute2"), "-o", "link", "show", "master", "br0"))
	if err != nil || !strings.Contains(out, "port0@") {
		t.Errorf("bridge ports: %v\n%s", err, out)
	}
	hostPath := h.NS.Path()
	if err := lnet.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(hostPath); !os.IsNotExist(err) {
		t.Errorf("host netns %s still there after Close: %v", hostPath, err)
	}
}

// TestSwitch: a Switch network's bridge has no address; hosts on it carry
// theirs and reach each other.
func TestSwitch(t *testing.T) {
	lnet := TempNetwork(t, NetworkConfig{Switch: true})
	if lnet.Server.IsValid() {
		t.Errorf("switch has a server address %s", lnet.Server)
	}
	out, err := Run(t, lnet.NS, exec.Command(RequireCmd(t, "ip", "iproute2"), "-o", "-4", "addr", "show", "dev", lnet.Bridge))
	if err != nil || strings.Contains(out, "inet ") {
		t.Errorf("switch bridge addresses: %v %q", err, out)
	}
	a, err := lnet.AddHost("pxa", netip.MustParsePrefix("192.0.2.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := lnet.AddHost("pxb", netip.MustParsePrefix("192.0.2.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	if got := dialFrom(t, b.NS, greeter(t, a.NS, "192.0.2.1:0")); got != "hello" {
		t.Errorf("host b → host a across the switch: %q", got)
	}
}

// TestVethToNamespace: a veth straight between two namespaces, both ends
// addressed, without a bridge.
func TestVethToNamespace(t *testing.T) {
	a, b := TempNetNS(t, "pxva"), TempNetNS(t, "pxvb")
	if err := a.AddVeth(Veth{Name: "va", Addr: netip.MustParsePrefix("192.0.2.1/24"),
		Peer: "vb", PeerNS: b, PeerAddr: netip.MustParsePrefix("192.0.2.2/24")}); err != nil {
		t.Fatal(err)
	}
	if got := dialFrom(t, a, greeter(t, b, "192.0.2.2:0")); got != "hello" {
		t.Errorf("a → b: %q", got)
	}
	if _, err := b.HardwareAddr("vb"); err != nil {
		t.Errorf("peer end not in b: %v", err)
	}
	if _, err := a.HardwareAddr("vb"); err == nil {
		t.Error("peer end also visible in a")
	}
}
