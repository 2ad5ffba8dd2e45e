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
	s := newTestServer(t, func(c *Config) {
		c.NetNS = srv.Path()
		c.Interfaces = []string{"srv0"}
		if mutate != nil {
			mutate(c)
		}
	})
	s.now = time.Now
	pxetest.Serve(t, s)
	return s, cli, "cli0"
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
