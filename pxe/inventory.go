package pxe

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
)

// Profile is how a class of machines boots: a kernel, an initrd and their
// arguments, or a whole iPXE script template.
type Profile struct {
	// Kernel and Initrd are asset paths (served under /assets/) or absolute
	// http(s) URLs.
	Kernel string
	Initrd string
	// Args are the kernel arguments, one per element, each checked by the
	// ipxe package so a value cannot smuggle in another argument or command.
	Args []string
	// Script, if set, is a text/template for the whole iPXE script instead of
	// the kernel/initrd/boot script built from the fields above. It sees
	// ScriptData.
	Script string
	// Files are per-machine files (installer configs and the like), by name,
	// as text/templates that see ScriptData. They are served at
	// /machines/<mac>/<name> to that machine only.
	Files map[string]string
}

// Machine is one known machine.
type Machine struct {
	MAC      net.HardwareAddr
	Hostname string
	// Profile names an entry of Inventory.Profiles.
	Profile string
	// Vars are free-form values for the profile's templates.
	Vars map[string]string
}

// Inventory maps machines to profiles.
type Inventory struct {
	Machines []Machine
	Profiles map[string]Profile
	// Default is the profile for machines not listed; empty means unknown
	// machines are denied.
	Default string
}

// ErrUnknownMachine is returned for a MAC the inventory does not list when
// there is no default profile.
var ErrUnknownMachine = errors.New("unknown machine and no default profile")

// Validate checks that every machine and the default name a profile that
// exists and that no MAC is listed twice.
func (inv *Inventory) Validate() error {
	var errs []string
	seen := map[string]bool{}
	for i, m := range inv.Machines {
		if len(m.MAC) != 6 {
			errs = append(errs, fmt.Sprintf("machines[%d].mac: %q is not a 6-byte Ethernet address", i, m.MAC))
			continue
		}
		k := m.MAC.String()
		if seen[k] {
			errs = append(errs, fmt.Sprintf("machines[%d].mac: %s is listed twice", i, k))
		}
		seen[k] = true
		if _, ok := inv.Profiles[m.Profile]; !ok {
			errs = append(errs, fmt.Sprintf("machines[%d].profile: %q is not a profile (have %s)", i, m.Profile, inv.profileNames()))
		}
	}
	if inv.Default != "" {
		if _, ok := inv.Profiles[inv.Default]; !ok {
			errs = append(errs, fmt.Sprintf("default: %q is not a profile (have %s)", inv.Default, inv.profileNames()))
		}
	}
	for name, p := range inv.Profiles {
		if p.Script == "" && p.Kernel == "" {
			errs = append(errs, fmt.Sprintf("profiles[%s]: needs a kernel or a script", name))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func (inv *Inventory) profileNames() string {
	names := make([]string, 0, len(inv.Profiles))
	for n := range inv.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Lookup returns the machine for mac (a synthesized one carrying the default
// profile for an unknown MAC) and its profile.
func (inv *Inventory) Lookup(mac net.HardwareAddr) (Machine, Profile, error) {
	for _, m := range inv.Machines {
		if macEqual(m.MAC, mac) {
			return m, inv.Profiles[m.Profile], nil
		}
	}
	if inv.Default == "" {
		return Machine{}, Profile{}, ErrUnknownMachine
	}
	return Machine{MAC: mac, Profile: inv.Default}, inv.Profiles[inv.Default], nil
}

// Known reports whether mac is listed (not merely covered by the default).
func (inv *Inventory) Known(mac net.HardwareAddr) bool {
	for _, m := range inv.Machines {
		if macEqual(m.MAC, mac) {
			return true
		}
	}
	return false
}

func macEqual(a, b net.HardwareAddr) bool {
	return len(a) == len(b) && string(a) == string(b)
}
