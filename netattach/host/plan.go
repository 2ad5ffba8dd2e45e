//go:build linux

package host

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/netattach"
)

// planner computes the steps from a snapshot to a desired state. It updates
// its working copy of the snapshot as it plans, so later steps see what
// earlier ones will have done.
type planner struct {
	w     *snapshot
	steps []Step
	errs  field.ErrorList
}

func (p *planner) add(st Step) { p.steps = append(p.steps, st) }

func ifPath(i int) *field.Path { return field.NewPath("interfaces").Index(i) }

func wantUp(in netattach.Interface) bool { return in.State == "" || in.State == netattach.StateUp }

// planPolicy plans nmstate semantics for policy against snap.
func planPolicy(policy netattach.State, snap *snapshot) ([]Step, field.ErrorList) {
	steps, _, errs := planPredict(policy, snap)
	return steps, errs
}

// planPredict also returns the state the plan predicts the namespace will be
// in once applied (the planner's working copy).
func planPredict(policy netattach.State, snap *snapshot) ([]Step, *snapshot, field.ErrorList) {
	if errs := Validate(policy); len(errs) > 0 {
		return nil, nil, errs
	}
	p := &planner{w: snap.clone()}
	ifs := policy.Interfaces
	byType := func(t string, absent bool) []int {
		var out []int
		for i, in := range ifs {
			if in.Type == t && (in.State == netattach.StateAbsent) == absent {
				out = append(out, i)
			}
		}
		return out
	}
	// 1. Absent interfaces go first: VLAN links, then bridges, then
	// ethernet NICs go down (nmstate deactivates, it cannot delete them).
	for _, i := range byType(netattach.TypeVLAN, true) {
		p.planDelete(i, ifs[i], "vlan")
	}
	for _, i := range byType(netattach.TypeLinuxBridge, true) {
		p.planDelete(i, ifs[i], "bridge")
	}
	for _, i := range byType(netattach.TypeEthernet, true) {
		if l := p.w.links[ifs[i].Name]; l != nil && l.Up {
			p.add(stepSetUp(l.Name, false))
			l.Up = false
		}
	}
	// 2. Ethernet NICs must exist; their MTU goes first so a jumbo bridge
	// can take their ports.
	for _, i := range byType(netattach.TypeEthernet, false) {
		in := ifs[i]
		l := p.w.links[in.Name]
		if l == nil {
			p.errs = append(p.errs, field.NotFound(ifPath(i).Child("name"), in.Name))
			continue
		}
		p.planMTU(l, in.MTU)
	}
	// 3. Bridges and their options.
	for _, i := range byType(netattach.TypeLinuxBridge, false) {
		p.planBridge(i, ifs[i])
	}
	// 4. VLAN links (their base may be a bridge created above).
	for _, i := range byType(netattach.TypeVLAN, false) {
		p.planVLANLink(i, ifs[i])
	}
	// 5. Ports, then bridge and VLAN MTUs (enslaving may lower a bridge's
	// MTU), then port VLANs.
	for _, i := range byType(netattach.TypeLinuxBridge, false) {
		p.planPorts(i, ifs[i])
	}
	for _, i := range append(byType(netattach.TypeLinuxBridge, false), byType(netattach.TypeVLAN, false)...) {
		if l := p.w.links[ifs[i].Name]; l != nil {
			p.planMTU(l, ifs[i].MTU)
		}
	}
	for _, i := range byType(netattach.TypeLinuxBridge, false) {
		p.planPortVLANs(ifs[i])
	}
	// 6. Addresses.
	for _, in := range ifs {
		if in.State == netattach.StateAbsent {
			continue
		}
		if l := p.w.links[in.Name]; l != nil {
			p.planAddrs(l, in.IPv4, false)
			p.planAddrs(l, in.IPv6, true)
		}
	}
	// 7. Up/down: ports of up bridges, then ethernet, bridges, VLANs.
	explicitDown := map[string]bool{}
	for _, in := range ifs {
		if in.State == netattach.StateDown {
			explicitDown[in.Name] = true
		}
	}
	for _, i := range byType(netattach.TypeLinuxBridge, false) {
		if in := ifs[i]; wantUp(in) && in.Bridge != nil {
			for _, port := range in.Bridge.Port {
				if !explicitDown[port.Name] {
					p.planState(port.Name, true)
				}
			}
		}
	}
	for _, t := range []string{netattach.TypeEthernet, netattach.TypeLinuxBridge, netattach.TypeVLAN} {
		for _, i := range byType(t, false) {
			p.planState(ifs[i].Name, wantUp(ifs[i]))
		}
	}
	if len(p.errs) > 0 {
		return nil, nil, p.errs
	}
	return p.steps, p.w, nil
}

func (p *planner) planDelete(i int, in netattach.Interface, kind string) {
	l := p.w.links[in.Name]
	if l == nil {
		return
	}
	if l.Kind != kind {
		p.errs = append(p.errs, field.Invalid(ifPath(i).Child("type"), in.Type,
			fmt.Sprintf("%s is a %s link, not a %s: refusing to delete it", in.Name, l.Kind, in.Type)))
		return
	}
	ports := p.w.portsOf(l.Name)
	p.add(stepDelete(*l, ports))
	delete(p.w.links, l.Name)
	for _, o := range p.w.links {
		if o.Master == l.Name {
			o.Master, o.PortVLANs = "", nil
		}
		if o.Kind == "vlan" && o.VLANParent == l.Name {
			// The kernel unregisters VLAN links with their base.
			delete(p.w.links, o.Name)
		}
	}
}

func (p *planner) planMTU(l *linkState, mtu int) {
	if mtu != 0 && l.MTU != mtu {
		p.add(stepSetMTU(l.Name, mtu, l.MTU))
		l.MTU = mtu
	}
}

func (p *planner) planBridge(i int, in netattach.Interface) {
	l := p.w.links[in.Name]
	created := false
	if l == nil {
		p.add(stepCreateBridge(in.Name))
		// A new bridge is, itself, in VLAN 1 (the kernel's default PVID).
		l = &linkState{Name: in.Name, Kind: "bridge", MTU: 1500, planCreated: true,
			PortVLANs: map[uint16]vlanFlags{1: {PVID: true, Untagged: true}}}
		p.w.links[in.Name] = l
		created = true
	} else if l.Kind != "bridge" {
		p.errs = append(p.errs, field.Invalid(ifPath(i).Child("name"), in.Name,
			fmt.Sprintf("exists as a %s link, not a linux bridge", l.Kind)))
		return
	}
	// NetworkManager, nmstate's backend, creates bridges with STP on unless
	// told otherwise; an existing bridge keeps its setting.
	wantSTP := l.STP
	if created {
		wantSTP = true
	}
	if in.Bridge != nil && in.Bridge.Options != nil && in.Bridge.Options.STP != nil {
		wantSTP = in.Bridge.Options.STP.Enabled
	}
	if wantSTP != l.STP {
		p.add(stepSetSTP(l.Name, wantSTP, l.STP))
		l.STP = wantSTP
	}
	// VLAN filtering is turned on when a port has VLAN settings (nmstate).
	// It is never turned off here: the bridge CNI turns it on for VMs'
	// access ports on a bridge whose policy has no VLANs.
	if in.Bridge != nil && !l.VLANFilter {
		for _, port := range in.Bridge.Port {
			if port.VLAN != nil {
				p.add(stepSetVLANFiltering(l.Name, true, false))
				l.VLANFilter = true
				break
			}
		}
	}
}

func (p *planner) planVLANLink(i int, in netattach.Interface) {
	l := p.w.links[in.Name]
	base := p.w.links[in.VLAN.BaseIface]
	if base == nil {
		p.errs = append(p.errs, field.NotFound(ifPath(i).Child("vlan", "base-iface"), in.VLAN.BaseIface))
		return
	}
	// On a VLAN-filtering bridge, the bridge itself must carry the VLAN or
	// the 8021q link on it is cut off.
	if base.Kind == "bridge" && base.VLANFilter {
		if _, ok := base.PortVLANs[uint16(in.VLAN.ID)]; !ok {
			p.add(stepAddBridgeVLAN(base.Name, in.VLAN.ID))
			if base.PortVLANs == nil {
				base.PortVLANs = map[uint16]vlanFlags{}
			}
			base.PortVLANs[uint16(in.VLAN.ID)] = vlanFlags{}
		}
	}
	if l == nil {
		p.add(stepCreateVLAN(in.Name, in.VLAN.BaseIface, in.VLAN.ID))
		p.w.links[in.Name] = &linkState{Name: in.Name, Kind: "vlan", MTU: base.MTU, VLANID: in.VLAN.ID,
			VLANParent: base.Name, planCreated: true}
		return
	}
	switch {
	case l.Kind != "vlan":
		p.errs = append(p.errs, field.Invalid(ifPath(i).Child("name"), in.Name,
			fmt.Sprintf("exists as a %s link, not a VLAN", l.Kind)))
	case l.VLANID != in.VLAN.ID || l.VLANParent != in.VLAN.BaseIface:
		p.errs = append(p.errs, field.Invalid(ifPath(i).Child("vlan"), fmt.Sprintf("id %d on %s", in.VLAN.ID, in.VLAN.BaseIface),
			fmt.Sprintf("%s exists as VLAN %d on %s; the kernel cannot change that: remove it first", in.Name, l.VLANID, l.VLANParent)))
	}
}

func (p *planner) planPorts(i int, in netattach.Interface) {
	br := p.w.links[in.Name]
	if br == nil || br.Kind != "bridge" {
		return // already reported
	}
	listed := map[string]bool{}
	if in.Bridge != nil {
		for j, port := range in.Bridge.Port {
			listed[port.Name] = true
			pl := p.w.links[port.Name]
			if pl == nil {
				p.errs = append(p.errs, field.NotFound(ifPath(i).Child("bridge", "port").Index(j).Child("name"), port.Name))
				continue
			}
			if pl.Master != in.Name {
				p.add(stepSetMaster(pl.Name, in.Name, pl.Master))
				pl.Master, pl.PortVLANs = in.Name, nil
			}
		}
	}
	// nmstate's port list is the whole list: other ports leave the bridge.
	for _, name := range p.w.portsOf(in.Name) {
		if !listed[name] {
			p.add(stepReleasePort(name, in.Name))
			p.w.links[name].Master = ""
		}
	}
}

func (p *planner) planPortVLANs(in netattach.Interface) {
	if in.Bridge == nil {
		return
	}
	for _, port := range in.Bridge.Port {
		pl := p.w.links[port.Name]
		if port.VLAN == nil || pl == nil {
			continue
		}
		want := desiredPortVLANs(port.VLAN)
		if !maps.Equal(pl.PortVLANs, want) {
			p.add(stepSetPortVLANs(pl.Name, want, true, nil))
			pl.PortVLANs = want
		}
	}
}

// planAddrs makes a link's addresses of one family what c says: none when
// disabled, exactly the listed ones when enabled (IPv6 link-local addresses,
// which the kernel makes itself, are left alone).
func (p *planner) planAddrs(l *linkState, c *netattach.IPConfig, v6 bool) {
	if c == nil {
		return
	}
	var want []netip.Prefix
	if c.Enabled {
		for _, a := range c.Address {
			ip, _ := netip.ParseAddr(a.IP) // validated
			want = append(want, netip.PrefixFrom(ip.Unmap(), a.PrefixLength))
		}
	}
	var keep []netip.Prefix
	for _, a := range l.Addrs {
		if a.Addr().Is6() != v6 || (v6 && a.Addr().IsLinkLocalUnicast()) || slices.Contains(want, a) {
			keep = append(keep, a)
			continue
		}
		p.add(stepAddr(l.Name, a, false))
	}
	for _, a := range want {
		if !slices.Contains(l.Addrs, a) {
			p.add(stepAddr(l.Name, a, true))
			keep = append(keep, a)
		}
	}
	l.Addrs = keep
}

func (p *planner) planState(name string, up bool) {
	l := p.w.links[name]
	if l == nil || l.Up == up {
		return
	}
	p.add(stepSetUp(name, up))
	l.Up = up
}

// removalPolicy is what Remove applies: every bridge and VLAN link of the
// policy absent; ethernet NICs are not the policy's to take away.
func removalPolicy(policy netattach.State) netattach.State {
	var out netattach.State
	for _, in := range policy.Interfaces {
		if in.Type != netattach.TypeLinuxBridge && in.Type != netattach.TypeVLAN {
			continue
		}
		out.Interfaces = append(out.Interfaces, netattach.Interface{Name: in.Name, Type: in.Type, State: netattach.StateAbsent})
	}
	return out
}
