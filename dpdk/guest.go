package dpdk

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/cpuset"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/validation"
)

// NoCloudUserDataLimit is KubeVirt's limit on inline cloudInitNoCloud
// userData; more goes into a Secret (userDataSecretRef).
const NoCloudUserDataLimit = 2048

// GuestTuningConfig is the guest configuration of a RHEL DPDK VM: hugepages,
// the cpu-partitioning tuned profile and the vfio-pci override of its NICs.
type GuestTuningConfig struct {
	// VCPUs is the guest's vCPU count (rhel-dpdk-vm: 10).
	VCPUs int
	// HousekeepingCPUs is how many vCPUs (from 0) tuned keeps for the OS;
	// 0 means 2, one vCPU core (rhel-dpdk-vm: 0-1).
	HousekeepingCPUs int
	// Hugepages is the guest's 1G hugepage count (rhel-dpdk-vm: 8).
	Hugepages int
	// PCIAddresses are the NICs to bind to vfio-pci with driverctl
	// (rhel-dpdk-vm: 0000:07:00.0).
	PCIAddresses []string
	// ExtraRunCmd are commands appended to runcmd, before the reboot.
	ExtraRunCmd []string
}

// GuestTuningFor derives the guest tuning from a DPDK VM: its vCPUs
// (sockets x cores x threads), housekeeping = one vCPU core (threads vCPUs),
// hugepages = memory.guest in 1Gi pages, and the guest PCI addresses of its
// SR-IOV interfaces.
func GuestTuningFor(vm *kubevirtv1.VirtualMachine) (GuestTuningConfig, error) {
	if vm == nil || vm.Spec.Template == nil || vm.Spec.Template.Spec.Domain.CPU == nil {
		return GuestTuningConfig{}, fmt.Errorf("the VM has no spec.template.spec.domain.cpu")
	}
	d := vm.Spec.Template.Spec.Domain
	s, c, t := uint64(max(d.CPU.Sockets, 1)), uint64(max(d.CPU.Cores, 1)), uint64(max(d.CPU.Threads, 1))
	if s*c*t > maxCPUs {
		return GuestTuningConfig{}, fmt.Errorf("the VM has %d vCPUs, more than a guest kernel's %d", s*c*t, maxCPUs)
	}
	g := GuestTuningConfig{VCPUs: int(s * c * t), HousekeepingCPUs: int(t)}
	if d.Memory != nil && d.Memory.Guest != nil {
		g.Hugepages = int(d.Memory.Guest.Value() >> 30) // whole 1Gi pages
	}
	for _, i := range d.Devices.Interfaces {
		if i.SRIOV != nil && i.PciAddress != "" {
			g.PCIAddresses = append(g.PCIAddresses, i.PciAddress)
		}
	}
	return g, nil
}

// IsolatedCores is tuned's isolated_cores: every vCPU but the housekeeping
// ones (rhel-dpdk-vm: "2-9" for 10 vCPUs).
func (g GuestTuningConfig) IsolatedCores() (string, error) {
	hk := g.HousekeepingCPUs
	if hk == 0 {
		hk = 2
	}
	if g.VCPUs > maxCPUs {
		return "", fmt.Errorf("guest tuning: %d vCPUs, more than a guest kernel's %d", g.VCPUs, maxCPUs)
	}
	if hk < 0 || g.VCPUs <= hk {
		return "", fmt.Errorf("guest tuning: %d vCPUs leave none to isolate after %d housekeeping vCPUs", g.VCPUs, hk)
	}
	var ids []int
	for i := hk; i < g.VCPUs; i++ {
		ids = append(ids, i)
	}
	return cpuset.New(ids...).String(), nil
}

// Commands are the guest's tuning steps as shell commands, in order: the
// hugepage kernel arguments (grubby), the cpu-partitioning tuned profile with
// isolated_cores, and the driverctl vfio-pci override of each NIC.
func (g GuestTuningConfig) Commands() ([]string, error) {
	iso, err := g.IsolatedCores()
	if err != nil {
		return nil, err
	}
	if g.Hugepages < 0 {
		return nil, fmt.Errorf("guest tuning: negative hugepage count %d", g.Hugepages)
	}
	var cmds []string
	if g.Hugepages > 0 {
		cmds = append(cmds, fmt.Sprintf(`grubby --update-kernel=ALL --args="default_hugepagesz=1GB hugepagesz=1G hugepages=%d"`, g.Hugepages))
	}
	cmds = append(cmds,
		"dnf install -y tuned-profiles-cpu-partitioning",
		"echo isolated_cores="+iso+" > /etc/tuned/cpu-partitioning-variables.conf",
		"tuned-adm profile cpu-partitioning",
	)
	if len(g.PCIAddresses) > 0 {
		cmds = append(cmds, "dnf install -y driverctl")
	}
	for _, a := range g.PCIAddresses {
		if !pciAddressRE.MatchString(a) {
			return nil, fmt.Errorf("guest tuning: %q is not a PCI address", a)
		}
		cmds = append(cmds, "driverctl set-override "+a+" vfio-pci")
	}
	return append(cmds, g.ExtraRunCmd...), nil
}

// UserData renders the guest tuning as #cloud-config: runcmd runs the
// Commands once on first boot, then power_state reboots the guest so the
// kernel arguments and tuned profile take effect (the procedure's last step).
func (g GuestTuningConfig) UserData() (string, error) {
	cmds, err := g.Commands()
	if err != nil {
		return "", err
	}
	doc := struct {
		RunCmd     []string          `json:"runcmd"`
		PowerState map[string]string `json:"power_state"`
	}{cmds, map[string]string{"mode": "reboot", "message": "pxekit dpdk: reboot to apply hugepages, tuned cpu-partitioning and vfio-pci"}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	return "#cloud-config\n" + string(b), nil
}

// Warnings are surprising but accepted settings: guest hugepages that take all of
// the guest's memory (the documented rhel-dpdk-vm reserves 8 1G pages in an 8Gi
// guest, leaving the OS almost nothing). The warning is at the configuration's
// field, hugepages.
func (g GuestTuningConfig) Warnings(guestMemory *resource.Quantity) []validation.Warning {
	var w []validation.Warning
	if guestMemory != nil && g.Hugepages > 0 {
		if gi := guestMemory.Value() >> 30; int64(g.Hugepages) >= gi {
			w = append(w, validation.Warnf(field.NewPath("hugepages"), "guest hugepages=%d of 1G take all %s of guest memory; the guest kernel cannot allocate them all and the OS is left without memory — reserve fewer or give the VM more memory", g.Hugepages, guestMemory.String()))
		}
	}
	return w
}

// AttachUserData adds a cloud-init NoCloud disk and volume ("cloudinitdisk")
// with userData to the VM: inline when it fits KubeVirt's 2048-byte limit,
// otherwise through userDataSecretRef to a Secret named secretName, which is
// returned for the caller to create next to the VM (key "userdata").
func AttachUserData(vm *kubevirtv1.VirtualMachine, userData, secretName string) (*corev1.Secret, error) {
	if vm.Spec.Template == nil {
		vm.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
	}
	src := &kubevirtv1.CloudInitNoCloudSource{}
	var secret *corev1.Secret
	if len(userData) <= NoCloudUserDataLimit {
		src.UserData = userData
	} else {
		if secretName == "" {
			return nil, fmt.Errorf("userData is %d bytes, over KubeVirt's %d-byte inline limit, and no secret name was given", len(userData), NoCloudUserDataLimit)
		}
		src.UserDataSecretRef = &corev1.LocalObjectReference{Name: secretName}
		secret = &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			StringData: map[string]string{"userdata": userData},
		}
		secret.Name, secret.Namespace = secretName, vm.Namespace
	}
	const name = "cloudinitdisk"
	spec := &vm.Spec.Template.Spec
	disk := kubevirtv1.Disk{Name: name, DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}}
	vol := kubevirtv1.Volume{Name: name, VolumeSource: kubevirtv1.VolumeSource{CloudInitNoCloud: src}}
	replaced := false
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name || spec.Volumes[i].CloudInitNoCloud != nil {
			if spec.Volumes[i].Name != name {
				return nil, fmt.Errorf("the VM already has a cloud-init volume %q", spec.Volumes[i].Name)
			}
			spec.Volumes[i] = vol
			replaced = true
		}
	}
	if !replaced {
		spec.Volumes = append(spec.Volumes, vol)
		spec.Domain.Devices.Disks = append(spec.Domain.Devices.Disks, disk)
	}
	return secret, nil
}
