package roles

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/pxekit/pxekit/dhcp6"
)

// The DHCPv6 lab: the servers' and clients' veth ends in 2001:db8::/64,
// and the pool every DHCPv6 server of the comparison hands out.
const (
	Prefix6    = "2001:db8::/64"
	ServerIP6  = "2001:db8::1"
	ClientIP6  = "2001:db8::2"
	PoolStart6 = "2001:db8::100"
	PoolEnd6   = "2001:db8::ffff"
)

// serveDHCP6 is pxekit's DHCPv6 server as a user would deploy it for this
// load: leases in a bbolt file (fsync'd group commit before each REPLY
// that binds), no per-client or per-relay rate limit because perfdhcp's
// clients all come through one relay, each many times a second.
func serveDHCP6(ctx context.Context, log *slog.Logger, iface, dir string) error {
	s, err := dhcp6.New(dhcp6.Config{
		Interfaces: []string{iface},
		Subnets: []dhcp6.Subnet{{Prefix: netip.MustParsePrefix(Prefix6), LeaseTime: time.Hour,
			Pools: []dhcp6.Range{{Start: netip.MustParseAddr(PoolStart6), End: netip.MustParseAddr(PoolEnd6)}}}},
		LeaseFile:  filepath.Join(dir, "pxekit-leases6.db"),
		ClientRate: -1,
		RelayRate:  -1,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}
