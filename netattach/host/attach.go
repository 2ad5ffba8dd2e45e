//go:build linux

package host

import (
	"context"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// VLANRange is an inclusive range of VLAN ids (a bridge CNI vlanTrunk entry).
type VLANRange struct {
	// Min and Max are the first and last VLAN id (1..4094).
	Min, Max int
}

// PortAttachment attaches an existing link (a VM's veth or tap) to a bridge
// the way the bridge CNI plugin (cnv-bridge in KubeVirt) does: with VLAN set,
// the port's access VLAN is VLAN as PVID and egress-untagged and the bridge
// gets VLAN filtering; VLAN 1, the kernel's default, stays unless
// PreserveDefaultVLAN is false; Trunk VLANs are added tagged.
type PortAttachment struct {
	// Bridge is the existing bridge to attach to.
	Bridge string
	// Port is the existing link to attach.
	Port string
	// VLAN is the access VLAN (1–4094); 0 means none.
	VLAN int
	// PreserveDefaultVLAN keeps VLAN 1 on the port; nil means true, the
	// bridge CNI's default (the documented NAD sets it false).
	PreserveDefaultVLAN *bool
	// Trunk lists tagged VLAN ranges (the CNI's vlanTrunk).
	Trunk []VLANRange
	// MTU of the port; 0 leaves it.
	MTU int
	// Up brings the port up, as the CNI does.
	Up bool
}

// Validate reports the attachment's problems under their field paths.
func (a PortAttachment) Validate() field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateIfName(field.NewPath("bridge"), a.Bridge)...)
	errs = append(errs, validateIfName(field.NewPath("port"), a.Port)...)
	if a.VLAN != 0 {
		errs = append(errs, validateVID(field.NewPath("vlan"), a.VLAN)...)
	}
	for i, r := range a.Trunk {
		p := field.NewPath("trunk").Index(i)
		errs = append(errs, validateVID(p.Child("min"), r.Min)...)
		errs = append(errs, validateVID(p.Child("max"), r.Max)...)
		if r.Min > r.Max {
			errs = append(errs, field.Invalid(p, fmt.Sprintf("%d-%d", r.Min, r.Max), "min must not exceed max"))
		}
	}
	if a.MTU != 0 && (a.MTU < 68 || a.MTU > 65535) {
		errs = append(errs, field.Invalid(field.NewPath("mtu"), a.MTU, "must be between 68 and 65535"))
	}
	return errs
}

// wantVLANs is the VLANs the attachment adds, and those it drops.
func (a PortAttachment) wantVLANs() (want map[uint16]vlanFlags, drop []uint16) {
	want = map[uint16]vlanFlags{}
	for _, r := range a.Trunk {
		for id := r.Min; id <= r.Max; id++ {
			want[uint16(id)] = vlanFlags{}
		}
	}
	if a.VLAN != 0 {
		want[uint16(a.VLAN)] = vlanFlags{PVID: true, Untagged: true}
	}
	if a.PreserveDefaultVLAN != nil && !*a.PreserveDefaultVLAN {
		if _, kept := want[1]; !kept {
			drop = []uint16{1}
		}
	}
	return want, drop
}

// PlanAttach returns the steps that attach a.Port to a.Bridge; apply it with
// Apply. The bridge and the port must exist.
func (h *Host) PlanAttach(ctx context.Context, a PortAttachment) (*Plan, error) {
	if errs := a.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return h.plan(ctx, func(s *snapshot) ([]Step, field.ErrorList) { return planAttach(a, s) })
}

func planAttach(a PortAttachment, snap *snapshot) ([]Step, field.ErrorList) {
	p := &planner{w: snap.clone()}
	br, port := p.w.links[a.Bridge], p.w.links[a.Port]
	if br == nil {
		p.errs = append(p.errs, field.NotFound(field.NewPath("bridge"), a.Bridge))
	} else if br.Kind != "bridge" {
		p.errs = append(p.errs, field.Invalid(field.NewPath("bridge"), a.Bridge, fmt.Sprintf("is a %s link, not a bridge", br.Kind)))
	}
	if port == nil {
		p.errs = append(p.errs, field.NotFound(field.NewPath("port"), a.Port))
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	want, drop := a.wantVLANs()
	if len(want) > 0 || len(drop) > 0 {
		if !br.VLANFilter {
			p.add(stepSetVLANFiltering(br.Name, true, false))
			br.VLANFilter = true
		}
	}
	p.planMTU(port, a.MTU)
	if port.Master != br.Name {
		p.add(stepSetMaster(port.Name, br.Name, port.Master))
		port.Master, port.PortVLANs = br.Name, nil
	}
	if len(want) > 0 || len(drop) > 0 {
		need := port.PortVLANs == nil
		for id, f := range want {
			if cur, ok := port.PortVLANs[id]; !ok || cur != f {
				need = true
			}
		}
		for _, id := range drop {
			if _, ok := port.PortVLANs[id]; ok {
				need = true
			}
		}
		if need {
			p.add(stepSetPortVLANs(port.Name, want, false, drop))
			if port.PortVLANs == nil {
				port.PortVLANs = map[uint16]vlanFlags{}
			}
			maps.Copy(port.PortVLANs, want)
		}
	}
	if a.Up {
		p.planState(port.Name, true)
	}
	return p.steps, nil
}
