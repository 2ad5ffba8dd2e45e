package pxe

import (
	"net"
	"testing"
	"time"
)

// A UEFI boot as the event stream tells it: the firmware's DHCP, iPXE
// chain-loaded (its own DISCOVER is part of the same boot), script,
// kernel, initrd, phone-home. Each phase is timed from the milestone
// before it.
func TestBootTrackerPhases(t *testing.T) {
	inv, err := NewStaticInventory(testInventory())
	must(t, err)
	tr := NewBootTracker(func() Inventory { return inv })
	mac := macA // node1, profile "create"
	_, prof, _ := inv.Lookup(mac)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	steps := []struct {
		e    Event
		want BootPhase
		d    float64
	}{
		{Event{Time: at(0), Kind: EventDiscovered, Firmware: "uefi"}, "", 0},
		{Event{Time: at(0.5), Kind: EventDiscovered, Firmware: "uefi"}, "", 0}, // a retransmission
		{Event{Time: at(1), Kind: EventAcked, Detail: "192.0.2.100 boot=ipxe.efi"}, PhaseDHCP, 1},
		{Event{Time: at(2), Kind: EventTFTPSent, Path: "ipxe.efi"}, "", 0},
		{Event{Time: at(3), Kind: EventDiscovered, Firmware: "ipxe"}, "", 0},
		{Event{Time: at(3.5), Kind: EventAcked, Detail: "192.0.2.100"}, "", 0},
		{Event{Time: at(4), Kind: EventScriptServed, Detail: "profile=create firmware=efi", Firmware: "efi"}, PhaseScript, 3},
		{Event{Time: at(6), Kind: EventAssetSent, Path: assetURLPath(prof.Kernel)}, PhaseKernel, 2},
		{Event{Time: at(6.5), Kind: EventAssetSent, Path: assetURLPath(prof.Kernel)}, "", 0}, // a Range request
		{Event{Time: at(9), Kind: EventAssetSent, Path: assetURLPath(prof.Initrd)}, PhaseInitrd, 3},
		{Event{Time: at(9.5), Kind: EventDenied, Detail: "file x requested by 192.0.2.9"}, "", 0},
		{Event{Time: at(20), Kind: EventPhonedHome}, PhasePhoneHome, 11},
	}
	for i, s := range steps {
		s.e.MAC = mac
		got := tr.Observe(s.e)
		switch {
		case s.want == "" && len(got) != 0:
			t.Errorf("step %d (%s): completed %+v, want nothing", i, s.e.Kind, got)
		case s.want != "" && (len(got) != 1 || got[0].Phase != s.want || got[0].Duration != time.Duration(s.d*float64(time.Second)) || got[0].Firmware != "uefi"):
			t.Errorf("step %d (%s): completed %+v, want %s in %vs by uefi", i, s.e.Kind, got, s.want, s.d)
		}
	}
	ms := tr.Machines()
	if len(ms) != 1 {
		t.Fatalf("machines %+v", ms)
	}
	m := ms[0]
	if m.Phase != PhasePhoneHome || m.Address.String() != "192.0.2.100" || m.Profile != "create" || m.Firmware != "uefi" ||
		m.Denied != 1 || len(m.Timeline) != len(steps) || m.Hostname == "" {
		t.Errorf("status %+v", m)
	}
	if d := tr.Denials(); len(d) != 1 {
		t.Errorf("denials %+v", d)
	}
	// The next power-on starts a new boot.
	tr.Observe(Event{Time: at(60), Kind: EventDiscovered, MAC: mac, Firmware: "uefi"})
	if m := tr.Machines()[0]; m.Phase != "" || len(m.Timeline) != 1 || !m.Started.Equal(at(60)) {
		t.Errorf("after a new DISCOVER: %+v, want a fresh boot", m)
	}
}

// An iPXE ROM (QEMU's SeaBIOS) starts the boot itself.
func TestBootTrackerIPXEROM(t *testing.T) {
	tr := NewBootTracker(nil)
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x00, 0x00, 0x09}
	t0 := time.Now()
	tr.Observe(Event{Time: t0, Kind: EventDiscovered, MAC: mac, Firmware: "ipxe"})
	got := tr.Observe(Event{Time: t0.Add(time.Second), Kind: EventAcked, MAC: mac, Detail: "192.0.2.101"})
	if len(got) != 1 || got[0].Firmware != "ipxe" || got[0].Phase != PhaseDHCP {
		t.Errorf("ack after an iPXE ROM's DISCOVER: %+v", got)
	}
	// Events of a MAC never seen discovering are not tracked.
	if got := tr.Observe(Event{Kind: EventAcked, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}); got != nil || len(tr.Machines()) != 1 {
		t.Errorf("untracked MAC: %+v, %d machines", got, len(tr.Machines()))
	}
}

func TestBootTrackerBounds(t *testing.T) {
	tr := NewBootTracker(nil)
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x00, 0x00, 0x07}
	tr.Observe(Event{Kind: EventDiscovered, MAC: mac, Firmware: "bios"})
	for range MaxTimeline + 10 {
		tr.Observe(Event{Kind: EventOffered, MAC: mac})
	}
	for range MaxDenials + 10 {
		tr.Observe(Event{Kind: EventDenied})
	}
	if n := len(tr.Machines()[0].Timeline); n != MaxTimeline {
		t.Errorf("timeline holds %d events, want MaxTimeline (%d)", n, MaxTimeline)
	}
	if n := len(tr.Denials()); n != MaxDenials {
		t.Errorf("%d denials kept, want MaxDenials (%d)", n, MaxDenials)
	}
}
