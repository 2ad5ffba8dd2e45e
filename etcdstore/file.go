package etcdstore

import (
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/strictyaml"
)

// InventoryFile is the inventory as a YAML document (pxelab inventory
// get|apply), in the field names of pxekit's config file:
//
//	default: install
//	profiles:
//	  install: {kernel: vmlinuz, initrd: initrd.img, args: [console=ttyS0], files: {config.yaml: "..."}}
//	machines:
//	- {mac: "52:54:00:00:00:01", hostname: node-1, profile: install, vars: {role: worker}}
type InventoryFile struct {
	Default  string                 `json:"default,omitempty"`
	Profiles map[string]fileProfile `json:"profiles,omitempty"`
	Machines []machineRecord        `json:"machines,omitempty"`
}

type fileProfile struct {
	profileRecord `json:",inline"`
	Files         map[string]string `json:"files,omitempty"`
}

// ParseInventoryFile decodes a YAML inventory strictly and checks it:
// every unknown field, bad MAC and missing profile, with its path.
func ParseInventoryFile(data []byte) (pxe.InventorySpec, error) {
	var f struct {
		Default  string `json:"default,omitempty"`
		Profiles map[string]struct {
			Kernel string            `json:"kernel,omitempty"`
			Initrd string            `json:"initrd,omitempty"`
			Args   []string          `json:"args,omitempty"`
			Script string            `json:"script,omitempty"`
			Files  map[string]string `json:"files,omitempty"`
		} `json:"profiles,omitempty"`
		Machines []machineRecord `json:"machines,omitempty"`
	}
	if errs := strictyaml.Decode(data, &f); len(errs) > 0 {
		return pxe.InventorySpec{}, fmt.Errorf("inventory file: %w", errs.ToAggregate())
	}
	spec := pxe.InventorySpec{Default: f.Default, Profiles: map[string]pxe.Profile{}}
	for name, p := range f.Profiles {
		spec.Profiles[name] = pxe.Profile{Kernel: p.Kernel, Initrd: p.Initrd, Args: p.Args, Script: p.Script, Files: p.Files}
	}
	var errs field.ErrorList
	for i, m := range f.Machines {
		mac, err := macaddr.Parse(m.MAC)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("machines").Index(i).Child("mac"), m.MAC, err.Error()))
			continue
		}
		spec.Machines = append(spec.Machines, pxe.Machine{MAC: mac, Hostname: m.Hostname, Profile: m.Profile, Vars: m.Vars})
	}
	if len(errs) == 0 {
		errs = spec.Validate()
	}
	if len(errs) > 0 {
		return spec, fmt.Errorf("inventory file: %w", errs.ToAggregate())
	}
	return spec, nil
}

// MarshalInventoryFile writes spec as ParseInventoryFile reads it,
// machines by MAC and profiles by name.
func MarshalInventoryFile(spec pxe.InventorySpec) ([]byte, error) {
	f := InventoryFile{Default: spec.Default, Profiles: map[string]fileProfile{}}
	for _, name := range slices.Sorted(maps.Keys(spec.Profiles)) {
		p := spec.Profiles[name]
		f.Profiles[name] = fileProfile{profileRecord: profileRecord{Kernel: p.Kernel, Initrd: p.Initrd, Args: p.Args, Script: p.Script}, Files: p.Files}
	}
	ms := slices.Clone(spec.Machines)
	slices.SortFunc(ms, func(a, b pxe.Machine) int { return slices.Compare(a.MAC, b.MAC) })
	for _, m := range ms {
		f.Machines = append(f.Machines, machineRecord{MAC: m.MAC.String(), Hostname: m.Hostname, Profile: m.Profile, Vars: m.Vars})
	}
	return yaml.Marshal(f)
}
