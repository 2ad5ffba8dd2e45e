package vmspec

import (
	"fmt"
	"maps"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// API versions the builder can emit. KubeVirt serves both; v1alpha3 is what
// seed 001's vmi-pxe-boot template uses.
const (
	APIVersionV1       = "kubevirt.io/v1"
	APIVersionV1Alpha3 = "kubevirt.io/v1alpha3"
)

// Names the builder gives the pod network and its interface, as KubeVirt's
// own examples and the seeds do.
const PodNetworkName = "default"

// Builder assembles a KubeVirt VirtualMachineInstance (or a VirtualMachine
// around one). Create it with [New], chain With... calls, finish with
// [Builder.BuildVMI] or [Builder.BuildVM]. A Builder is not safe for
// concurrent use.
type Builder struct {
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
	specFns             []func(*kubevirtv1.VirtualMachineInstanceSpec)
	dataVolumeTemplates []kubevirtv1.DataVolumeTemplateSpec
	errs                field.ErrorList // problems found while building (bad quantities)
	macPool             MACAllocator
	macPoolOff          bool // the namespace opted out
	source              SourceKind
}

// New starts a builder for a VM or VMI called name. By default it emits
// apiVersion kubevirt.io/v1, and a VirtualMachine gets runStrategy Always.
func New(name string) *Builder {
	return &Builder{name: name, apiVersion: APIVersionV1, runStrategy: kubevirtv1.RunStrategyAlways}
}

// WithAPIVersion sets the apiVersion to emit: [APIVersionV1] or
// [APIVersionV1Alpha3].
func (b *Builder) WithAPIVersion(v string) *Builder {
	b.apiVersion = v
	return b
}

// WithNamespace sets metadata.namespace.
func (b *Builder) WithNamespace(ns string) *Builder {
	b.namespace = ns
	return b
}

// WithLabel sets a label on the object's own metadata (the VM's, or the
// VMI's).
func (b *Builder) WithLabel(key, value string) *Builder {
	b.labels = put(b.labels, key, value)
	return b
}

// WithLabels sets several labels on the object's own metadata.
func (b *Builder) WithLabels(labels map[string]string) *Builder {
	for k, v := range labels {
		b.labels = put(b.labels, k, v)
	}
	return b
}

// WithAnnotation sets an annotation on the object's own metadata.
func (b *Builder) WithAnnotation(key, value string) *Builder {
	b.annotations = put(b.annotations, key, value)
	return b
}

// WithTemplateLabel sets a label on the VMI the object runs: a VM's
// spec.template.metadata (what a Service selects, seed 003), or the VMI's
// own metadata.
func (b *Builder) WithTemplateLabel(key, value string) *Builder {
	b.tplLabels = put(b.tplLabels, key, value)
	return b
}

// WithTemplateAnnotation sets an annotation on the VMI the object runs
// (CRI-O's cpu-load-balancing.crio.io for DPDK, sidecar.istio.io/inject).
func (b *Builder) WithTemplateAnnotation(key, value string) *Builder {
	b.tplAnnot = put(b.tplAnnot, key, value)
	return b
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
func (b *Builder) WithRunStrategy(s kubevirtv1.VirtualMachineRunStrategy) *Builder {
	b.runStrategy = s
	return b
}

// WithRunning sets the deprecated spec.running of a VirtualMachine instead
// of runStrategy, to reproduce manifests written that way (seeds 003 and
// 004); validation warns about it.
func (b *Builder) WithRunning(running bool) *Builder {
	b.running = &running
	return b
}

// WithDataVolumeTemplate adds a DataVolume the VirtualMachine creates with
// it (seed 004's RHEL 9 root disk cloned from a DataSource); reference it
// with [Builder.WithDataVolume]. A VMI has no templates: BuildVMI ignores
// them.
func (b *Builder) WithDataVolumeTemplate(dv kubevirtv1.DataVolumeTemplateSpec) *Builder {
	b.dataVolumeTemplates = append(b.dataVolumeTemplates, *dv.DeepCopy())
	return b
}

// WithEvictionStrategy sets spec.evictionStrategy, e.g. LiveMigrate (seed
// 004), which needs ReadWriteMany storage.
func (b *Builder) WithEvictionStrategy(s kubevirtv1.EvictionStrategy) *Builder {
	b.spec.EvictionStrategy = &s
	return b
}

// WithTerminationGracePeriod sets spec.terminationGracePeriodSeconds (seed
// 001 uses 0).
func (b *Builder) WithTerminationGracePeriod(seconds int64) *Builder {
	b.spec.TerminationGracePeriodSeconds = &seconds
	return b
}

func (b *Builder) quantity(p *field.Path, s string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		b.errs = append(b.errs, field.Invalid(p, s, err.Error()))
		return q, false
	}
	return q, true
}

var domainPath = field.NewPath("spec", "domain")

// WithMemory sets spec.domain.resources.requests.memory, e.g. "1024M".
func (b *Builder) WithMemory(q string) *Builder {
	if v, ok := b.quantity(domainPath.Child("resources", "requests", "memory"), q); ok {
		b.request(k8sv1.ResourceMemory, v)
	}
	return b
}

// WithCPURequest sets spec.domain.resources.requests.cpu, e.g. "2" or
// "500m".
func (b *Builder) WithCPURequest(q string) *Builder {
	if v, ok := b.quantity(domainPath.Child("resources", "requests", "cpu"), q); ok {
		b.request(k8sv1.ResourceCPU, v)
	}
	return b
}

func (b *Builder) request(name k8sv1.ResourceName, v resource.Quantity) {
	if b.spec.Domain.Resources.Requests == nil {
		b.spec.Domain.Resources.Requests = k8sv1.ResourceList{}
	}
	b.spec.Domain.Resources.Requests[name] = v
}

// WithGuestMemory sets spec.domain.memory.guest, the memory the guest sees.
func (b *Builder) WithGuestMemory(q string) *Builder {
	if v, ok := b.quantity(domainPath.Child("memory", "guest"), q); ok {
		b.memory().Guest = &v
	}
	return b
}

// WithHugepages backs guest memory with hugepages of pageSize ("2Mi" or
// "1Gi" on x86-64).
func (b *Builder) WithHugepages(pageSize string) *Builder {
	b.memory().Hugepages = &kubevirtv1.Hugepages{PageSize: pageSize}
	return b
}

func (b *Builder) memory() *kubevirtv1.Memory {
	if b.spec.Domain.Memory == nil {
		b.spec.Domain.Memory = &kubevirtv1.Memory{}
	}
	return b.spec.Domain.Memory
}

func (b *Builder) cpu() *kubevirtv1.CPU {
	if b.spec.Domain.CPU == nil {
		b.spec.Domain.CPU = &kubevirtv1.CPU{}
	}
	return b.spec.Domain.CPU
}

// WithCPUTopology sets spec.domain.cpu sockets, cores and threads (0 leaves
// one unset).
func (b *Builder) WithCPUTopology(sockets, cores, threads uint32) *Builder {
	c := b.cpu()
	c.Sockets, c.Cores, c.Threads = sockets, cores, threads
	return b
}

// WithDedicatedCPUs pins every vCPU to a host CPU (dedicatedCpuPlacement)
// and, if isolateEmulatorThread, gives QEMU's emulator thread a CPU of its
// own: what DPDK VMs need (seed 003).
func (b *Builder) WithDedicatedCPUs(isolateEmulatorThread bool) *Builder {
	c := b.cpu()
	c.DedicatedCPUPlacement = true
	c.IsolateEmulatorThread = isolateEmulatorThread
	return b
}

// WithNetworkInterfaceMultiqueue enables a queue per vCPU on virtio NICs.
func (b *Builder) WithNetworkInterfaceMultiqueue() *Builder {
	t := true
	b.spec.Domain.Devices.NetworkInterfaceMultiQueue = &t
	return b
}

// WithRNG adds a virtio random number generator (spec.domain.devices.rng).
func (b *Builder) WithRNG() *Builder {
	b.spec.Domain.Devices.Rng = &kubevirtv1.Rng{}
	return b
}

// WithMachineType sets spec.domain.machine.type. Seed 001 writes an empty
// one (machine: {type: ""}), which lets the cluster pick its default.
func (b *Builder) WithMachineType(t string) *Builder {
	b.spec.Domain.Machine = &kubevirtv1.Machine{Type: t}
	return b
}

// WithBIOS boots the VM with legacy BIOS firmware (PXE via iPXE's
// undionly path).
func (b *Builder) WithBIOS() *Builder {
	b.spec.Domain.Firmware = firmware(b.spec.Domain.Firmware)
	b.spec.Domain.Firmware.Bootloader = &kubevirtv1.Bootloader{BIOS: &kubevirtv1.BIOS{}}
	return b
}

// WithUEFI boots the VM with UEFI firmware. Secure Boot, if asked for,
// needs SMM, which this enables too; an unsigned iPXE cannot boot under it.
func (b *Builder) WithUEFI(secureBoot bool) *Builder {
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
func (b *Builder) WithNICModel(model string) *Builder {
	b.nicModel = model
	return b
}

// WithSpec runs fn on the VMI spec after every other option, so another
// package (dpdk, say) can set fields this builder has no option for.
func (b *Builder) WithSpec(fn func(*kubevirtv1.VirtualMachineInstanceSpec)) *Builder {
	if fn != nil {
		b.specFns = append(b.specFns, fn)
	}
	return b
}

// BuildVMI returns the VirtualMachineInstance and one error (a
// field.ErrorList aggregate) listing every problem [ValidateVMI] finds,
// with field paths. The object is returned even when there are problems.
func (b *Builder) BuildVMI() (*kubevirtv1.VirtualMachineInstance, error) {
	vmi := &kubevirtv1.VirtualMachineInstance{
		TypeMeta:   metav1.TypeMeta{APIVersion: b.apiVersion, Kind: "VirtualMachineInstance"},
		ObjectMeta: b.meta(true),
		Spec:       b.buildSpec(),
	}
	errs, _ := ValidateVMI(vmi)
	if b.source != "" {
		errs = append(errs, ValidateBootableDisk(b.source, &vmi.Spec, field.NewPath("spec"))...)
	}
	return vmi, b.result(errs, domainPath.Root())
}

// BuildVM returns a VirtualMachine whose template is the VMI this builder
// describes, and one error listing every problem [ValidateVM] finds.
func (b *Builder) BuildVM() (*kubevirtv1.VirtualMachine, error) {
	vm := &kubevirtv1.VirtualMachine{
		TypeMeta:   metav1.TypeMeta{APIVersion: b.apiVersion, Kind: "VirtualMachine"},
		ObjectMeta: b.meta(false),
		Spec: kubevirtv1.VirtualMachineSpec{
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(b.tplLabels), Annotations: maps.Clone(b.tplAnnot)},
				Spec:       b.buildSpec(),
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
	macErrs := b.assignMACs(vm)
	errs, _ := ValidateVM(vm)
	if b.source != "" {
		errs = append(errs, ValidateBootableDisk(b.source, &vm.Spec.Template.Spec, field.NewPath("spec", "template", "spec"))...)
	}
	return vm, b.result(append(macErrs, errs...), field.NewPath("spec", "template", "spec"))
}

// result merges the builder's own problems (paths written for a VMI) with
// the validation's, moving the former under the VM template if needed.
func (b *Builder) result(errs field.ErrorList, specParent *field.Path) error {
	var all field.ErrorList
	for _, e := range b.errs {
		c := *e
		if specParent.String() != "spec" {
			c.Field = specParent.String() + c.Field[len("spec"):]
		}
		all = append(all, &c)
	}
	all = append(all, errs...)
	if len(all) == 0 {
		return nil
	}
	return all.ToAggregate()
}

func (b *Builder) meta(vmi bool) metav1.ObjectMeta {
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
// one sequence across interfaces and disks (seed 001), so numbers already
// given explicitly are skipped.
func (b *Builder) buildSpec() kubevirtv1.VirtualMachineInstanceSpec {
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
	for _, fn := range b.specFns {
		fn(&spec)
	}
	return spec
}

// String describes the builder for debugging.
func (b *Builder) String() string {
	return fmt.Sprintf("vmspec.Builder(%s/%s)", b.namespace, b.name)
}
