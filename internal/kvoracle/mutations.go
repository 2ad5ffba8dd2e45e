package kvoracle

import (
	"encoding/base64"
	"strings"

	k8sv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	v1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Mutation changes one field (or one small group of fields that go
// together) of a valid object, to a value the webhook may or may not
// accept. Apply reports false when the object has nothing to change.
type Mutation struct {
	Name  string
	Apply func(g *Gen, o Object) bool
}

func spec(f func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool) func(*Gen, Object) bool {
	return func(g *Gen, o Object) bool { return f(g, o.Spec()) }
}

func vmOnly(f func(g *Gen, vm *v1.VirtualMachine) bool) func(*Gen, Object) bool {
	return func(g *Gen, o Object) bool { return o.VM != nil && f(g, o.VM) }
}

func anyIface(f func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool) func(*Gen, Object) bool {
	return spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
		if len(s.Domain.Devices.Interfaces) == 0 {
			return false
		}
		return f(g, s, &s.Domain.Devices.Interfaces[g.pick(len(s.Domain.Devices.Interfaces))])
	})
}

func anyDisk(f func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool) func(*Gen, Object) bool {
	return spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
		if len(s.Domain.Devices.Disks) == 0 {
			return false
		}
		return f(g, s, &s.Domain.Devices.Disks[g.pick(len(s.Domain.Devices.Disks))])
	})
}

func anyVolume(f func(g *Gen, s *v1.VirtualMachineInstanceSpec, vol *v1.Volume) bool) func(*Gen, Object) bool {
	return spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
		if len(s.Volumes) == 0 {
			return false
		}
		return f(g, s, &s.Volumes[g.pick(len(s.Volumes))])
	})
}

func requests(s *v1.VirtualMachineInstanceSpec) k8sv1.ResourceList {
	if s.Domain.Resources.Requests == nil {
		s.Domain.Resources.Requests = k8sv1.ResourceList{}
	}
	return s.Domain.Resources.Requests
}

func limits(s *v1.VirtualMachineInstanceSpec) k8sv1.ResourceList {
	if s.Domain.Resources.Limits == nil {
		s.Domain.Resources.Limits = k8sv1.ResourceList{}
	}
	return s.Domain.Resources.Limits
}

func cpu(s *v1.VirtualMachineInstanceSpec) *v1.CPU {
	if s.Domain.CPU == nil {
		s.Domain.CPU = &v1.CPU{}
	}
	return s.Domain.CPU
}

func memory(s *v1.VirtualMachineInstanceSpec) *v1.Memory {
	if s.Domain.Memory == nil {
		s.Domain.Memory = &v1.Memory{}
	}
	return s.Domain.Memory
}

func firmware(s *v1.VirtualMachineInstanceSpec) *v1.Firmware {
	if s.Domain.Firmware == nil {
		s.Domain.Firmware = &v1.Firmware{}
	}
	return s.Domain.Firmware
}

// Mutations lists every mutation the generator applies.
func Mutations() []Mutation {
	return []Mutation{
		// Metadata.
		{"reserved-label", func(g *Gen, o Object) bool {
			meta(o).Labels = map[string]string{g.oneOf("kubevirt.io/nodeName", "kubevirt.io/created-by", "kubevirt.io/domain", "app"): "x"}
			return true
		}},
		{"ignition-annotation", func(g *Gen, o Object) bool {
			meta(o).Annotations = map[string]string{"kubevirt.io/ignitiondata": `{"ignition":{"version":"3.2.0"}}`}
			return true
		}},
		{"sidecar-annotation", func(g *Gen, o Object) bool {
			meta(o).Annotations = map[string]string{"hooks.kubevirt.io/hookSidecars": `[{"image": "registry.example/hook:v1"}]`}
			return true
		}},
		// Hostname and subdomain.
		{"hostname", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Hostname = g.oneOf("Bad_Host", "host.with.dots", strings.Repeat("a", 64), "ok-host", "-x")
			return true
		})},
		{"subdomain", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Subdomain = g.oneOf("Lab", "lab.example", "under_score", "a..b")
			return true
		})},
		// Memory.
		{"memory-request", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			requests(s)[k8sv1.ResourceMemory] = q(g.oneOf("-1Gi", "0", "512k", "1M", "999999", "3Gi", "1025Mi"))
			return true
		})},
		{"memory-limit", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			limits(s)[k8sv1.ResourceMemory] = q(g.oneOf("-1Gi", "0", "512Mi", "1Gi", "8Gi"))
			return true
		})},
		{"memory-request-only-removed", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			delete(s.Domain.Resources.Requests, k8sv1.ResourceMemory)
			delete(s.Domain.Resources.Limits, k8sv1.ResourceMemory)
			if s.Domain.Memory != nil {
				s.Domain.Memory.Guest = nil
				if g.chance(0.5) {
					s.Domain.Memory.Hugepages = nil
				}
			}
			return true
		})},
		{"guest-memory", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			memory(s).Guest = ptr(q(g.oneOf("1Gi", "3Gi", "16Gi", "100Mi", "1G")))
			return true
		})},
		{"max-guest", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			memory(s).MaxGuest = ptr(q(g.oneOf("8Gi", "1Gi", "100Mi", "3Gi", "4097Mi")))
			return true
		})},
		{"hugepages", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			memory(s).Hugepages = &v1.Hugepages{PageSize: g.oneOf("2Mi", "1Gi", "3Gi", "2M", "bogus", "")}
			return true
		})},
		{"reserved-overhead", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			memory(s).ReservedOverhead = &v1.ReservedOverhead{AddedOverhead: ptr(q("100Mi"))}
			return true
		})},
		// CPU.
		{"cpu-request", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			requests(s)[k8sv1.ResourceCPU] = q(g.oneOf("-1", "0", "100m", "1500m", "2", "3", "8"))
			return true
		})},
		{"cpu-limit", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			limits(s)[k8sv1.ResourceCPU] = q(g.oneOf("-1", "500m", "1", "2", "4"))
			return true
		})},
		{"cpu-topology", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			c := cpu(s)
			c.Cores, c.Sockets, c.Threads = uint32(g.pick(5)), uint32(g.pick(3)), uint32(g.pick(4))
			return true
		})},
		{"max-sockets", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			c := cpu(s)
			c.Sockets, c.MaxSockets = uint32(1+g.pick(4)), uint32(g.pick(4))
			return true
		})},
		{"dedicated-cpu", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			cpu(s).DedicatedCPUPlacement = !cpu(s).DedicatedCPUPlacement
			return true
		})},
		{"isolate-emulator-thread", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			cpu(s).IsolateEmulatorThread = true
			return true
		})},
		{"numa", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			cpu(s).NUMA = &v1.NUMA{GuestMappingPassthrough: &v1.NUMAGuestMappingPassthrough{}}
			return true
		})},
		{"realtime", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			cpu(s).Realtime = &v1.Realtime{}
			return true
		})},
		{"cpu-feature", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			cpu(s).Features = []v1.CPUFeature{{Name: "vmx", Policy: g.oneOf("require", "forbid", "sometimes", "")}}
			return true
		})},
		{"cpu-model", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			cpu(s).Model = g.oneOf("host-passthrough", "host-model", "Skylake-Server")
			return true
		})},
		// Machine, firmware, features.
		{"machine-type", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Machine = &v1.Machine{Type: g.oneOf("pc", "q35", "pc-i440fx-2.12", "virt", "pc-q35-rhel8.6.0", "")}
			return true
		})},
		{"architecture", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Architecture = g.oneOf("amd64", "x86_64", "ppc64le")
			return true
		})},
		{"bios-and-efi", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			firmware(s).Bootloader = &v1.Bootloader{BIOS: &v1.BIOS{}, EFI: &v1.EFI{SecureBoot: ptr(false)}}
			return true
		})},
		{"secure-boot", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			firmware(s).Bootloader = &v1.Bootloader{EFI: &v1.EFI{SecureBoot: []*bool{nil, ptr(true), ptr(false)}[g.pick(3)]}}
			switch g.pick(3) {
			case 0:
				s.Domain.Features = nil
			case 1:
				s.Domain.Features = &v1.Features{SMM: &v1.FeatureState{Enabled: ptr(false)}}
			case 2:
				s.Domain.Features = &v1.Features{SMM: &v1.FeatureState{}}
			}
			return true
		})},
		{"kernel-boot", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			k := &v1.KernelBoot{KernelArgs: g.oneOf("", "console=ttyS0")}
			if g.chance(0.7) {
				k.Container = &v1.KernelBootContainer{Image: g.oneOf("", "registry.example/kernel:6.1"), KernelPath: g.oneOf("", "/boot/vmlinuz", "boot/vmlinuz", "/", "/boot/../vmlinuz"), InitrdPath: g.oneOf("", "/boot/initrd.img")}
			}
			firmware(s).KernelBoot = k
			return true
		})},
		{"acpi", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			firmware(s).ACPI = &v1.ACPI{SlicNameRef: g.oneOf("", "slic", "root-0")}
			if g.chance(0.5) {
				s.Volumes = append(s.Volumes, v1.Volume{Name: "slic", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "slic"}}})
			}
			return true
		})},
		{"hyperv-passthrough", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Features = &v1.Features{HypervPassthrough: &v1.HyperVPassthrough{Enabled: ptr(true)}}
			if g.chance(0.5) {
				s.Domain.Features.Hyperv = &v1.FeatureHyperv{}
			}
			return true
		})},
		{"io-threads", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.IOThreadsPolicy = ptr(v1.IOThreadsPolicy(g.oneOf("shared", "auto", "supplementalPool", "dedicated")))
			if g.chance(0.5) {
				s.Domain.IOThreads = &v1.DiskIOThreads{SupplementalPoolThreadCount: ptr(uint32(g.pick(3)))}
			}
			return true
		})},
		{"reboot-policy", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.RebootPolicy = ptr(v1.RebootPolicy("Terminate"))
			return true
		})},
		// Spec-level fields.
		{"start-strategy", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.StartStrategy = ptr(v1.StartStrategy(g.oneOf("Paused", "Running")))
			if g.chance(0.4) {
				s.LivenessProbe = &v1.Probe{Handler: v1.Handler{Exec: &k8sv1.ExecAction{Command: []string{"true"}}}}
			}
			return true
		})},
		{"eviction-strategy", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.EvictionStrategy = ptr(v1.EvictionStrategy(g.oneOf("LiveMigrate", "Sometimes", "None")))
			return true
		})},
		{"probe", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			p := &v1.Probe{}
			switch g.pick(4) {
			case 0:
				p.HTTPGet = &k8sv1.HTTPGetAction{Port: intstr.FromInt32(80)}
			case 1:
				p.TCPSocket = &k8sv1.TCPSocketAction{Port: intstr.FromInt32(22)}
				p.Exec = &k8sv1.ExecAction{Command: []string{"true"}}
			case 2:
				p.GuestAgentPing = &v1.GuestAgentPing{}
			}
			if g.chance(0.5) {
				s.ReadinessProbe = p
			} else {
				s.LivenessProbe = p
			}
			return true
		})},
		{"dns", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.DNSPolicy = k8sv1.DNSPolicy(g.oneOf("None", "ClusterFirst", "Default", "Nope", ""))
			switch g.pick(4) {
			case 0:
				s.DNSConfig = nil
			case 1:
				s.DNSConfig = &k8sv1.PodDNSConfig{}
			case 2:
				s.DNSConfig = &k8sv1.PodDNSConfig{Nameservers: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}, Searches: []string{"Bad_Domain"}}
			case 3:
				s.DNSConfig = &k8sv1.PodDNSConfig{Nameservers: []string{"not-an-ip"}, Options: []k8sv1.PodDNSConfigOption{{}}}
			}
			return true
		})},
		{"service-account-name", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.ServiceAccountName = g.oneOf("builder", "Bad_SA")
			if g.chance(0.5) {
				s.Volumes = append(s.Volumes, v1.Volume{Name: "sa", VolumeSource: v1.VolumeSource{ServiceAccount: &v1.ServiceAccountVolumeSource{ServiceAccountName: g.oneOf("builder", "other")}}})
			}
			return true
		})},
		{"access-credentials", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			ac := v1.AccessCredential{}
			if g.chance(0.7) {
				k := &v1.SSHPublicKeyAccessCredential{}
				if g.chance(0.7) {
					k.Source.Secret = &v1.AccessCredentialSecretSource{SecretName: "keys"}
				}
				switch g.pick(4) {
				case 0:
					k.PropagationMethod.NoCloud = &v1.NoCloudSSHPublicKeyAccessCredentialPropagation{}
				case 1:
					k.PropagationMethod.QemuGuestAgent = &v1.QemuGuestAgentSSHPublicKeyAccessCredentialPropagation{Users: []string{"fedora"}[:g.pick(2)]}
				case 2:
					k.PropagationMethod.ConfigDrive = &v1.ConfigDriveSSHPublicKeyAccessCredentialPropagation{}
				}
				ac.SSHPublicKey = k
			}
			if g.chance(0.3) {
				ac.UserPassword = &v1.UserPasswordAccessCredential{PropagationMethod: v1.UserPasswordAccessCredentialPropagationMethod{QemuGuestAgent: &v1.QemuGuestAgentUserPasswordAccessCredentialPropagation{}}}
			}
			s.AccessCredentials = []v1.AccessCredential{ac}
			return true
		})},
		{"utility-volumes", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.UtilityVolumes = []v1.UtilityVolume{{Name: "u", PersistentVolumeClaimVolumeSource: k8sv1.PersistentVolumeClaimVolumeSource{ClaimName: "u"}}}
			return true
		})},
		// Devices.
		{"inputs", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.Inputs = []v1.Input{{Name: "in", Bus: v1.InputBus(g.oneOf("usb", "virtio", "ps2", "")), Type: v1.InputType(g.oneOf("tablet", "keyboard", ""))}}
			return true
		})},
		{"watchdog", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			w := &v1.Watchdog{Name: "wd"}
			switch g.pick(3) {
			case 0:
				w.I6300ESB = &v1.I6300ESBWatchdog{}
			case 1:
				w.Diag288 = &v1.Diag288Watchdog{}
			}
			s.Domain.Devices.Watchdog = w
			return true
		})},
		{"sound", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.Sound = &v1.SoundDevice{Name: g.oneOf("audio", ""), Model: g.oneOf("ich9", "ac97", "sb16", "")}
			return true
		})},
		{"video", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.Video = &v1.VideoDevice{Type: g.oneOf("vga", "virtio", "qxl", "bochs")}
			if g.chance(0.3) {
				s.Domain.Devices.AutoattachGraphicsDevice = ptr(false)
			}
			return true
		})},
		{"vsock", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.AutoattachVSOCK = ptr(g.chance(0.7))
			return true
		})},
		{"host-devices", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.HostDevices = []v1.HostDevice{{Name: "gpu", DeviceName: "nvidia.com/GP100"}}
			return true
		})},
		{"downward-metrics-device", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.DownwardMetrics = &v1.DownwardMetrics{}
			return true
		})},
		{"panic-device", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.PanicDevices = []v1.PanicDevice{{Model: ptr(v1.PanicDeviceModel(g.oneOf("isa", "pvpanic", "hyperv", "s390")))}}
			return true
		})},
		// Interfaces and networks.
		{"iface-name", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			old := i.Name
			i.Name = g.oneOf("Bad.Name", "with space", "ok_name-1", "")
			if g.chance(0.7) {
				for k := range s.Networks {
					if s.Networks[k].Name == old {
						s.Networks[k].Name = i.Name
					}
				}
			}
			return true
		})},
		{"iface-duplicate", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			s.Domain.Devices.Interfaces = append(s.Domain.Devices.Interfaces, *i.DeepCopy())
			if g.chance(0.5) {
				for _, n := range s.Networks {
					if n.Name == i.Name {
						s.Networks = append(s.Networks, n)
						break
					}
				}
			}
			return true
		})},
		{"iface-without-network", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.Interfaces = append(s.Domain.Devices.Interfaces, v1.Interface{Name: "orphan", InterfaceBindingMethod: v1.InterfaceBindingMethod{Bridge: &v1.InterfaceBridge{}}})
			return true
		})},
		{"network-without-iface", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Networks = append(s.Networks, v1.Network{Name: "lonely", NetworkSource: v1.NetworkSource{Multus: &v1.MultusNetwork{NetworkName: "br1"}}})
			return true
		})},
		{"binding", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.InterfaceBindingMethod = v1.InterfaceBindingMethod{}
			i.Binding = nil
			switch g.pick(8) {
			case 0:
			case 1:
				i.Masquerade = &v1.InterfaceMasquerade{}
			case 2:
				i.Bridge = &v1.InterfaceBridge{}
				i.Masquerade = &v1.InterfaceMasquerade{}
			case 3:
				i.SRIOV = &v1.InterfaceSRIOV{}
			case 4:
				i.DeprecatedSlirp = &v1.DeprecatedInterfaceSlirp{}
			case 5:
				i.DeprecatedMacvtap = &v1.DeprecatedInterfaceMacvtap{}
			case 6:
				i.PasstBinding = &v1.InterfacePasstBinding{}
			case 7:
				i.Binding = &v1.PluginBinding{Name: "l2bridge"}
			}
			return true
		})},
		{"iface-model", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.Model = g.oneOf("virtio", "e1000", "rtl8139", "vmxnet3", "igb")
			return true
		})},
		{"iface-mac", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.MacAddress = g.oneOf("02:00:00:00:00:00", "de:00:00:00:00", "zz:00:00:00:00:de", "01:00:5e:00:00:01", "02-00-00-00-00-aa", "00:00:00:00:00:00:00:01", "0200.0000.00aa")
			return true
		})},
		{"iface-pci", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.PciAddress = g.oneOf("0000:81:00.1", "81:00.1", "0000:81:00.8", "0x0000:81:00.1")
			return true
		})},
		{"iface-boot-order", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.BootOrder = ptr(uint(g.pick(3)))
			return true
		})},
		{"iface-state", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.State = v1.InterfaceState(g.oneOf("absent", "down", "up", "gone"))
			return true
		})},
		{"iface-ports", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			switch g.pick(6) {
			case 0:
				i.Ports = []v1.Port{{Port: 0}}
			case 1:
				i.Ports = []v1.Port{{Port: 70000}, {Port: -1}}
			case 2:
				i.Ports = []v1.Port{{Name: "web", Port: 80}, {Name: "web", Port: 8080}}
			case 3:
				i.Ports = []v1.Port{{Name: "Web_1", Port: 80}}
			case 4:
				i.Ports = []v1.Port{{Port: 5000, Protocol: "SCTP"}}
			case 5:
				i.Ports = []v1.Port{{Name: "ssh", Port: 22}, {Port: 49152}}
			}
			return true
		})},
		{"iface-port-ranges", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.PortRanges = []v1.PortRange{{Protocol: "TCP", Start: 1000, End: 2000}}
			return true
		})},
		{"iface-dhcp", anyIface(func(g *Gen, s *v1.VirtualMachineInstanceSpec, i *v1.Interface) bool {
			i.DHCPOptions = &v1.DHCPOptions{NTPServers: []string{g.oneOf("192.0.2.1", "2001:db8::1", "ntp")}}
			if g.chance(0.5) {
				i.DHCPOptions.PrivateOptions = []v1.DHCPPrivateOptions{{Option: 240, Value: "a"}, {Option: []int{240, 241, 100}[g.pick(3)], Value: "b"}}
			}
			return true
		})},
		{"second-pod-network", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Networks = append(s.Networks, v1.Network{Name: "pod2", NetworkSource: v1.NetworkSource{Pod: &v1.PodNetwork{}}})
			s.Domain.Devices.Interfaces = append(s.Domain.Devices.Interfaces, v1.Interface{Name: "pod2", InterfaceBindingMethod: v1.InterfaceBindingMethod{Masquerade: &v1.InterfaceMasquerade{}}})
			return true
		})},
		{"multus-default", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			changed := false
			for k := range s.Networks {
				if s.Networks[k].Multus != nil {
					s.Networks[k].Multus.Default = true
					changed = true
				}
			}
			return changed
		})},
		{"network-source", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			if len(s.Networks) == 0 {
				return false
			}
			n := &s.Networks[g.pick(len(s.Networks))]
			switch g.pick(4) {
			case 0:
				n.NetworkSource = v1.NetworkSource{}
			case 1:
				n.NetworkSource = v1.NetworkSource{Pod: &v1.PodNetwork{}, Multus: &v1.MultusNetwork{NetworkName: "x"}}
			case 2:
				n.NetworkSource = v1.NetworkSource{Multus: &v1.MultusNetwork{NetworkName: g.oneOf("", "Bad_NAD", "ns/nad", "a/b/c")}}
			case 3:
				n.NetworkSource = v1.NetworkSource{ResourceClaim: &v1.ClaimRequest{ClaimName: "c", RequestName: "r"}}
			}
			return true
		})},
		{"autoattach-pod-interface", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.AutoattachPodInterface = ptr(g.chance(0.5))
			if g.chance(0.5) {
				s.Networks, s.Domain.Devices.Interfaces = nil, nil
			}
			return true
		})},
		// Disks.
		{"disk-name", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			old := d.Name
			d.Name = g.oneOf("Root", "root.disk", "root_disk", strings.Repeat("d", 64), "other")
			if g.chance(0.6) {
				for k := range s.Volumes {
					if s.Volumes[k].Name == old {
						s.Volumes[k].Name = d.Name
					}
				}
			}
			return true
		})},
		{"disk-duplicate", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			c := d.DeepCopy()
			c.BootOrder = nil
			s.Domain.Devices.Disks = append(s.Domain.Devices.Disks, *c)
			return true
		})},
		{"disk-target", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.DiskDevice = v1.DiskDevice{}
			switch g.pick(5) {
			case 0:
			case 1:
				d.Disk, d.CDRom = &v1.DiskTarget{}, &v1.CDRomTarget{}
			case 2:
				d.LUN = &v1.LunTarget{}
			case 3:
				d.CDRom = &v1.CDRomTarget{Bus: v1.DiskBus(g.oneOf("virtio", "sata", "ide"))}
			case 4:
				d.Disk = &v1.DiskTarget{Bus: v1.DiskBus(g.oneOf("virtio", "sata", "scsi", "usb", "ide", "nvme", "")), ReadOnly: g.chance(0.4)}
			}
			return true
		})},
		{"disk-pci", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.DiskDevice = v1.DiskDevice{Disk: &v1.DiskTarget{Bus: v1.DiskBus(g.oneOf("virtio", "sata", "")), PciAddress: g.oneOf("0000:07:00.0", "7:00.0")}}
			return true
		})},
		{"disk-boot-order", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.BootOrder = ptr(uint(g.pick(3)))
			return true
		})},
		{"disk-serial", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.Serial = g.oneOf("SN 1", "sn-1", strings.Repeat("s", 257), "a/b")
			return true
		})},
		{"disk-cache-io", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.Cache = v1.DriverCache(g.oneOf("none", "unsafe", ""))
			d.IO = v1.DriverIO(g.oneOf("native", "threads", "io_uring", ""))
			return true
		})},
		{"disk-error-policy", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.ErrorPolicy = ptr(v1.DiskErrorPolicy(g.oneOf("stop", "ignore", "report", "enospace", "retry")))
			return true
		})},
		{"disk-dedicated-iothread", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.DedicatedIOThread = ptr(true)
			return true
		})},
		{"disk-block-size", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			sizes := []uint{256, 512, 1000, 4096, 4 << 20}
			d.BlockSize = &v1.BlockSize{Custom: &v1.CustomBlockSize{Logical: sizes[g.pick(len(sizes))], Physical: sizes[g.pick(len(sizes))]}}
			if g.chance(0.2) {
				d.BlockSize.MatchVolume = &v1.FeatureState{}
			}
			return true
		})},
		{"disk-without-volume", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			d := v1.Disk{Name: "nothing"}
			if g.chance(0.5) {
				d.CDRom = &v1.CDRomTarget{Bus: "sata"}
			}
			s.Domain.Devices.Disks = append(s.Domain.Devices.Disks, d)
			return true
		})},
		{"volume-without-disk", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Volumes = append(s.Volumes, v1.Volume{Name: "extra", VolumeSource: v1.VolumeSource{EmptyDisk: &v1.EmptyDiskSource{Capacity: q("1Gi")}}})
			return true
		})},
		// Volumes.
		{"volume-duplicate", anyVolume(func(g *Gen, s *v1.VirtualMachineInstanceSpec, vol *v1.Volume) bool {
			s.Volumes = append(s.Volumes, *vol.DeepCopy())
			return true
		})},
		{"volume-sources", anyVolume(func(g *Gen, s *v1.VirtualMachineInstanceSpec, vol *v1.Volume) bool {
			if g.chance(0.5) {
				vol.VolumeSource = v1.VolumeSource{}
			} else {
				vol.EmptyDisk = &v1.EmptyDiskSource{Capacity: q("1Gi")}
				vol.ContainerDisk = &v1.ContainerDiskSource{Image: "x"}
			}
			return true
		})},
		{"volume-empty-fields", anyVolume(func(g *Gen, s *v1.VirtualMachineInstanceSpec, vol *v1.Volume) bool {
			switch g.pick(5) {
			case 0:
				vol.VolumeSource = v1.VolumeSource{ContainerDisk: &v1.ContainerDiskSource{}}
			case 1:
				vol.VolumeSource = v1.VolumeSource{EmptyDisk: &v1.EmptyDiskSource{}}
			case 2:
				vol.VolumeSource = v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{}}
			case 3:
				vol.VolumeSource = v1.VolumeSource{DataVolume: &v1.DataVolumeSource{}}
			case 4:
				vol.VolumeSource = v1.VolumeSource{Ephemeral: &v1.EphemeralVolumeSource{}}
			}
			return true
		})},
		{"container-disk-path", anyVolume(func(g *Gen, s *v1.VirtualMachineInstanceSpec, vol *v1.Volume) bool {
			vol.VolumeSource = v1.VolumeSource{ContainerDisk: &v1.ContainerDiskSource{Image: "registry.example/disk:1", Path: g.oneOf("/disk.img", "disk.img", "/", "/a/../b", "/disk/")}}
			return true
		})},
		{"cloud-init", anyVolume(func(g *Gen, s *v1.VirtualMachineInstanceSpec, vol *v1.Volume) bool {
			c := &v1.CloudInitNoCloudSource{}
			switch g.pick(7) {
			case 0:
			case 1:
				c.UserData, c.UserDataBase64 = "#cloud-config\n", base64.StdEncoding.EncodeToString([]byte("#cloud-config\n"))
			case 2:
				c.UserDataBase64 = "!!!not base64"
			case 3:
				c.UserData = "#cloud-config\n" + strings.Repeat("x", 2100)
			case 4:
				c.NetworkData = strings.Repeat("n", 2049)
			case 5:
				c.UserDataSecretRef = &k8sv1.LocalObjectReference{}
			case 6:
				c.NetworkData, c.NetworkDataSecretRef = "version: 2\n", &k8sv1.LocalObjectReference{Name: "net"}
			}
			if g.chance(0.3) {
				vol.VolumeSource = v1.VolumeSource{CloudInitConfigDrive: &v1.CloudInitConfigDriveSource{UserData: c.UserData, UserDataBase64: c.UserDataBase64, UserDataSecretRef: c.UserDataSecretRef, NetworkData: c.NetworkData, NetworkDataSecretRef: c.NetworkDataSecretRef}}
			} else {
				vol.VolumeSource = v1.VolumeSource{CloudInitNoCloud: c}
			}
			return true
		})},
		{"gated-volume", anyVolume(func(g *Gen, s *v1.VirtualMachineInstanceSpec, vol *v1.Volume) bool {
			switch g.pick(5) {
			case 0:
				vol.VolumeSource = v1.VolumeSource{HostDisk: &v1.HostDisk{Path: g.oneOf("", "/data/disk.img"), Type: v1.HostDiskType(g.oneOf("Disk", "DiskOrCreate", "File")), Capacity: q(g.oneOf("0", "1Gi"))}}
			case 1:
				vol.VolumeSource = v1.VolumeSource{DownwardMetrics: &v1.DownwardMetricsVolumeSource{}}
			case 2:
				vol.VolumeSource = v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: k8sv1.LocalObjectReference{Name: g.oneOf("", "cm")}}}
			case 3:
				vol.VolumeSource = v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: g.oneOf("", "s")}}
			case 4:
				vol.VolumeSource = v1.VolumeSource{ServiceAccount: &v1.ServiceAccountVolumeSource{ServiceAccountName: g.oneOf("", "default")}}
			}
			return true
		})},
		{"lun-on-container-disk", anyDisk(func(g *Gen, s *v1.VirtualMachineInstanceSpec, d *v1.Disk) bool {
			d.DiskDevice = v1.DiskDevice{LUN: &v1.LunTarget{Bus: "scsi"}}
			return true
		})},
		{"filesystem", spec(func(g *Gen, s *v1.VirtualMachineInstanceSpec) bool {
			s.Domain.Devices.Filesystems = []v1.Filesystem{{Name: "share", Virtiofs: &v1.FilesystemVirtiofs{}}}
			s.Volumes = append(s.Volumes, v1.Volume{Name: "share", VolumeSource: []v1.VolumeSource{
				{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{PersistentVolumeClaimVolumeSource: k8sv1.PersistentVolumeClaimVolumeSource{ClaimName: "share"}}},
				{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: k8sv1.LocalObjectReference{Name: "cm"}}},
			}[g.pick(2)]})
			return true
		})},
		// VM-level fields.
		{"run-strategy", vmOnly(func(g *Gen, vm *v1.VirtualMachine) bool {
			switch g.pick(4) {
			case 0:
				vm.Spec.RunStrategy = ptr(v1.VirtualMachineRunStrategy(g.oneOf("WaitAsReceiver", "Sometimes", "always")))
			case 1:
				vm.Spec.RunStrategy, vm.Spec.Running = nil, nil
			case 2:
				vm.Spec.Running = ptr(true)
			case 3:
				vm.Spec.RunStrategy, vm.Spec.Running = nil, ptr(false)
			}
			return true
		})},
		{"dv-template", vmOnly(func(g *Gen, vm *v1.VirtualMachine) bool {
			dv := v1.DataVolumeTemplateSpec{ObjectMeta: metav1.ObjectMeta{Name: g.oneOf("", "orphan", "root-0-dv")}}
			size := k8sv1.ResourceList{k8sv1.ResourceStorage: q("1Gi")}
			switch g.pick(7) {
			case 0:
			case 1:
				dv.Spec.PVC = &k8sv1.PersistentVolumeClaimSpec{Resources: k8sv1.VolumeResourceRequirements{Requests: size}}
				dv.Spec.Storage = &cdiv1.StorageSpec{}
			case 2:
				dv.Spec.Storage = &cdiv1.StorageSpec{}
			case 3:
				dv.Spec.Storage = &cdiv1.StorageSpec{DataSourceRef: &k8sv1.TypedObjectReference{Kind: "VolumeSnapshot", Name: "snap"}}
				dv.Spec.Source = &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}
			case 4:
				dv.Spec.Storage = &cdiv1.StorageSpec{}
				dv.Spec.Source = &cdiv1.DataVolumeSource{}
			case 5:
				dv.Spec.PVC = &k8sv1.PersistentVolumeClaimSpec{}
				dv.Spec.Source = &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}, HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "http://192.0.2.1/x"}}
			case 6:
				dv.Spec.Storage = &cdiv1.StorageSpec{DataSource: &k8sv1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "golden"}}
			}
			if g.chance(0.3) {
				dv.Namespace = g.oneOf(vm.Namespace, "elsewhere")
			}
			vm.Spec.DataVolumeTemplates = append(vm.Spec.DataVolumeTemplates, dv)
			if g.chance(0.5) && dv.Name != "" {
				s := &vm.Spec.Template.Spec
				s.Volumes = append(s.Volumes, v1.Volume{Name: "dv-" + dv.Name, VolumeSource: v1.VolumeSource{DataVolume: &v1.DataVolumeSource{Name: dv.Name}}})
			}
			return true
		})},
		{"no-template", vmOnly(func(g *Gen, vm *v1.VirtualMachine) bool {
			vm.Spec.Template = nil
			return true
		})},
	}
}

func meta(o Object) *metav1.ObjectMeta {
	if o.VM != nil {
		return &o.VM.Spec.Template.ObjectMeta
	}
	return &o.VMI.ObjectMeta
}
