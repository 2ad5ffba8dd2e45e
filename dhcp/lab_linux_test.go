package dhcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// Tests with real clients run the server in a network namespace of its
// own (pxetest: removed, with every process started in it, when the test
// ends).

// labServer starts a server in a new namespace on a veth whose peer is in
// a second namespace for the client. It returns the client namespace and
// interface.
func labServer(t *testing.T, mutate func(*Config)) (*Server, *pxetest.NetNS, string) {
	t.Helper()
	srv, cli := pxetest.TempNetNS(t, "dhs"), pxetest.TempNetNS(t, "dhc")
	if err := srv.AddVeth(pxetest.Veth{Name: "srv0", Addr: mustPrefix("192.0.2.1/24"), Peer: "cli0", PeerNS: cli}); err != nil {
		t.Fatal(err)
	}
	// No event recording: the perfdhcp tests measure this server.
	s := startIn(t, srv, "srv0", nil, mutate)
	return s, cli, "cli0"
}

// serveIn runs a server on link in ns until the test ends, on the real
// clock, recording its events.
func serveIn(t *testing.T, ns *pxetest.NetNS, link string, mutate func(*Config)) (*Server, *pxetest.Recorder[Event]) {
	t.Helper()
	events := &pxetest.Recorder[Event]{}
	return startIn(t, ns, link, events, mutate), events
}

// startIn is serveIn with the recorder given (nil: none).
func startIn(t *testing.T, ns *pxetest.NetNS, link string, events *pxetest.Recorder[Event], mutate func(*Config)) *Server {
	t.Helper()
	s := newTestServer(t, func(c *Config) {
		c.NetNS = ns.Path()
		c.Interfaces = []string{link}
		if events != nil {
			c.OnEvent = events.Add
		}
		if mutate != nil {
			mutate(c)
		}
	})
	s.now = time.Now
	pxetest.Serve(t, s)
	return s
}

// proxyLab is a switch with two hosts on it: 192.0.2.2 for dnsmasq, which
// owns the addresses, and 192.0.2.1 for our server in proxyDHCP mode. A
// client runs on the switch's bridge, or a VM on a tap of it.
func proxyLab(t *testing.T, name string) (hub *pxetest.Network, dns, prx *pxetest.Host) {
	t.Helper()
	hub = pxetest.TempNetwork(t, pxetest.NetworkConfig{Name: name, Switch: true})
	var err error
	if dns, err = hub.AddHost(name+"d", mustPrefix("192.0.2.2/24")); err != nil {
		t.Fatal(err)
	}
	if prx, err = hub.AddHost(name+"p", mustPrefix("192.0.2.1/24")); err != nil {
		t.Fatal(err)
	}
	return hub, dns, prx
}

// waitFor polls cond until it holds or the deadline passes. The deadline
// bounds a hung peer; it is not a timing assertion.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
