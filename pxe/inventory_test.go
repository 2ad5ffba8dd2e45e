package pxe

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
)

// Changes are checked, bump the revision only when they change something,
// and never reach a caller's copy (or the caller's values reach the
// inventory).
func TestStaticInventoryChanges(t *testing.T) {
	spec := testInventory()
	inv, err := NewStaticInventory(spec)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Revision() != 1 {
		t.Errorf("revision of a new inventory = %d, want 1", inv.Revision())
	}
	// The spec the inventory was built from is the caller's to change.
	spec.Machines[0].Vars["token"] = "changed"
	spec.Profiles["create"] = Profile{Kernel: "other"}
	if m, p, _ := inv.Lookup(macA); m.Vars["token"] != "s3cret" || p.Kernel != "vmlinuz" {
		t.Errorf("a change to the spec reached the inventory: %+v %+v", m, p)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"machine with a short MAC", inv.SetMachine(Machine{MAC: net.HardwareAddr{1, 2}, Profile: "join"}), "mac: Invalid value"},
		{"machine with no such profile", inv.SetMachine(Machine{MAC: macA, Profile: "nope"}), `profile: Invalid value: "nope"`},
		{"profile without kernel or script", inv.SetProfile("empty", Profile{}), "profiles[empty]: Required value"},
		{"removing a profile in use", inv.RemoveProfile("join"), "machine 52:54:00:69:d5:92 boots it"},
		{"removing a missing profile", inv.RemoveProfile("nope"), "profiles[nope]: Not found"},
		{"default that is not a profile", inv.SetDefault("nope"), `default: Invalid value: "nope"`},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if inv.Revision() != 1 {
		t.Errorf("refused changes moved the revision to %d", inv.Revision())
	}
	if inv.RemoveMachine(net.HardwareAddr{0x52, 0x54, 0, 0, 0, 9}) || inv.Revision() != 1 {
		t.Errorf("removing an unlisted machine: revision %d", inv.Revision())
	}
	if err := inv.SetDefault(""); err != nil || inv.Revision() != 1 {
		t.Errorf("setting the default it has: %v, revision %d", err, inv.Revision())
	}
	if err := inv.SetProfile("rescue", Profile{Kernel: "vmlinuz"}); err != nil {
		t.Fatal(err)
	}
	if err := inv.SetDefault("rescue"); err != nil {
		t.Fatal(err)
	}
	if !inv.RemoveMachine(macB) {
		t.Fatal("RemoveMachine(macB) = false")
	}
	if inv.Revision() != 4 {
		t.Errorf("revision after three changes = %d, want 4", inv.Revision())
	}
	if m, _, err := inv.Lookup(macB); err != nil || m.Profile != "rescue" || m.Hostname != "" {
		t.Errorf("removed machine: %+v %v, want the default profile", m, err)
	}
	if err := inv.RemoveProfile("join"); err != nil {
		t.Errorf("join is no longer used: %v", err)
	}
	got := inv.Spec()
	if len(got.Machines) != 1 || got.Default != "rescue" || len(got.Profiles) != 2 || len(inv.Validate()) != 0 {
		t.Errorf("spec %+v, validate %v", got, inv.Validate())
	}
	got.Machines[0].Vars["token"] = "changed"
	if m, _, _ := inv.Lookup(macA); m.Vars["token"] != "s3cret" {
		t.Error("a change to Spec's copy reached the inventory")
	}
	if err := inv.Replace(InventorySpec{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := inv.Lookup(macA); !errors.Is(err, ErrUnknownMachine) {
		t.Errorf("after Replace with nothing: %v", err)
	}
}

// The zero value is an empty inventory at revision 0 that can be filled.
func TestStaticInventoryZero(t *testing.T) {
	var inv StaticInventory
	if _, _, err := inv.Lookup(macA); !errors.Is(err, ErrUnknownMachine) || inv.Revision() != 0 || len(inv.Machines()) != 0 {
		t.Fatalf("zero value: %v, revision %d", err, inv.Revision())
	}
	if err := inv.SetProfile("p", Profile{Script: "#!ipxe\nexit\n"}); err != nil {
		t.Fatal(err)
	}
	if err := inv.SetMachine(Machine{MAC: macA, Profile: "p"}); err != nil {
		t.Fatal(err)
	}
	if m, p, err := inv.Lookup(macA); err != nil || m.Profile != "p" || p.Script == "" || inv.Revision() != 2 {
		t.Errorf("%+v %+v %v revision %d", m, p, err, inv.Revision())
	}
}

// Machines lists by MAC, whatever the order they were given in.
func TestStaticInventoryMachinesOrdered(t *testing.T) {
	inv, err := NewStaticInventory(testInventory()) // macA (…6b…) before macB (…69…)
	if err != nil {
		t.Fatal(err)
	}
	var lister InventoryLister = inv
	ms := lister.Machines()
	if len(ms) != 2 || ms[0].MAC.String() != macB.String() || ms[1].MAC.String() != macA.String() {
		t.Errorf("machines %v, want %s then %s", ms, macB, macA)
	}
}

// Lookups race with changes (run with -race): each answer is one whole
// revision, never a machine with another revision's profile.
func TestStaticInventoryConcurrent(t *testing.T) {
	inv, err := NewStaticInventory(InventorySpec{
		Machines: []Machine{{MAC: macA, Profile: "p0"}},
		Profiles: map[string]Profile{"p0": {Kernel: "k0"}, "p1": {Kernel: "k1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				m, p, err := inv.Lookup(macA)
				if err != nil || p.Kernel != "k"+strings.TrimPrefix(m.Profile, "p") {
					t.Errorf("torn answer: %+v %+v %v", m, p, err)
					return
				}
			}
		})
	}
	for i := range 2000 {
		if err := inv.SetMachine(Machine{MAC: macA, Profile: []string{"p0", "p1"}[i%2]}); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	if inv.Revision() != 2001 {
		t.Errorf("revision %d after 2000 changes, want 2001", inv.Revision())
	}
}
