package vmspec

import (
	"fmt"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The rules of KubeVirt v1.9.0's VM admitter beyond the template's spec.

// dataVolumeTemplates checks each template's name, storage and source, and
// that a volume of spec.template uses it. The webhook reports them under
// spec.dataVolumeTemplate (singular).
func (v *validator) dataVolumeTemplates(vs *kubevirtv1.VirtualMachineSpec, sp *field.Path) {
	for i, dv := range vs.DataVolumeTemplates {
		p := sp.Child("dataVolumeTemplate").Index(i)
		if v.stage(func() { v.dataVolumeTemplate(&dv, p) }) {
			continue
		}
		used := slices.ContainsFunc(vs.Template.Spec.Volumes, func(vol kubevirtv1.Volume) bool {
			return vol.PersistentVolumeClaim != nil && vol.PersistentVolumeClaim.ClaimName == dv.Name ||
				vol.DataVolume != nil && vol.DataVolume.Name == dv.Name
		})
		if !used {
			v.err(field.Required(p, fmt.Sprintf("no volume of spec.template.spec.volumes uses DataVolume template %q (as dataVolume.name or persistentVolumeClaim.claimName)", dv.Name)))
		}
	}
}

// dataVolumeTemplate checks one template; the first problem ends the check.
func (v *validator) dataVolumeTemplate(dv *kubevirtv1.DataVolumeTemplateSpec, p *field.Path) {
	s := &dv.Spec
	if dv.Name == "" {
		v.err(field.Required(p.Child("name"), "a DataVolume template needs a name"))
		return
	}
	// Reported at PVC.Storage (sic) for both.
	switch {
	case s.PVC == nil && s.Storage == nil:
		v.err(field.Required(p.Child("PVC", "Storage"), "needs storage (or pvc)"))
		return
	case s.PVC != nil && s.Storage != nil:
		v.err(field.Invalid(p.Child("PVC", "Storage"), "", "set only one of storage and pvc"))
		return
	}
	external := false
	if s.PVC != nil {
		external = s.PVC.DataSourceRef != nil || s.PVC.DataSource != nil
	} else {
		external = s.Storage.DataSourceRef != nil || s.Storage.DataSource != nil
	}
	sourced := s.Source != nil || s.SourceRef != nil
	switch {
	case external && sourced:
		v.err(field.Invalid(p.Child("source"), "", "a volume populated through dataSource or dataSourceRef takes no source or sourceRef"))
	case !external && !sourced:
		v.err(field.Required(p.Child("source", "sourceRef"), "needs a source, a sourceRef, or a dataSourceRef (or dataSource) that populates it"))
	case s.Source != nil:
		rv := reflect.ValueOf(s.Source).Elem()
		n := 0
		for j := range rv.NumField() {
			if !rv.Field(j).IsNil() {
				n++
			}
		}
		switch {
		case n == 0:
			v.err(field.Required(p.Child("source"), "needs one source: http, registry, pvc, blank, ..."))
		case n > 1:
			v.err(field.Invalid(p.Child("source"), n, "set only one source"))
		}
	}
}

// Run strategies a VirtualMachine accepts without feature gates;
// WaitAsReceiver needs DecentralizedLiveMigration.
var validRunStrategies = []kubevirtv1.VirtualMachineRunStrategy{
	kubevirtv1.RunStrategyHalted, kubevirtv1.RunStrategyManual, kubevirtv1.RunStrategyAlways,
	kubevirtv1.RunStrategyRerunOnFailure, kubevirtv1.RunStrategyOnce,
}

func (v *validator) runStrategy(vs *kubevirtv1.VirtualMachineSpec, sp *field.Path) {
	switch {
	case vs.Running != nil && vs.RunStrategy != nil:
		v.err(field.Invalid(sp.Child("running"), *vs.Running, "running and runStrategy are mutually exclusive; set only runStrategy (running is deprecated)"))
	case vs.Running == nil && vs.RunStrategy == nil:
		// Reported at running, though runStrategy is the field to set.
		v.err(field.Required(sp.Child("running"), "set spec.runStrategy (Always, Halted, Manual, RerunOnFailure or Once)"))
	}
	rs := vs.RunStrategy
	switch {
	case rs == nil:
	case *rs == kubevirtv1.RunStrategyWaitAsReceiver:
		if !v.gates.Enabled(GateDecentralizedLiveMigration) {
			v.err(gateOff(sp.Child("runStrategy"), GateDecentralizedLiveMigration))
		}
	case !slices.Contains(validRunStrategies, *rs):
		v.err(field.NotSupported(sp.Child("runStrategy"), *rs, validRunStrategies))
	}
}

// liveUpdate checks what CPU and memory hotplug need, on with v1.9.0's
// default rollout strategy LiveUpdate.
func (v *validator) liveUpdate(vs *kubevirtv1.VirtualMachineSpec, sp *field.Path) {
	d := &vs.Template.Spec.Domain
	dp := sp.Child("template", "spec", "domain")
	if c := d.CPU; c != nil && c.Sockets != 0 && c.MaxSockets != 0 && c.Sockets > c.MaxSockets {
		v.err(field.Invalid(dp.Child("cpu", "sockets"), c.Sockets, fmt.Sprintf("must not exceed maxSockets (%d)", c.MaxSockets)))
	}
	if m := d.Memory; m != nil && m.MaxGuest != nil {
		if msg := liveUpdateMemory(&vs.Template.Spec, m.MaxGuest); msg != "" {
			// Reported at memory.guest whatever the cause.
			v.err(field.Invalid(dp.Child("memory", "guest"), m.MaxGuest.String(), msg))
		}
	}
}

// Memory hotplug adds memory in blocks: 2Mi, or 1Gi with 1Gi hugepages.
var (
	hotplugBlock     = resource.MustParse("2Mi")
	hotplugBlock1G   = resource.MustParse("1Gi")
	hotplugMinMemory = resource.MustParse("1Gi")
)

// liveUpdateMemory says why memory hotplug up to maxGuest cannot work for
// a spec ("" if it can).
func liveUpdateMemory(s *kubevirtv1.VirtualMachineInstanceSpec, maxGuest *resource.Quantity) string {
	d := &s.Domain
	switch {
	case d.CPU != nil && d.CPU.Realtime != nil:
		return "memory hotplug (maxGuest) does not work with realtime VMs"
	case d.CPU != nil && d.CPU.NUMA != nil && d.CPU.NUMA.GuestMappingPassthrough != nil:
		return "memory hotplug (maxGuest) does not work with NUMA guest mapping passthrough"
	case d.LaunchSecurity != nil:
		return "memory hotplug (maxGuest) does not work with encrypted VMs"
	}
	block := hotplugBlock.Value()
	if d.Memory != nil && d.Memory.Hugepages != nil && d.Memory.Hugepages.PageSize == "1Gi" {
		block = hotplugBlock1G.Value()
	}
	switch {
	case d.Memory == nil || d.Memory.Guest == nil:
		return "memory hotplug (maxGuest) needs the guest memory"
	case maxGuest == nil:
		return "memory hotplug needs maxGuest"
	case d.Memory.Guest.Cmp(*maxGuest) > 0:
		return "the guest memory exceeds maxGuest"
	case d.Memory.Guest.Value()%block != 0:
		return fmt.Sprintf("with memory hotplug (maxGuest) the guest memory must be a multiple of %s", resource.NewQuantity(block, resource.BinarySI))
	case maxGuest.Value()%block != 0:
		return fmt.Sprintf("maxGuest must be a multiple of %s", resource.NewQuantity(block, resource.BinarySI))
	case s.Architecture != "amd64":
		return "memory hotplug (maxGuest) is only available on amd64"
	case d.Memory.Guest.Value() < hotplugMinMemory.Value():
		return "memory hotplug (maxGuest) needs at least 1Gi of guest memory"
	}
	return ""
}

// dataVolumeNamespaces checks that dataVolumeTemplates stay in the VM's
// namespace (the storage admitter).
func (v *validator) dataVolumeNamespaces(vm *kubevirtv1.VirtualMachine, p *field.Path) {
	for i, dv := range vm.Spec.DataVolumeTemplates {
		if dv.Namespace != "" && dv.Namespace != vm.Namespace {
			v.err(field.Invalid(p.Index(i), dv.Namespace, fmt.Sprintf("a DataVolume template must be in the VM's namespace %q", vm.Namespace)))
		}
	}
}
