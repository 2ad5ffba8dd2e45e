package pxe

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/util/validation/field"
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
	// Kind is how the profile's machines boot: through iPXE
	// (ProfileIPXE, the default) or, for x86-64 UEFI machines under
	// Secure Boot, through shim and GRUB (ProfileSecureBoot).
	Kind ProfileKind
}

// Machine is one known machine.
type Machine struct {
	MAC      net.HardwareAddr
	Hostname string
	// Profile names the profile the machine boots.
	Profile string
	// Vars are free-form values for the profile's templates.
	Vars map[string]string
}

// Inventory tells the boot server which machine a MAC is and how it boots.
// Implementations are safe for concurrent use; Lookup is on the DHCP and HTTP hot
// paths, so it answers from memory.
type Inventory interface {
	// Lookup returns the machine with this MAC and its profile. For a MAC it does not
	// list, it returns a machine with the default profile, or ErrUnknownMachine.
	Lookup(mac net.HardwareAddr) (Machine, Profile, error)
	// Revision changes whenever an answer of Lookup may have changed, so a server can
	// key caches (rendered scripts) on it and notice a change on its next request.
	Revision() uint64
}

// InventoryLister is an Inventory that can list its machines, for a
// dashboard or a command that shows the inventory.
type InventoryLister interface {
	Inventory
	// Machines returns every machine the inventory lists (not the ones
	// only its default profile covers), ordered by MAC.
	Machines() []Machine
}

// ErrUnknownMachine is returned for a MAC the inventory does not list when
// there is no default profile.
var ErrUnknownMachine = errors.New("unknown machine and no default profile")

// InventorySpec is the content of a StaticInventory, written as a literal
// or produced by an importer (pxe/harvester, pxe/iscdhcp).
type InventorySpec struct {
	Machines []Machine
	Profiles map[string]Profile
	// Default is the profile for machines not listed; empty means unknown
	// machines are denied.
	Default string
}

// Validate checks that every machine has a 6-byte MAC listed once and
// names a profile that exists, that the default does too, and that every
// profile has a kernel or a script. Paths are relative to the spec
// (machines[2].mac).
func (s InventorySpec) Validate() field.ErrorList {
	var errs field.ErrorList
	seen := map[string]int{}
	for i, m := range s.Machines {
		p := field.NewPath("machines").Index(i)
		errs = append(errs, validateMAC(p.Child("mac"), m.MAC)...)
		if len(m.MAC) == 6 {
			if j, dup := seen[string(m.MAC)]; dup {
				errs = append(errs, field.Duplicate(p.Child("mac"), fmt.Sprintf("%s (also machines[%d])", m.MAC, j)))
			} else {
				seen[string(m.MAC)] = i
			}
		}
		errs = append(errs, validateProfileName(p.Child("profile"), m.Profile, s.Profiles)...)
	}
	if s.Default != "" {
		errs = append(errs, validateProfileName(field.NewPath("default"), s.Default, s.Profiles)...)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Profiles)) {
		errs = append(errs, s.Profiles[name].validate(field.NewPath("profiles").Key(name))...)
	}
	return errs
}

func validateMAC(p *field.Path, mac net.HardwareAddr) field.ErrorList {
	if len(mac) != 6 {
		return field.ErrorList{field.Invalid(p, mac.String(), "must be a 6-byte Ethernet address")}
	}
	return nil
}

func validateProfileName(p *field.Path, name string, profiles map[string]Profile) field.ErrorList {
	if _, ok := profiles[name]; ok {
		return nil
	}
	names := slices.Sorted(maps.Keys(profiles))
	return field.ErrorList{field.Invalid(p, name, "is not a profile (have "+strings.Join(names, ", ")+")")}
}

func (p Profile) validate(path *field.Path) field.ErrorList {
	if p.Script == "" && p.Kernel == "" {
		return field.ErrorList{field.Required(path, "needs a kernel or a script")}
	}
	return p.validateKind(path)
}

// StaticInventory is an Inventory held in memory: machines indexed by MAC,
// profiles by name. Reads take no lock (they load an immutable snapshot);
// each change builds a new snapshot and bumps the revision, so a running
// server sees it on its next request. A change copies the snapshot, which
// suits inventories that are read far more often than written. The zero
// value is an empty inventory that denies every machine.
//
// Lookup's results share the snapshot's maps and slices: do not modify
// them.
type StaticInventory struct {
	mu  sync.Mutex // serializes writers
	cur atomic.Pointer[inventorySnapshot]
}

// inventorySnapshot is one revision of a StaticInventory; it is never
// modified once published.
type inventorySnapshot struct {
	rev      uint64
	machines map[[6]byte]Machine
	profiles map[string]Profile
	def      string
}

// NewStaticInventory checks spec (InventorySpec.Validate) and returns an
// inventory holding a copy of it.
func NewStaticInventory(spec InventorySpec) (*StaticInventory, error) {
	inv := &StaticInventory{}
	if err := inv.Replace(spec); err != nil {
		return nil, err
	}
	return inv, nil
}

func (inv *StaticInventory) load() *inventorySnapshot {
	if s := inv.cur.Load(); s != nil {
		return s
	}
	return &inventorySnapshot{} // the zero value: empty, revision 0
}

// Lookup implements Inventory.
func (inv *StaticInventory) Lookup(mac net.HardwareAddr) (Machine, Profile, error) {
	s := inv.load()
	if len(mac) == 6 {
		if m, ok := s.machines[[6]byte(mac)]; ok {
			return m, s.profiles[m.Profile], nil
		}
	}
	if s.def == "" {
		return Machine{}, Profile{}, ErrUnknownMachine
	}
	return Machine{MAC: mac, Profile: s.def}, s.profiles[s.def], nil
}

// Revision implements Inventory: it starts at 0 for the zero value and
// grows by one with every change.
func (inv *StaticInventory) Revision() uint64 { return inv.load().rev }

// Machines implements InventoryLister.
func (inv *StaticInventory) Machines() []Machine {
	s := inv.load()
	out := make([]Machine, 0, len(s.machines))
	for _, m := range s.machines {
		out = append(out, cloneMachine(m))
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].MAC, out[j].MAC) < 0 })
	return out
}

// Spec returns a copy of the inventory's content, machines ordered by MAC.
func (inv *StaticInventory) Spec() InventorySpec {
	s := inv.load()
	spec := InventorySpec{Machines: inv.Machines(), Profiles: make(map[string]Profile, len(s.profiles)), Default: s.def}
	for name, p := range s.profiles {
		spec.Profiles[name] = cloneProfile(p)
	}
	return spec
}

// Validate reports what InventorySpec.Validate says of the content. Every
// change is checked before it is applied, so it is empty unless the
// inventory was built some other way than its methods allow.
func (inv *StaticInventory) Validate() field.ErrorList { return inv.Spec().Validate() }

// Replace swaps the whole content for spec, once spec passes Validate.
func (inv *StaticInventory) Replace(spec InventorySpec) error {
	if errs := spec.Validate(); len(errs) > 0 {
		return fmt.Errorf("inventory: %w", errs.ToAggregate())
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	next := &inventorySnapshot{
		rev:      inv.load().rev + 1,
		machines: make(map[[6]byte]Machine, len(spec.Machines)),
		profiles: make(map[string]Profile, len(spec.Profiles)),
		def:      spec.Default,
	}
	for _, m := range spec.Machines {
		next.machines[[6]byte(m.MAC)] = cloneMachine(m)
	}
	for name, p := range spec.Profiles {
		next.profiles[name] = cloneProfile(p)
	}
	inv.cur.Store(next)
	return nil
}

// SetMachine adds m, or replaces the machine with its MAC. Its profile
// must exist.
func (inv *StaticInventory) SetMachine(m Machine) error {
	return inv.update(func(s *inventorySnapshot) (bool, field.ErrorList) {
		errs := validateMAC(field.NewPath("mac"), m.MAC)
		errs = append(errs, validateProfileName(field.NewPath("profile"), m.Profile, s.profiles)...)
		if len(errs) > 0 {
			return false, errs
		}
		s.machines = maps.Clone(s.machines)
		if s.machines == nil {
			s.machines = map[[6]byte]Machine{}
		}
		s.machines[[6]byte(m.MAC)] = cloneMachine(m)
		return true, nil
	})
}

// RemoveMachine removes the machine with this MAC and reports whether the
// inventory listed it. Afterwards the MAC gets the default profile, if
// there is one.
func (inv *StaticInventory) RemoveMachine(mac net.HardwareAddr) bool {
	removed := false
	_ = inv.update(func(s *inventorySnapshot) (bool, field.ErrorList) {
		if len(mac) != 6 {
			return false, nil
		}
		if _, ok := s.machines[[6]byte(mac)]; !ok {
			return false, nil
		}
		s.machines = maps.Clone(s.machines)
		delete(s.machines, [6]byte(mac))
		removed = true
		return true, nil
	})
	return removed
}

// SetProfile adds the profile name, or replaces it: machines that boot it
// get the new one on their next request.
func (inv *StaticInventory) SetProfile(name string, p Profile) error {
	return inv.update(func(s *inventorySnapshot) (bool, field.ErrorList) {
		path := field.NewPath("profiles").Key(name)
		if name == "" {
			return false, field.ErrorList{field.Required(path, "a profile needs a name")}
		}
		if errs := p.validate(path); len(errs) > 0 {
			return false, errs
		}
		s.profiles = maps.Clone(s.profiles)
		if s.profiles == nil {
			s.profiles = map[string]Profile{}
		}
		s.profiles[name] = cloneProfile(p)
		return true, nil
	})
}

// RemoveProfile removes the profile name, which no machine and not the
// default may still name.
func (inv *StaticInventory) RemoveProfile(name string) error {
	return inv.update(func(s *inventorySnapshot) (bool, field.ErrorList) {
		path := field.NewPath("profiles").Key(name)
		if _, ok := s.profiles[name]; !ok {
			return false, field.ErrorList{field.NotFound(path, name)}
		}
		if s.def == name {
			return false, field.ErrorList{field.Forbidden(path, "is the default profile")}
		}
		for _, m := range s.machines {
			if m.Profile == name {
				return false, field.ErrorList{field.Forbidden(path, "machine "+m.MAC.String()+" boots it")}
			}
		}
		s.profiles = maps.Clone(s.profiles)
		delete(s.profiles, name)
		return true, nil
	})
}

// SetDefault sets the profile unknown machines boot; "" denies them.
func (inv *StaticInventory) SetDefault(name string) error {
	return inv.update(func(s *inventorySnapshot) (bool, field.ErrorList) {
		if name != "" {
			if errs := validateProfileName(field.NewPath("default"), name, s.profiles); len(errs) > 0 {
				return false, errs
			}
		}
		changed := s.def != name
		s.def = name
		return changed, nil
	})
}

// update applies change to a copy of the current snapshot (change clones
// the maps it modifies) and publishes it with the next revision, unless
// change reports errors or that it changed nothing.
func (inv *StaticInventory) update(change func(*inventorySnapshot) (bool, field.ErrorList)) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	cur := inv.load()
	next := *cur
	changed, errs := change(&next)
	if len(errs) > 0 {
		return fmt.Errorf("inventory: %w", errs.ToAggregate())
	}
	if !changed {
		return nil
	}
	next.rev = cur.rev + 1
	inv.cur.Store(&next)
	return nil
}

func cloneMachine(m Machine) Machine {
	m.MAC = slices.Clone(m.MAC)
	m.Vars = maps.Clone(m.Vars)
	return m
}

func cloneProfile(p Profile) Profile {
	p.Args = slices.Clone(p.Args)
	p.Files = maps.Clone(p.Files)
	return p
}
