package pxe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/macaddr"
)

// installs is an inventory that records phone-home reports, refusing the
// ones whose lease names another machine and failing while down is set.
type installs struct {
	*StaticInventory
	reports []PhoneHomeReport
	down    bool
}

func (i *installs) PhoneHome(_ context.Context, r PhoneHomeReport) error {
	if i.down {
		return errors.New("cluster unreachable")
	}
	if !macaddr.Equal(r.MAC, r.LeaseMAC) {
		return fmt.Errorf("%w: lease of %s names %v", ErrPhoneHomeRefused, r.Addr, r.LeaseMAC)
	}
	i.reports = append(i.reports, r)
	return nil
}

// The server hands every phone-home to an inventory that handles them, and
// answers as the inventory decided: ok, refused for good (403), or not
// taken now (503); a refusal is a denied event after the phoned-home one.
func TestPhoneHomeHandler(t *testing.T) {
	h, bus := testHandler(t, nil)
	inv := &installs{StaticInventory: staticInv(h)}
	h.inv = inv
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := bus.Subscribe(ctx)

	w := do(h, "GET", "/phonehome?status=installed", "192.0.2.10:4000", nil)
	if w.Code != 200 || w.Body.String() != "ok\n" {
		t.Fatalf("phone home from its lease: %d %q", w.Code, w.Body)
	}
	if len(inv.reports) != 1 {
		t.Fatalf("reports %+v, want one", inv.reports)
	}
	r := inv.reports[0]
	if !macaddr.Equal(r.MAC, macA) || !macaddr.Equal(r.LeaseMAC, macA) || r.Addr != netip.MustParseAddr("192.0.2.10") || r.Status != "installed" || r.Time.IsZero() {
		t.Errorf("report %+v, want macA from 192.0.2.10 with status installed", r)
	}
	if e := <-events; e.Kind != EventPhonedHome || !macaddr.Equal(e.MAC, macA) {
		t.Errorf("event %+v, want phoned-home", e)
	}

	// node2's lease, speaking for node1: refused, and said so.
	w = do(h, "GET", "/phonehome?mac=52:54:00:6b:13:e2", "192.0.2.11:4000", nil)
	if w.Code != 403 || len(inv.reports) != 1 {
		t.Fatalf("phone home for another machine: %d, %d reports", w.Code, len(inv.reports))
	}
	if e := <-events; e.Kind != EventPhonedHome {
		t.Errorf("event %+v, want phoned-home first", e)
	}
	if e := <-events; e.Kind != EventDenied || !macaddr.Equal(e.MAC, macA) || !strings.Contains(e.Detail, "phone home refused") {
		t.Errorf("event %+v, want denied for macA", e)
	}

	inv.down = true
	if w := do(h, "GET", "/phonehome", "192.0.2.10:4000", nil); w.Code != 503 {
		t.Errorf("phone home while the inventory cannot take it: %d, want 503", w.Code)
	}
}

// A network-boot client the inventory refuses gets an offer without a boot
// file, and a denied event says why; a known one, or a client that is not
// network-booting, gets none.
func TestDeniedWhenNothingToBoot(t *testing.T) {
	inv, err := NewStaticInventory(testInventory())
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	s.live.Store(&Config{Inventory: inv})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := s.bus.Subscribe(ctx)
	ipxeClient := dhcp.Client{VendorClass: "PXEClient:Arch:00000:UNDI:002001", UserClasses: []string{"iPXE"}}
	unknown := macB
	unknown = append(unknown[:5:5], 0x01)
	s.dhcpEvent(dhcp.Event{Kind: dhcp.EventOffered, MAC: unknown, Client: ipxeClient})
	s.dhcpEvent(dhcp.Event{Kind: dhcp.EventOffered, MAC: macA, Client: ipxeClient, Boot: dhcp.BootDecision{Filename: "http://192.0.2.1/boot.ipxe"}})
	s.dhcpEvent(dhcp.Event{Kind: dhcp.EventOffered, MAC: unknown}) // a plain DHCP client
	s.dhcpEvent(dhcp.Event{Kind: dhcp.EventAcked, MAC: unknown, Client: ipxeClient})
	var got []string
	for range 5 {
		e := <-events
		got = append(got, string(e.Kind)+" "+e.MAC.String()+" "+e.Detail)
	}
	want := []string{
		"offered " + unknown.String() + " invalid IP",
		"denied " + unknown.String() + " dhcp: nothing to boot: " + ErrUnknownMachine.Error(),
		"offered 52:54:00:6b:13:e2 invalid IP boot=http://192.0.2.1/boot.ipxe",
		"offered " + unknown.String() + " invalid IP",
		"acked " + unknown.String() + " invalid IP",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An installed machine's iPXE under BIOS gets the local-boot script; a
// UEFI client, or firmware that is not iPXE, gets no boot file, so its
// boot manager goes on to the next boot option.
func TestLocalBootPolicy(t *testing.T) {
	spec := testInventory()
	spec.Profiles[LocalBootProfile] = LocalBoot()
	spec.Machines[0].Profile = LocalBootProfile
	inv, err := NewStaticInventory(spec)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{addr: netip.MustParseAddr("192.0.2.1"), base: "http://192.0.2.1"}
	s.live.Store(&Config{Inventory: inv})
	policy := s.bootPolicy()
	for _, tt := range []struct {
		name   string
		client dhcp.Client
		file   string
	}{
		{"iPXE under BIOS", dhcp.Client{VendorClass: "PXEClient:Arch:00000:UNDI:002001", UserClasses: []string{"iPXE"}}, "http://192.0.2.1/boot.ipxe?mac=52:54:00:6b:13:e2"},
		{"BIOS PXE ROM", dhcp.Client{VendorClass: "PXEClient:Arch:00000:UNDI:002001", Archs: []dhcp.Arch{dhcp.ArchBIOS}}, ""},
		{"UEFI PXE", dhcp.Client{VendorClass: "PXEClient:Arch:00007:UNDI:003001", Archs: []dhcp.Arch{dhcp.ArchEFIx64}}, ""},
		{"iPXE under UEFI", dhcp.Client{VendorClass: "PXEClient:Arch:00007:UNDI:003001", Archs: []dhcp.Arch{dhcp.ArchEFIx64}, UserClasses: []string{"iPXE"}}, ""},
		{"UEFI HTTP", dhcp.Client{VendorClass: "HTTPClient:Arch:00016:UNDI:003001", Archs: []dhcp.Arch{dhcp.ArchEFIx64HTTP}}, ""},
	} {
		tt.client.MAC = macA
		if got := policy(tt.client).Filename; got != tt.file {
			t.Errorf("%s: boot file %q, want %q", tt.name, got, tt.file)
		}
	}
	// node2 installs: its UEFI firmware gets ipxe.efi as before.
	if got := policy(dhcp.Client{MAC: macB, VendorClass: "PXEClient:Arch:00007:UNDI:003001", Archs: []dhcp.Arch{dhcp.ArchEFIx64}}).Filename; got == "" {
		t.Error("a machine that installs got no boot file")
	}
}
