package vmspec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// API versions the builder can emit. KubeVirt serves both; v1alpha3 is what
// OpenShift's vmi-pxe-boot template uses.
const (
	APIVersionV1       = "kubevirt.io/v1"
	APIVersionV1Alpha3 = "kubevirt.io/v1alpha3"
)

// Names the builder gives the pod network and its interface, as KubeVirt's
// own examples do.
const PodNetworkName = "default"

// Kind is what a [Builder] builds: a VirtualMachine or a
// VirtualMachineInstance.
type Kind interface {
	kubevirtv1.VirtualMachine | kubevirtv1.VirtualMachineInstance
}

// Builder assembles a KubeVirt VirtualMachineInstance, or a VirtualMachine
// that runs one; T is what [Builder.Build] returns. Start it with [NewVM] or
// [NewVMI], chain With... calls (the same ones for both kinds), finish with
// Build. Settings of a VirtualMachine alone (run strategy, DataVolume
// templates, MAC pool) are ignored when building a VMI. A Builder is not
// safe for concurrent use.
type Builder[T Kind] struct {
	name, namespace     string
	apiVersion          string
	labels, annotations map[string]string
	tplLabels, tplAnnot map[string]string
	spec                kubevirtv1.VirtualMachineInstanceSpec
	runStrategy         kubevirtv1.VirtualMachineRunStrategy
	running             *bool
	nicModel            string
	pxeNICs             []string // interface names that boot first, in order
	bootDisks           []string // disk names that boot after them, in order
	cloudInitName       string
	opts                []Option
	dataVolumeTemplates []kubevirtv1.DataVolumeTemplateSpec
	errs                field.ErrorList // problems found while building (bad quantities), paths as in a VMI
	macPool             MACAllocator
	macPoolOff          bool // the namespace opted out
	source              SourceKind
}

// VMBuilder builds a VirtualMachine, VMIBuilder a VirtualMachineInstance.
type (
	VMBuilder  = Builder[kubevirtv1.VirtualMachine]
	VMIBuilder = Builder[kubevirtv1.VirtualMachineInstance]
)

// NewVM starts a builder for a VirtualMachine called name: by default
// apiVersion kubevirt.io/v1 and runStrategy Always.
func NewVM(name string) *VMBuilder { return newBuilder[kubevirtv1.VirtualMachine](name) }

// NewVMI starts a builder for a VirtualMachineInstance called name, with
// apiVersion kubevirt.io/v1 by default.
func NewVMI(name string) *VMIBuilder { return newBuilder[kubevirtv1.VirtualMachineInstance](name) }

func newBuilder[T Kind](name string) *Builder[T] {
	return &Builder[T]{name: name, apiVersion: APIVersionV1, runStrategy: kubevirtv1.RunStrategyAlways}
}

// Option changes the VMI a builder assembles, the way KubeVirt's libvmi
// options do; for a VirtualMachine it is the VMI of its template (whose
// metadata holds the template's labels and annotations, and the VM's name
// and namespace for reference). Options run at Build, in the order given,
// after the builder's own settings and before validation. An Option
// returns the problems it finds, with paths as in a VMI (spec.domain.cpu),
// and Build reports them where they are in the object built. Other
// packages contribute settings this way:
// vmspec.NewVM("x").With(dpdk.WithDPDK(cfg)).Build().
type Option func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList

// With adds options; see [Option].
func (b *Builder[T]) With(opts ...Option) *Builder[T] {
	for _, o := range opts {
		if o != nil {
			b.opts = append(b.opts, o)
		}
	}
	return b
}

// WithAPIVersion sets the apiVersion to emit: [APIVersionV1] or
// [APIVersionV1Alpha3].
func (b *Builder[T]) WithAPIVersion(v string) *Builder[T] {
	b.apiVersion = v
	return b
}

// WithNamespace sets metadata.namespace.
func (b *Builder[T]) WithNamespace(ns string) *Builder[T] {
	b.namespace = ns
	return b
}

// WithLabels sets labels on the object's own metadata (the VM's, or the
// VMI's).
func (b *Builder[T]) WithLabels(labels map[string]string) *Builder[T] {
	b.labels = putAll(b.labels, labels)
	return b
}

// WithAnnotations sets annotations on the object's own metadata.
func (b *Builder[T]) WithAnnotations(annotations map[string]string) *Builder[T] {
	b.annotations = putAll(b.annotations, annotations)
	return b
}

// WithTemplateLabels sets labels on the VMI the object runs: a VM's
// spec.template.metadata (what a Service selects), or the VMI's own
// metadata.
func (b *Builder[T]) WithTemplateLabels(labels map[string]string) *Builder[T] {
	b.tplLabels = putAll(b.tplLabels, labels)
	return b
}

// WithTemplateAnnotations sets annotations on the VMI the object runs
// (CRI-O's cpu-load-balancing.crio.io for DPDK, sidecar.istio.io/inject).
func (b *Builder[T]) WithTemplateAnnotations(annotations map[string]string) *Builder[T] {
	b.tplAnnot = putAll(b.tplAnnot, annotations)
	return b
}

func putAll(m, kv map[string]string) map[string]string {
	for k, v := range kv {
		m = put(m, k, v)
	}
	return m
}

func put(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// WithRunStrategy sets a VirtualMachine's spec.runStrategy (Always,
// RerunOnFailure, Manual, Halted, Once). It does not apply to a VMI.
func (b *Builder[T]) WithRunStrategy(s kubevirtv1.VirtualMachineRunStrategy) *Builder[T] {
	b.runStrategy = s
	return b
}

// WithRunning sets the deprecated spec.running of a VirtualMachine instead
// of runStrategy, to reproduce manifests written that way; validation warns
// about it.
func (b *Builder[T]) WithRunning(running bool) *Builder[T] {
	b.running = &running
	return b
}

// WithDataVolumeTemplate adds a DataVolume the VirtualMachine creates with
// it (a RHEL 9 root disk cloned from a DataSource, say); reference it
// with [Builder.WithDataVolume]. A VMI has no templates: building one
// ignores them.
func (b *Builder[T]) WithDataVolumeTemplate(dv kubevirtv1.DataVolumeTemplateSpec) *Builder[T] {
	b.dataVolumeTemplates = append(b.dataVolumeTemplates, *dv.DeepCopy())
	return b
}

// WithEvictionStrategy sets spec.evictionStrategy, e.g. LiveMigrate, which needs
// ReadWriteMany storage.
func (b *Builder[T]) WithEvictionStrategy(s kubevirtv1.EvictionStrategy) *Builder[T] {
	b.spec.EvictionStrategy = &s
	return b
}

// WithTerminationGracePeriod sets spec.terminationGracePeriodSeconds (the PXE
// template uses 0).
func (b *Builder[T]) WithTerminationGracePeriod(seconds int64) *Builder[T] {
	b.spec.TerminationGracePeriodSeconds = &seconds
	return b
}

func (b *Builder[T]) quantity(p *field.Path, s string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		b.errs = append(b.errs, field.Invalid(p, s, err.Error()))
		return q, false
	}
	return q, true
}

var domainPath = field.NewPath("spec", "domain")

// WithMemory sets spec.domain.resources.requests.memory, e.g. "1024M".
func (b *Builder[T]) WithMemory(q string) *Builder[T] {
	if v, ok := b.quantity(domainPath.Child("resources", "requests", "memory"), q); ok {
		b.request(k8sv1.ResourceMemory, v)
	}
	return b
}

// WithCPURequest sets spec.domain.resources.requests.cpu, e.g. "2" or
// "500m".
func (b *Builder[T]) WithCPURequest(q string) *Builder[T] {
	if v, ok := b.quantity(domainPath.Child("resources", "requests", "cpu"), q); ok {
		b.request(k8sv1.ResourceCPU, v)
	}
	return b
}

func (b *Builder[T]) request(name k8sv1.ResourceName, v resource.Quantity) {
	if b.spec.Domain.Resources.Requests == nil {
		b.spec.Domain.Resources.Requests = k8sv1.ResourceList{}
	}
	b.spec.Domain.Resources.Requests[name] = v
}

// WithGuestMemory sets spec.domain.memory.guest, the memory the guest sees.
func (b *Builder[T]) WithGuestMemory(q string) *Builder[T] {
	if v, ok := b.quantity(domainPath.Child("memory", "guest"), q); ok {
		b.memory().Guest = &v
	}
	return b
}

// WithHugepages backs guest memory with hugepages of pageSize ("2Mi" or
// "1Gi" on x86-64).
func (b *Builder[T]) WithHugepages(pageSize string) *Builder[T] {
	b.memory().Hugepages = &kubevirtv1.Hugepages{PageSize: pageSize}
	return b
}

func (b *Builder[T]) memory() *kubevirtv1.Memory {
	if b.spec.Domain.Memory == nil {
		b.spec.Domain.Memory = &kubevirtv1.Memory{}
	}
	return b.spec.Domain.Memory
}

func (b *Builder[T]) cpu() *kubevirtv1.CPU {
	if b.spec.Domain.CPU == nil {
		b.spec.Domain.CPU = &kubevirtv1.CPU{}
	}
	return b.spec.Domain.CPU
}

// WithCPUTopology sets spec.domain.cpu sockets, cores and threads (0 leaves
// one unset).
func (b *Builder[T]) WithCPUTopology(sockets, cores, threads uint32) *Builder[T] {
	c := b.cpu()
	c.Sockets, c.Cores, c.Threads = sockets, cores, threads
	return b
}

// WithDedicatedCPUs pins every vCPU to a host CPU (dedicatedCpuPlacement)
// and, if isolateEmulatorThread, gives QEMU's emulator thread a CPU of its
// own: what DPDK VMs need.
func (b *Builder[T]) WithDedicatedCPUs(isolateEmulatorThread bool) *Builder[T] {
	c := b.cpu()
	c.DedicatedCPUPlacement = true
	c.IsolateEmulatorThread = isolateEmulatorThread
	return b
}

// WithNetworkInterfaceMultiqueue enables a queue per vCPU on virtio NICs.
func (b *Builder[T]) WithNetworkInterfaceMultiqueue() *Builder[T] {
	t := true
	b.spec.Domain.Devices.NetworkInterfaceMultiQueue = &t
	return b
}

// WithRNG adds a virtio random number generator (spec.domain.devices.rng).
func (b *Builder[T]) WithRNG() *Builder[T] {
	b.spec.Domain.Devices.Rng = &kubevirtv1.Rng{}
	return b
}

// WithMachineType sets spec.domain.machine.type. The PXE template writes an empty
// one (machine: {type: ""}), which lets the cluster pick its default.
func (b *Builder[T]) WithMachineType(t string) *Builder[T] {
	b.spec.Domain.Machine = &kubevirtv1.Machine{Type: t}
	return b
}

// WithBIOS boots the VM with legacy BIOS firmware (PXE via iPXE's
// undionly path).
func (b *Builder[T]) WithBIOS() *Builder[T] {
	b.spec.Domain.Firmware = firmware(b.spec.Domain.Firmware)
	b.spec.Domain.Firmware.Bootloader = &kubevirtv1.Bootloader{BIOS: &kubevirtv1.BIOS{}}
	return b
}

// WithUEFI boots the VM with UEFI firmware. Secure Boot, if asked for,
// needs SMM, which this enables too; an unsigned iPXE cannot boot under it.
func (b *Builder[T]) WithUEFI(secureBoot bool) *Builder[T] {
	b.spec.Domain.Firmware = firmware(b.spec.Domain.Firmware)
	b.spec.Domain.Firmware.Bootloader = &kubevirtv1.Bootloader{EFI: &kubevirtv1.EFI{SecureBoot: &secureBoot}}
	if secureBoot {
		if b.spec.Domain.Features == nil {
			b.spec.Domain.Features = &kubevirtv1.Features{}
		}
		t := true
		b.spec.Domain.Features.SMM = &kubevirtv1.FeatureState{Enabled: &t}
	}
	return b
}

func firmware(f *kubevirtv1.Firmware) *kubevirtv1.Firmware {
	if f == nil {
		return &kubevirtv1.Firmware{}
	}
	return f
}

// WithNICModel sets the model of every interface that has none of its own
// (virtio, e1000e, ...). KubeVirt defaults to virtio.
func (b *Builder[T]) WithNICModel(model string) *Builder[T] {
	b.nicModel = model
	return b
}

// Build returns the VirtualMachine or VirtualMachineInstance and one error
// (a field.ErrorList aggregate) listing every problem with its field path:
// those the builder found, those its options report, and those
// [ValidateVM] or [ValidateVMI] finds. The object is returned even when
// there are problems. A VM's interfaces without a macAddress get one from
// the MAC pool, if one was given.
func (b *Builder[T]) Build() (*T, error) {
	var obj any
	var err error
	switch any((*T)(nil)).(type) {
	case *kubevirtv1.VirtualMachine:
		obj, err = b.buildVM()
	default:
		obj, err = b.buildVMI()
	}
	return obj.(*T), err
}

func (b *Builder[T]) buildVMI() (*kubevirtv1.VirtualMachineInstance, error) {
	vmi := &kubevirtv1.VirtualMachineInstance{
		TypeMeta:   metav1.TypeMeta{APIVersion: b.apiVersion, Kind: KindVMI},
		ObjectMeta: b.meta(true),
		Spec:       b.buildSpec(),
	}
	errs := append(slices.Clone(b.errs), b.applyOptions(vmi)...)
	verrs, _ := ValidateVMI(vmi)
	errs = append(errs, verrs...)
	if b.source != "" {
		errs = append(errs, ValidateBootableDisk(b.source, &vmi.Spec, field.NewPath("spec"))...)
	}
	return vmi, errs.ToAggregate()
}

func (b *Builder[T]) buildVM() (*kubevirtv1.VirtualMachine, error) {
	// The options see the template as the VMI it is.
	tmpl := &kubevirtv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Name: b.name, Namespace: b.namespace, Labels: maps.Clone(b.tplLabels), Annotations: maps.Clone(b.tplAnnot)},
		Spec:       b.buildSpec(),
	}
	errs := append(slices.Clone(b.errs), b.applyOptions(tmpl)...)
	for i, e := range errs {
		errs[i] = inTemplate(e)
	}
	vm := &kubevirtv1.VirtualMachine{
		TypeMeta:   metav1.TypeMeta{APIVersion: b.apiVersion, Kind: KindVM},
		ObjectMeta: b.meta(false),
		Spec: kubevirtv1.VirtualMachineSpec{
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: tmpl.Labels, Annotations: tmpl.Annotations},
				Spec:       tmpl.Spec,
			},
		},
	}
	for _, dv := range b.dataVolumeTemplates {
		vm.Spec.DataVolumeTemplates = append(vm.Spec.DataVolumeTemplates, *dv.DeepCopy())
	}
	if b.running != nil {
		r := *b.running
		vm.Spec.Running = &r
	} else {
		rs := b.runStrategy
		vm.Spec.RunStrategy = &rs
	}
	errs = append(errs, b.assignMACs(vm)...)
	verrs, _ := ValidateVM(vm)
	errs = append(errs, verrs...)
	if b.source != "" {
		errs = append(errs, ValidateBootableDisk(b.source, &vm.Spec.Template.Spec, field.NewPath("spec", "template", "spec"))...)
	}
	return vm, errs.ToAggregate()
}

// applyOptions runs the options on vmi and collects what they report.
func (b *Builder[T]) applyOptions(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
	var errs field.ErrorList
	for _, o := range b.opts {
		errs = append(errs, o(vmi)...)
	}
	return errs
}

// inTemplate moves an error about a field of a VMI (spec..., metadata...)
// to where that field is in a VirtualMachine (spec.template.spec...,
// spec.template.metadata...).
func inTemplate(e *field.Error) *field.Error {
	c := *e
	for _, root := range []string{"spec", "metadata"} {
		if rest, ok := strings.CutPrefix(c.Field, root); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			c.Field = "spec.template." + root + rest
			break
		}
	}
	return &c
}

func (b *Builder[T]) meta(vmi bool) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: b.name, Namespace: b.namespace, Labels: maps.Clone(b.labels), Annotations: maps.Clone(b.annotations)}
	if vmi {
		// A VMI is its own template.
		for k, v := range b.tplLabels {
			m.Labels = put(m.Labels, k, v)
		}
		for k, v := range b.tplAnnot {
			m.Annotations = put(m.Annotations, k, v)
		}
	}
	return m
}

// buildSpec returns a deep copy of the spec with the boot order assigned:
// PXE NICs first (in the order added), then bootable disks. Boot order is
// one sequence across interfaces and disks, so numbers already
// given explicitly are skipped.
func (b *Builder[T]) buildSpec() kubevirtv1.VirtualMachineInstanceSpec {
	spec := *b.spec.DeepCopy()
	used := map[uint]bool{}
	for _, d := range spec.Domain.Devices.Disks {
		if d.BootOrder != nil {
			used[*d.BootOrder] = true
		}
	}
	for _, i := range spec.Domain.Devices.Interfaces {
		if i.BootOrder != nil {
			used[*i.BootOrder] = true
		}
	}
	next := uint(1)
	take := func() *uint {
		for used[next] {
			next++
		}
		n := next
		used[n] = true
		return &n
	}
	for _, name := range b.pxeNICs {
		for i := range spec.Domain.Devices.Interfaces {
			if ifc := &spec.Domain.Devices.Interfaces[i]; ifc.Name == name && ifc.BootOrder == nil {
				ifc.BootOrder = take()
			}
		}
	}
	for _, name := range b.bootDisks {
		for i := range spec.Domain.Devices.Disks {
			if d := &spec.Domain.Devices.Disks[i]; d.Name == name && d.BootOrder == nil {
				d.BootOrder = take()
			}
		}
	}
	if b.nicModel != "" {
		for i := range spec.Domain.Devices.Interfaces {
			if spec.Domain.Devices.Interfaces[i].Model == "" {
				spec.Domain.Devices.Interfaces[i].Model = b.nicModel
			}
		}
	}
	return spec
}

// String describes the builder for debugging.
func (b *Builder[T]) String() string {
	return fmt.Sprintf("vmspec.Builder(%s/%s)", b.namespace, b.name)
}
