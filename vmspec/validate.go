package vmspec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/validation"
)

// Limits KubeVirt v1.9.0's admission enforces.
const (
	// CloudInitMaxLen is the largest userData or networkData KubeVirt
	// accepts inline, in bytes; more belongs in a Secret (secretRef).
	CloudInitMaxLen = 2048
	// MaxDevices is the most disks, volumes, interfaces or networks a VMI
	// may have.
	MaxDevices = 256
)

// Ports libvirt uses on the pod network: traffic to them never reaches the
// guest.
var reservedPorts = map[int32]bool{49152: true, 49153: true}

var (
	ifaceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	pciRE       = regexp.MustCompile(`^(0x)?[0-9a-fA-F]{4}:(0x)?[0-9a-fA-F]{2}:(0x)?[0-9a-fA-F]{2}\.[0-7]$`)
)

// Interface models KubeVirt accepts.
var validModels = []string{"e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139", "virtio"}

// NIC models the web console's VM wizard offers.
var wizardModels = []string{"virtio", "e1000e"}

// Run strategies a VirtualMachine accepts.
var validRunStrategies = []kubevirtv1.VirtualMachineRunStrategy{
	kubevirtv1.RunStrategyAlways, kubevirtv1.RunStrategyRerunOnFailure, kubevirtv1.RunStrategyManual,
	kubevirtv1.RunStrategyHalted, kubevirtv1.RunStrategyOnce, kubevirtv1.RunStrategyWaitAsReceiver,
}

// Validate checks a *VirtualMachineInstance or *VirtualMachine (or either
// by value) with [ValidateVMI] or [ValidateVM]; anything else is an
// internal error.
func Validate(obj any) (field.ErrorList, []validation.Warning) {
	switch o := obj.(type) {
	case *kubevirtv1.VirtualMachineInstance:
		return ValidateVMI(o)
	case kubevirtv1.VirtualMachineInstance:
		return ValidateVMI(&o)
	case *kubevirtv1.VirtualMachine:
		return ValidateVM(o)
	case kubevirtv1.VirtualMachine:
		return ValidateVM(&o)
	}
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("vmspec: cannot validate %T", obj))}, nil
}

// ValidateVMI checks a VirtualMachineInstance the way KubeVirt v1.9.0's
// admission webhook would, offline: metadata names and labels, devices,
// volumes, networks, boot order, CPU and memory. It returns every error at
// once, each with its field path, plus warnings.
func ValidateVMI(vmi *kubevirtv1.VirtualMachineInstance) (field.ErrorList, []validation.Warning) {
	if vmi == nil {
		return field.ErrorList{field.Required(nil, "no VirtualMachineInstance")}, nil
	}
	v := &validator{}
	v.object(vmiType, vmi.TypeMeta, &vmi.ObjectMeta)
	v.spec(&vmi.Spec, field.NewPath("spec"))
	v.istio(vmi.Annotations, &vmi.Spec, field.NewPath("metadata", "annotations"), field.NewPath("spec"))
	return v.errs, v.warns
}

// ValidateVM checks a VirtualMachine: its metadata, running/runStrategy,
// dataVolumeTemplates and its template (metadata and, with [ValidateVMI]'s
// rules, spec.template.spec).
func ValidateVM(vm *kubevirtv1.VirtualMachine) (field.ErrorList, []validation.Warning) {
	if vm == nil {
		return field.ErrorList{field.Required(nil, "no VirtualMachine")}, nil
	}
	v := &validator{}
	v.object(vmType, vm.TypeMeta, &vm.ObjectMeta)
	sp := field.NewPath("spec")
	switch {
	case vm.Spec.Running != nil && vm.Spec.RunStrategy != nil:
		v.err(field.Invalid(sp.Child("running"), *vm.Spec.Running, "running and runStrategy are mutually exclusive; set only runStrategy"))
	case vm.Spec.Running == nil && vm.Spec.RunStrategy == nil:
		v.err(field.Required(sp.Child("runStrategy"), "one of running or runStrategy must be set"))
	case vm.Spec.Running != nil:
		v.warn(sp.Child("running"), "spec.running is deprecated; use spec.runStrategy (Always for true, Halted for false)")
	}
	if rs := vm.Spec.RunStrategy; rs != nil && !slices.Contains(validRunStrategies, *rs) {
		v.err(field.NotSupported(sp.Child("runStrategy"), *rs, validRunStrategies))
	}
	dvNames := map[string]bool{}
	for i, dv := range vm.Spec.DataVolumeTemplates {
		p := sp.Child("dataVolumeTemplates").Index(i).Child("metadata", "name")
		if dvNames[dv.Name] && dv.Name != "" {
			v.err(field.Duplicate(p, dv.Name))
		} else {
			v.err(validation.ObjectName(dv.Name, p)...)
		}
		dvNames[dv.Name] = true
		v.dataVolumeTemplate(&vm.Spec.DataVolumeTemplates[i], sp.Child("dataVolumeTemplates").Index(i))
	}
	tp := sp.Child("template")
	if vm.Spec.Template != nil {
		// A template nothing mounts is a DataVolume created for nothing.
		used := map[string]bool{}
		for _, vol := range vm.Spec.Template.Spec.Volumes {
			if vol.DataVolume != nil {
				used[vol.DataVolume.Name] = true
			}
			if vol.PersistentVolumeClaim != nil {
				used[vol.PersistentVolumeClaim.ClaimName] = true
			}
		}
		for i, dv := range vm.Spec.DataVolumeTemplates {
			if dv.Name != "" && !used[dv.Name] {
				v.err(field.Invalid(sp.Child("dataVolumeTemplates").Index(i).Child("metadata", "name"), dv.Name,
					"no volume in spec.template.spec.volumes references this DataVolume template"))
			}
		}
	}
	if vm.Spec.Template == nil {
		v.err(field.Required(tp, "a VirtualMachine needs the template of the VMI it runs"))
		return v.errs, v.warns
	}
	v.labelsAndAnnotations(&vm.Spec.Template.ObjectMeta, tp.Child("metadata"))
	v.spec(&vm.Spec.Template.Spec, tp.Child("spec"))
	v.istio(vm.Spec.Template.ObjectMeta.Annotations, &vm.Spec.Template.Spec, tp.Child("metadata", "annotations"), tp.Child("spec"))
	return v.errs, v.warns
}

type validator struct {
	errs  field.ErrorList
	warns []validation.Warning
}

func (v *validator) err(e ...*field.Error) { v.errs = append(v.errs, e...) }

func (v *validator) warn(p *field.Path, msg string) {
	v.warns = append(v.warns, validation.Warning{Field: p.String(), Message: msg})
}

// The apiVersions and kinds Validate takes.
var (
	vmiType = validation.ObjectType{Kind: KindVMI, APIVersions: []string{APIVersionV1, APIVersionV1Alpha3}}
	vmType  = validation.ObjectType{Kind: KindVM, APIVersions: []string{APIVersionV1, APIVersionV1Alpha3}}
)

// object checks what every object gets (apiVersion, kind, metadata), then
// warns about names and namespaces the platform takes but its tools refuse.
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

func (v *validator) labelsAndAnnotations(m *metav1.ObjectMeta, p *field.Path) {
	v.err(metav1validation.ValidateLabels(m.Labels, p.Child("labels"))...)
	v.err(apivalidation.ValidateAnnotations(m.Annotations, p.Child("annotations"))...)
}

// spec validates a VMI spec found at p (spec, or spec.template.spec).
func (v *validator) spec(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	dp := p.Child("domain")
	devp := dp.Child("devices")
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
			return // KubeVirt stops here too: the lists are not walked
		}
	}
	if s.TerminationGracePeriodSeconds != nil && *s.TerminationGracePeriodSeconds < 0 {
		v.err(field.Invalid(p.Child("terminationGracePeriodSeconds"), *s.TerminationGracePeriodSeconds, "must be greater than or equal to 0"))
	}
	if s.Hostname != "" {
		for _, msg := range k8svalidation.IsDNS1123Label(s.Hostname) {
			v.err(field.Invalid(p.Child("hostname"), s.Hostname, msg))
		}
	}
	boot := &bootOrders{}
	volumes := v.volumes(s.Volumes, p.Child("volumes"))
	v.disks(s, p, volumes, boot)
	v.networks(s, p)
	for i, ifc := range s.Domain.Devices.Interfaces {
		boot.add(devp.Child("interfaces").Index(i).Child("bootOrder"), ifc.BootOrder)
	}
	v.resources(s, dp)
	v.cpu(s, dp)
	v.firmware(s, dp)
	// Boot order is one sequence across disks and interfaces: check it
	// after both have been seen.
	boot.check(v)
}

// bootOrders collects every bootOrder of disks and interfaces.
type bootOrders struct {
	entries []bootEntry
}

type bootEntry struct {
	path  *field.Path
	order uint
}

func (b *bootOrders) add(p *field.Path, order *uint) {
	if order != nil {
		b.entries = append(b.entries, bootEntry{p, *order})
	}
}

func (b *bootOrders) check(v *validator) {
	seen := map[uint]string{}
	for _, e := range b.entries {
		if e.order < 1 {
			v.err(field.Invalid(e.path, e.order, "must have a boot order > 0, if supplied"))
			continue
		}
		if other, dup := seen[e.order]; dup {
			v.err(field.Invalid(e.path, e.order, fmt.Sprintf("boot order %d is already set for %s; boot order is global across disks and interfaces", e.order, other)))
			continue
		}
		seen[e.order] = e.path.String()
	}
}

// volumes validates spec.volumes and returns them by name.
func (v *validator) volumes(vols []kubevirtv1.Volume, p *field.Path) map[string]*kubevirtv1.Volume {
	byName := map[string]*kubevirtv1.Volume{}
	for i := range vols {
		vol := &vols[i]
		vp := p.Index(i)
		if vol.Name == "" {
			v.err(field.Required(vp.Child("name"), ""))
		} else {
			if _, dup := byName[vol.Name]; dup {
				v.err(field.Duplicate(vp.Child("name"), vol.Name))
			}
			// Disk names are lowercase alphanumerics, '-' and '.',
			// at most 253 characters, alphanumeric at both ends.
			for _, msg := range k8svalidation.IsDNS1123Subdomain(vol.Name) {
				v.err(field.Invalid(vp.Child("name"), vol.Name, msg))
			}
			byName[vol.Name] = vol
		}
		if n := countSet(vol.VolumeSource); n != 1 {
			v.err(field.Invalid(vp, vol.Name, fmt.Sprintf("must have exactly one volume source set, has %d", n)))
		}
		switch {
		case vol.ContainerDisk != nil:
			if vol.ContainerDisk.Image == "" {
				v.err(field.Required(vp.Child("containerDisk", "image"), "a containerDisk needs an image"))
			}
		case vol.CloudInitNoCloud != nil:
			c := vol.CloudInitNoCloud
			v.cloudInit(vp.Child("cloudInitNoCloud"), c.UserData, c.UserDataBase64, c.UserDataSecretRef, c.NetworkData, c.NetworkDataBase64, c.NetworkDataSecretRef)
		case vol.CloudInitConfigDrive != nil:
			c := vol.CloudInitConfigDrive
			v.cloudInit(vp.Child("cloudInitConfigDrive"), c.UserData, c.UserDataBase64, c.UserDataSecretRef, c.NetworkData, c.NetworkDataBase64, c.NetworkDataSecretRef)
		case vol.EmptyDisk != nil:
			if vol.EmptyDisk.Capacity.IsZero() {
				v.err(field.Required(vp.Child("emptyDisk", "capacity"), "an emptyDisk needs a capacity, e.g. 10Gi"))
			} else if vol.EmptyDisk.Capacity.Sign() < 0 {
				v.err(field.Invalid(vp.Child("emptyDisk", "capacity"), vol.EmptyDisk.Capacity.String(), "must be greater than 0"))
			}
		case vol.PersistentVolumeClaim != nil:
			if vol.PersistentVolumeClaim.ClaimName == "" {
				v.err(field.Required(vp.Child("persistentVolumeClaim", "claimName"), ""))
			}
		case vol.Ephemeral != nil:
			if vol.Ephemeral.PersistentVolumeClaim == nil || vol.Ephemeral.PersistentVolumeClaim.ClaimName == "" {
				v.err(field.Required(vp.Child("ephemeral", "persistentVolumeClaim", "claimName"), "an ephemeral volume is backed by a PVC"))
			}
		case vol.DataVolume != nil:
			if vol.DataVolume.Name == "" {
				v.err(field.Required(vp.Child("dataVolume", "name"), ""))
			}
		}
	}
	return byName
}

// countSet counts the non-nil pointer fields of a one-of struct.
func countSet(src any) int {
	rv := reflect.ValueOf(src)
	n := 0
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}

func (v *validator) cloudInit(p *field.Path, user, userB64 string, userRef *k8sv1.LocalObjectReference, netData, netB64 string, netRef *k8sv1.LocalObjectReference) {
	nUser := btoi(user != "") + btoi(userB64 != "") + btoi(userRef != nil)
	nNet := btoi(netData != "") + btoi(netB64 != "") + btoi(netRef != nil)
	if nUser > 1 {
		v.err(field.Invalid(p, "", "set only one of userData, userDataBase64 and secretRef"))
	}
	if nNet > 1 {
		v.err(field.Invalid(p, "", "set only one of networkData, networkDataBase64 and networkDataSecretRef"))
	}
	if nUser+nNet == 0 {
		v.err(field.Required(p, "needs userData or networkData (inline, base64 or from a Secret)"))
	}
	v.cloudInitData(p.Child("userData"), user, false)
	v.cloudInitData(p.Child("userDataBase64"), userB64, true)
	v.cloudInitData(p.Child("networkData"), netData, false)
	v.cloudInitData(p.Child("networkDataBase64"), netB64, true)
	// cloud-init reads networkData, and userData that starts with
	// #cloud-config, as YAML; broken YAML is only noticed inside the guest.
	if strings.HasPrefix(user, "#cloud-config") {
		v.cloudInitYAML(p.Child("userData"), user)
	}
	v.cloudInitYAML(p.Child("networkData"), netData)
}

func (v *validator) cloudInitYAML(p *field.Path, data string) {
	if strings.TrimSpace(data) == "" {
		return
	}
	var tree any
	for _, e := range strictyaml.Decode([]byte(data), &tree) {
		if e.Origin == strictyaml.OriginSyntax {
			v.warn(p, "is not valid YAML ("+e.Detail+"); cloud-init in the guest will ignore it")
			return
		}
	}
}

func (v *validator) cloudInitData(p *field.Path, data string, isBase64 bool) {
	size := len(data)
	if isBase64 && data != "" {
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			v.err(field.Invalid(p, "(base64)", "must be base64-encoded"))
			return
		}
		size = len(raw)
	}
	if size > CloudInitMaxLen {
		v.err(field.TooLong(p, "", CloudInitMaxLen).WithOrigin("maxLength"))
		v.errs[len(v.errs)-1].Detail = fmt.Sprintf("is %d bytes, at most %d allowed inline; put larger data in a Secret (secretRef)", size, CloudInitMaxLen)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

var (
	diskBuses  = []kubevirtv1.DiskBus{kubevirtv1.DiskBusVirtio, kubevirtv1.DiskBusSATA, kubevirtv1.DiskBusSCSI, kubevirtv1.DiskBusUSB}
	cdromBuses = []kubevirtv1.DiskBus{kubevirtv1.DiskBusSATA, kubevirtv1.DiskBusSCSI}
)

func (v *validator) disks(s *kubevirtv1.VirtualMachineInstanceSpec, sp *field.Path, volumes map[string]*kubevirtv1.Volume, boot *bootOrders) {
	p := sp.Child("domain", "devices", "disks")
	names := map[string]bool{}
	for i, d := range s.Domain.Devices.Disks {
		dp := p.Index(i)
		switch {
		case d.Name == "":
			v.err(field.Required(dp.Child("name"), ""))
		case names[d.Name]:
			v.err(field.Duplicate(dp.Child("name"), d.Name))
		case volumes[d.Name] == nil:
			v.err(field.Invalid(dp.Child("name"), d.Name, "no volume of this name in the volumes list; every disk needs one"))
		}
		names[d.Name] = true
		targets := btoi(d.Disk != nil) + btoi(d.LUN != nil) + btoi(d.CDRom != nil)
		if targets > 1 {
			v.err(field.Invalid(dp, d.Name, "set only one of disk, lun and cdrom"))
		}
		switch {
		case d.Disk != nil:
			v.bus(dp.Child("disk", "bus"), d.Disk.Bus, diskBuses)
			if d.Disk.Bus == kubevirtv1.DiskBusUSB {
				v.warn(dp.Child("disk", "bus"), "usb is accepted by KubeVirt but the supported disk interfaces are virtio, sata and scsi")
			}
		case d.LUN != nil:
			v.bus(dp.Child("lun", "bus"), d.LUN.Bus, diskBuses)
		case d.CDRom != nil:
			v.bus(dp.Child("cdrom", "bus"), d.CDRom.Bus, cdromBuses)
		}
		boot.add(dp.Child("bootOrder"), d.BootOrder)
	}
	// A volume nothing uses is a typo of a disk name, most likely.
	for i, vol := range s.Volumes {
		if vol.Name != "" && !names[vol.Name] && vol.MemoryDump == nil && !usedByFilesystem(s, vol.Name) {
			v.err(field.Invalid(sp.Child("volumes").Index(i).Child("name"), vol.Name,
				"no disk or filesystem of this name in domain.devices; every volume needs one"))
		}
	}
}

func usedByFilesystem(s *kubevirtv1.VirtualMachineInstanceSpec, name string) bool {
	for _, fs := range s.Domain.Devices.Filesystems {
		if fs.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) bus(p *field.Path, bus kubevirtv1.DiskBus, valid []kubevirtv1.DiskBus) {
	if bus != "" && !slices.Contains(valid, bus) {
		v.err(field.NotSupported(p, bus, valid))
	}
}

func (v *validator) networks(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	np := p.Child("networks")
	ip := p.Child("domain", "devices", "interfaces")
	nets := map[string]*kubevirtv1.Network{}
	pods, multusDefaults := 0, 0
	for i := range s.Networks {
		n := &s.Networks[i]
		pp := np.Index(i)
		switch {
		case n.Name == "":
			v.err(field.Required(pp.Child("name"), ""))
		case nets[n.Name] != nil:
			v.err(field.Duplicate(pp.Child("name"), n.Name).WithOrigin("unique"))
			v.errs[len(v.errs)-1].Detail = "every network must have a unique name"
		default:
			if !ifaceNameRE.MatchString(n.Name) {
				v.err(field.Invalid(pp.Child("name"), n.Name, "network name can only contain alphabetical characters, numbers, dashes (-) or underscores (_)"))
			}
			nets[n.Name] = n
		}
		if k := countSet(n.NetworkSource); k != 1 {
			v.err(field.Invalid(pp, n.Name, fmt.Sprintf("must have exactly one network source (pod or multus), has %d", k)))
		}
		if n.Pod != nil {
			pods++
			if pods > 1 {
				v.err(field.TooMany(np, pods, 1).WithOrigin("pod"))
				v.errs[len(v.errs)-1].Detail = "more than one pod network; a VM has at most one"
			}
		}
		if n.Multus != nil {
			if n.Multus.NetworkName == "" {
				v.err(field.Required(pp.Child("multus", "networkName"), "the NetworkAttachmentDefinition to attach to, as name or namespace/name"))
			} else {
				v.nadName(pp.Child("multus", "networkName"), n.Multus.NetworkName)
			}
			if n.Multus.Default {
				multusDefaults++
			}
		}
	}
	if multusDefaults > 1 {
		v.err(field.Invalid(np, multusDefaults, "at most one multus network may be the default"))
	}
	if multusDefaults > 0 && pods > 0 {
		v.err(field.Invalid(np, "pod", "a pod network cannot be combined with a default multus network"))
	}

	ifaces := map[string]bool{}
	portNames := map[string]bool{}
	for i := range s.Domain.Devices.Interfaces {
		ifc := &s.Domain.Devices.Interfaces[i]
		fp := ip.Index(i)
		n := nets[ifc.Name]
		switch {
		case ifc.Name == "":
			v.err(field.Required(fp.Child("name"), ""))
		case ifaces[ifc.Name]:
			v.err(field.Duplicate(fp.Child("name"), ifc.Name))
		default:
			if !ifaceNameRE.MatchString(ifc.Name) {
				v.err(field.Invalid(fp.Child("name"), ifc.Name, "network interface name can only contain alphabetical characters, numbers, dashes (-) or underscores (_)"))
			}
			if n == nil {
				v.err(field.Invalid(fp.Child("name"), ifc.Name, "no network of this name in the networks list; every interface needs one"))
			}
		}
		ifaces[ifc.Name] = true
		bindings := countSet(ifc.InterfaceBindingMethod) + btoi(ifc.Binding != nil)
		switch {
		case bindings == 0:
			v.err(field.Required(fp, "needs exactly one binding method: masquerade (pod network), bridge or sriov (multus network)"))
		case bindings > 1:
			v.err(field.Invalid(fp, ifc.Name, fmt.Sprintf("has %d binding methods, must have exactly one", bindings)))
		}
		if n != nil {
			switch {
			case ifc.Masquerade != nil && n.Pod == nil:
				v.err(field.Invalid(fp.Child("masquerade"), ifc.Name, "masquerade binding is only implemented with the pod network; use bridge or sriov on a multus network"))
			case ifc.SRIOV != nil && n.Multus == nil:
				v.err(field.Invalid(fp.Child("sriov"), ifc.Name, "sriov binding needs a multus network (the SriovNetwork's NetworkAttachmentDefinition)"))
			case ifc.Bridge != nil && n.Pod != nil:
				v.warn(fp.Child("bridge"), "bridge binding on the pod network breaks live migration and may be disabled by the cluster; masquerade is the recommended binding there")
			}
		}
		if ifc.DeprecatedSlirp != nil || ifc.DeprecatedMacvtap != nil || ifc.DeprecatedPasst != nil {
			v.err(field.Forbidden(fp, "slirp, macvtap and passt bindings were removed in KubeVirt v1.3; use masquerade, bridge, sriov or a binding plugin"))
		}
		switch {
		case ifc.Model != "" && !slices.Contains(validModels, ifc.Model):
			v.err(field.NotSupported(fp.Child("model"), ifc.Model, validModels))
		case ifc.Model != "" && ifc.SRIOV == nil && !slices.Contains(wizardModels, ifc.Model):
			v.warn(fp.Child("model"), fmt.Sprintf("model %s is accepted by KubeVirt but the supported NIC models are virtio and e1000e", ifc.Model))
		}
		if ifc.SRIOV != nil && ifc.Model != "" {
			v.warn(fp.Child("model"), "an SR-IOV interface is a passed-through VF; its model is ignored")
		}
		v.mac(fp.Child("macAddress"), ifc, n)
		if ifc.PciAddress != "" && !pciRE.MatchString(ifc.PciAddress) {
			v.err(field.Invalid(fp.Child("pciAddress"), ifc.PciAddress, "must be a PCI address such as 0000:07:00.0"))
		}
		v.ports(fp, ifc, n, portNames)
	}
	for i, n := range s.Networks {
		if n.Name != "" && !ifaces[n.Name] {
			v.err(field.Invalid(np.Index(i).Child("name"), n.Name, "no interface of this name in domain.devices.interfaces; every network needs one"))
		}
	}
}

// nadName checks a multus networkName: "name" or "namespace/name".
func (v *validator) nadName(p *field.Path, s string) {
	ns, name, hasNS := strings.Cut(s, "/")
	if !hasNS {
		name, ns = ns, ""
	}
	if hasNS {
		for _, msg := range k8svalidation.IsDNS1123Label(ns) {
			v.err(field.Invalid(p, s, "namespace: "+msg))
		}
	}
	for _, msg := range k8svalidation.IsDNS1123Subdomain(name) {
		v.err(field.Invalid(p, s, msg))
	}
}

func (v *validator) mac(p *field.Path, ifc *kubevirtv1.Interface, n *kubevirtv1.Network) {
	if ifc.MacAddress == "" {
		if n != nil && n.Multus != nil && ifc.SRIOV == nil || ifc.BootOrder != nil {
			v.warn(p, "no macAddress: KubeVirt assigns one that is not persistent across restarts; set one if a PXE or DHCP server keys on it")
		}
		return
	}
	_, err := macaddr.ParseUnicast(ifc.MacAddress)
	switch {
	case errors.Is(err, macaddr.ErrSyntax):
		v.err(field.Invalid(p, ifc.MacAddress, "malformed MAC address; write six colon-separated hex bytes, e.g. de:00:00:00:00:de"))
	case errors.Is(err, macaddr.ErrLength):
		// A well-formed address of another length: two hex digits a byte.
		n := len(strings.Map(func(r rune) rune {
			if strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return r
			}
			return -1
		}, ifc.MacAddress)) / 2
		v.err(field.Invalid(p, ifc.MacAddress, fmt.Sprintf("MAC address has %d bytes; an Ethernet NIC needs 6", n)))
	case errors.Is(err, macaddr.ErrMulticast):
		v.err(field.Invalid(p, ifc.MacAddress, "multicast MAC address; a NIC needs a unicast one (first byte even)"))
	case ifc.Masquerade != nil && ifc.MacAddress == "02:00:00:00:00:00":
		v.err(field.Invalid(p, ifc.MacAddress, "the requested MAC address is reserved for the in-pod bridge; choose another one"))
	}
}

func (v *validator) ports(fp *field.Path, ifc *kubevirtv1.Interface, n *kubevirtv1.Network, names map[string]bool) {
	if len(ifc.Ports) == 0 {
		return
	}
	if n != nil && n.Pod == nil {
		v.warn(fp.Child("ports"), "ports are only used on the pod network (masquerade); they are ignored here")
	}
	for j, port := range ifc.Ports {
		pp := fp.Child("ports").Index(j)
		switch {
		case port.Port == 0:
			v.err(field.Required(pp.Child("port"), "port field is mandatory"))
		case port.Port < 0 || port.Port > 65535:
			v.err(field.Invalid(pp.Child("port"), port.Port, "must be in range 0 < port < 65536"))
		case reservedPorts[port.Port]:
			v.warn(pp.Child("port"), fmt.Sprintf("port %d is reserved by libvirt; incoming traffic to it is dropped", port.Port))
		}
		if port.Protocol != "" && port.Protocol != "TCP" && port.Protocol != "UDP" {
			v.err(field.NotSupported(pp.Child("protocol"), port.Protocol, []string{"TCP", "UDP"}))
		}
		if port.Name != "" {
			if names[port.Name] {
				v.err(field.Duplicate(pp.Child("name"), port.Name))
			}
			names[port.Name] = true
			for _, msg := range k8svalidation.IsValidPortName(port.Name) {
				v.err(field.Invalid(pp.Child("name"), port.Name, msg))
			}
		}
	}
}

func (v *validator) resources(s *kubevirtv1.VirtualMachineInstanceSpec, dp *field.Path) {
	rp := dp.Child("resources")
	req, lim := s.Domain.Resources.Requests, s.Domain.Resources.Limits
	for _, r := range []struct {
		list k8sv1.ResourceList
		p    *field.Path
	}{{req, rp.Child("requests")}, {lim, rp.Child("limits")}} {
		for _, name := range []k8sv1.ResourceName{k8sv1.ResourceMemory, k8sv1.ResourceCPU} {
			if q, ok := r.list[name]; ok && q.Sign() < 0 {
				v.err(field.Invalid(r.p.Child(string(name)), q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	if rq, ok := req[k8sv1.ResourceMemory]; ok {
		if lq, ok := lim[k8sv1.ResourceMemory]; ok && lq.Cmp(rq) < 0 {
			v.err(field.Invalid(rp.Child("requests", "memory"), rq.String(), fmt.Sprintf("must not exceed the limit %s", lq.String())))
		}
	}
	if rq, ok := req[k8sv1.ResourceCPU]; ok {
		if lq, ok := lim[k8sv1.ResourceCPU]; ok && lq.Cmp(rq) < 0 {
			v.err(field.Invalid(rp.Child("requests", "cpu"), rq.String(), fmt.Sprintf("must not exceed the limit %s", lq.String())))
		}
	}
	mem := s.Domain.Memory
	if mem == nil {
		return
	}
	memValue, memPath := int64(0), rp.Child("requests", "memory")
	if q, ok := req[k8sv1.ResourceMemory]; ok {
		memValue = q.Value()
	} else if mem.Guest != nil {
		memValue, memPath = mem.Guest.Value(), dp.Child("memory", "guest")
	}
	if mem.Guest != nil {
		if lq, ok := lim[k8sv1.ResourceMemory]; ok && mem.Guest.Cmp(lq) > 0 {
			v.err(field.Invalid(dp.Child("memory", "guest"), mem.Guest.String(), fmt.Sprintf("must not exceed the memory limit %s", lq.String())))
		}
	}
	if mem.Hugepages == nil {
		return
	}
	hp := dp.Child("memory", "hugepages", "pageSize")
	page, err := parseQuantity(mem.Hugepages.PageSize)
	switch {
	case mem.Hugepages.PageSize == "":
		v.err(field.Required(hp, "hugepages need a page size, 2Mi or 1Gi on x86-64"))
	case err != nil:
		v.err(field.Invalid(hp, mem.Hugepages.PageSize, err.Error()))
	case page <= 0:
		v.err(field.Invalid(hp, mem.Hugepages.PageSize, "must be greater than 0"))
	case memValue == 0:
		v.err(field.Required(memPath, "hugepages need a memory request or spec.domain.memory.guest to size the guest"))
	case memValue < page:
		v.err(field.Invalid(memPath, memValue, fmt.Sprintf("must be equal to or larger than the hugepages page size %s", mem.Hugepages.PageSize)))
	case memValue%page != 0:
		v.err(field.Invalid(memPath, memValue, fmt.Sprintf("is not a multiple of the hugepages page size %s", mem.Hugepages.PageSize)))
	}
}

func (v *validator) cpu(s *kubevirtv1.VirtualMachineInstanceSpec, dp *field.Path) {
	c := s.Domain.CPU
	if c == nil {
		return
	}
	cp := dp.Child("cpu")
	if c.IsolateEmulatorThread && !c.DedicatedCPUPlacement {
		v.err(field.Invalid(cp.Child("isolateEmulatorThread"), true, "isolateEmulatorThread can only be set together with dedicatedCpuPlacement"))
	}
	if !c.DedicatedCPUPlacement {
		return
	}
	// Dedicated CPUs need a Guaranteed QoS pod: whole CPUs, requests equal
	// to limits where both are given.
	rp := dp.Child("resources")
	req, lim := s.Domain.Resources.Requests, s.Domain.Resources.Limits
	if q, ok := req[k8sv1.ResourceCPU]; ok && q.MilliValue()%1000 != 0 {
		v.err(field.Invalid(rp.Child("requests", "cpu"), q.String(), "must be a whole number of CPUs with dedicatedCpuPlacement"))
	}
	for _, name := range []k8sv1.ResourceName{k8sv1.ResourceCPU, k8sv1.ResourceMemory} {
		rq, okR := req[name]
		lq, okL := lim[name]
		if okR && okL && rq.Cmp(lq) != 0 {
			v.err(field.Invalid(rp.Child("requests", string(name)), rq.String(), fmt.Sprintf("must equal limits.%s (%s) with dedicatedCpuPlacement", name, lq.String())))
		}
	}
	if c.Sockets > 1 {
		v.warn(cp.Child("sockets"), "with dedicated CPUs, one socket keeps every vCPU on one NUMA node")
	}
}

func (v *validator) firmware(s *kubevirtv1.VirtualMachineInstanceSpec, dp *field.Path) {
	f := s.Domain.Firmware
	if f == nil || f.Bootloader == nil {
		return
	}
	bp := dp.Child("firmware", "bootloader")
	if f.Bootloader.BIOS != nil && f.Bootloader.EFI != nil {
		v.err(field.Invalid(bp, "bios+efi", "set only one of bios and efi"))
	}
	if efi := f.Bootloader.EFI; efi != nil && (efi.SecureBoot == nil || *efi.SecureBoot) {
		smm := s.Domain.Features != nil && s.Domain.Features.SMM != nil && (s.Domain.Features.SMM.Enabled == nil || *s.Domain.Features.SMM.Enabled)
		if !smm {
			v.err(field.Invalid(bp.Child("efi", "secureBoot"), true, "EFI secure boot (the default) needs SMM: set spec.domain.features.smm.enabled: true, or secureBoot: false"))
		}
		for _, ifc := range s.Domain.Devices.Interfaces {
			if ifc.BootOrder != nil {
				v.warn(bp.Child("efi", "secureBoot"), "secure boot is on and an interface boots from the network: an unsigned iPXE binary will not start; set secureBoot: false")
				break
			}
		}
	}
}

// parseQuantity returns the value of a Kubernetes quantity string.
func parseQuantity(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, err
	}
	return q.Value(), nil
}
