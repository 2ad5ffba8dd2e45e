package kvoracle

import (
	"fmt"
	"math/rand/v2"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	v1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Gen generates VirtualMachines and VirtualMachineInstances of the kind a
// network-boot user writes: valid ones built from varied parts (memory by
// request, limit, guest or hugepages; CPU by topology or request; disks from
// container images, cloud-init, PVCs, DataVolumes, empty disks; the pod
// network with masquerade or bridge, Multus networks with bridge or SR-IOV,
// boot orders, MACs, ports; BIOS or EFI), and valid ones with one field
// changed by one of [Mutations].
type Gen struct {
	r *rand.Rand
}

// NewGen returns a generator whose output is a function of seed.
func NewGen(seed uint64) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *Gen) pick(n int) int        { return g.r.IntN(n) }
func (g *Gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *Gen) oneOf(s ...string) string { return s[g.pick(len(s))] }

func q(s string) resource.Quantity { return resource.MustParse(s) }

func ptr[T any](v T) *T { return &v }

// Object is a generated object and what was done to it.
type Object struct {
	VM       *v1.VirtualMachine
	VMI      *v1.VirtualMachineInstance
	Mutation string // "" for an unchanged valid object
}

// Spec returns the VMI spec of the object (the VM's template spec).
func (o Object) Spec() *v1.VirtualMachineInstanceSpec {
	if o.VM != nil {
		return &o.VM.Spec.Template.Spec
	}
	return &o.VMI.Spec
}

// Next returns the next object: a VM or a VMI, valid or mutated (with
// probability pMutate).
func (g *Gen) Next(pMutate float64) Object {
	var o Object
	spec := g.spec()
	meta := metav1.ObjectMeta{Name: fmt.Sprintf("vm-%d", g.pick(1000)), Namespace: g.oneOf("default", "lab", "pxe")}
	if g.chance(0.5) {
		vm := &v1.VirtualMachine{
			TypeMeta:   metav1.TypeMeta{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine"},
			ObjectMeta: meta,
			Spec: v1.VirtualMachineSpec{
				RunStrategy: ptr(v1.VirtualMachineRunStrategy(g.oneOf("Always", "Halted", "Manual", "RerunOnFailure", "Once"))),
				Template:    &v1.VirtualMachineInstanceTemplateSpec{Spec: *spec},
			},
		}
		if g.chance(0.3) {
			vm.Spec.Template.ObjectMeta.Labels = map[string]string{"kubevirt.io/domain": meta.Name}
		}
		g.dataVolumeTemplates(vm)
		o.VM = vm
	} else {
		o.VMI = &v1.VirtualMachineInstance{
			TypeMeta:   metav1.TypeMeta{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance"},
			ObjectMeta: meta,
			Spec:       *spec,
		}
	}
	if g.chance(pMutate) {
		muts := Mutations()
		for range 8 { // a mutation may not apply to this object; try another
			m := muts[g.pick(len(muts))]
			if m.Apply(g, o) {
				o.Mutation = m.Name
				break
			}
		}
	}
	return o
}

// spec builds a valid VMI spec.
func (g *Gen) spec() *v1.VirtualMachineInstanceSpec {
	s := &v1.VirtualMachineInstanceSpec{}
	d := &s.Domain
	d.Resources.Requests = k8sv1.ResourceList{}
	switch g.pick(5) {
	case 0:
		d.Resources.Requests[k8sv1.ResourceMemory] = q(g.oneOf("1Gi", "2Gi", "4096M", "512Mi"))
	case 1:
		d.Resources.Limits = k8sv1.ResourceList{k8sv1.ResourceMemory: q(g.oneOf("1Gi", "2Gi"))}
	case 2:
		d.Memory = &v1.Memory{Guest: ptr(q(g.oneOf("1Gi", "2Gi", "3Gi")))}
	case 3:
		d.Memory = &v1.Memory{Hugepages: &v1.Hugepages{PageSize: g.oneOf("2Mi", "1Gi")}}
		if g.chance(0.5) {
			d.Resources.Requests[k8sv1.ResourceMemory] = q(g.oneOf("2Gi", "4Gi"))
		} else {
			d.Resources.Limits = k8sv1.ResourceList{k8sv1.ResourceMemory: q(g.oneOf("2Gi", "4Gi"))}
		}
	case 4:
		d.Resources.Requests[k8sv1.ResourceMemory] = q("2Gi")
		d.Memory = &v1.Memory{Guest: ptr(q("2Gi"))}
	}
	switch g.pick(4) {
	case 0:
	case 1:
		d.CPU = &v1.CPU{Cores: uint32(1 + g.pick(4)), Sockets: 1, Threads: 1}
	case 2:
		d.Resources.Requests[k8sv1.ResourceCPU] = q(g.oneOf("500m", "1", "2"))
	case 3:
		// Dedicated CPUs: whole CPUs, memory and CPU requests equal to
		// their limits.
		n := 1 + g.pick(4)
		d.CPU = &v1.CPU{Cores: uint32(n), Sockets: 1, Threads: 1, DedicatedCPUPlacement: true, IsolateEmulatorThread: g.chance(0.3)}
		mem := q("2Gi")
		d.Resources.Requests = k8sv1.ResourceList{k8sv1.ResourceCPU: q(fmt.Sprint(n)), k8sv1.ResourceMemory: mem}
		d.Resources.Limits = k8sv1.ResourceList{k8sv1.ResourceCPU: q(fmt.Sprint(n)), k8sv1.ResourceMemory: mem}
	}
	if len(d.Resources.Requests) == 0 {
		d.Resources.Requests = nil
	}
	switch g.pick(4) {
	case 1:
		d.Firmware = &v1.Firmware{Bootloader: &v1.Bootloader{BIOS: &v1.BIOS{}}}
	case 2:
		d.Firmware = &v1.Firmware{Bootloader: &v1.Bootloader{EFI: &v1.EFI{SecureBoot: ptr(false)}}}
	case 3:
		d.Firmware = &v1.Firmware{Bootloader: &v1.Bootloader{EFI: &v1.EFI{}}}
		d.Features = &v1.Features{SMM: &v1.FeatureState{Enabled: ptr(true)}}
	}
	if g.chance(0.2) {
		d.Machine = &v1.Machine{Type: g.oneOf("q35", "pc-q35-rhel9.4.0")}
	}
	boot := uint(1)
	g.networking(s, &boot)
	g.storage(s, &boot)
	if g.chance(0.2) {
		s.Hostname = g.oneOf("pxe-client", "node1")
		if g.chance(0.5) {
			s.Subdomain = "lab.example"
		}
	}
	if g.chance(0.15) {
		s.TerminationGracePeriodSeconds = ptr(int64(g.pick(180)))
	}
	if g.chance(0.1) {
		s.EvictionStrategy = ptr(v1.EvictionStrategy(g.oneOf("LiveMigrate", "None", "External", "LiveMigrateIfPossible")))
	}
	if g.chance(0.1) {
		s.DNSPolicy = "None"
		s.DNSConfig = &k8sv1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}, Searches: []string{"lab.example"}}
	}
	if g.chance(0.1) && hasPod(s) {
		s.ReadinessProbe = &v1.Probe{Handler: v1.Handler{TCPSocket: &k8sv1.TCPSocketAction{Port: intstr.FromInt32(22)}}}
	}
	if g.chance(0.1) {
		d.Devices.Inputs = []v1.Input{{Name: "tablet", Type: "tablet", Bus: v1.InputBus(g.oneOf("usb", "virtio", ""))}}
	}
	if g.chance(0.1) {
		d.Devices.Watchdog = &v1.Watchdog{Name: "wd", WatchdogDevice: v1.WatchdogDevice{I6300ESB: &v1.I6300ESBWatchdog{Action: "reset"}}}
	}
	if g.chance(0.1) {
		d.Devices.Rng = &v1.Rng{}
	}
	if g.chance(0.1) {
		s.Architecture = "amd64"
	}
	return s
}

func hasPod(s *v1.VirtualMachineInstanceSpec) bool {
	for _, n := range s.Networks {
		if n.Pod != nil {
			return true
		}
	}
	return false
}

func (g *Gen) mac() string {
	return fmt.Sprintf("02:00:00:%02x:%02x:%02x", 1+g.pick(254), g.pick(256), g.pick(256))
}

func (g *Gen) networking(s *v1.VirtualMachineInstanceSpec, boot *uint) {
	devs := &s.Domain.Devices
	if g.chance(0.1) {
		return // the defaults add the pod network
	}
	if g.chance(0.05) {
		devs.AutoattachPodInterface = ptr(false)
		return
	}
	if g.chance(0.8) {
		ifc := v1.Interface{Name: g.oneOf("default", "pod")}
		if g.chance(0.75) {
			ifc.Masquerade = &v1.InterfaceMasquerade{}
			if g.chance(0.4) {
				ifc.Ports = []v1.Port{{Name: "ssh", Port: 22}, {Port: 80, Protocol: "TCP"}}
				if g.chance(0.3) {
					ifc.Ports = append(ifc.Ports, v1.Port{Name: "dns", Port: 53, Protocol: "UDP"})
				}
			}
		} else {
			ifc.Bridge = &v1.InterfaceBridge{}
		}
		if g.chance(0.4) {
			ifc.Model = g.oneOf("virtio", "e1000e")
		}
		devs.Interfaces = append(devs.Interfaces, ifc)
		s.Networks = append(s.Networks, v1.Network{Name: ifc.Name, NetworkSource: v1.NetworkSource{Pod: &v1.PodNetwork{}}})
	}
	for i := range g.pick(3) {
		name := fmt.Sprintf("%s%d", g.oneOf("pxe", "net", "sriov"), i)
		ifc := v1.Interface{Name: name, MacAddress: g.mac()}
		if g.chance(0.3) {
			ifc.SRIOV = &v1.InterfaceSRIOV{}
			if g.chance(0.3) {
				ifc.PciAddress = fmt.Sprintf("0000:%02x:00.0", 7+i)
			}
		} else {
			ifc.Bridge = &v1.InterfaceBridge{}
			ifc.Model = g.oneOf("virtio", "e1000e", "")
			if i == 0 && g.chance(0.6) {
				ifc.BootOrder = ptr(*boot)
				*boot++
			}
			if g.chance(0.1) {
				// Ports on a Multus NIC are ignored, even when a pod
				// NIC uses the same port names.
				ifc.Ports = []v1.Port{{Name: "ssh", Port: 22}}
			}
			if g.chance(0.1) {
				ifc.DHCPOptions = &v1.DHCPOptions{BootFileName: "ipxe.efi", NTPServers: []string{"192.0.2.123"}}
			}
		}
		if g.chance(0.1) {
			ifc.State = v1.InterfaceStateLinkDown
			if ifc.SRIOV != nil {
				ifc.State = ""
			}
		}
		devs.Interfaces = append(devs.Interfaces, ifc)
		nad := g.oneOf("pxe-net-conf", "lab/br1", "sriov-net")
		s.Networks = append(s.Networks, v1.Network{Name: name, NetworkSource: v1.NetworkSource{Multus: &v1.MultusNetwork{NetworkName: nad}}})
	}
	if len(s.Networks) == 0 {
		devs.AutoattachPodInterface = ptr(false)
	}
}

func (g *Gen) storage(s *v1.VirtualMachineInstanceSpec, boot *uint) {
	devs := &s.Domain.Devices
	n := g.pick(4)
	for i := range n {
		name := fmt.Sprintf("%s-%d", g.oneOf("root", "data", "disk"), i)
		vol := v1.Volume{Name: name}
		disk := v1.Disk{Name: name}
		switch g.pick(6) {
		case 0:
			vol.ContainerDisk = &v1.ContainerDiskSource{Image: g.oneOf("quay.io/containerdisks/fedora:41", "registry.example/rhel9@sha256:0123", "busybox")}
			if g.chance(0.2) {
				vol.ContainerDisk.Path = "/disk/disk.img"
			}
		case 1:
			vol.CloudInitNoCloud = &v1.CloudInitNoCloudSource{UserData: "#cloud-config\npassword: fedora\n"}
			if g.chance(0.3) {
				vol.CloudInitNoCloud.NetworkData = "version: 2\n"
			}
		case 2:
			vol.PersistentVolumeClaim = &v1.PersistentVolumeClaimVolumeSource{PersistentVolumeClaimVolumeSource: k8sv1.PersistentVolumeClaimVolumeSource{ClaimName: name + "-pvc"}}
		case 3:
			vol.DataVolume = &v1.DataVolumeSource{Name: name + "-dv"}
		case 4:
			vol.EmptyDisk = &v1.EmptyDiskSource{Capacity: q(g.oneOf("1Gi", "10Gi"))}
		case 5:
			vol.CloudInitConfigDrive = &v1.CloudInitConfigDriveSource{UserDataSecretRef: &k8sv1.LocalObjectReference{Name: "userdata"}}
		}
		switch g.pick(5) {
		case 0:
			disk.Disk = &v1.DiskTarget{Bus: v1.DiskBus(g.oneOf("virtio", "sata", "scsi", ""))}
		case 1:
			disk.CDRom = &v1.CDRomTarget{Bus: v1.DiskBus(g.oneOf("sata", "scsi", ""))}
		case 2:
			if vol.PersistentVolumeClaim != nil || vol.DataVolume != nil {
				disk.LUN = &v1.LunTarget{Bus: "scsi"}
			}
		case 3:
			disk.Disk = &v1.DiskTarget{Bus: "virtio"}
			if g.chance(0.3) {
				disk.Serial = "SN-" + fmt.Sprint(g.pick(10000))
			}
			if g.chance(0.3) {
				disk.Cache = v1.DriverCache(g.oneOf("none", "writethrough", "writeback"))
			}
		}
		if i == 0 && g.chance(0.5) {
			disk.BootOrder = ptr(*boot)
			*boot++
		}
		s.Volumes = append(s.Volumes, vol)
		if g.chance(0.9) || disk.BootOrder != nil {
			// Otherwise the defaults add the disk.
			devs.Disks = append(devs.Disks, disk)
		}
	}
}

// dataVolumeTemplates adds templates for the VM's dataVolume volumes.
func (g *Gen) dataVolumeTemplates(vm *v1.VirtualMachine) {
	for _, vol := range vm.Spec.Template.Spec.Volumes {
		if vol.DataVolume == nil {
			continue
		}
		dv := v1.DataVolumeTemplateSpec{ObjectMeta: metav1.ObjectMeta{Name: vol.DataVolume.Name}}
		size := k8sv1.ResourceList{k8sv1.ResourceStorage: q("10Gi")}
		switch g.pick(4) {
		case 0:
			dv.Spec.Storage = &cdiv1.StorageSpec{Resources: k8sv1.VolumeResourceRequirements{Requests: size}}
			dv.Spec.Source = &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "http://192.0.2.1/rhel9.qcow2"}}
		case 1:
			dv.Spec.Storage = &cdiv1.StorageSpec{}
			dv.Spec.SourceRef = &cdiv1.DataVolumeSourceRef{Kind: "DataSource", Name: "rhel9", Namespace: ptr("openshift-virtualization-os-images")}
		case 2:
			dv.Spec.PVC = &k8sv1.PersistentVolumeClaimSpec{AccessModes: []k8sv1.PersistentVolumeAccessMode{k8sv1.ReadWriteOnce}, Resources: k8sv1.VolumeResourceRequirements{Requests: size}}
			dv.Spec.Source = &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}
		case 3:
			// Populated by a volume populator: storage.dataSourceRef.
			dv.Spec.Storage = &cdiv1.StorageSpec{DataSourceRef: &k8sv1.TypedObjectReference{APIGroup: ptr("forklift.konveyor.io"), Kind: "OvirtVolumePopulator", Name: "disk-1"}}
		}
		vm.Spec.DataVolumeTemplates = append(vm.Spec.DataVolumeTemplates, dv)
	}
}
