package pxetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/pxekit/pxekit/pxetest/impair"
)

// Link names of an impaired lab (NetworkConfig.Impair). The relay's A
// side faces the server's bridge, its B side the clients' bridge, so
// Stats.AtoB counts server-to-client frames.
const (
	ClientBridge  = "brc"   // the bridge clients' taps and hosts attach to
	impServerPort = "imps0" // port on the server's bridge
	impRelayA     = "impa0" // its peer, the relay's A side
	impClientPort = "impc0" // port on the clients' bridge
	impRelayB     = "impb0" // its peer, the relay's B side
)

// setupImpair builds the impaired lab's client side in n.NS: the clients'
// bridge, the two veth pairs and the relay between their free ends, which
// runs until n.Close.
func (n *Network) setupImpair(cfg impair.Config) error {
	if err := n.NS.AddBridge(ClientBridge); err != nil {
		return err
	}
	for _, v := range []Veth{
		{Name: impServerPort, Bridge: n.Bridge, Peer: impRelayA},
		{Name: impClientPort, Bridge: ClientBridge, Peer: impRelayB},
	} {
		if err := n.NS.AddVeth(v); err != nil {
			return err
		}
	}
	var relay *impair.Relay
	err := n.NS.Do(func() error {
		// The server's address is local to the whole namespace, and
		// Linux answers ARP for it on any link: on the clients' bridge or
		// a relay end that would hand clients a path around the relay.
		// Those links answer no ARP and carry no IPv6 (no link-local,
		// router or multicast-listener chatter of their own either).
		for _, l := range []string{ClientBridge, impRelayA, impRelayB} {
			for _, kv := range [][2]string{{"ipv4/conf/" + l + "/arp_ignore", "8"}, {"ipv6/conf/" + l + "/disable_ipv6", "1"}} {
				if err := os.WriteFile("/proc/sys/net/"+kv[0], []byte(kv[1]), 0); err != nil {
					return fmt.Errorf("pxetest: sysctl net.%s: %w", kv[0], err)
				}
			}
		}
		for _, l := range []string{impServerPort, impRelayA, impClientPort, impRelayB} {
			if err := impair.DisableOffloads(l); err != nil {
				return err
			}
		}
		var err error
		relay, err = impair.New(impRelayA, impRelayB, cfg, slog.New(slog.DiscardHandler))
		return err
	})
	if err != nil {
		return fmt.Errorf("pxetest: impairment relay in netns %s: %w", n.NS.Name(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := relay.Serve(ctx); err != nil && n.logf != nil {
			n.logf("pxetest: impairment relay: %v", err)
		}
	}()
	n.relay = relay
	n.stopRelay = func() { cancel(); <-done }
	return nil
}

// Impairment returns the relay's counters on an impaired lab (the zero
// Stats on any other).
func (n *Network) Impairment() impair.Stats {
	if n.relay == nil {
		return impair.Stats{}
	}
	return n.relay.Stats()
}

// clientBridge is the bridge taps and hosts attach to.
func (n *Network) clientBridge() string {
	if n.relay != nil {
		return ClientBridge
	}
	return n.Bridge
}
