package vmspec

import (
	"fmt"
	"slices"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Flavor is a preset of CPUs and memory (a field of the web console's
// VM wizard).
type Flavor string

// The flavors of KubeVirt's common templates, and Custom (set CPU and
// memory yourself with [Builder.WithCustomFlavor]).
const (
	FlavorTiny   Flavor = "tiny"
	FlavorSmall  Flavor = "small"
	FlavorMedium Flavor = "medium"
	FlavorLarge  Flavor = "large"
	FlavorCustom Flavor = "Custom"
)

// flavors are the common templates' sizes (kubevirt/common-templates
// generate.yaml): tiny 1 CPU/1Gi, small 1/2Gi, medium 1/4Gi, large 2/8Gi.
var flavors = map[Flavor]struct {
	cpus   uint32
	memory string
}{
	FlavorTiny: {1, "1Gi"}, FlavorSmall: {1, "2Gi"}, FlavorMedium: {1, "4Gi"}, FlavorLarge: {2, "8Gi"},
}

// Resources returns the CPUs and memory of a preset flavor; ok is false
// for Custom and unknown names.
func (f Flavor) Resources() (cpus uint32, memory resource.Quantity, ok bool) {
	r, ok := flavors[f]
	if !ok {
		return 0, resource.Quantity{}, false
	}
	return r.cpus, resource.MustParse(r.memory), true
}

// Annotations the common templates put on the VMI template.
const (
	FlavorAnnotation   = "vm.kubevirt.io/flavor"
	WorkloadAnnotation = "vm.kubevirt.io/workload"
)

// WithFlavor sizes the VM as the common templates do: the flavor's CPUs
// as sockets of one single-threaded core, and its memory as the request.
// Custom and unknown flavors are errors: use [Builder.WithCustomFlavor].
func (b *Builder[T]) WithFlavor(f Flavor) *Builder[T] {
	cpus, mem, ok := f.Resources()
	if !ok {
		b.errs = append(b.errs, field.NotSupported(field.NewPath("spec", "domain", "cpu"), f, []Flavor{FlavorTiny, FlavorSmall, FlavorMedium, FlavorLarge}).WithOrigin("flavor"))
		return b
	}
	b.WithCPUTopology(cpus, 1, 1)
	b.request(k8sv1.ResourceMemory, mem)
	return b.WithTemplateAnnotations(map[string]string{FlavorAnnotation: string(f)})
}

// WithCustomFlavor sizes the VM with cpus sockets and memory (e.g. "3Gi").
func (b *Builder[T]) WithCustomFlavor(cpus uint32, memory string) *Builder[T] {
	if cpus == 0 {
		b.errs = append(b.errs, field.Invalid(field.NewPath("spec", "domain", "cpu", "sockets"), 0, "a VM needs at least one CPU"))
	}
	b.WithCPUTopology(cpus, 1, 1).WithMemory(memory)
	return b.WithTemplateAnnotations(map[string]string{FlavorAnnotation: "custom"})
}

// WorkloadProfile tunes a VM for its use.
type WorkloadProfile string

// The workload profiles of the wizard.
const (
	// WorkloadDesktop adds a virtio tablet, so a graphical console's
	// pointer follows the mouse.
	WorkloadDesktop WorkloadProfile = "desktop"
	// WorkloadServer is the general-purpose default: nothing extra.
	WorkloadServer WorkloadProfile = "server"
	// WorkloadHighPerformance trades flexibility for speed: dedicated
	// CPUs, ioThreadsPolicy shared and a dedicated I/O thread for each
	// bootable disk.
	WorkloadHighPerformance WorkloadProfile = "highperformance"
)

// WithWorkloadProfile applies what the common templates set for a
// workload profile and records it in the vm.kubevirt.io/workload
// annotation.
func (b *Builder[T]) WithWorkloadProfile(p WorkloadProfile) *Builder[T] {
	switch p {
	case WorkloadDesktop:
		b.With(func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
			d := &vmi.Spec.Domain.Devices
			d.Inputs = append(d.Inputs, kubevirtv1.Input{Type: kubevirtv1.InputTypeTablet, Bus: kubevirtv1.InputBusVirtio, Name: "tablet"})
			return nil
		})
	case WorkloadServer:
	case WorkloadHighPerformance:
		b.cpu().DedicatedCPUPlacement = true
		shared := kubevirtv1.IOThreadsPolicyShared
		b.spec.Domain.IOThreadsPolicy = &shared
		// Read the bootable disks at build time: they may be added later.
		b.With(func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
			t := true
			disks := vmi.Spec.Domain.Devices.Disks
			for i := range disks {
				if slices.Contains(b.bootDisks, disks[i].Name) {
					disks[i].DedicatedIOThread = &t
				}
			}
			return nil
		})
	default:
		b.errs = append(b.errs, field.NotSupported(field.NewPath("metadata", "annotations").Key(WorkloadAnnotation), p, []WorkloadProfile{WorkloadDesktop, WorkloadServer, WorkloadHighPerformance}))
		return b
	}
	return b.WithTemplateAnnotations(map[string]string{WorkloadAnnotation: string(p)})
}

// SourceKind is where a VM's operating system comes from.
type SourceKind string

// The wizard's sources.
const (
	SourcePXE       SourceKind = "PXE"
	SourceURL       SourceKind = "URL"
	SourceContainer SourceKind = "Container"
	SourceDisk      SourceKind = "Disk"
)

// Source is a VM's boot source. For URL, Container and Disk the builder
// adds a bootable disk named "rootdisk"; a PXE source adds nothing (add a
// PXE NIC with [Builder.WithPXENIC]).
type Source struct {
	// Kind is where the operating system comes from; the fields below
	// belong to one kind each.
	Kind SourceKind
	// URL is an HTTP(S) or S3 image for SourceURL, imported by CDI into a
	// DataVolume of Size.
	URL, Size string
	// Image is a container disk image (raw or qcow2 inside) for
	// SourceContainer.
	Image string
	// ClaimName is an existing PVC holding the disk for SourceDisk.
	ClaimName string
}

// RootDiskName is the bootable disk a URL, Container or Disk source adds.
const RootDiskName = "rootdisk"

// WithSource sets the VM's boot source and checks the web console's
// bootable-disk rule at build time: a PXE VM needs a PXE NIC and, only if
// it has disks, exactly one bootable disk; the other sources boot their
// rootdisk.
func (b *Builder[T]) WithSource(src Source) *Builder[T] {
	b.source = src.Kind
	p := field.NewPath("spec", "volumes").Index(len(b.spec.Volumes))
	switch src.Kind {
	case SourcePXE:
	case SourceContainer:
		b.WithContainerDisk(RootDiskName, src.Image, Bootable())
	case SourceDisk:
		b.WithPVC(RootDiskName, src.ClaimName, Bootable())
	case SourceURL:
		if src.URL == "" {
			b.errs = append(b.errs, field.Required(p.Child("dataVolume"), "a URL source needs the image URL"))
		}
		size, ok := b.quantity(p.Child("dataVolume", "storage"), src.Size)
		if !ok {
			return b
		}
		dv := b.name + "-" + RootDiskName
		b.WithDataVolumeTemplate(kubevirtv1.DataVolumeTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Name: dv},
			Spec: cdiv1.DataVolumeSpec{
				Source:  &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: src.URL}},
				Storage: &cdiv1.StorageSpec{Resources: k8sv1.VolumeResourceRequirements{Requests: k8sv1.ResourceList{k8sv1.ResourceStorage: size}}},
			},
		})
		b.WithDataVolume(RootDiskName, dv, Bootable())
	default:
		b.errs = append(b.errs, field.NotSupported(field.NewPath("spec", "domain", "devices", "disks"), src.Kind, []SourceKind{SourcePXE, SourceURL, SourceContainer, SourceDisk}).WithOrigin("source"))
	}
	return b
}

// ValidateBootableDisk applies the web console's rule to a VMI spec at p for a
// VM provisioned from source: with PXE, an interface must boot (have a
// bootOrder) and, only when there are disks, exactly one disk is bootable
// (has a bootOrder); with the other sources exactly one disk is bootable.
func ValidateBootableDisk(source SourceKind, s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	dp := p.Child("domain", "devices")
	bootable := 0
	for _, d := range s.Domain.Devices.Disks {
		if d.BootOrder != nil {
			bootable++
		}
	}
	if source == SourcePXE {
		nic := false
		for _, i := range s.Domain.Devices.Interfaces {
			nic = nic || i.BootOrder != nil
		}
		if !nic {
			errs = append(errs, field.Required(dp.Child("interfaces"), "a PXE source needs a NIC that boots from the network (bootOrder set, e.g. WithPXENIC)"))
		}
		if len(s.Domain.Devices.Disks) == 0 {
			return errs
		}
	}
	if bootable != 1 {
		errs = append(errs, field.Invalid(dp.Child("disks"), bootable, fmt.Sprintf("exactly one disk must be bootable (have a bootOrder) with a %s source, found %d", source, bootable)))
	}
	return errs
}

// WithEphemeralPVC adds an ephemeral disk: a local copy-on-write image
// over the PVC claimName, which stays unchanged; writes are discarded when
// the VM stops, restarts or is deleted.
func (b *Builder[T]) WithEphemeralPVC(name, claimName string, opts ...DiskOption) *Builder[T] {
	b.addDisk(name, kubevirtv1.VolumeSource{Ephemeral: &kubevirtv1.EphemeralVolumeSource{
		PersistentVolumeClaim: &k8sv1.PersistentVolumeClaimVolumeSource{ClaimName: claimName},
	}}, opts)
	return b
}
