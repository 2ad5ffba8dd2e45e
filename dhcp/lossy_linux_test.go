package dhcp

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/pxetest/impair"
)

// TestLossyClientsBind: udhcpc and dhclient clients, started together
// behind the impairment relay (5 % loss, 2 % duplication, 2 % reordering
// each way), all bind, each exactly once, no address leased to two MACs.
func TestLossyClientsBind(t *testing.T) {
	pxetest.RequireCmd(t, "udhcpc", "udhcpc")
	pxetest.RequireCmd(t, "dhclient", "isc-dhcp-client")
	n := pxetest.TempNetwork(t, pxetest.NetworkConfig{Name: "lossyd",
		Impair: &impair.Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.02, Seed: 20261204}})
	s, _ := serveIn(t, n.NS, n.Bridge, nil)

	type client struct {
		kind string
		c    *pxetest.DHCPClient
		mac  string
	}
	kinds := []string{"udhcpc", "udhcpc", "udhcpc", "udhcpc", "udhcpc", "udhcpc", "dhclient", "dhclient", "dhclient", "dhclient"}
	clients := make([]client, len(kinds))
	var wg sync.WaitGroup
	for i, kind := range kinds {
		h, err := n.AddHost(fmt.Sprintf("lc%d", i), netip.Prefix{})
		if err != nil {
			t.Fatal(err)
		}
		mac, err := h.NS.HardwareAddr(h.Link)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = client{kind: kind, mac: mac.String()}
		wg.Go(func() {
			if kind == "udhcpc" {
				// One DISCOVER a second, 30 of them, before giving up.
				clients[i].c = pxetest.StartUdhcpc(t, h.NS, h.Link, "-t", "30", "-T", "1")
			} else {
				clients[i].c = pxetest.StartDhclient(t, h.NS, h.Link, "timeout 60;\nretry 2;\n")
			}
		})
	}
	wg.Wait()
	bound := map[netip.Addr]string{}
	for i, c := range clients {
		reason := map[string]string{"udhcpc": "bound", "dhclient": "BOUND"}[c.kind]
		ev := c.c.WaitEvent(reason, 60*time.Second)
		if other, dup := bound[ev.IP]; dup {
			t.Errorf("client %d (%s) bound %s, already bound by %s", i, c.mac, ev.IP, other)
		}
		bound[ev.IP] = c.mac
		l, ok := s.LeaseByMAC(mustMAC(c.mac))
		if !ok || l.IP != ev.IP {
			t.Errorf("client %d (%s) bound %s; the server's lease for it: %+v (found %v)", i, c.mac, ev.IP, l, ok)
		}
	}
	// A duplicated or reordered ACK must not bind a client twice (nor
	// re-run its hook as a second lease).
	time.Sleep(2 * time.Second)
	for i, c := range clients {
		var binds []string
		for _, e := range c.c.Events() {
			if r := strings.ToLower(e.Reason); r == "bound" || r == "reboot" {
				binds = append(binds, e.String())
			}
		}
		if len(binds) != 1 {
			t.Errorf("client %d (%s, %s) bound %d times: %q", i, c.kind, c.mac, len(binds), binds)
		}
	}
	macs := map[string]netip.Addr{}
	for _, l := range s.Leases() {
		if prev, ok := macs[l.MAC.String()]; ok {
			t.Errorf("%s holds %s and %s", l.MAC, prev, l.IP)
		}
		macs[l.MAC.String()] = l.IP
	}
	if len(macs) != len(clients) {
		t.Errorf("server holds leases for %d MACs, want %d: %v", len(macs), len(clients), macs)
	}
	st, rs := s.Stats(), n.Impairment()
	t.Logf("server: requests %v, offers %d, acks %d, naks %d, dropped %v; relay server->clients %+v, clients->server %+v",
		st.Requests, st.Offers, st.Acks, st.Naks, st.Dropped, rs.AtoB, rs.BtoA)
	if rs.AtoB.Frames == 0 || rs.BtoA.Frames == 0 {
		t.Errorf("nothing crossed the relay: %+v", rs)
	}
}
