//go:build linux

package host

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// linkState is what planning needs to know about one link.
type linkState struct {
	Name        string
	Index       int
	Kind        string // netlink type: "bridge", "vlan", "veth", "device", ...
	MTU         int
	Up          bool // administratively up (IFF_UP)
	Master      string
	VLANID      int    // kind vlan
	VLANParent  string // kind vlan
	STP         bool   // kind bridge
	VLANFilter  bool   // kind bridge
	Addrs       []netip.Prefix
	PortVLANs   map[uint16]vlanFlags // a bridge port's VLANs, or a bridge's own
	planCreated bool                 // created by an earlier planned step
}

// snapshot is the namespace's state as read at one moment.
type snapshot struct {
	links map[string]*linkState
}

func (s *snapshot) clone() *snapshot {
	c := &snapshot{links: make(map[string]*linkState, len(s.links))}
	for k, v := range s.links {
		l := *v
		l.Addrs = append([]netip.Prefix(nil), v.Addrs...)
		if v.PortVLANs != nil {
			l.PortVLANs = make(map[uint16]vlanFlags, len(v.PortVLANs))
			for id, f := range v.PortVLANs {
				l.PortVLANs[id] = f
			}
		}
		c.links[k] = &l
	}
	return c
}

// portsOf lists the links enslaved to master, sorted by name.
func (s *snapshot) portsOf(master string) []string {
	var out []string
	for _, l := range s.links {
		if l.Master == master {
			out = append(out, l.Name)
		}
	}
	sort.Strings(out)
	return out
}

// dumpRetries bounds retries of a dump the kernel interrupted because the
// table changed meanwhile (ErrDumpInterrupted returns partial results).
const dumpRetries = 5

func retryDump[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("netlink dump kept being interrupted: %w", err)
}

// read takes a snapshot of the namespace the session's handle is in.
func (s *session) read() (*snapshot, error) {
	links, err := retryDump(s.h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", kernelErr(err, nil))
	}
	snap := &snapshot{links: map[string]*linkState{}}
	byIndex := map[int]*linkState{}
	parents := map[*linkState]int{}
	masters := map[*linkState]int{}
	for _, l := range links {
		a := l.Attrs()
		ls := &linkState{
			Name:  a.Name,
			Index: a.Index,
			Kind:  l.Type(),
			MTU:   a.MTU,
			Up:    a.Flags&unix.IFF_UP != 0 || a.RawFlags&unix.IFF_UP != 0,
		}
		switch v := l.(type) {
		case *netlink.Vlan:
			ls.VLANID = v.VlanId
			parents[ls] = a.ParentIndex
		case *netlink.Bridge:
			ls.VLANFilter = v.VlanFiltering != nil && *v.VlanFiltering
			stp, err := s.raw.bridgeSTP(a.Index)
			if err != nil {
				return nil, fmt.Errorf("read STP state of %s: %w", a.Name, kernelErr(err, nil))
			}
			ls.STP = stp
		}
		if a.MasterIndex != 0 {
			masters[ls] = a.MasterIndex
		}
		snap.links[a.Name] = ls
		byIndex[a.Index] = ls
	}
	for ls, p := range parents {
		if pl, ok := byIndex[p]; ok {
			ls.VLANParent = pl.Name
		}
	}
	for ls, m := range masters {
		if ml, ok := byIndex[m]; ok {
			ls.Master = ml.Name
		}
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return s.h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", kernelErr(err, nil))
	}
	for _, a := range addrs {
		ls, ok := byIndex[a.LinkIndex]
		if !ok || a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		ls.Addrs = append(ls.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
	}
	vlans, err := retryDump(s.h.BridgeVlanList)
	if err != nil {
		return nil, fmt.Errorf("list bridge VLANs: %w", kernelErr(err, nil))
	}
	for idx, infos := range vlans {
		ls, ok := byIndex[int(idx)]
		if !ok || (ls.Master == "" && ls.Kind != "bridge") {
			continue
		}
		ls.PortVLANs = vlanInfoSet(infos)
	}
	for _, ls := range snap.links {
		if (ls.Master != "" || ls.Kind == "bridge") && ls.PortVLANs == nil {
			ls.PortVLANs = map[uint16]vlanFlags{} // known to be empty
		}
	}
	return snap, nil
}

// vlanInfoSet expands the kernel's per-port VLAN entries (ranges included).
func vlanInfoSet(infos []*nl.BridgeVlanInfo) map[uint16]vlanFlags {
	set := map[uint16]vlanFlags{}
	var begin uint16
	for _, in := range infos {
		f := vlanFlags{PVID: in.PortVID(), Untagged: in.EngressUntag()}
		switch {
		case in.Flags&nl.BRIDGE_VLAN_INFO_RANGE_BEGIN != 0:
			begin = in.Vid
		case in.Flags&nl.BRIDGE_VLAN_INFO_RANGE_END != 0 && begin != 0:
			for id := begin; id <= in.Vid && id != 0; id++ {
				set[id] = f
			}
			begin = 0
		default:
			set[in.Vid] = f
		}
	}
	return set
}

// portVLANs reads one port's VLAN set now (for steps that work from the
// state at the moment they run).
func (s *session) portVLANs(index int) (map[uint16]vlanFlags, error) {
	vlans, err := retryDump(s.h.BridgeVlanList)
	if err != nil {
		return nil, err
	}
	return vlanInfoSet(vlans[int32(index)]), nil
}
