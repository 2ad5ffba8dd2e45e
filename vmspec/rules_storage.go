package vmspec

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"

	k8sv1 "k8s.io/api/core/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The storage rules of KubeVirt v1.9.0's admitters (pkg/storage/admitters
// and validateVolumes).

var (
	diskSerialRE = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)
	diskBuses    = []kubevirtv1.DiskBus{kubevirtv1.DiskBusVirtio, kubevirtv1.DiskBusSCSI, kubevirtv1.DiskBusSATA, kubevirtv1.DiskBusUSB}
)

const (
	maxDiskSerial      = 256
	minCustomBlockSize = 512
	maxCustomBlockSize = 2 << 20
)

// diskTarget returns a disk's target kind ("disk", "lun", "cdrom" or "")
// and bus.
func diskTarget(d *kubevirtv1.Disk) (string, kubevirtv1.DiskBus) {
	switch {
	case d.Disk != nil:
		return "disk", d.Disk.Bus
	case d.LUN != nil:
		return "lun", d.LUN.Bus
	case d.CDRom != nil:
		return "cdrom", d.CDRom.Bus
	}
	return "", ""
}

// disks checks domain.devices.disks; p is that list. Some findings are
// reported at p followed by domain.devices.disks again, as the webhook
// reports them.
func (v *validator) disks(disks []kubevirtv1.Disk, p *field.Path) {
	twice := p.Child("domain", "devices", "disks")
	for i := range disks {
		d := &disks[i]
		ip := p.Index(i)
		for j := range i {
			if disks[j].Name == d.Name {
				v.err(field.Duplicate(ip.Child("name"), d.Name))
				break
			}
		}
		if btoi(d.Disk != nil)+btoi(d.LUN != nil)+btoi(d.CDRom != nil) > 1 {
			v.err(field.Invalid(ip, d.Name, "set only one of disk, lun and cdrom"))
		}
		if d.Disk != nil && d.Disk.PciAddress != "" {
			pp := p.Child("domain", "devices", "disks", "disk").Index(i).Child("pciAddress")
			if d.Disk.Bus != kubevirtv1.DiskBusVirtio {
				v.err(field.Invalid(pp, d.Disk.PciAddress, "a PCI address needs bus virtio"))
			}
			if !pciAddressRE.MatchString(d.Disk.PciAddress) {
				v.err(field.Invalid(pp, d.Disk.PciAddress, "malformed PCI address; write domain:bus:slot.function, e.g. 0000:07:00.0"))
			}
		}
		if d.BootOrder != nil && *d.BootOrder < 1 {
			v.err(field.Invalid(ip.Child("bootOrder"), *d.BootOrder, "must have a boot order > 0, if supplied"))
		}
		kind, bus := diskTarget(d)
		switch bus {
		case "":
		case "ide":
			v.err(field.NotSupported(ip.Child(kind, "bus"), bus, diskBuses))
		case kubevirtv1.DiskBusVirtio:
			if kind == "cdrom" {
				// q35 has no virtio CD-ROM.
				v.err(field.Invalid(ip.Child("cdrom", "bus"), bus, "a CD-ROM cannot be on the virtio bus; use sata or scsi"))
			}
		case kubevirtv1.DiskBusSATA:
			if d.Disk != nil && d.Disk.ReadOnly {
				v.err(field.Invalid(ip.Child("disk", "bus"), bus, "a sata disk cannot be read-only"))
			}
		case kubevirtv1.DiskBusSCSI, kubevirtv1.DiskBusUSB:
		default:
			v.err(field.NotSupported(ip.Child(kind, "bus"), bus, diskBuses))
		}
		if bus != "" && d.DedicatedIOThread != nil && *d.DedicatedIOThread && bus != kubevirtv1.DiskBusVirtio {
			v.err(field.NotSupported(twice.Index(i), bus, []kubevirtv1.DiskBus{kubevirtv1.DiskBusVirtio}))
		}
		if d.Serial != "" {
			if !diskSerialRE.MatchString(d.Serial) {
				v.err(field.Invalid(ip.Child("serial"), d.Serial, "may only contain A-Z, a-z, 0-9, '_', '.', '+' and '-'"))
			}
			if n := len([]rune(d.Serial)); n > maxDiskSerial {
				v.err(field.TooLong(ip.Child("serial"), n, maxDiskSerial))
			}
		}
		if d.Cache != "" && d.Cache != kubevirtv1.CacheNone && d.Cache != kubevirtv1.CacheWriteThrough && d.Cache != kubevirtv1.CacheWriteBack {
			v.err(field.NotSupported(ip.Child("cache"), d.Cache, []kubevirtv1.DriverCache{kubevirtv1.CacheNone, kubevirtv1.CacheWriteThrough, kubevirtv1.CacheWriteBack}))
		}
		if d.IO != "" && d.IO != kubevirtv1.IONative && d.IO != kubevirtv1.IOThreads {
			v.err(field.NotSupported(twice.Index(i).Child("io"), d.IO, []kubevirtv1.DriverIO{kubevirtv1.IONative, kubevirtv1.IOThreads}))
		}
		if e := d.ErrorPolicy; e != nil && *e != kubevirtv1.DiskErrorPolicyStop && *e != kubevirtv1.DiskErrorPolicyIgnore && *e != kubevirtv1.DiskErrorPolicyReport && *e != kubevirtv1.DiskErrorPolicyEnospace {
			v.err(field.NotSupported(ip.Child("errorPolicy"), *e, []kubevirtv1.DiskErrorPolicy{kubevirtv1.DiskErrorPolicyStop, kubevirtv1.DiskErrorPolicyIgnore, kubevirtv1.DiskErrorPolicyReport, kubevirtv1.DiskErrorPolicyEnospace}))
		}
		// A disk's name becomes a container's name: a DNS-1123 label.
		for _, msg := range k8svalidation.IsDNS1123Label(d.Name) {
			v.err(field.Invalid(twice.Index(i).Child("name"), d.Name, msg))
		}
		v.blockSize(d, ip, bus)
	}
}

func (v *validator) blockSize(d *kubevirtv1.Disk, ip *field.Path, bus kubevirtv1.DiskBus) {
	b := d.BlockSize
	if b == nil || b.Custom == nil {
		return
	}
	bp := ip.Child("blockSize")
	if b.MatchVolume != nil && (b.MatchVolume.Enabled == nil || *b.MatchVolume.Enabled) {
		v.err(field.Invalid(bp, "", "matchVolume and custom are mutually exclusive"))
		return
	}
	c := b.Custom
	cp := bp.Child("custom")
	switch {
	case c.Logical > c.Physical:
		v.err(field.Invalid(cp.Child("logical"), c.Logical, fmt.Sprintf("must not exceed the physical size %d", c.Physical)))
	case bus == kubevirtv1.DiskBusSATA && c.Logical != minCustomBlockSize:
		v.err(field.Invalid(cp.Child("logical"), c.Logical, "must be 512 on a sata disk"))
	case c.DiscardGranularity != nil && c.Logical != 0 && *c.DiscardGranularity%c.Logical != 0:
		v.err(field.Invalid(cp.Child("discardGranularity"), *c.DiscardGranularity, fmt.Sprintf("must be a multiple of the logical size %d", c.Logical)))
	default:
		for _, s := range []struct {
			name string
			size uint
		}{{"logical", c.Logical}, {"physical", c.Physical}} {
			switch {
			case s.size < minCustomBlockSize:
				v.err(field.Invalid(cp.Child(s.name), s.size, "must be at least 512"))
			case s.size > maxCustomBlockSize:
				v.err(field.Invalid(cp.Child(s.name), s.size, "must be at most 2097152"))
			case s.size&(s.size-1) != 0:
				v.err(field.Invalid(cp.Child(s.name), s.size, "must be a power of 2"))
			}
		}
	}
}

// volumeSources counts a volume's sources (the non-nil pointers of its
// one-of VolumeSource).
func volumeSources(src kubevirtv1.VolumeSource) int {
	rv := reflect.ValueOf(src)
	n := 0
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}

// volumes checks spec.volumes; p is that list.
func (v *validator) volumes(vols []kubevirtv1.Volume, p *field.Path) {
	seen := map[string]bool{}
	serviceAccounts, downwardMetrics, memoryDumps := 0, 0, 0
	for i := range vols {
		vol := &vols[i]
		ip := p.Index(i)
		if seen[vol.Name] {
			v.err(field.Duplicate(ip.Child("name"), vol.Name))
		}
		seen[vol.Name] = true
		if vol.DataVolume != nil && vol.DataVolume.Name == "" {
			// Reported at the volume's name.
			v.err(field.Required(ip.Child("name"), "a dataVolume volume needs dataVolume.name"))
		}
		if n := volumeSources(vol.VolumeSource); n != 1 {
			v.err(field.Invalid(ip, vol.Name, fmt.Sprintf("must have exactly one source type set, has %d", n)))
		}
		serviceAccounts += btoi(vol.ServiceAccount != nil)
		downwardMetrics += btoi(vol.DownwardMetrics != nil)
		memoryDumps += btoi(vol.MemoryDump != nil)
		switch {
		case vol.CloudInitNoCloud != nil:
			c := vol.CloudInitNoCloud
			v.cloudInit(ip.Child("cloudInitNoCloud"), c.UserData, c.UserDataBase64, c.UserDataSecretRef, c.NetworkData, c.NetworkDataBase64, c.NetworkDataSecretRef)
		case vol.CloudInitConfigDrive != nil:
			c := vol.CloudInitConfigDrive
			v.cloudInit(ip.Child("cloudInitConfigDrive"), c.UserData, c.UserDataBase64, c.UserDataSecretRef, c.NetworkData, c.NetworkDataBase64, c.NetworkDataSecretRef)
		}
		if vol.DownwardMetrics != nil && !v.gates.Enabled(GateDownwardMetrics) {
			v.err(gateOff(ip, GateDownwardMetrics))
		}
		if h := vol.HostDisk; h != nil {
			if !v.gates.Enabled(GateHostDisk) {
				v.err(gateOff(ip, GateHostDisk))
			}
			hp := ip.Child("hostDisk")
			if h.Path == "" {
				v.err(field.NotFound(hp.Child("path"), h.Path))
			}
			if h.Type != kubevirtv1.HostDiskExists && h.Type != kubevirtv1.HostDiskExistsOrCreate {
				v.err(field.NotSupported(hp.Child("type"), h.Type, []kubevirtv1.HostDiskType{kubevirtv1.HostDiskExists, kubevirtv1.HostDiskExistsOrCreate}))
			}
			if h.Type == kubevirtv1.HostDiskExists && !h.Capacity.IsZero() {
				v.err(field.Invalid(hp.Child("capacity"), h.Capacity.String(), "a capacity only goes with type DiskOrCreate"))
			}
		}
		if vol.ConfigMap != nil && vol.ConfigMap.Name == "" {
			v.err(field.Invalid(ip.Child("configMap", "name"), "", "is a required field"))
		}
		if vol.Secret != nil && vol.Secret.SecretName == "" {
			v.err(field.Invalid(ip.Child("secret", "secretName"), "", "is a required field"))
		}
		if vol.ServiceAccount != nil && vol.ServiceAccount.ServiceAccountName == "" {
			v.err(field.Invalid(ip.Child("serviceAccount", "serviceAccountName"), "", "is a required field"))
		}
	}
	for _, c := range []struct {
		n    int
		kind string
	}{{serviceAccounts, "serviceAccount"}, {downwardMetrics, "downwardMetrics"}, {memoryDumps, "memoryDump"}} {
		if c.n > 1 {
			v.err(field.Invalid(p, c.n, fmt.Sprintf("must have at most one %s volume", c.kind)))
		}
	}
}

// cloudInit checks the sources and sizes of cloud-init data: at most one
// source each for user data and network data, at least one of the two,
// base64 that decodes, at most [CloudInitMaxLen] bytes each. A secretRef
// only counts with a name.
func (v *validator) cloudInit(p *field.Path, user, userB64 string, userRef *k8sv1.LocalObjectReference, netData, netB64 string, netRef *k8sv1.LocalObjectReference) {
	count := func(data, b64 string, ref *k8sv1.LocalObjectReference, b64Path *field.Path) (n, size int) {
		if ref != nil && ref.Name != "" {
			n++
		}
		if b64 != "" {
			n++
			dec, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				v.err(field.Invalid(b64Path, "", "is not valid base64"))
			}
			size = len(dec)
		}
		if data != "" {
			n++
			size = len(data)
		}
		return n, size
	}
	nUser, userLen := count(user, userB64, userRef, p.Child("userDataBase64"))
	nNet, netLen := count(netData, netB64, netRef, p.Child("networkDataBase64"))
	for _, k := range []struct {
		n, size             int
		name, fields, inRef string
	}{
		{nUser, userLen, "userData", "userData, userDataBase64 and secretRef", "secretRef"},
		{nNet, netLen, "networkData", "networkData, networkDataBase64 and networkDataSecretRef", "networkDataSecretRef"},
	} {
		if k.n > 1 {
			v.err(field.Invalid(p, "", "set only one of "+k.fields))
		}
		if k.size > CloudInitMaxLen {
			v.err(field.TooLong(p, k.size, CloudInitMaxLen).WithOrigin(k.name))
			v.errs[len(v.errs)-1].Detail = fmt.Sprintf("%s has %d bytes, more than the %d KubeVirt takes inline; put it in a Secret (%s)", k.name, k.size, CloudInitMaxLen, k.inRef)
		}
	}
	if nUser+nNet == 0 {
		v.err(field.Required(p, "needs userData or networkData (inline, base64 or from a Secret)"))
	}
}
