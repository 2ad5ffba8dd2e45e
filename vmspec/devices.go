package vmspec

import (
	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// NICOption adjusts one network interface.
type NICOption func(*kubevirtv1.Interface)

// MAC sets the interface's MAC address (macAddress). A PXE server that maps
// machines by MAC needs one: without it KubeVirt assigns a MAC that does
// not survive a restart.
func MAC(mac string) NICOption {
	return func(i *kubevirtv1.Interface) { i.MacAddress = mac }
}

// Model sets the interface's model (virtio, e1000e, ...).
func Model(model string) NICOption {
	return func(i *kubevirtv1.Interface) { i.Model = model }
}

// PCIAddress places the interface at a guest PCI address such as
// 0000:07:00.0 (the documented SR-IOV NIC).
func PCIAddress(addr string) NICOption {
	return func(i *kubevirtv1.Interface) { i.PciAddress = addr }
}

// NICBootOrder gives the interface an explicit boot order instead of the
// one the builder assigns.
func NICBootOrder(n uint) NICOption {
	return func(i *kubevirtv1.Interface) { i.BootOrder = &n }
}

// Ports lists the ports a masquerade interface forwards (all when none).
func Ports(ports ...kubevirtv1.Port) NICOption {
	return func(i *kubevirtv1.Interface) { i.Ports = append(i.Ports, ports...) }
}

// TCP is a forwarded TCP port for [Ports].
func TCP(port int32) kubevirtv1.Port { return kubevirtv1.Port{Port: port} }

func (b *Builder[T]) addNIC(ifc kubevirtv1.Interface, net kubevirtv1.Network, opts []NICOption) {
	for _, o := range opts {
		if o != nil {
			o(&ifc)
		}
	}
	b.spec.Domain.Devices.Interfaces = append(b.spec.Domain.Devices.Interfaces, ifc)
	b.spec.Networks = append(b.spec.Networks, net)
}

// WithPodNetwork connects the VM to the cluster's pod network through an
// interface and network both named "default", with masquerade binding (the
// only binding recommended there). Give [Ports] to forward only some ports.
func (b *Builder[T]) WithPodNetwork(opts ...NICOption) *Builder[T] {
	b.addNIC(
		kubevirtv1.Interface{Name: PodNetworkName, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}}},
		kubevirtv1.Network{Name: PodNetworkName, NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}},
		opts)
	return b
}

// WithPXENIC adds the interface the VM network-boots from: bridge binding
// on the Multus network networkName (a NetworkAttachmentDefinition, written
// "name" or "namespace/name"), MAC mac ("" lets KubeVirt pick a
// non-persistent one), and the first boot order. PXE NICs boot before every
// disk, in the order they were added.
func (b *Builder[T]) WithPXENIC(name, networkName, mac string, opts ...NICOption) *Builder[T] {
	b.addBridgeNIC(name, networkName, mac, opts)
	b.pxeNICs = append(b.pxeNICs, name)
	return b
}

// WithBridgeNIC adds a secondary interface with bridge binding on the
// Multus network networkName, without a boot order.
func (b *Builder[T]) WithBridgeNIC(name, networkName, mac string, opts ...NICOption) *Builder[T] {
	b.addBridgeNIC(name, networkName, mac, opts)
	return b
}

func (b *Builder[T]) addBridgeNIC(name, networkName, mac string, opts []NICOption) {
	b.addNIC(
		kubevirtv1.Interface{Name: name, MacAddress: mac, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}},
		multus(name, networkName),
		opts)
}

// WithSRIOVNIC adds an SR-IOV virtual function as an interface (binding
// sriov: {}) on the Multus network networkName (the NAD an SriovNetwork
// generates). [PCIAddress] and [MAC] are the usual options.
func (b *Builder[T]) WithSRIOVNIC(name, networkName string, opts ...NICOption) *Builder[T] {
	b.addNIC(
		kubevirtv1.Interface{Name: name, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{SRIOV: &kubevirtv1.InterfaceSRIOV{}}},
		multus(name, networkName),
		opts)
	return b
}

func multus(name, networkName string) kubevirtv1.Network {
	return kubevirtv1.Network{Name: name, NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: networkName}}}
}

// DiskOption adjusts one disk.
type DiskOption func(*diskSettings)

// diskSettings is a disk being added plus what the builder does with it.
type diskSettings struct {
	disk     kubevirtv1.Disk
	bootable bool
}

// Bootable makes the disk boot after the PXE NICs: the builder gives it the
// next free boot order (the documented containerdisk gets 2).
func Bootable() DiskOption {
	return func(d *diskSettings) { d.bootable = true }
}

// DiskBootOrder gives the disk an explicit boot order.
func DiskBootOrder(n uint) DiskOption {
	return func(d *diskSettings) { d.disk.BootOrder = &n }
}

// Bus sets the disk's bus (virtio by default; sata, scsi, usb).
func Bus(bus kubevirtv1.DiskBus) DiskOption {
	return func(d *diskSettings) { d.disk.Disk.Bus = bus }
}

// ReadOnly makes the disk read-only.
func ReadOnly() DiskOption {
	return func(d *diskSettings) { d.disk.Disk.ReadOnly = true }
}

func (b *Builder[T]) addDisk(name string, src kubevirtv1.VolumeSource, opts []DiskOption) {
	d := diskSettings{disk: kubevirtv1.Disk{Name: name, DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}}}
	for _, o := range opts {
		if o != nil {
			o(&d)
		}
	}
	if d.bootable {
		b.bootDisks = append(b.bootDisks, name)
	}
	// KubeVirt accepts these empty (validation only warns); the builder
	// does not make a VM that cannot start.
	vp := field.NewPath("spec", "volumes").Index(len(b.spec.Volumes))
	switch {
	case src.ContainerDisk != nil && src.ContainerDisk.Image == "":
		b.errs = append(b.errs, field.Required(vp.Child("containerDisk", "image"), "a containerDisk needs an image"))
	case src.EmptyDisk != nil && src.EmptyDisk.Capacity.Sign() <= 0:
		b.errs = append(b.errs, field.Required(vp.Child("emptyDisk", "capacity"), "an emptyDisk needs a capacity, e.g. 10Gi"))
	case src.PersistentVolumeClaim != nil && src.PersistentVolumeClaim.ClaimName == "":
		b.errs = append(b.errs, field.Required(vp.Child("persistentVolumeClaim", "claimName"), "the PVC to mount"))
	case src.Ephemeral != nil && (src.Ephemeral.PersistentVolumeClaim == nil || src.Ephemeral.PersistentVolumeClaim.ClaimName == ""):
		b.errs = append(b.errs, field.Required(vp.Child("ephemeral", "persistentVolumeClaim", "claimName"), "an ephemeral volume is backed by a PVC"))
	}
	b.spec.Domain.Devices.Disks = append(b.spec.Domain.Devices.Disks, d.disk)
	b.spec.Volumes = append(b.spec.Volumes, kubevirtv1.Volume{Name: name, VolumeSource: src})
}

// WithContainerDisk adds a disk backed by a container image (ephemeral:
// discarded when the VM stops).
func (b *Builder[T]) WithContainerDisk(name, image string, opts ...DiskOption) *Builder[T] {
	b.addDisk(name, kubevirtv1.VolumeSource{ContainerDisk: &kubevirtv1.ContainerDiskSource{Image: image}}, opts)
	return b
}

// WithCloudInitNoCloud adds a cloud-init NoCloud disk carrying userData
// (at most 2048 bytes; larger data belongs in a Secret).
func (b *Builder[T]) WithCloudInitNoCloud(name, userData string, opts ...DiskOption) *Builder[T] {
	b.addDisk(name, kubevirtv1.VolumeSource{CloudInitNoCloud: &kubevirtv1.CloudInitNoCloudSource{UserData: userData}}, opts)
	b.cloudInitName = name
	return b
}

// WithCloudInitNetworkData sets networkData (netplan v2, the documented dhcp4
// or static addresses) on the cloud-init NoCloud disk, adding a disk named
// "cloudinitdisk" if there is none yet.
func (b *Builder[T]) WithCloudInitNetworkData(networkData string) *Builder[T] {
	if b.cloudInitName == "" {
		b.WithCloudInitNoCloud("cloudinitdisk", "")
	}
	for i := range b.spec.Volumes {
		if v := &b.spec.Volumes[i]; v.Name == b.cloudInitName && v.CloudInitNoCloud != nil {
			v.CloudInitNoCloud.NetworkData = networkData
		}
	}
	return b
}

// WithPVC adds a disk on an existing PersistentVolumeClaim.
func (b *Builder[T]) WithPVC(name, claimName string, opts ...DiskOption) *Builder[T] {
	b.addDisk(name, kubevirtv1.VolumeSource{PersistentVolumeClaim: &kubevirtv1.PersistentVolumeClaimVolumeSource{
		PersistentVolumeClaimVolumeSource: k8sv1.PersistentVolumeClaimVolumeSource{ClaimName: claimName},
	}}, opts)
	return b
}

// WithDataVolume adds a disk on a CDI DataVolume (imported, cloned or
// uploaded; the VM waits for it to be ready).
func (b *Builder[T]) WithDataVolume(name, dataVolumeName string, opts ...DiskOption) *Builder[T] {
	b.addDisk(name, kubevirtv1.VolumeSource{DataVolume: &kubevirtv1.DataVolumeSource{Name: dataVolumeName}}, opts)
	return b
}

// WithEmptyDisk adds a sparse scratch disk of the given capacity (e.g.
// "10Gi"); the capacity is required.
func (b *Builder[T]) WithEmptyDisk(name, capacity string, opts ...DiskOption) *Builder[T] {
	src := &kubevirtv1.EmptyDiskSource{}
	if capacity != "" {
		if q, ok := b.quantity(field.NewPath("spec", "volumes").Index(len(b.spec.Volumes)).Child("emptyDisk", "capacity"), capacity); ok {
			src.Capacity = q
		}
	}
	b.addDisk(name, kubevirtv1.VolumeSource{EmptyDisk: src}, opts)
	return b
}
