package roles

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
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

// IPv6 boot lab: the pool the pxe role's DHCPv6 server hands out with
// -ipv6 (a small range, as a boot lab's).
const (
	BootPoolStart6 = "2001:db8::100"
	BootPoolEnd6   = "2001:db8::1ff"
)

// servePXE6 is the whole boot server on an IPv6-only lab: DHCPv6 from a
// pool, router advertisements with the managed flag (iPXE asks DHCPv6
// only then) naming this host the default router, TFTP and HTTP over IPv6, every machine booting
// StormProfile. Mode "pxe" is the server's default IPv6 boot policy;
// "http" offers firmware only UEFI HTTP boot (a PXE client gets no URL, so
// OVMF moves on to its HTTP boot option), as a lab set up for HTTP boot
// is.
func servePXE6(ctx context.Context, log *slog.Logger, iface, dir, mode string) error {
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{
		Profiles: map[string]pxe.Profile{"storm": StormProfile()},
		Default:  "storm",
	})
	if err != nil {
		return err
	}
	cfg := pxe.Config{
		Interface: iface,
		Subnets6: []dhcp6.Subnet{{Prefix: netip.MustParsePrefix(Prefix6), LeaseTime: time.Hour,
			Pools: []dhcp6.Range{{Start: netip.MustParseAddr(BootPoolStart6), End: netip.MustParseAddr(BootPoolEnd6)}}}},
		LeaseFile:           filepath.Join(dir, "pxe-leases.db"),
		RouterAdvertisement: true,
		// The lab has no IPv6 router: name this host the default router
		// for as long as dnsmasq's enable-ra does (1800 s), so edk2's
		// PXE does not wait 10 s for one.
		RouterLifetime: 30 * time.Minute,
		HTTPPort:       80,
		TFTPPort:       69,
		Assets:         os.DirFS(filepath.Join(dir, "assets")),
		Inventory:      inv,
		Logger:         log,
	}
	switch mode {
	case "pxe":
	case "http":
		policy := dhcp6.DefaultPolicy{
			HTTPBootURL:  "{base}" + pxe.PathIPXE + string(ipxe.IPXEEFI),
			ScriptURL:    "{base}" + pxe.PathScript + "?mac={mac}",
			ScriptURLEFI: "{base}" + pxe.PathScript + "?mac={mac}&fw=efi",
		}
		cfg.Boot6 = func(c dhcp6.Client) dhcp6.BootDecision {
			if !c.IsHTTPClient() && !c.IsIPXE() {
				return dhcp6.BootDecision{}
			}
			return policy.Decide(c)
		}
	default:
		return fmt.Errorf("-ipv6 %q: want pxe or http", mode)
	}
	s, err := pxe.New(cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}
