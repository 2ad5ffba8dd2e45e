package vmspec

import (
	"strings"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// KubeVirt v1.9.0's defaults for a cluster whose KubeVirt CR sets none.
const (
	defaultArchitecture = "amd64"
	defaultMachineType  = "q35"
	defaultCPUModel     = kubevirtv1.DefaultCPUModel
	// maxHotplugRatio is how many times the boot sockets (and memory) a VM
	// may grow to with the LiveUpdate rollout strategy, v1.9.0's default.
	maxHotplugRatio = 4
	maxHotplugVCPUs = 512
)

// machineTypes are the default machine types of the other architectures.
var machineTypes = map[string]string{"arm64": "virt", "s390x": "s390-ccw-virtio"}

// emulatedMachines are the machine types v1.9.0 accepts per architecture
// (shell patterns).
var emulatedMachines = map[string][]string{
	"amd64": {"q35*", "pc-q35*"},
	"arm64": {"virt*"},
	"s390x": {"s390-ccw-virtio*"},
}

// DefaultVMI applies to a VirtualMachineInstance what virt-api's mutating
// webhook sets on CREATE before the VMI is validated and stored, for a
// cluster with KubeVirt v1.9.0's default configuration: the spec defaults
// of [DefaultVMISpec], then the API's own defaults (a disk target for every
// disk, firmware and features structs, input bus and type, probe timings),
// the architecture's (SATA for disks without a bus on amd64, the
// i6300esb watchdog), the CPU model host-model, and the maximum sockets
// and guest memory of CPU and memory hotplug.
func DefaultVMI(vmi *kubevirtv1.VirtualMachineInstance) {
	s := &vmi.Spec
	DefaultVMISpec(s)
	kubevirtv1.SetObjectDefaults_VirtualMachineInstance(vmi)
	switch s.Architecture {
	case "arm64":
		// SATA is not emulated on arm64.
		for i := range s.Domain.Devices.Disks {
			setBus(&s.Domain.Devices.Disks[i].DiskDevice, kubevirtv1.DiskBusVirtio, kubevirtv1.DiskBusVirtio)
		}
	case "s390x":
		// Not modelled: pxekit checks s390x VMs without its defaults.
	default:
		for i := range s.Domain.Devices.Disks {
			setBus(&s.Domain.Devices.Disks[i].DiskDevice, kubevirtv1.DiskBusSATA, kubevirtv1.DiskBusSATA)
		}
		if w := s.Domain.Devices.Watchdog; w != nil {
			if w.I6300ESB == nil {
				w.I6300ESB = &kubevirtv1.I6300ESBWatchdog{}
			}
			if w.I6300ESB.Action == "" {
				w.I6300ESB.Action = kubevirtv1.WatchdogActionReset
			}
		}
	}
	if s.Domain.CPU == nil {
		s.Domain.CPU = &kubevirtv1.CPU{}
	}
	if s.Domain.CPU.Model == "" {
		s.Domain.CPU.Model = defaultCPUModel
	}
	if s.Architecture != "arm64" {
		defaultHotplug(s)
	}
}

// setBus gives a disk, CD-ROM or LUN without a bus the architecture's
// default: disk for disks and LUNs, cdrom for CD-ROMs.
func setBus(d *kubevirtv1.DiskDevice, disk, cdrom kubevirtv1.DiskBus) {
	switch {
	case d.Disk != nil && d.Disk.Bus == "":
		d.Disk.Bus = disk
	case d.CDRom != nil && d.CDRom.Bus == "":
		d.CDRom.Bus = cdrom
	case d.LUN != nil && d.LUN.Bus == "":
		d.LUN.Bus = disk
	}
}

// defaultHotplug sets the maximum sockets (four times the boot sockets,
// at most 512 vCPUs) and guest memory (four times the guest) CPU and memory
// hotplug can grow to.
func defaultHotplug(s *kubevirtv1.VirtualMachineInstanceSpec) {
	c := s.Domain.CPU
	if c.MaxSockets == 0 {
		c.MaxSockets = c.Sockets * maxHotplugRatio
		if per := c.Cores * c.Threads; per > 0 && c.MaxSockets*per > maxHotplugVCPUs {
			c.MaxSockets = max(maxHotplugVCPUs/per, c.Sockets)
		}
	}
	m := s.Domain.Memory
	if m == nil || m.MaxGuest != nil || m.Guest == nil {
		return
	}
	maxGuest := resource.NewQuantity(m.Guest.Value()*maxHotplugRatio, resource.BinarySI)
	if liveUpdateMemory(s, maxGuest) == "" {
		m.MaxGuest = maxGuest
	}
}

// DefaultVM applies what virt-api's mutating webhook sets on a
// VirtualMachine's template on CREATE (architecture and machine type) and
// what its validating webhook sets on the copy it validates: the spec
// defaults of [DefaultVMISpec]. Only the first two are stored.
func DefaultVM(vm *kubevirtv1.VirtualMachine) {
	if vm.Spec.Template != nil {
		DefaultVMISpec(&vm.Spec.Template.Spec)
	}
}

// DefaultVMISpec applies virt-api's spec defaults (SetDefaultVirtualMachineInstanceSpec),
// which run before both the VM and the VMI are validated:
//   - architecture amd64 and machine type q35, when unset;
//   - a CPU request equal to the CPU limit when only the limit is set;
//   - domain.memory.guest from the memory request, else the memory limit,
//     else the hugepages page size;
//   - a CPU topology, when cores, sockets and threads are all unset: as
//     many sockets as the CPU limit (else the request, else 1) of one
//     core and one thread;
//   - the pod network with a bridge interface named default, when the
//     spec has neither networks nor interfaces and autoattachPodInterface
//     is not false;
//   - a disk named after every volume that has neither a disk nor a
//     filesystem.
func DefaultVMISpec(s *kubevirtv1.VirtualMachineInstanceSpec) {
	if s.Architecture == "" {
		s.Architecture = defaultArchitecture
	}
	if s.Domain.Machine == nil {
		s.Domain.Machine = &kubevirtv1.Machine{}
	}
	if s.Domain.Machine.Type == "" {
		s.Domain.Machine.Type = machineTypes[s.Architecture]
		if s.Domain.Machine.Type == "" {
			s.Domain.Machine.Type = defaultMachineType
		}
	}
	r := &s.Domain.Resources
	if !r.Limits.Cpu().IsZero() && r.Requests.Cpu().IsZero() {
		if r.Requests == nil {
			r.Requests = k8sv1.ResourceList{}
		}
		r.Requests[k8sv1.ResourceCPU] = r.Limits[k8sv1.ResourceCPU]
	}
	if s.Domain.Memory == nil || s.Domain.Memory.Guest == nil {
		if s.Domain.Memory == nil {
			s.Domain.Memory = &kubevirtv1.Memory{}
		}
		switch {
		case !r.Requests.Memory().IsZero():
			s.Domain.Memory.Guest = r.Requests.Memory()
		case !r.Limits.Memory().IsZero():
			s.Domain.Memory.Guest = r.Limits.Memory()
		case s.Domain.Memory.Hugepages != nil:
			if q, err := resource.ParseQuantity(s.Domain.Memory.Hugepages.PageSize); err == nil {
				s.Domain.Memory.Guest = &q
			}
		}
	}
	if c := s.Domain.CPU; c == nil || c.Cores == 0 && c.Sockets == 0 && c.Threads == 0 {
		if s.Domain.CPU == nil {
			s.Domain.CPU = &kubevirtv1.CPU{}
		}
		sockets := uint32(1)
		if q, ok := r.Limits[k8sv1.ResourceCPU]; ok {
			sockets = uint32(q.Value())
		} else if q, ok := r.Requests[k8sv1.ResourceCPU]; ok {
			sockets = uint32(q.Value())
		}
		s.Domain.CPU.Sockets, s.Domain.CPU.Cores, s.Domain.CPU.Threads = sockets, 1, 1
	}
	for _, vol := range s.Volumes {
		if c := vol.ContainerDisk; c != nil && c.ImagePullPolicy == "" {
			if strings.HasSuffix(c.Image, ":latest") || !strings.ContainsAny(c.Image, ":@") {
				c.ImagePullPolicy = k8sv1.PullAlways
			} else {
				c.ImagePullPolicy = k8sv1.PullIfNotPresent
			}
		}
	}
	if a := s.Domain.Devices.AutoattachPodInterface; (a == nil || *a) && len(s.Networks) == 0 && len(s.Domain.Devices.Interfaces) == 0 {
		s.Domain.Devices.Interfaces = []kubevirtv1.Interface{*kubevirtv1.DefaultBridgeNetworkInterface()}
		s.Networks = []kubevirtv1.Network{*kubevirtv1.DefaultPodNetwork()}
	}
	named := map[string]bool{}
	for _, d := range s.Domain.Devices.Disks {
		named[d.Name] = true
	}
	for _, f := range s.Domain.Devices.Filesystems {
		named[f.Name] = true
	}
	for _, vol := range s.Volumes {
		if !named[vol.Name] {
			s.Domain.Devices.Disks = append(s.Domain.Devices.Disks, kubevirtv1.Disk{Name: vol.Name})
		}
	}
}

func defaultVMI(vmi *kubevirtv1.VirtualMachineInstance) { DefaultVMI(vmi) }
func defaultVM(vm *kubevirtv1.VirtualMachine)           { DefaultVM(vm) }
