package vmspec

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/validation"
)

// Limits KubeVirt v1.9.0 enforces.
const (
	// CloudInitMaxLen is the largest userData or networkData KubeVirt
	// accepts inline, in bytes; more belongs in a Secret (secretRef).
	CloudInitMaxLen = 2048
	// MaxDevices is the most disks, volumes, interfaces or networks a VMI
	// may have (maxItems in the CRD's schema, which the API server checks).
	MaxDevices = 256
)

// Validate checks a *VirtualMachineInstance or *VirtualMachine (or either
// by value) with [ValidateVMI] or [ValidateVM]; anything else is an
// internal error.
func Validate(obj any) (field.ErrorList, []validation.Warning) {
	return Validator{}.Validate(obj)
}

// ValidateVMI checks a VirtualMachineInstance as KubeVirt v1.9.0 does on
// CREATE with its default feature gates: see [Validator.ValidateVMI].
func ValidateVMI(vmi *kubevirtv1.VirtualMachineInstance) (field.ErrorList, []validation.Warning) {
	return Validator{}.ValidateVMI(vmi)
}

// ValidateVM checks a VirtualMachine as KubeVirt v1.9.0 does on CREATE
// with its default feature gates: see [Validator.ValidateVM].
func ValidateVM(vm *kubevirtv1.VirtualMachine) (field.ErrorList, []validation.Warning) {
	return Validator{}.ValidateVM(vm)
}

// Validate checks a *VirtualMachineInstance or *VirtualMachine (or either
// by value); anything else is an internal error.
func (c Validator) Validate(obj any) (field.ErrorList, []validation.Warning) {
	switch o := obj.(type) {
	case *kubevirtv1.VirtualMachineInstance:
		return c.ValidateVMI(o)
	case kubevirtv1.VirtualMachineInstance:
		return c.ValidateVMI(&o)
	case *kubevirtv1.VirtualMachine:
		return c.ValidateVM(o)
	case kubevirtv1.VirtualMachine:
		return c.ValidateVM(&o)
	}
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("vmspec: cannot validate %T", obj))}, nil
}

// ValidateVMI checks a VirtualMachineInstance offline as KubeVirt v1.9.0's
// API server and admission webhooks do on CREATE: the object's
// apiVersion, kind and metadata, then virt-api's mutating defaults on a
// copy (a disk for every volume without one, guest memory from the memory
// request or limit, the CPU topology, the pod network, SATA disk buses,
// ...), then every rule of the VMI admitter, each error at the field path
// the webhook reports (vmspec/RULES.md lists them). The VMI is not
// modified. Warnings are pxekit's: settings the platform accepts that
// break at run time or in its tools.
func (c Validator) ValidateVMI(vmi *kubevirtv1.VirtualMachineInstance) (field.ErrorList, []validation.Warning) {
	if vmi == nil {
		return field.ErrorList{field.Required(nil, "no VirtualMachineInstance")}, nil
	}
	v := &validator{gates: c}
	v.object(vmiType, vmi.TypeMeta, &vmi.ObjectMeta)
	sp := field.NewPath("spec")
	// The API server's schema checks end the check as they end a request;
	// metadata errors do not, so that one run shows what the webhook
	// would say next.
	if v.stage(func() { v.limits(&vmi.Spec, sp); v.schemaSpec(&vmi.Spec, sp) }) {
		return v.errs, v.warns
	}
	v.advise(&vmi.Spec, sp)
	v.istio(vmi.Annotations, &vmi.Spec, field.NewPath("metadata", "annotations"), sp)
	d := vmi.DeepCopy()
	defaultVMI(d)
	s := &d.Spec
	// The order of the VMI create admitter: the network rules (registered
	// once more as an extra spec validator), the spec rules it shares with
	// VMs, then those for VMIs only.
	v.discontinuedBindings(s, sp)
	v.networks(s, sp)
	v.spec(s, sp)
	v.volumeTargets(s, sp)
	v.memoryRequested(s)
	v.templateMetadata(&d.ObjectMeta, field.NewPath("metadata"))
	v.hyperv(s, sp.Child("domain", "features", "hyperv"))
	v.architecture(s, sp)
	return v.errs, v.warns
}

// ValidateVM checks a VirtualMachine offline as KubeVirt v1.9.0's API
// server and admission webhooks do on CREATE: apiVersion, kind and
// metadata; then, on a copy with virt-api's defaults applied to the
// template, the VM admitter's stages (discontinued bindings, the VM and
// template rules with [Validator.ValidateVMI]'s spec rules under
// spec.template.spec, the dataVolumeTemplates' namespace). As in the
// webhook, a stage that finds errors ends the check. The VM is not
// modified.
func (c Validator) ValidateVM(vm *kubevirtv1.VirtualMachine) (field.ErrorList, []validation.Warning) {
	if vm == nil {
		return field.ErrorList{field.Required(nil, "no VirtualMachine")}, nil
	}
	v := &validator{gates: c}
	v.object(vmType, vm.TypeMeta, &vm.ObjectMeta)
	sp := field.NewPath("spec")
	tp := sp.Child("template")
	if v.stage(func() {
		if vm.Spec.Template != nil {
			v.limits(&vm.Spec.Template.Spec, tp.Child("spec"))
		} else {
			v.err(field.Required(tp, "a VirtualMachine needs the template of the VMI it runs"))
		}
		v.schemaVM(vm, sp)
	}) {
		return v.errs, v.warns
	}
	if vm.Spec.Running != nil && vm.Spec.RunStrategy == nil {
		v.warn(sp.Child("running"), "spec.running is deprecated; use spec.runStrategy (Always for true, Halted for false)")
	}
	v.dataVolumeTemplateAdvice(vm.Spec.DataVolumeTemplates, sp.Child("dataVolumeTemplates"))
	v.labelsAndAnnotations(&vm.Spec.Template.ObjectMeta, tp.Child("metadata"))
	v.advise(&vm.Spec.Template.Spec, tp.Child("spec"))
	v.istio(vm.Spec.Template.ObjectMeta.Annotations, &vm.Spec.Template.Spec, tp.Child("metadata", "annotations"), tp.Child("spec"))

	d := vm.DeepCopy()
	defaultVM(d)
	s := &d.Spec.Template.Spec
	tsp := tp.Child("spec")
	// Stage 1: bindings removed in v1.3 (netadmitter ValidateCreation),
	// which the VM admitter reports under spec, not spec.template.spec.
	if v.stage(func() { v.discontinuedBindings(s, sp) }) {
		return v.errs, v.warns
	}
	// Stage 2: ValidateVirtualMachineSpec.
	if v.stage(func() {
		v.templateMetadata(&d.Spec.Template.ObjectMeta, tp.Child("metadata"))
		v.networks(s, tsp)
		v.spec(s, tsp)
		v.dataVolumeTemplates(&d.Spec, sp)
		v.runStrategy(&d.Spec, sp)
		v.liveUpdate(&d.Spec, sp)
	}) {
		return v.errs, v.warns
	}
	// Stage 3: the storage admitter.
	v.dataVolumeNamespaces(d, sp.Child("dataVolumeTemplates"))
	return v.errs, v.warns
}

type validator struct {
	gates Validator
	errs  field.ErrorList
	warns []validation.Warning
}

func (v *validator) err(e ...*field.Error) { v.errs = append(v.errs, e...) }

func (v *validator) warn(p *field.Path, msg string) {
	v.warns = append(v.warns, validation.Warning{Field: p.String(), Message: msg})
}

// stage runs f and reports whether it added errors.
func (v *validator) stage(f func()) bool {
	n := len(v.errs)
	f()
	return len(v.errs) > n
}

// The apiVersions and kinds Validate takes.
var (
	vmiType = validation.ObjectType{Kind: KindVMI, APIVersions: []string{APIVersionV1, APIVersionV1Alpha3}}
	vmType  = validation.ObjectType{Kind: KindVM, APIVersions: []string{APIVersionV1, APIVersionV1Alpha3}}
)

// object checks what the API server checks of every object (apiVersion,
// kind, metadata), then warns about names and namespaces the platform
// takes but its tools refuse.
func (v *validator) object(t validation.ObjectType, tm metav1.TypeMeta, m *metav1.ObjectMeta) {
	v.err(t.Validate(tm, m)...)
	p := field.NewPath("metadata")
	if m.Name != "" && len(k8svalidation.IsDNS1123Subdomain(m.Name)) == 0 && strings.Contains(m.Name, ".") {
		v.warn(p.Child("name"), "the web console refuses '.' in VM names (it takes a-z, 0-9 and '-' only)")
	}
	if strings.HasPrefix(m.Namespace, "openshift-") || m.Namespace == "openshift" {
		v.warn(p.Child("namespace"), "do not create virtual machines in openshift-* namespaces; use a namespace of your own")
	}
}

// limits checks the list lengths the CRD's schema caps (maxItems), which
// the API server enforces before any webhook runs.
func (v *validator) limits(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	devp := p.Child("domain", "devices")
	for _, c := range []struct {
		n    int
		path *field.Path
	}{
		{len(s.Domain.Devices.Disks), devp.Child("disks")},
		{len(s.Domain.Devices.Interfaces), devp.Child("interfaces")},
		{len(s.Volumes), p.Child("volumes")},
		{len(s.Networks), p.Child("networks")},
	} {
		if c.n > MaxDevices {
			v.err(field.TooMany(c.path, c.n, MaxDevices))
		}
	}
}
