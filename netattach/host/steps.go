//go:build linux

package host

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Action names what a Step does.
type Action string

// The actions a plan is made of.
const (
	ActionCreateBridge     Action = "create-bridge"
	ActionCreateVLAN       Action = "create-vlan"
	ActionDelete           Action = "delete"
	ActionSetSTP           Action = "set-stp"
	ActionSetVLANFiltering Action = "set-vlan-filtering"
	ActionSetMaster        Action = "set-master"
	ActionReleasePort      Action = "release-port"
	ActionSetMTU           Action = "set-mtu"
	ActionSetUp            Action = "set-up"
	ActionSetDown          Action = "set-down"
	ActionAddAddress       Action = "add-address"
	ActionDelAddress       Action = "del-address"
	ActionSetPortVLANs     Action = "set-port-vlans"
	ActionAddBridgeVLAN    Action = "add-bridge-vlan"
)

// Step is one change a Plan makes to one interface.
type Step struct {
	// Action is what the step does.
	Action Action
	// Interface is the link the step changes.
	Interface string
	// Detail is the value set, human readable ("off", "9000",
	// "192.0.2.1/24", "100 pvid untagged").
	Detail string

	// run makes the change and returns how to undo it.
	run func(s *session) (undo func(s *session) error, err error)
}

// String is the step as the plan prints it: "set-stp br1 off".
func (st Step) String() string {
	if st.Detail == "" {
		return string(st.Action) + " " + st.Interface
	}
	return string(st.Action) + " " + st.Interface + " " + st.Detail
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (s *session) link(name string) (netlink.Link, error) {
	l, err := s.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			// netlink turns the kernel's ENODEV into its own type; keep the
			// errno so callers can test for it.
			err = unix.ENODEV
		}
		return nil, fmt.Errorf("link %s: %w", name, kernelErr(err, nil))
	}
	return l, nil
}

func stepCreateBridge(name string) Step {
	return Step{Action: ActionCreateBridge, Interface: name, run: func(s *session) (func(*session) error, error) {
		if err := s.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			return nil, kernelErr(err, nil)
		}
		return func(s *session) error { return deleteByName(s, name) }, nil
	}}
}

func stepCreateVLAN(name, parent string, id int) Step {
	return Step{Action: ActionCreateVLAN, Interface: name, Detail: fmt.Sprintf("id %d on %s", id, parent),
		run: func(s *session) (func(*session) error, error) {
			if err := createVLAN(s, name, parent, id); err != nil {
				return nil, err
			}
			return func(s *session) error { return deleteByName(s, name) }, nil
		}}
}

func createVLAN(s *session, name, parent string, id int) error {
	p, err := s.link(parent)
	if err != nil {
		return err
	}
	v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: p.Attrs().Index}, VlanId: id}
	return kernelErr(s.h.LinkAdd(v), ErrNo8021Q)
}

func deleteByName(s *session, name string) error {
	l, err := s.link(name)
	if err != nil {
		return err
	}
	return kernelErr(s.h.LinkDel(l), nil)
}

// stepDelete deletes a bridge or VLAN link; undo recreates it from what the
// snapshot knew (kind, VLAN id, MTU, STP, VLAN filtering, addresses, ports,
// up) — port VLAN sets of its former ports are not restored.
func stepDelete(old linkState, ports []string) Step {
	return Step{Action: ActionDelete, Interface: old.Name, Detail: old.Kind, run: func(s *session) (func(*session) error, error) {
		if err := deleteByName(s, old.Name); err != nil {
			return nil, err
		}
		return func(s *session) error { return recreate(s, old, ports) }, nil
	}}
}

func recreate(s *session, old linkState, ports []string) error {
	switch old.Kind {
	case "bridge":
		if err := s.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: old.Name}}); err != nil {
			return kernelErr(err, nil)
		}
	case "vlan":
		if err := createVLAN(s, old.Name, old.VLANParent, old.VLANID); err != nil {
			return err
		}
	default:
		return fmt.Errorf("cannot recreate a %s link", old.Kind)
	}
	l, err := s.link(old.Name)
	if err != nil {
		return err
	}
	idx := l.Attrs().Index
	var errs []string
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, what+": "+err.Error())
		}
	}
	if old.Kind == "bridge" {
		note("stp", s.raw.setBridgeSTP(idx, old.STP))
		if old.VLANFilter {
			note("vlan filtering", s.h.BridgeSetVlanFiltering(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: old.Name, Index: idx}}, true))
		}
	}
	for _, p := range ports {
		pl, err := s.link(p)
		if err == nil {
			err = s.h.LinkSetMasterByIndex(pl, idx)
		}
		note("port "+p, err)
	}
	if old.MTU > 0 {
		note("mtu", s.h.LinkSetMTU(l, old.MTU))
	}
	for _, a := range old.Addrs {
		note("address "+a.String(), s.h.AddrAdd(l, nlAddr(a)))
	}
	if old.Up {
		note("up", s.h.LinkSetUp(l))
	}
	if len(errs) > 0 {
		return fmt.Errorf("recreated %s partially: %s", old.Name, strings.Join(errs, "; "))
	}
	return nil
}

func stepSetSTP(name string, on, old bool) Step {
	set := func(s *session, v bool) error {
		l, err := s.link(name)
		if err != nil {
			return err
		}
		return kernelErr(s.raw.setBridgeSTP(l.Attrs().Index, v), nil)
	}
	return Step{Action: ActionSetSTP, Interface: name, Detail: onOff(on), run: func(s *session) (func(*session) error, error) {
		if err := set(s, on); err != nil {
			return nil, err
		}
		return func(s *session) error { return set(s, old) }, nil
	}}
}

func stepSetVLANFiltering(name string, on, old bool) Step {
	set := func(s *session, v bool) error {
		l, err := s.link(name)
		if err != nil {
			return err
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, Index: l.Attrs().Index}}
		return kernelErr(s.h.BridgeSetVlanFiltering(br, v), ErrNoVLANFiltering)
	}
	return Step{Action: ActionSetVLANFiltering, Interface: name, Detail: onOff(on), run: func(s *session) (func(*session) error, error) {
		if err := set(s, on); err != nil {
			return nil, err
		}
		return func(s *session) error { return set(s, old) }, nil
	}}
}

// setMaster enslaves port to master ("" releases it).
func setMaster(s *session, port, master string) error {
	pl, err := s.link(port)
	if err != nil {
		return err
	}
	if master == "" {
		return kernelErr(s.h.LinkSetNoMaster(pl), nil)
	}
	ml, err := s.link(master)
	if err != nil {
		return err
	}
	return kernelErr(s.h.LinkSetMasterByIndex(pl, ml.Attrs().Index), nil)
}

func stepSetMaster(port, master, old string) Step {
	return Step{Action: ActionSetMaster, Interface: port, Detail: "-> " + master, run: func(s *session) (func(*session) error, error) {
		if err := setMaster(s, port, master); err != nil {
			return nil, err
		}
		return func(s *session) error { return setMaster(s, port, old) }, nil
	}}
}

func stepReleasePort(port, old string) Step {
	return Step{Action: ActionReleasePort, Interface: port, Detail: "from " + old, run: func(s *session) (func(*session) error, error) {
		if err := setMaster(s, port, ""); err != nil {
			return nil, err
		}
		return func(s *session) error { return setMaster(s, port, old) }, nil
	}}
}

func stepSetMTU(name string, mtu, old int) Step {
	set := func(s *session, v int) error {
		l, err := s.link(name)
		if err != nil {
			return err
		}
		return kernelErr(s.h.LinkSetMTU(l, v), nil)
	}
	return Step{Action: ActionSetMTU, Interface: name, Detail: fmt.Sprint(mtu), run: func(s *session) (func(*session) error, error) {
		if err := set(s, mtu); err != nil {
			return nil, err
		}
		return func(s *session) error { return set(s, old) }, nil
	}}
}

func setUp(s *session, name string, up bool) error {
	l, err := s.link(name)
	if err != nil {
		return err
	}
	if up {
		return kernelErr(s.h.LinkSetUp(l), nil)
	}
	return kernelErr(s.h.LinkSetDown(l), nil)
}

func stepSetUp(name string, up bool) Step {
	a := ActionSetDown
	if up {
		a = ActionSetUp
	}
	return Step{Action: a, Interface: name, run: func(s *session) (func(*session) error, error) {
		if err := setUp(s, name, up); err != nil {
			return nil, err
		}
		return func(s *session) error { return setUp(s, name, !up) }, nil
	}}
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	ip := net.IP(p.Addr().AsSlice())
	return &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
}

func addrOp(s *session, name string, p netip.Prefix, add bool) error {
	l, err := s.link(name)
	if err != nil {
		return err
	}
	if add {
		return kernelErr(s.h.AddrAdd(l, nlAddr(p)), nil)
	}
	return kernelErr(s.h.AddrDel(l, nlAddr(p)), nil)
}

func stepAddr(name string, p netip.Prefix, add bool) Step {
	a := ActionDelAddress
	if add {
		a = ActionAddAddress
	}
	return Step{Action: a, Interface: name, Detail: p.String(), run: func(s *session) (func(*session) error, error) {
		if err := addrOp(s, name, p, add); err != nil {
			return nil, err
		}
		return func(s *session) error { return addrOp(s, name, p, !add) }, nil
	}}
}

// vlanChange is one VLAN entry added to or deleted from a port.
type vlanChange struct {
	id  uint16
	f   vlanFlags
	add bool
}

func (s *session) vlanOp(port string, c vlanChange) error {
	l, err := s.link(port)
	if err != nil {
		return err
	}
	if c.add {
		return kernelErr(s.h.BridgeVlanAdd(l, c.id, c.f.PVID, c.f.Untagged, false, true), ErrNoVLANFiltering)
	}
	return kernelErr(s.h.BridgeVlanDel(l, c.id, c.f.PVID, c.f.Untagged, false, true), ErrNoVLANFiltering)
}

// portVLANDiff is the changes that turn cur into the wanted set. With exact,
// every VLAN not wanted goes (nmstate); otherwise only those in drop go (the
// bridge CNI's preserveDefaultVlan: false).
func portVLANDiff(cur, want map[uint16]vlanFlags, exact bool, drop []uint16) []vlanChange {
	var ch []vlanChange
	// Additions first: adding the new PVID moves the PVID off the old VLAN,
	// so the port never goes through a moment without an untagged VLAN.
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if f, ok := cur[id]; !ok || f != want[id] {
			ch = append(ch, vlanChange{id: id, f: want[id], add: true})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cur)) {
		if _, wanted := want[id]; wanted {
			continue
		}
		if exact || slices.Contains(drop, id) {
			ch = append(ch, vlanChange{id: id, f: cur[id]})
		}
	}
	return ch
}

// describeVLANs prints a VLAN set compactly: "100 pvid untagged", "10-20,30".
func describeVLANs(m map[uint16]vlanFlags) string {
	var parts []string
	ids := slices.Sorted(maps.Keys(m))
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 && m[ids[j+1]] == m[ids[i]] {
			j++
		}
		p := fmt.Sprint(ids[i])
		if j > i {
			p = fmt.Sprintf("%d-%d", ids[i], ids[j])
		}
		if f := m[ids[i]]; f.PVID {
			p += " pvid"
		}
		if f := m[ids[i]]; f.Untagged {
			p += " untagged"
		}
		parts = append(parts, p)
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// stepSetPortVLANs brings a bridge port's VLAN set to want. It diffs against
// the port's VLANs when it runs (enslaving gives a port the bridge's default
// PVID, which the plan cannot see yet) and undoes exactly what it changed.
func stepSetPortVLANs(port string, want map[uint16]vlanFlags, exact bool, drop []uint16) Step {
	detail := describeVLANs(want)
	if exact {
		detail = "= " + detail
	} else {
		detail = "+ " + detail
		if len(drop) > 0 {
			detail += fmt.Sprintf(" - %v", drop)
		}
	}
	return Step{Action: ActionSetPortVLANs, Interface: port, Detail: detail, run: func(s *session) (func(*session) error, error) {
		l, err := s.link(port)
		if err != nil {
			return nil, err
		}
		cur, err := s.portVLANs(l.Attrs().Index)
		if err != nil {
			return nil, kernelErr(err, nil)
		}
		var done []vlanChange
		undo := func(s *session) error {
			var errs []string
			for i := len(done) - 1; i >= 0; i-- {
				c := done[i]
				rev := vlanChange{id: c.id, f: c.f, add: !c.add}
				if c.add {
					if old, had := cur[c.id]; had {
						rev = vlanChange{id: c.id, f: old, add: true}
					}
				}
				if err := s.vlanOp(port, rev); err != nil {
					errs = append(errs, fmt.Sprintf("vlan %d: %v", c.id, err))
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("restore VLANs of %s: %s", port, strings.Join(errs, "; "))
			}
			return nil
		}
		for _, c := range portVLANDiff(cur, want, exact, drop) {
			if err := s.vlanOp(port, c); err != nil {
				verb := "delete"
				if c.add {
					verb = "add"
				}
				if uerr := undo(s); uerr != nil {
					err = fmt.Errorf("%w (and undoing this step's earlier VLAN changes failed: %v)", err, uerr)
				}
				return nil, fmt.Errorf("%s VLAN %d: %w", verb, c.id, err)
			}
			done = append(done, c)
		}
		return undo, nil
	}}
}

// stepAddBridgeVLAN makes a VLAN-filtering bridge itself a (tagged) member of
// VLAN vid — `bridge vlan add dev BR vid VID self` — so an 8021q link on the
// bridge (the host's leg in that VLAN, e.g. the PXE server's) can send and
// receive through it.
func stepAddBridgeVLAN(bridge string, vid int) Step {
	op := func(s *session, add bool) error {
		l, err := s.link(bridge)
		if err != nil {
			return err
		}
		if add {
			return kernelErr(s.h.BridgeVlanAdd(l, uint16(vid), false, false, true, false), ErrNoVLANFiltering)
		}
		return kernelErr(s.h.BridgeVlanDel(l, uint16(vid), false, false, true, false), ErrNoVLANFiltering)
	}
	return Step{Action: ActionAddBridgeVLAN, Interface: bridge, Detail: fmt.Sprintf("%d self", vid),
		run: func(s *session) (func(*session) error, error) {
			if err := op(s, true); err != nil {
				return nil, err
			}
			return func(s *session) error { return op(s, false) }, nil
		}}
}
