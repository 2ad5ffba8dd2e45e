package dhcp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// ipxe175 is what iPXE puts in option 175 of its own requests: its
// feature flags (here HTTP, DNS, bzImage, menu, EFI).
func ipxe175(d *dhcpv4.DHCPv4) {
	d.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(175), []byte{19, 1, 1, 23, 1, 1, 24, 1, 1, 39, 1, 1, 36, 1, 1}))
}

// ipxeNo77 is iPXE that only shows itself by option 175 (a build whose
// user class was changed).
func ipxeNo77(d *dhcpv4.DHCPv4) {
	ovmfPXE(d)
	ipxe175(d)
}

// noPXEDHCPIn reports whether a reply tells iPXE not to wait for ProxyDHCP
// (option 175 with sub-option 176 = 1), the way iPXE reads it.
func noPXEDHCPIn(t *testing.T, r *dhcpv4.DHCPv4) bool {
	t.Helper()
	v := r.Options.Get(dhcpv4.GenericOptionCode(175))
	if v == nil {
		return false
	}
	if !bytes.Equal(v, []byte{176, 1, 1}) {
		t.Errorf("option 175 = % x, want b0 01 01", v)
	}
	return true
}

// TestNoPXEDHCPForIPXE: an address-serving server that gives iPXE a boot
// file tells it (OFFER and ACK) not to wait for ProxyDHCP offers; nobody
// else gets option 175.
func TestNoPXEDHCPForIPXE(t *testing.T) {
	cases := []struct {
		name string
		mod  dhcpv4.Modifier
		boot bool // the policy gives a boot file
		want bool
	}{
		{"iPXE BIOS (SeaBIOS ROM)", func(d *dhcpv4.DHCPv4) { seabiosIPXE(d); ipxe175(d) }, true, true},
		{"iPXE UEFI (ipxe.efi)", func(d *dhcpv4.DHCPv4) { ipxeEFI(d); ipxe175(d) }, true, true},
		{"iPXE by user class only", ipxeEFI, true, true},
		{"iPXE by option 175 only", ipxeNo77, true, true},
		{"OVMF PXE, not iPXE", ovmfPXE, true, false},
		{"OVMF HTTP boot", ovmfHTTP, true, false},
		{"non-PXE client (dhclient)", func(*dhcpv4.DHCPv4) {}, false, false},
		{"iPXE, unknown machine, no boot file", func(d *dhcpv4.DHCPv4) { seabiosIPXE(d); ipxe175(d) }, false, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t, func(cfg *Config) {
				if !c.boot {
					cfg.Boot = func(Client) BootDecision { return BootDecision{} }
				}
			})
			mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x00, 0x17, byte(i)}
			offer, ack := dora(t, s, mac.String(), inbound{}, t0, c.mod)
			if c.boot != (offer.BootFileName != "" || offer.Options.Has(dhcpv4.OptionBootfileName)) {
				t.Fatalf("boot file %q, policy gives one: %v", offer.BootFileName, c.boot)
			}
			if got := noPXEDHCPIn(t, offer); got != c.want {
				t.Errorf("OFFER has 175.176: %v, want %v", got, c.want)
			}
			if got := noPXEDHCPIn(t, ack); got != c.want {
				t.Errorf("ACK has 175.176: %v, want %v", got, c.want)
			}
		})
	}
}

// TestNoPXEDHCPNotInProxyMode: a proxyDHCP server is the offer iPXE waits
// for, so it never says "don't wait".
func TestNoPXEDHCPNotInProxyMode(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.ProxyDHCP = true
		c.Subnets = nil
	})
	mod := func(d *dhcpv4.DHCPv4) { seabiosIPXE(d); ipxe175(d) }
	r, _, why := exchange(t, s, discover(t, "52:54:00:00:18:01", mod), inbound{}, t0)
	if r == nil {
		t.Fatalf("no proxy offer: %s", why)
	}
	if r.BootFileName == "" || noPXEDHCPIn(t, r) {
		t.Errorf("proxy offer: boot %q, 175.176 present: %v", r.BootFileName, noPXEDHCPIn(t, r))
	}
	req, err := dhcpv4.New(dhcpv4.WithHwAddr(mustMAC("52:54:00:00:18:01")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 150)), mod)
	if err != nil {
		t.Fatal(err)
	}
	r, _, why = exchange(t, s, req, inbound{proxy: true, src: netip.MustParseAddrPort("192.0.2.150:4011")}, t0)
	if r == nil {
		t.Fatalf("no 4011 answer: %s", why)
	}
	if noPXEDHCPIn(t, r) {
		t.Error("proxy ACK on 4011 carries 175.176")
	}
}
