package vmspec

import (
	"slices"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The enumerations of the OpenAPI schema KubeVirt v1.9.0's webhooks check
// an object against before any other rule (webhookutils.ValidateSchema).
// Its errors name the field without list indices
// (spec.volumes.containerDisk.imagePullPolicy), and so do these.

var (
	pullPolicies = []k8sv1.PullPolicy{k8sv1.PullAlways, k8sv1.PullIfNotPresent, k8sv1.PullNever}
	// schemaAccessModes and schemaVolumeModes are the schema's enums (CDI
	// adds FromStorageProfile).
	schemaAccessModes = []k8sv1.PersistentVolumeAccessMode{k8sv1.ReadOnlyMany, k8sv1.ReadWriteMany, k8sv1.ReadWriteOnce, k8sv1.ReadWriteOncePod}
	schemaVolumeModes = []k8sv1.PersistentVolumeMode{k8sv1.PersistentVolumeBlock, k8sv1.PersistentVolumeFilesystem, "FromStorageProfile"}
	uriSchemes        = []k8sv1.URIScheme{k8sv1.URISchemeHTTP, k8sv1.URISchemeHTTPS}
	tolerationOps     = []k8sv1.TolerationOperator{k8sv1.TolerationOpEqual, k8sv1.TolerationOpExists}
	taintEffects      = []k8sv1.TaintEffect{k8sv1.TaintEffectNoExecute, k8sv1.TaintEffectNoSchedule, k8sv1.TaintEffectPreferNoSchedule}
	unsatisfiable     = []k8sv1.UnsatisfiableConstraintAction{k8sv1.DoNotSchedule, k8sv1.ScheduleAnyway}
)

// schemaEnum adds an error when a set value is not one of valid.
func schemaEnum[T ~string](v *validator, p *field.Path, value T, valid []T) {
	if value != "" && !slices.Contains(valid, value) {
		v.err(field.NotSupported(p, value, valid))
	}
}

// schemaSpec checks the enumerations of a VMI spec at p.
func (v *validator) schemaSpec(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	schemaEnum(v, p.Child("dnsPolicy"), s.DNSPolicy, dnsPolicies)
	for _, vol := range s.Volumes {
		if c := vol.ContainerDisk; c != nil {
			schemaEnum(v, p.Child("volumes", "containerDisk", "imagePullPolicy"), c.ImagePullPolicy, pullPolicies)
		}
	}
	if f := s.Domain.Firmware; f != nil && f.KernelBoot != nil && f.KernelBoot.Container != nil {
		schemaEnum(v, p.Child("domain", "firmware", "kernelBoot", "container", "imagePullPolicy"), f.KernelBoot.Container.ImagePullPolicy, pullPolicies)
	}
	for _, pr := range []struct {
		probe *kubevirtv1.Probe
		name  string
	}{{s.ReadinessProbe, "readinessProbe"}, {s.LivenessProbe, "livenessProbe"}} {
		if pr.probe != nil && pr.probe.HTTPGet != nil {
			schemaEnum(v, p.Child(pr.name, "httpGet", "scheme"), pr.probe.HTTPGet.Scheme, uriSchemes)
		}
	}
	for _, t := range s.Tolerations {
		schemaEnum(v, p.Child("tolerations", "operator"), t.Operator, tolerationOps)
		schemaEnum(v, p.Child("tolerations", "effect"), t.Effect, taintEffects)
	}
	for _, c := range s.TopologySpreadConstraints {
		schemaEnum(v, p.Child("topologySpreadConstraints", "whenUnsatisfiable"), c.WhenUnsatisfiable, unsatisfiable)
	}
}

// schemaVM checks the enumerations of a VM: its dataVolumeTemplates'
// access and volume modes, and its template's spec.
func (v *validator) schemaVM(vm *kubevirtv1.VirtualMachine, p *field.Path) {
	dp := p.Child("dataVolumeTemplates", "spec")
	for _, dv := range vm.Spec.DataVolumeTemplates {
		var modes []k8sv1.PersistentVolumeAccessMode
		var mode *k8sv1.PersistentVolumeMode
		var sp *field.Path
		switch {
		case dv.Spec.PVC != nil:
			modes, mode, sp = dv.Spec.PVC.AccessModes, dv.Spec.PVC.VolumeMode, dp.Child("pvc")
		case dv.Spec.Storage != nil:
			modes, mode, sp = dv.Spec.Storage.AccessModes, dv.Spec.Storage.VolumeMode, dp.Child("storage")
		default:
			continue
		}
		for _, m := range modes {
			if !slices.Contains(schemaAccessModes, m) {
				v.err(field.NotSupported(sp.Child("accessModes"), m, schemaAccessModes))
			}
		}
		if mode != nil {
			schemaEnum(v, sp.Child("volumeMode"), *mode, schemaVolumeModes)
		}
	}
	if vm.Spec.Template != nil {
		v.schemaSpec(&vm.Spec.Template.Spec, p.Child("template", "spec"))
	}
}
