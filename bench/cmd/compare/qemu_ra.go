package main

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/pxekit/pxekit/internal/lab"
	"golang.org/x/net/ipv6"
)

// qemuSendRA sends an IPv6 router advertisement with no prefix and neither
// M nor O flag from the bridge's link-local address to ff02::1 every 250 ms
// until ctx ends. EXPERIMENT: iPXE's IPv6 autoconfiguration then finishes
// at once instead of soliciting a router until its retry timer gives up.
func qemuSendRA(ctx context.Context, lnet *lab.Network) error {
	var p *ipv6.PacketConn
	var ifi *net.Interface
	err := lnet.NS.Do(func() error {
		var err error
		if ifi, err = net.InterfaceByName(lnet.Bridge); err != nil {
			return err
		}
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		p = ipv6.NewPacketConn(c)
		if err := p.SetMulticastHopLimit(255); err != nil {
			return err
		}
		return p.SetMulticastInterface(ifi)
	})
	if err != nil {
		return err
	}
	// type 134, code 0, checksum (kernel), cur hop limit 64, flags 0,
	// router lifetime 0, reachable 0, retrans 0.
	ra := []byte{134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	dst := &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: strconv.Itoa(ifi.Index)} // a name would be looked up outside the netns
	go func() {
		defer p.Close()
		for {
			_, _ = p.WriteTo(ra, nil, dst)
			select {
			case <-ctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return nil
}
