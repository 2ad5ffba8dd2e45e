package pxe

import (
	"bytes"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// BootPhase is a stretch of a machine's boot, named for the milestone that
// ends it.
type BootPhase string

// The phases of a network boot, in order. Each lasts from the milestone
// before it to its own: PhaseDHCP from the firmware's first DISCOVER to its
// ACK, PhaseScript from there to iPXE's script (the iPXE download and its
// own DHCP), PhaseKernel and PhaseInitrd to their downloads (the first
// response carrying each), PhasePhoneHome to the booted system's report.
const (
	PhaseDHCP      BootPhase = "dhcp"
	PhaseScript    BootPhase = "script"
	PhaseKernel    BootPhase = "kernel"
	PhaseInitrd    BootPhase = "initrd"
	PhasePhoneHome BootPhase = "phone-home"
)

// Phases lists the boot phases in order.
func Phases() []BootPhase {
	return []BootPhase{PhaseDHCP, PhaseScript, PhaseKernel, PhaseInitrd, PhasePhoneHome}
}

// PhaseTiming is one phase a machine completed.
type PhaseTiming struct {
	MAC      net.HardwareAddr
	Phase    BootPhase
	Firmware string // the firmware that started the boot (Event.Firmware)
	Duration time.Duration
}

// MachineStatus is what a BootTracker knows of one machine's latest boot.
type MachineStatus struct {
	MAC      string `json:"mac"`
	Hostname string `json:"hostname,omitempty"`
	Profile  string `json:"profile,omitempty"`
	// Firmware is the firmware that started the boot.
	Firmware string `json:"firmware,omitempty"`
	// Phase is the last phase completed; "" right after the first
	// DISCOVER.
	Phase BootPhase `json:"phase"`
	// Address is the address last acknowledged to the machine.
	Address netip.Addr `json:"address,omitzero"`
	Started time.Time  `json:"started"`
	Updated time.Time  `json:"updated"`
	// Timeline is the boot's events, the most recent MaxTimeline of them.
	Timeline []Event `json:"timeline"`
	// Denied counts the requests refused for this machine.
	Denied int `json:"denied"`
}

// Bounds of a BootTracker: what it keeps per machine and in all.
const (
	MaxTimeline        = 64
	MaxTrackedMachines = 10000
	MaxDenials         = 100
)

// BootTracker follows machines through their boots from the event stream:
// the phase each is in, its timeline, and how long each phase took. A
// DISCOVER from network-boot firmware or an iPXE ROM starts a new boot for
// that MAC (startsBoot says when). It keeps at most MaxTrackedMachines machines (the least
// recently heard from goes first). Safe for concurrent use.
type BootTracker struct {
	inventory func() Inventory
	mu        sync.Mutex
	machines  map[[6]byte]*tracked
	denials   []Event
}

type tracked struct {
	MachineStatus
	// last is when the last milestone passed; done marks milestones passed.
	last time.Time
	done map[BootPhase]bool
}

// NewBootTracker returns a tracker that asks inventory (called at each
// download, so a reloaded inventory is seen) which files are a machine's
// kernel and initrd; nil means it never tells.
func NewBootTracker(inventory func() Inventory) *BootTracker {
	return &BootTracker{inventory: inventory, machines: map[[6]byte]*tracked{}}
}

// Observe takes one event and returns the phases it completed.
func (t *BootTracker) Observe(e Event) []PhaseTiming {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Kind == EventDenied {
		t.denials = append(t.denials, e)
		if len(t.denials) > MaxDenials {
			t.denials = slices.Delete(t.denials, 0, len(t.denials)-MaxDenials)
		}
	}
	if len(e.MAC) != 6 {
		return nil
	}
	key := [6]byte(e.MAC)
	m := t.machines[key]
	if e.Kind == EventDiscovered && startsBoot(m, e.Firmware) {
		m = t.start(key, e)
	}
	if m == nil {
		return nil
	}
	m.Updated = e.Time
	m.Timeline = append(m.Timeline, e)
	if len(m.Timeline) > MaxTimeline {
		m.Timeline = slices.Delete(m.Timeline, 0, len(m.Timeline)-MaxTimeline)
	}
	var phase BootPhase
	switch e.Kind {
	case EventAcked:
		if a, err := netip.ParseAddr(strings.Fields(e.Detail + " ")[0]); err == nil {
			m.Address = a
		}
		phase = PhaseDHCP
	case EventScriptServed:
		phase = PhaseScript
		if p := strings.TrimPrefix(strings.Fields(e.Detail + " ")[0], "profile="); p != "" {
			m.Profile = p
		}
	case EventAssetSent:
		phase = t.assetPhase(e)
	case EventPhonedHome:
		phase = PhasePhoneHome
	case EventDenied:
		m.Denied++
	}
	if phase == "" || m.done[phase] {
		return nil
	}
	m.done[phase] = true
	m.Phase = phase
	d := e.Time.Sub(m.last)
	m.last = e.Time
	return []PhaseTiming{{MAC: e.MAC, Phase: phase, Firmware: m.Firmware, Duration: d}}
}

// startsBoot tells whether a DISCOVER from firmware begins a new boot of
// a machine whose current one is m: network-boot firmware does once the
// current boot got past DHCP (before that it is a retransmission); iPXE
// does once the current boot got its script, since iPXE chain-loaded by
// the firmware asks again as part of the same boot, while an iPXE ROM
// (QEMU's SeaBIOS) starts every boot itself.
func startsBoot(m *tracked, firmware string) bool {
	switch {
	case firmware == "":
		return false
	case m == nil:
		return true
	case firmware == "ipxe":
		return m.done[PhaseScript]
	}
	return m.done[PhaseDHCP]
}

// start begins a new boot for key.
func (t *BootTracker) start(key [6]byte, e Event) *tracked {
	if _, ok := t.machines[key]; !ok && len(t.machines) >= MaxTrackedMachines {
		var oldest [6]byte
		var when time.Time
		for k, m := range t.machines {
			if when.IsZero() || m.Updated.Before(when) {
				oldest, when = k, m.Updated
			}
		}
		delete(t.machines, oldest)
	}
	m := &tracked{MachineStatus: MachineStatus{MAC: e.MAC.String(), Firmware: e.Firmware, Started: e.Time},
		last: e.Time, done: map[BootPhase]bool{}}
	if inv := t.inv(); inv != nil {
		if mach, _, err := inv.Lookup(e.MAC); err == nil {
			m.Hostname, m.Profile = mach.Hostname, mach.Profile
		}
	}
	t.machines[key] = m
	return m
}

func (t *BootTracker) inv() Inventory {
	if t.inventory == nil {
		return nil
	}
	return t.inventory()
}

// assetPhase tells whether an asset-sent event is the machine's kernel or
// initrd.
func (t *BootTracker) assetPhase(e Event) BootPhase {
	inv := t.inv()
	if inv == nil {
		return ""
	}
	_, p, err := inv.Lookup(e.MAC)
	if err != nil {
		return ""
	}
	switch e.Path {
	case assetURLPath(p.Kernel):
		return PhaseKernel
	case assetURLPath(p.Initrd):
		return PhaseInitrd
	}
	return ""
}

// assetURLPath is the URL path a profile's kernel or initrd is fetched at:
// under PathAssets, or the path of an absolute URL.
func assetURLPath(ref string) string {
	if ref == "" {
		return "\x00" // matches no request path
	}
	if u, err := url.Parse(ref); err == nil && u.IsAbs() {
		return u.Path
	}
	return PathAssets + strings.TrimPrefix(ref, "/")
}

// Machines returns every tracked machine, ordered by MAC, with copies of
// their timelines.
func (t *BootTracker) Machines() []MachineStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]MachineStatus, 0, len(t.machines))
	keys := make([][6]byte, 0, len(t.machines))
	for k := range t.machines {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [6]byte) int { return bytes.Compare(a[:], b[:]) })
	for _, k := range keys {
		m := t.machines[k].MachineStatus
		m.Timeline = slices.Clone(m.Timeline)
		out = append(out, m)
	}
	return out
}

// Denials returns the most recent refusals (MaxDenials at most), oldest
// first.
func (t *BootTracker) Denials() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.denials)
}
