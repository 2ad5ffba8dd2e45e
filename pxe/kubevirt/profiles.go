package kubevirt

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/strictyaml"
)

// ParseProfiles reads the data of a profiles ConfigMap
// (Config.ProfilesConfigMap): each key is a profile's name, each value a
// YAML document with the profile's kernel, initrd, args, script and files,
// as the boot server's config file writes a profile (pxe.ProfileSpec):
//
//	data:
//	  install: |
//	    kernel: vmlinuz
//	    initrd: initrd.gz
//	    args: [console=ttyS0, "pxekit.phonehome={{.BaseURL}}/phonehome"]
//
// Every problem is reported at once, under data[NAME]: an unknown or
// misplaced field, a value of the wrong type, a profile with neither
// kernel nor script, and the name pxe.LocalBootProfile, which the source
// keeps for installed machines.
func ParseProfiles(data map[string]string) (map[string]pxe.Profile, field.ErrorList) {
	var errs field.ErrorList
	out := make(map[string]pxe.Profile, len(data))
	for _, name := range slices.Sorted(maps.Keys(data)) {
		p := field.NewPath("data").Key(name)
		if name == pxe.LocalBootProfile {
			errs = append(errs, field.Forbidden(p, "the name of the profile installed machines get"))
			continue
		}
		var d pxe.ProfileSpec
		var docErrs field.ErrorList
		for _, e := range strictyaml.Decode([]byte(data[name]), &d) {
			if e.Field == "" {
				e.Field = p.String()
			} else {
				e.Field = p.String() + "." + e.Field
			}
			docErrs = append(docErrs, e)
		}
		errs = append(errs, docErrs...)
		if len(docErrs) == 0 {
			out[name] = pxe.Profile{Kernel: d.Kernel, Initrd: d.Initrd, Args: d.Args, Script: d.Script, Files: d.Files}
		}
	}
	errs = append(errs, validateProfiles(out, field.NewPath("data"))...)
	return out, errs
}

// validateProfiles checks profiles as pxe.InventorySpec.Validate does,
// the paths under p.
func validateProfiles(profiles map[string]pxe.Profile, p *field.Path) field.ErrorList {
	errs := pxe.InventorySpec{Profiles: profiles}.Validate()
	for _, e := range errs {
		e.Field = p.String() + strings.TrimPrefix(e.Field, "profiles")
	}
	return errs
}
