package pxe

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/pxetest"
)

// raLab is a boot server on a lab bridge and a client namespace with a
// veth port on that bridge, from which rdisc6 solicits a router.
type raLab struct {
	srv   *Server
	cli   *pxetest.NetNS
	cliIf string
}

func startRALab(t *testing.T, routerAdvert bool) *raLab {
	t.Helper()
	lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{})
	cli, err := lnet.AddHost("prc", netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	// rdisc6 cannot send until the link-local address has passed
	// duplicate address detection.
	if _, err := cli.NS.WaitLinkLocal(cli.Link, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	rl := &raLab{cli: cli.NS, cliIf: cli.Link}
	srv, err := New(Config{
		Interface:           lnet.Bridge,
		NetNS:               lnet.NS.Path(),
		Subnets:             []dhcp.Subnet{{Pools: []dhcp.Range{{Start: lnet.ServerAddr().Next(), End: lnet.ServerAddr().Next().Next()}}}},
		HTTPPort:            8080,
		TFTPPort:            6969,
		IPXE:                fstest.MapFS{"undionly.kpxe": {Data: []byte("not iPXE")}},
		RouterAdvertisement: routerAdvert,
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	rl.srv = srv
	pxetest.Serve(t, srv)
	return rl
}

// rdisc6 solicits a router from the client namespace; ok is false when no
// advertisement came.
func (rl *raLab) rdisc6(t *testing.T, retries int) (string, bool) {
	t.Helper()
	bin := pxetest.RequireCmd(t, "rdisc6", "ndisc6")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := pxetest.Run(t, rl.cli, pxetest.CommandContext(ctx, bin, "-1", "-r", fmt.Sprint(retries), "-w", "1000", rl.cliIf))
	return out, err == nil
}

// TestRouterAdvertisementOn: with Config.RouterAdvertisement a host on the
// boot network is told there is nothing to configure over IPv6, the
// answer is published as a boot event for its MAC-less solicitation, and
// RA() exposes the counters.
func TestRouterAdvertisementOn(t *testing.T) {
	rl := startRALab(t, true)
	events := rl.srv.Subscribe(t.Context())
	out, ok := rl.rdisc6(t, 8)
	if !ok {
		t.Fatalf("rdisc6 got no advertisement:\n%s", out)
	}
	for _, re := range []string{`Stateful address conf\.\s*:\s*No`, `Stateful other conf\.\s*:\s*No`, `Router lifetime\s*:\s*0 \(`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("rdisc6 output lacks %q:\n%s", re, out)
		}
	}
	if strings.Contains(out, "Prefix") {
		t.Errorf("advertisement carries a prefix:\n%s", out)
	}
	select {
	case e := <-events:
		if e.Kind != EventRouterAdvert || !strings.Contains(e.Detail, "solicited by fe80::") {
			t.Errorf("event %+v, want %s solicited by a link-local address", e, EventRouterAdvert)
		}
	case <-time.After(10 * time.Second):
		t.Error("no router-advert event")
	}
	// Read once the event is out: the responder counts an answer after
	// sending it, so rdisc6 may have exited before the count.
	if st := rl.srv.RA().Stats(); st.Answered < 1 {
		t.Errorf("RA stats %+v: no answered solicitation", st)
	}
}

// TestRouterAdvertisementOff: by default nothing answers solicitations.
func TestRouterAdvertisementOff(t *testing.T) {
	rl := startRALab(t, false)
	out, ok := rl.rdisc6(t, 3)
	if ok {
		t.Errorf("an advertisement came with RouterAdvertisement off:\n%s", out)
	}
	if !strings.Contains(out, "No response") {
		t.Errorf("rdisc6 did not solicit and time out:\n%s", out)
	}
	if st := rl.srv.RA().Stats(); st.Solicitations != 0 || st.Advertisements != 0 {
		t.Errorf("RA stats %+v with RouterAdvertisement off, want nothing received or sent", st)
	}
}

// TestRouterLifetime: with DHCPv6 served and Config.RouterLifetime set,
// the advertisement says M and O and names this host the default router
// for that long; without it, lifetime 0. A lifetime without
// RouterAdvertisement, or out of RFC 4861's range, is refused at its path.
func TestRouterLifetime(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Interface: "br0", RouterLifetime: time.Hour}, "routerLifetime: Invalid value: \"1h0m0s\": needs routerAdvertisement"},
		{Config{Interface: "br0", RouterAdvertisement: true, RouterLifetime: 3 * time.Hour}, "routerLifetime"},
	} {
		if errs := c.cfg.Validate(); !strings.Contains(errs.ToAggregate().Error(), c.want) {
			t.Errorf("%+v: errors %v, want %q", c.cfg.RouterLifetime, errs, c.want)
		}
	}
	for _, life := range []time.Duration{0, 1800 * time.Second} {
		t.Run(life.String(), func(t *testing.T) {
			lnet := pxetest.TempNetwork(t, pxetest.NetworkConfig{Server6: pxetest.DefaultServer6(), NoIPv4: true})
			cli, err := lnet.AddHost("prl", netip.Prefix{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cli.NS.WaitLinkLocal(cli.Link, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			srv, err := New(Config{
				Interface:           lnet.Bridge,
				NetNS:               lnet.NS.Path(),
				Subnets6:            []dhcp6.Subnet{{Pools: []dhcp6.Range{{Start: netip.MustParseAddr("2001:db8::100"), End: netip.MustParseAddr("2001:db8::1ff")}}}},
				HTTPPort:            8080,
				TFTPPort:            6969,
				RouterAdvertisement: true,
				RouterLifetime:      life,
				Logger:              slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			pxetest.Serve(t, srv)
			rl := &raLab{srv: srv, cli: cli.NS, cliIf: cli.Link}
			out, ok := rl.rdisc6(t, 8)
			if !ok {
				t.Fatalf("rdisc6 got no advertisement:\n%s", out)
			}
			for _, re := range []string{`Stateful address conf\.\s*:\s*Yes`, fmt.Sprintf(`Router lifetime\s*:\s*%d \(`, int(life.Seconds()))} {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("rdisc6 output lacks %q:\n%s", re, out)
				}
			}
		})
	}
}
