package vmspec

import (
	"fmt"
	"slices"
	"strings"

	k8sv1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/strictyaml"
)

// pxekit's warnings: what KubeVirt's webhook accepts but what breaks later
// (when virt-controller creates the pod, inside the guest, in the web
// console) or what is silently ignored. They never refuse an object: an
// error is exactly what the webhook refuses.

// Ports libvirt uses on the pod network: traffic to them never reaches the
// guest.
var reservedPorts = map[int32]bool{49152: true, 49153: true}

// NIC models the web console's VM wizard offers.
var wizardModels = []string{"virtio", "e1000e"}

// advise warns about a spec as the user wrote it (before the defaults).
func (v *validator) advise(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if t := s.TerminationGracePeriodSeconds; t != nil && *t < 0 {
		v.warn(p.Child("terminationGracePeriodSeconds"), "is negative: the virt-launcher pod will be refused")
	}
	for i, vol := range s.Volumes {
		vp := p.Child("volumes").Index(i)
		switch {
		case vol.ContainerDisk != nil && vol.ContainerDisk.Image == "":
			v.warn(vp.Child("containerDisk", "image"), "is empty: the VM cannot start without an image to pull")
		case vol.EmptyDisk != nil && vol.EmptyDisk.Capacity.Sign() <= 0:
			v.warn(vp.Child("emptyDisk", "capacity"), "is not positive: the VM cannot start; give a size such as 10Gi")
		case vol.PersistentVolumeClaim != nil && vol.PersistentVolumeClaim.ClaimName == "":
			v.warn(vp.Child("persistentVolumeClaim", "claimName"), "is empty: the VM cannot start without a claim to mount")
		case vol.Ephemeral != nil && (vol.Ephemeral.PersistentVolumeClaim == nil || vol.Ephemeral.PersistentVolumeClaim.ClaimName == ""):
			v.warn(vp.Child("ephemeral", "persistentVolumeClaim", "claimName"), "is empty: an ephemeral volume is a copy of a PVC")
		case vol.CloudInitNoCloud != nil:
			v.cloudInitYAML(vp.Child("cloudInitNoCloud"), vol.CloudInitNoCloud.UserData, vol.CloudInitNoCloud.NetworkData)
		case vol.CloudInitConfigDrive != nil:
			v.cloudInitYAML(vp.Child("cloudInitConfigDrive"), vol.CloudInitConfigDrive.UserData, vol.CloudInitConfigDrive.NetworkData)
		}
	}
	for i, d := range s.Domain.Devices.Disks {
		if d.Disk != nil && d.Disk.Bus == kubevirtv1.DiskBusUSB {
			v.warn(p.Child("domain", "devices", "disks").Index(i).Child("disk", "bus"), "usb is accepted by KubeVirt but the supported disk interfaces are virtio, sata and scsi")
		}
	}
	nets := map[string]*kubevirtv1.Network{}
	for i := range s.Networks {
		n := &s.Networks[i]
		nets[n.Name] = n
		if n.Multus != nil && n.Multus.NetworkName != "" {
			v.nadName(p.Child("networks").Index(i).Child("multus", "networkName"), n.Multus.NetworkName)
		}
	}
	for i := range s.Domain.Devices.Interfaces {
		ifc := &s.Domain.Devices.Interfaces[i]
		v.adviseInterface(ifc, nets[ifc.Name], p.Child("domain", "devices", "interfaces").Index(i))
	}
	if c := s.Domain.CPU; c != nil && c.DedicatedCPUPlacement && c.Sockets > 1 {
		v.warn(p.Child("domain", "cpu", "sockets"), "with dedicated CPUs, one socket keeps every vCPU on one NUMA node")
	}
	if f := s.Domain.Firmware; f != nil && f.Bootloader != nil && f.Bootloader.EFI != nil && (f.Bootloader.EFI.SecureBoot == nil || *f.Bootloader.EFI.SecureBoot) {
		if slices.ContainsFunc(s.Domain.Devices.Interfaces, func(i kubevirtv1.Interface) bool { return i.BootOrder != nil }) {
			v.warn(p.Child("domain", "firmware", "bootloader", "efi", "secureBoot"), "secure boot is on and an interface boots from the network: an unsigned iPXE binary will not start; set secureBoot: false")
		}
	}
}

func (v *validator) adviseInterface(ifc *kubevirtv1.Interface, n *kubevirtv1.Network, fp *field.Path) {
	if n != nil {
		switch {
		case ifc.SRIOV != nil && n.Multus == nil:
			v.warn(fp.Child("sriov"), "sriov binding needs a multus network (the SriovNetwork's NetworkAttachmentDefinition); the VM will not start")
		case ifc.Bridge != nil && n.Pod != nil:
			v.warn(fp.Child("bridge"), "bridge binding on the pod network breaks live migration and may be disabled by the cluster; masquerade is the recommended binding there")
		}
	}
	switch {
	case ifc.Model != "" && slices.Contains(validModels, ifc.Model) && ifc.SRIOV == nil && !slices.Contains(wizardModels, ifc.Model):
		v.warn(fp.Child("model"), fmt.Sprintf("model %s is accepted by KubeVirt but the supported NIC models are virtio and e1000e", ifc.Model))
	case ifc.SRIOV != nil && ifc.Model != "":
		v.warn(fp.Child("model"), "an SR-IOV interface is a passed-through VF; its model is ignored")
	}
	mp := fp.Child("macAddress")
	if ifc.MacAddress == "" {
		if n != nil && n.Multus != nil && ifc.SRIOV == nil || ifc.BootOrder != nil {
			v.warn(mp, "no macAddress: KubeVirt assigns one that is not persistent across restarts; set one if a PXE or DHCP server keys on it")
		}
	} else if _, err := macaddr.ParseUnicast(ifc.MacAddress); err != nil && strings.Contains(err.Error(), macaddr.ErrMulticast.Error()) {
		v.warn(mp, "is a multicast MAC address (first byte odd): the guest's NIC will not receive unicast frames")
	}
	if len(ifc.Ports) > 0 && n != nil && n.Pod == nil {
		v.warn(fp.Child("ports"), "ports are only used on the pod network (masquerade); they are ignored here")
	}
	for j, port := range ifc.Ports {
		if reservedPorts[port.Port] {
			v.warn(fp.Child("ports").Index(j).Child("port"), fmt.Sprintf("port %d is reserved by libvirt; incoming traffic to it is dropped", port.Port))
		}
	}
}

// nadName warns about a multus networkName that cannot name a NAD:
// "name" or "namespace/name".
func (v *validator) nadName(p *field.Path, s string) {
	ns, name, hasNS := strings.Cut(s, "/")
	if !hasNS {
		name = ns
	}
	var msgs []string
	if hasNS {
		for _, msg := range k8svalidation.IsDNS1123Label(ns) {
			msgs = append(msgs, "namespace: "+msg)
		}
	}
	msgs = append(msgs, k8svalidation.IsDNS1123Subdomain(name)...)
	if len(msgs) > 0 {
		v.warn(p, "names no NetworkAttachmentDefinition ("+strings.Join(msgs, "; ")+"); the VM will not start")
	}
}

// cloudInitYAML warns about #cloud-config user data and network data that
// are not YAML: cloud-init in the guest ignores them.
func (v *validator) cloudInitYAML(p *field.Path, user, network string) {
	check := func(fp *field.Path, data string) {
		if strings.TrimSpace(data) == "" {
			return
		}
		var tree any
		for _, e := range strictyaml.Decode([]byte(data), &tree) {
			if e.Origin == strictyaml.OriginSyntax {
				v.warn(fp, "is not valid YAML ("+e.Detail+"); cloud-init in the guest will ignore it")
				return
			}
		}
	}
	if strings.HasPrefix(user, "#cloud-config") {
		check(p.Child("userData"), user)
	}
	check(p.Child("networkData"), network)
}

// labelsAndAnnotations warns about a VM template's labels and annotations
// that the VMI created from it will be refused for.
func (v *validator) labelsAndAnnotations(m *metav1.ObjectMeta, p *field.Path) {
	for _, e := range metav1validation.ValidateLabels(m.Labels, p.Child("labels")) {
		v.warn(p.Child("labels"), e.ErrorBody()+": the VMI created from this template will be refused")
	}
	for _, e := range apivalidation.ValidateAnnotations(m.Annotations, p.Child("annotations")) {
		v.warn(p.Child("annotations"), e.ErrorBody()+": the VMI created from this template will be refused")
	}
}

// Storage settings the wizard offers.
var (
	volumeModes = []k8sv1.PersistentVolumeMode{k8sv1.PersistentVolumeFilesystem, k8sv1.PersistentVolumeBlock}
	accessModes = []k8sv1.PersistentVolumeAccessMode{k8sv1.ReadWriteOnce, k8sv1.ReadOnlyMany, k8sv1.ReadWriteMany, k8sv1.ReadWriteOncePod}
)

// dataVolumeTemplateAdvice warns about what CDI refuses or cannot
// provision: a sourceRef to something other than a DataSource, a pvc
// without a size, unknown access and volume modes.
func (v *validator) dataVolumeTemplateAdvice(dvs []kubevirtv1.DataVolumeTemplateSpec, p *field.Path) {
	names := map[string]bool{}
	for i, dv := range dvs {
		np := p.Index(i).Child("metadata", "name")
		switch {
		case dv.Name != "" && names[dv.Name]:
			v.warn(np, fmt.Sprintf("%q is the name of another DataVolume template; virt-controller creates only one", dv.Name))
		case dv.Name != "" && len(k8svalidation.IsDNS1123Subdomain(dv.Name)) > 0:
			v.warn(np, fmt.Sprintf("%q cannot name a DataVolume (%s); virt-controller cannot create it", dv.Name, strings.Join(k8svalidation.IsDNS1123Subdomain(dv.Name), "; ")))
		}
		names[dv.Name] = true
		sp := p.Index(i).Child("spec")
		s := &dv.Spec
		if r := s.SourceRef; r != nil && r.Kind != "DataSource" {
			v.warn(sp.Child("sourceRef", "kind"), fmt.Sprintf("%q: CDI clones from a DataSource only", r.Kind))
		}
		var modes []k8sv1.PersistentVolumeAccessMode
		var mode *k8sv1.PersistentVolumeMode
		var stp *field.Path
		switch {
		case s.Storage != nil:
			modes, mode, stp = s.Storage.AccessModes, s.Storage.VolumeMode, sp.Child("storage")
		case s.PVC != nil:
			modes, mode, stp = s.PVC.AccessModes, s.PVC.VolumeMode, sp.Child("pvc")
			if _, ok := s.PVC.Resources.Requests[k8sv1.ResourceStorage]; !ok {
				v.warn(stp.Child("resources", "requests", "storage"), "a pvc without a size cannot be provisioned; give one, or use storage, which CDI can size from the source")
			}
		default:
			continue
		}
		for j, m := range modes {
			if !slices.Contains(accessModes, m) {
				v.warn(stp.Child("accessModes").Index(j), fmt.Sprintf("%q is not an access mode (%v)", m, accessModes))
			}
		}
		if mode != nil && !slices.Contains(volumeModes, *mode) {
			v.warn(stp.Child("volumeMode"), fmt.Sprintf("%q is not a volume mode (%v)", *mode, volumeModes))
		}
	}
}
