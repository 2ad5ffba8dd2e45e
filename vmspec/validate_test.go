package vmspec

import (
	"strings"
	"testing"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/validation"
)

func baseVMI(t *testing.T) *kubevirtv1.VirtualMachineInstance {
	t.Helper()
	vmi, err := pxeBootVMI().Build()
	if err != nil {
		t.Fatalf("the documented VMI invalid: %v", err)
	}
	return vmi
}

func uptr(n uint) *uint { return &n }

type ruleCase struct {
	name   string
	mutate func(*kubevirtv1.VirtualMachineInstance)
	errs   []string // substrings, each must match one error (path included)
	warns  []string // substrings, each must match one warning
}

func checkRule(t *testing.T, errs field.ErrorList, warns []validation.Warning, wantErrs, wantWarns []string) {
	t.Helper()
	if len(errs) != len(wantErrs) {
		t.Errorf("got %d errors, want %d:\n%s", len(errs), len(wantErrs), errList(errs))
	}
	for _, w := range wantErrs {
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e.Error(), w)
		}
		if !found {
			t.Errorf("no error contains %q; got:\n%s", w, errList(errs))
		}
	}
	if len(warns) != len(wantWarns) {
		t.Errorf("got %d warnings, want %d: %v", len(warns), len(wantWarns), warns)
	}
	for _, w := range wantWarns {
		found := false
		for _, x := range warns {
			found = found || strings.Contains(x.String(), w)
		}
		if !found {
			t.Errorf("no warning contains %q; got %v", w, warns)
		}
	}
}

func errList(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func TestValidateVMIRules(t *testing.T) {
	devs := func(v *kubevirtv1.VirtualMachineInstance) *kubevirtv1.Devices { return &v.Spec.Domain.Devices }
	tests := []ruleCase{
		{name: "the PXE template is valid", mutate: func(*kubevirtv1.VirtualMachineInstance) {}},
		// Boot order.
		{name: "boot order 0", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Disks[0].BootOrder = uptr(0) },
			errs: []string{"spec.domain.devices.disks[0].bootOrder: Invalid value: 0: must have a boot order > 0"}},
		{name: "boot order shared by a disk and an interface", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Disks[1].BootOrder = uptr(1) },
			errs: []string{"spec.domain.devices.interfaces[1].bootOrder: Invalid value: 1: boot order 1 is already set for spec.domain.devices.disks[1].bootOrder"}},
		{name: "boot order shared by two disks", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Disks[1].BootOrder = uptr(2) },
			errs: []string{"spec.domain.devices.disks[1].bootOrder: Invalid value: 2: boot order 2 is already set for spec.domain.devices.disks[0].bootOrder"}},
		// Disks and volumes.
		{name: "disk without volume", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Disks[0].Name = "rootdisk" },
			errs: []string{`spec.domain.devices.disks[0].name: Invalid value: "rootdisk": no volume of this name`,
				`spec.volumes[0].name: Invalid value: "containerdisk": no disk or filesystem of this name`}},
		{name: "duplicate disk", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Disks[1].Name = "containerdisk"
			devs(v).Disks[1].BootOrder = nil
		}, errs: []string{`spec.domain.devices.disks[1].name: Duplicate value: "containerdisk"`, `spec.volumes[1].name: Invalid value: "cloudinitdisk": no disk`}},
		{name: "bad disk bus", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Disks[0].Disk.Bus = "ide" },
			errs: []string{`spec.domain.devices.disks[0].disk.bus: Unsupported value: "ide": supported values: "virtio", "sata", "scsi", "usb"`}},
		{name: "virtio cdrom", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Disks[1].Disk = nil
			devs(v).Disks[1].CDRom = &kubevirtv1.CDRomTarget{Bus: "virtio"}
		}, errs: []string{`spec.domain.devices.disks[1].cdrom.bus: Unsupported value: "virtio"`}},
		{name: "two targets", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Disks[0].CDRom = &kubevirtv1.CDRomTarget{} },
			errs: []string{`spec.domain.devices.disks[0]: Invalid value: "containerdisk": set only one of disk, lun and cdrom`}},
		{name: "volume name not DNS-1123", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[0].Name = "Container_Disk"
			devs(v).Disks[0].Name = "Container_Disk"
		}, errs: []string{`spec.volumes[0].name: Invalid value: "Container_Disk": a lowercase RFC 1123 subdomain`}},
		{name: "disk names may contain dots", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[0].Name = "root.disk"
			devs(v).Disks[0].Name = "root.disk"
		}},
		{name: "VM name with a dot warns", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Name = "vmi.pxe" },
			warns: []string{"metadata.name: the web console refuses '.' in VM names"}},
		{name: "volume with two sources", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[0].EmptyDisk = &kubevirtv1.EmptyDiskSource{Capacity: resource.MustParse("1Gi")}
		}, errs: []string{`spec.volumes[0]: Invalid value: "containerdisk": must have exactly one volume source set, has 2`}},
		{name: "containerDisk without image", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Spec.Volumes[0].ContainerDisk.Image = "" },
			errs: []string{"spec.volumes[0].containerDisk.image: Required value"}},
		{name: "emptyDisk without capacity", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[0].ContainerDisk = nil
			v.Spec.Volumes[0].EmptyDisk = &kubevirtv1.EmptyDiskSource{}
		}, errs: []string{"spec.volumes[0].emptyDisk.capacity: Required value"}},
		{name: "pvc and dataVolume need names", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[0].ContainerDisk = nil
			v.Spec.Volumes[0].PersistentVolumeClaim = &kubevirtv1.PersistentVolumeClaimVolumeSource{}
			v.Spec.Volumes[1].CloudInitNoCloud = nil
			v.Spec.Volumes[1].DataVolume = &kubevirtv1.DataVolumeSource{}
		}, errs: []string{"spec.volumes[0].persistentVolumeClaim.claimName: Required value", "spec.volumes[1].dataVolume.name: Required value"}},
		// Cloud-init.
		{name: "userData of 2048 bytes is fine", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[1].CloudInitNoCloud.UserData = strings.Repeat("x", 2048)
		}},
		{name: "userData over 2048 bytes", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[1].CloudInitNoCloud.UserData = strings.Repeat("x", 2049)
		}, errs: []string{"spec.volumes[1].cloudInitNoCloud.userData: Too long: is 2049 bytes, at most 2048 allowed inline"}},
		{name: "networkData over 2048 bytes, base64", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[1].CloudInitNoCloud.NetworkDataBase64 = "eHh4" + strings.Repeat("eHh4", 683) // 2052 bytes decoded
		}, errs: []string{"spec.volumes[1].cloudInitNoCloud.networkDataBase64: Too long: is 2052 bytes"}},
		{name: "userData twice", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[1].CloudInitNoCloud.UserDataSecretRef = &k8sv1.LocalObjectReference{Name: "s"}
		}, errs: []string{"spec.volumes[1].cloudInitNoCloud: Invalid value: \"\": set only one of userData, userDataBase64 and secretRef"}},
		{name: "empty cloud-init", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Spec.Volumes[1].CloudInitNoCloud.UserData = "" },
			errs: []string{"spec.volumes[1].cloudInitNoCloud: Required value"}},
		{name: "broken networkData YAML warns", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Volumes[1].CloudInitNoCloud.NetworkData = "version: 2\nethernets:\n  eth1: 1\n    dhcp4: true\n"
		}, warns: []string{"spec.volumes[1].cloudInitNoCloud.networkData: is not valid YAML (line 4: mapping values are not allowed"}},
		// Interfaces and networks.
		{name: "bad MAC", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].MacAddress = "de:00:00:00:00" },
			errs: []string{`spec.domain.devices.interfaces[1].macAddress: Invalid value: "de:00:00:00:00": malformed MAC address`}},
		{name: "EUI-64 MAC", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[1].MacAddress = "de:00:00:00:00:00:00:de"
		},
			errs: []string{`spec.domain.devices.interfaces[1].macAddress: Invalid value: "de:00:00:00:00:00:00:de": MAC address has 8 bytes`}},
		{name: "multicast MAC", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].MacAddress = "01:00:5e:00:00:01" },
			errs: []string{`spec.domain.devices.interfaces[1].macAddress: Invalid value: "01:00:5e:00:00:01": multicast`}},
		{name: "PXE NIC without MAC warns", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].MacAddress = "" },
			warns: []string{"spec.domain.devices.interfaces[1].macAddress: no macAddress: KubeVirt assigns one that is not persistent"}},
		{name: "interface without network and network without interface", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].Name = "pxe" },
			errs: []string{`spec.domain.devices.interfaces[1].name: Invalid value: "pxe": no network of this name`,
				`spec.networks[1].name: Invalid value: "pxe-net": no interface of this name`}},
		{name: "duplicate names", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[1].Name = "default"
			v.Spec.Networks[1].Name = "default"
		}, errs: []string{`spec.networks[1].name: Duplicate value: "default"`, `spec.domain.devices.interfaces[1].name: Duplicate value: "default"`},
			warns: []string{"interfaces[1].bridge: bridge binding on the pod network"}},
		{name: "bad interface name", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[1].Name = "pxe net"
			v.Spec.Networks[1].Name = "pxe net"
		}, errs: []string{`spec.networks[1].name: Invalid value: "pxe net": network name can only contain`, `spec.domain.devices.interfaces[1].name: Invalid value: "pxe net": network interface name can only contain`}},
		{name: "no binding", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].Bridge = nil },
			errs: []string{"spec.domain.devices.interfaces[1]: Required value: needs exactly one binding method"}},
		{name: "two bindings", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].SRIOV = &kubevirtv1.InterfaceSRIOV{} },
			errs: []string{`spec.domain.devices.interfaces[1]: Invalid value: "pxe-net": has 2 binding methods`}},
		{name: "masquerade on multus", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[1].Bridge = nil
			devs(v).Interfaces[1].Masquerade = &kubevirtv1.InterfaceMasquerade{}
		}, errs: []string{"spec.domain.devices.interfaces[1].masquerade: Invalid value: \"pxe-net\": masquerade binding is only implemented with the pod network"}},
		{name: "sriov on pod network", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[0].Masquerade = nil
			devs(v).Interfaces[0].SRIOV = &kubevirtv1.InterfaceSRIOV{}
		}, errs: []string{"spec.domain.devices.interfaces[0].sriov: Invalid value: \"default\": sriov binding needs a multus network"}},
		{name: "bridge on the pod network warns", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[0].Masquerade = nil
			devs(v).Interfaces[0].Bridge = &kubevirtv1.InterfaceBridge{}
		}, warns: []string{"spec.domain.devices.interfaces[0].bridge: bridge binding on the pod network"}},
		{name: "two pod networks", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Networks[1].Multus = nil
			v.Spec.Networks[1].Pod = &kubevirtv1.PodNetwork{}
		}, errs: []string{"spec.networks: Too many: 2: more than one pod network"}, warns: []string{"interfaces[1].bridge: bridge binding on the pod network"}},
		{name: "network with two sources", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Spec.Networks[1].Pod = &kubevirtv1.PodNetwork{} },
			errs:  []string{`spec.networks[1]: Invalid value: "pxe-net": must have exactly one network source`, "spec.networks: Too many"},
			warns: []string{"interfaces[1].bridge: bridge binding on the pod network"}},
		{name: "multus without networkName", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Spec.Networks[1].Multus.NetworkName = "" },
			errs: []string{"spec.networks[1].multus.networkName: Required value"}},
		{name: "multus networkName with namespace", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Networks[1].Multus.NetworkName = "lab/pxe-net-conf"
		}},
		{name: "bad multus networkName", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Spec.Networks[1].Multus.NetworkName = "<pxe-net-conf>" },
			errs: []string{`spec.networks[1].multus.networkName: Invalid value: "<pxe-net-conf>"`}},
		{name: "unsupported model", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].Model = "virtio-net" },
			errs: []string{`spec.domain.devices.interfaces[1].model: Unsupported value: "virtio-net"`}},
		{name: "bad PCI address", mutate: func(v *kubevirtv1.VirtualMachineInstance) { devs(v).Interfaces[1].PciAddress = "07:00.0" },
			errs: []string{`spec.domain.devices.interfaces[1].pciAddress: Invalid value: "07:00.0"`}},
		{name: "removed binding", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[0].Masquerade = nil
			devs(v).Interfaces[0].DeprecatedSlirp = &kubevirtv1.DeprecatedInterfaceSlirp{}
		}, errs: []string{"spec.domain.devices.interfaces[0]: Forbidden: slirp, macvtap and passt bindings were removed"}},
		// Ports.
		{name: "valid ports", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[0].Ports = []kubevirtv1.Port{{Port: 22}, {Name: "http", Port: 80, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}, {Port: 65535}}
		}},
		{name: "port rules", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[0].Ports = []kubevirtv1.Port{{}, {Port: 65536}, {Port: -1}, {Port: 80, Protocol: "SCTP"}, {Name: "web", Port: 81}, {Name: "web", Port: 82}, {Name: "Web_1", Port: 83}}
		}, errs: []string{
			"spec.domain.devices.interfaces[0].ports[0].port: Required value: port field is mandatory",
			"spec.domain.devices.interfaces[0].ports[1].port: Invalid value: 65536: must be in range 0 < port < 65536",
			"spec.domain.devices.interfaces[0].ports[2].port: Invalid value: -1",
			`spec.domain.devices.interfaces[0].ports[3].protocol: Unsupported value: "SCTP"`,
			`spec.domain.devices.interfaces[0].ports[5].name: Duplicate value: "web"`,
			`spec.domain.devices.interfaces[0].ports[6].name: Invalid value: "Web_1"`,
		}},
		{name: "libvirt's reserved ports warn", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[0].Ports = []kubevirtv1.Port{{Port: 49152}, {Port: 49153}, {Port: 49154}}
		}, warns: []string{"ports[0].port: port 49152 is reserved by libvirt", "ports[1].port: port 49153 is reserved by libvirt"}},
		{name: "ports on a bridge NIC warn", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			devs(v).Interfaces[1].Ports = []kubevirtv1.Port{{Port: 80}}
		}, warns: []string{"spec.domain.devices.interfaces[1].ports: ports are only used on the pod network"}},
		// Memory, hugepages, CPU.
		{name: "hugepages fit", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.Memory = &kubevirtv1.Memory{Hugepages: &kubevirtv1.Hugepages{PageSize: "2Mi"}}
			v.Spec.Domain.Resources.Requests[k8sv1.ResourceMemory] = resource.MustParse("1Gi")
		}},
		{name: "hugepages: memory not a multiple", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.Memory = &kubevirtv1.Memory{Hugepages: &kubevirtv1.Hugepages{PageSize: "1Gi"}}
			v.Spec.Domain.Resources.Requests[k8sv1.ResourceMemory] = resource.MustParse("1536Mi")
		}, errs: []string{"spec.domain.resources.requests.memory: Invalid value: 1610612736: is not a multiple of the hugepages page size 1Gi"}},
		{name: "hugepages: memory below page size (documentation's 1024M < 1Gi)", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.Memory = &kubevirtv1.Memory{Hugepages: &kubevirtv1.Hugepages{PageSize: "1Gi"}}
		}, errs: []string{"spec.domain.resources.requests.memory: Invalid value: 1024000000: must be equal to or larger than the hugepages page size 1Gi"}},
		{name: "hugepages sized by guest memory", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			g := resource.MustParse("3Gi")
			v.Spec.Domain.Memory = &kubevirtv1.Memory{Guest: &g, Hugepages: &kubevirtv1.Hugepages{PageSize: "2Gi"}}
			delete(v.Spec.Domain.Resources.Requests, k8sv1.ResourceMemory)
		}, errs: []string{"spec.domain.memory.guest: Invalid value: 3221225472: is not a multiple of the hugepages page size 2Gi"}},
		{name: "hugepages: bad page size", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.Memory = &kubevirtv1.Memory{Hugepages: &kubevirtv1.Hugepages{PageSize: "1 Gi"}}
		}, errs: []string{`spec.domain.memory.hugepages.pageSize: Invalid value: "1 Gi"`}},
		{name: "memory request above limit", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.Resources.Limits = k8sv1.ResourceList{k8sv1.ResourceMemory: resource.MustParse("512M")}
		}, errs: []string{`spec.domain.resources.requests.memory: Invalid value: "1024M": must not exceed the limit 512M`}},
		{name: "isolateEmulatorThread without dedicated CPUs", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.CPU = &kubevirtv1.CPU{IsolateEmulatorThread: true}
		}, errs: []string{"spec.domain.cpu.isolateEmulatorThread: Invalid value: true: isolateEmulatorThread can only be set together with dedicatedCpuPlacement"}},
		{name: "dedicated CPUs need whole, guaranteed CPUs", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.CPU = &kubevirtv1.CPU{DedicatedCPUPlacement: true, IsolateEmulatorThread: true, Sockets: 2}
			v.Spec.Domain.Resources.Requests[k8sv1.ResourceCPU] = resource.MustParse("1500m")
			v.Spec.Domain.Resources.Limits = k8sv1.ResourceList{k8sv1.ResourceCPU: resource.MustParse("2"), k8sv1.ResourceMemory: resource.MustParse("2G")}
		}, errs: []string{
			`spec.domain.resources.requests.cpu: Invalid value: "1500m": must be a whole number of CPUs`,
			`spec.domain.resources.requests.cpu: Invalid value: "1500m": must equal limits.cpu (2)`,
			`spec.domain.resources.requests.memory: Invalid value: "1024M": must equal limits.memory (2G)`,
		}, warns: []string{"spec.domain.cpu.sockets: with dedicated CPUs, one socket"}},
		// Firmware.
		{name: "UEFI secure boot without SMM", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Spec.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{EFI: &kubevirtv1.EFI{}}}
		}, errs: []string{"spec.domain.firmware.bootloader.efi.secureBoot: Invalid value: true: EFI secure boot (the default) needs SMM"},
			warns: []string{"secure boot is on and an interface boots from the network"}},
		{name: "BIOS and UEFI", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			f := false
			v.Spec.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{BIOS: &kubevirtv1.BIOS{}, EFI: &kubevirtv1.EFI{SecureBoot: &f}}}
		}, errs: []string{"spec.domain.firmware.bootloader: Invalid value: \"bios+efi\": set only one of bios and efi"}},
		// Metadata and the rest.
		{name: "names", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.Name = "VMI_PXE"
			v.Namespace = "Lab"
			v.Labels["bad key!"] = "x"
		}, errs: []string{`metadata.name: Invalid value: "VMI_PXE"`, `metadata.namespace: Invalid value: "Lab"`, `metadata.labels: Invalid value: "bad key!"`}},
		{name: "no name", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Name = "" },
			errs: []string{"metadata.name: Required value"}},
		{name: "openshift namespace warns", mutate: func(v *kubevirtv1.VirtualMachineInstance) { v.Namespace = "openshift-cnv" },
			warns: []string{"metadata.namespace: do not create virtual machines in openshift-* namespaces"}},
		{name: "negative grace period", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			n := int64(-1)
			v.Spec.TerminationGracePeriodSeconds = &n
		}, errs: []string{"spec.terminationGracePeriodSeconds: Invalid value: -1"}},
		{name: "wrong kind and version", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			v.APIVersion = "kubevirt.io/v2"
			v.Kind = "VirtualMachine"
		}, errs: []string{`apiVersion: Unsupported value: "kubevirt.io/v2"`, `kind: Unsupported value: "VirtualMachine"`}},
		{name: "too many disks", mutate: func(v *kubevirtv1.VirtualMachineInstance) {
			for range MaxDevices {
				devs(v).Disks = append(devs(v).Disks, kubevirtv1.Disk{})
			}
		}, errs: []string{"spec.domain.devices.disks: Too many: 258: must have at most 256 items"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vmi := baseVMI(t)
			tc.mutate(vmi)
			errs, warns := ValidateVMI(vmi)
			checkRule(t, errs, warns, tc.errs, tc.warns)
		})
	}
}

func TestValidateVMRules(t *testing.T) {
	base := func(t *testing.T) *kubevirtv1.VirtualMachine {
		vm, err := pxeBoot(NewVM("vmi-pxe-boot")).WithAPIVersion(APIVersionV1).Build()
		if err != nil {
			t.Fatal(err)
		}
		return vm
	}
	yes := true
	tests := []struct {
		name        string
		mutate      func(*kubevirtv1.VirtualMachine)
		errs, warns []string
	}{
		{name: "built VM is valid", mutate: func(*kubevirtv1.VirtualMachine) {}},
		{name: "running and runStrategy", mutate: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.Running = &yes },
			errs: []string{"spec.running: Invalid value: true: running and runStrategy are mutually exclusive"}},
		{name: "neither running nor runStrategy", mutate: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.RunStrategy = nil },
			errs: []string{"spec.runStrategy: Required value: one of running or runStrategy must be set"}},
		{name: "running alone is deprecated", mutate: func(vm *kubevirtv1.VirtualMachine) {
			vm.Spec.RunStrategy = nil
			vm.Spec.Running = &yes
		}, warns: []string{"spec.running: spec.running is deprecated"}},
		{name: "unknown runStrategy", mutate: func(vm *kubevirtv1.VirtualMachine) {
			rs := kubevirtv1.VirtualMachineRunStrategy("Sometimes")
			vm.Spec.RunStrategy = &rs
		}, errs: []string{`spec.runStrategy: Unsupported value: "Sometimes": supported values: "Always", "RerunOnFailure", "Manual", "Halted", "Once", "WaitAsReceiver"`}},
		{name: "no template", mutate: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.Template = nil },
			errs: []string{"spec.template: Required value"}},
		{name: "template rules carry the template path", mutate: func(vm *kubevirtv1.VirtualMachine) {
			vm.Spec.Template.Spec.Domain.Devices.Interfaces[1].MacAddress = "zz:00:00:00:00:de"
			vm.Spec.Template.ObjectMeta.Labels = map[string]string{"special": "key 1"}
		}, errs: []string{`spec.template.spec.domain.devices.interfaces[1].macAddress: Invalid value: "zz:00:00:00:00:de"`, `spec.template.metadata.labels: Invalid value: "key 1"`}},
		{name: "dataVolumeTemplates", mutate: func(vm *kubevirtv1.VirtualMachine) {
			vm.Spec.DataVolumeTemplates = []kubevirtv1.DataVolumeTemplateSpec{okDV(), okDV(), okDV()}
			vm.Spec.DataVolumeTemplates[1].Name = "rhel9"
			vm.Spec.DataVolumeTemplates[2].Name = "rhel9"
			vm.Spec.Template.Spec.Volumes = append(vm.Spec.Template.Spec.Volumes,
				kubevirtv1.Volume{Name: "rootdisk", VolumeSource: kubevirtv1.VolumeSource{DataVolume: &kubevirtv1.DataVolumeSource{Name: "rhel9"}}})
			vm.Spec.Template.Spec.Domain.Devices.Disks = append(vm.Spec.Template.Spec.Domain.Devices.Disks, kubevirtv1.Disk{Name: "rootdisk"})
		}, errs: []string{"spec.dataVolumeTemplates[0].metadata.name: Required value", `spec.dataVolumeTemplates[2].metadata.name: Duplicate value: "rhel9"`}},
		{name: "dataVolumeTemplate nothing uses", mutate: func(vm *kubevirtv1.VirtualMachine) {
			vm.Spec.DataVolumeTemplates = []kubevirtv1.DataVolumeTemplateSpec{okDV()}
			vm.Spec.DataVolumeTemplates[0].Name = "orphan"
		}, errs: []string{`spec.dataVolumeTemplates[0].metadata.name: Invalid value: "orphan": no volume in spec.template.spec.volumes references this DataVolume template`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vm := base(t)
			tc.mutate(vm)
			errs, warns := ValidateVM(vm)
			checkRule(t, errs, warns, tc.errs, tc.warns)
		})
	}
}

func TestValidateDispatch(t *testing.T) {
	vmi := baseVMI(t)
	if errs, _ := Validate(*vmi); len(errs) != 0 {
		t.Errorf("Validate(VMI value): %v", errs)
	}
	vm, _ := pxeBoot(NewVM("vmi-pxe-boot")).Build()
	if errs, _ := Validate(vm); len(errs) != 0 {
		t.Errorf("Validate(*VM): %v", errs)
	}
	for _, bad := range []any{nil, "vm", (*kubevirtv1.VirtualMachine)(nil), (*kubevirtv1.VirtualMachineInstance)(nil)} {
		if errs, _ := Validate(bad); len(errs) != 1 {
			t.Errorf("Validate(%T) = %v, want one error", bad, errs)
		}
	}
}
