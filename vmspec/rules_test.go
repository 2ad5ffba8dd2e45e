package vmspec

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite RULES.md from the rule inventory")

// specMut changes a VMI spec (a VMI's spec or a VM's spec.template.spec).
type specMut func(s *kubevirtv1.VirtualMachineInstanceSpec)

// rule is one check of KubeVirt v1.9.0's admission, with an object it
// accepts and one it refuses, and where it reports the refusal.
type rule struct {
	id       string
	section  string
	upstream string // function (file under pkg/ of kubevirt.io/kubevirt v1.9.0)
	check    string // pxekit's function
	what     string // the rule in words
	// accept and refuse change the valid PXE VMI (or, with vm, the
	// template of the valid PXE VM); vmAccept and vmRefuse change the VM.
	accept, refuse     specMut
	vmAccept, vmRefuse func(*kubevirtv1.VirtualMachine)
	vm                 bool
	gates              []string // enabled for the accepted object
	path               string   // the refusal's field path (VMI paths under spec.)
}

func q(s string) resource.Quantity { return resource.MustParse(s) }
func p[T any](v T) *T              { return &v }

func devs(s *kubevirtv1.VirtualMachineInstanceSpec) *kubevirtv1.Devices { return &s.Domain.Devices }

func cpuOf(s *kubevirtv1.VirtualMachineInstanceSpec) *kubevirtv1.CPU {
	if s.Domain.CPU == nil {
		s.Domain.CPU = &kubevirtv1.CPU{}
	}
	return s.Domain.CPU
}

func memOf(s *kubevirtv1.VirtualMachineInstanceSpec) *kubevirtv1.Memory {
	if s.Domain.Memory == nil {
		s.Domain.Memory = &kubevirtv1.Memory{}
	}
	return s.Domain.Memory
}

func setReq(s *kubevirtv1.VirtualMachineInstanceSpec, name k8sv1.ResourceName, v string) {
	if s.Domain.Resources.Requests == nil {
		s.Domain.Resources.Requests = k8sv1.ResourceList{}
	}
	s.Domain.Resources.Requests[name] = q(v)
}

func setLim(s *kubevirtv1.VirtualMachineInstanceSpec, name k8sv1.ResourceName, v string) {
	if s.Domain.Resources.Limits == nil {
		s.Domain.Resources.Limits = k8sv1.ResourceList{}
	}
	s.Domain.Resources.Limits[name] = q(v)
}

func dedicated(n string) specMut {
	return func(s *kubevirtv1.VirtualMachineInstanceSpec) {
		cpuOf(s).DedicatedCPUPlacement = true
		setReq(s, k8sv1.ResourceCPU, n)
		setLim(s, k8sv1.ResourceCPU, n)
		setLim(s, k8sv1.ResourceMemory, "1024M")
	}
}

func both(ms ...specMut) specMut {
	return func(s *kubevirtv1.VirtualMachineInstanceSpec) {
		for _, m := range ms {
			m(s)
		}
	}
}

func pod(s *kubevirtv1.VirtualMachineInstanceSpec) *kubevirtv1.Interface {
	return &devs(s).Interfaces[0]
}
func pxe(s *kubevirtv1.VirtualMachineInstanceSpec) *kubevirtv1.Interface {
	return &devs(s).Interfaces[1]
}

func addVolume(name string, src kubevirtv1.VolumeSource) specMut {
	return func(s *kubevirtv1.VirtualMachineInstanceSpec) {
		s.Volumes = append(s.Volumes, kubevirtv1.Volume{Name: name, VolumeSource: src})
	}
}

func noCloud(c kubevirtv1.CloudInitNoCloudSource) specMut {
	return func(s *kubevirtv1.VirtualMachineInstanceSpec) {
		s.Volumes[1].CloudInitNoCloud = &c
	}
}

func dvTemplate(mut func(*kubevirtv1.DataVolumeTemplateSpec)) func(*kubevirtv1.VirtualMachine) {
	return func(vm *kubevirtv1.VirtualMachine) {
		dv := okDV()
		dv.Name = "root"
		mut(&dv)
		vm.Spec.DataVolumeTemplates = append(vm.Spec.DataVolumeTemplates, dv)
		s := &vm.Spec.Template.Spec
		s.Volumes = append(s.Volumes, kubevirtv1.Volume{Name: "rootdv", VolumeSource: kubevirtv1.VolumeSource{DataVolume: &kubevirtv1.DataVolumeSource{Name: "root"}}})
	}
}

// rules is the inventory RULES.md is written from.
var rules = []rule{
	// Schema.
	{id: "schema-dns-policy", section: "Schema", upstream: "webhookutils.ValidateSchema (util/webhooks)", check: "schemaSpec", what: "dnsPolicy is one of the schema's values; the schema's errors name fields without list indices and end the check",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.DNSPolicy = "Default" }, refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.DNSPolicy = "Nope" }, path: "spec.dnsPolicy"},
	{id: "schema-pull-policy", section: "Schema", upstream: "webhookutils.ValidateSchema (util/webhooks)", check: "schemaSpec", what: "a containerDisk's imagePullPolicy is Always, IfNotPresent or Never",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Volumes[0].ContainerDisk.ImagePullPolicy = "Never" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Volumes[0].ContainerDisk.ImagePullPolicy = "Sometimes"
		}, path: "spec.volumes.containerDisk.imagePullPolicy"},
	{id: "schema-template", section: "Schema", vm: true, upstream: "webhookutils.ValidateSchema (util/webhooks); ValidateVirtualMachineSpec (virt-api/webhooks/validating-webhook/admitters/vms-admitter.go)", check: "ValidateVM", what: "a VM has a template",
		vmAccept: func(*kubevirtv1.VirtualMachine) {}, vmRefuse: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.Template = nil }, path: "spec.template"},
	{id: "schema-dv-access-mode", section: "Schema", vm: true, upstream: "webhookutils.ValidateSchema (util/webhooks)", check: "schemaVM", what: "a dataVolumeTemplate's access modes are the schema's",
		vmAccept: dvTemplate(func(dv *kubevirtv1.DataVolumeTemplateSpec) {
			dv.Spec.Storage.AccessModes = []k8sv1.PersistentVolumeAccessMode{k8sv1.ReadWriteMany}
		}),
		vmRefuse: dvTemplate(func(dv *kubevirtv1.DataVolumeTemplateSpec) {
			dv.Spec.Storage.AccessModes = []k8sv1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
		}), path: "spec.dataVolumeTemplates.spec.storage.accessModes"},
	{id: "schema-max-items", section: "Schema", upstream: "CRD schema maxItems (virt-operator/resource/generate/components/validations_generated.go)", check: "limits", what: "at most 256 disks, interfaces, volumes and networks",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			for i := range MaxDevices {
				s.Networks = append(s.Networks, kubevirtv1.Network{Name: fmt.Sprint("n", i)})
			}
		}, path: "spec.networks"},

	// Network admitter.
	{id: "net-discontinued", section: "Network", upstream: "validateDiscontinuedBindings (network/admitter/discontinued.go)", check: "discontinuedBindings", what: "no slirp, passt (the old binding) or macvtap; a VM's are reported under spec., not spec.template.spec.",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).Bridge, pxe(s).DeprecatedMacvtap = nil, &kubevirtv1.DeprecatedInterfaceMacvtap{}
		}, path: "spec.domain.devices.interfaces[1].macvtap"},
	{id: "net-single-pod", section: "Network", upstream: "validateSinglePodNetwork (network/admitter/netsource.go)", check: "networks", what: "at most one pod network (reported at spec.interfaces)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Networks[1].Multus, s.Networks[1].Pod = nil, &kubevirtv1.PodNetwork{}
		}, path: "spec.interfaces"},
	{id: "net-multus-default", section: "Network", upstream: "validateSinglePodNetwork (network/admitter/netsource.go)", check: "networks", what: "no default Multus network beside the pod network; at most one default",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks[1].Multus.Default = true }, path: "spec.networks"},
	{id: "net-source", section: "Network", upstream: "validateSingleNetworkSource (network/admitter/netsource.go)", check: "networks", what: "exactly one of pod, multus and resourceClaim",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks[1].Pod = &kubevirtv1.PodNetwork{} }, path: "spec.networks[1]"},
	{id: "net-multus-name", section: "Network", upstream: "validateMultusNetworkSource (network/admitter/netsource.go)", check: "networks", what: "a Multus network names its NAD (only the first offender is reported)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks[1].Multus.NetworkName = "lab/pxe-net-conf" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks[1].Multus.NetworkName = "" }, path: "spec.networks[1]"},
	{id: "net-state", section: "Network", upstream: "validateInterfaceStateValue (network/admitter/admit.go)", check: "networks", what: "state is absent, down or up; not down/up on SR-IOV; absent only with bridge and not on the default network",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).State = kubevirtv1.InterfaceStateAbsent },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pod(s).State = kubevirtv1.InterfaceStateAbsent }, path: "spec.domain.devices.interfaces[0].state"},
	{id: "net-binding-count", section: "Network", upstream: "validateInterfaceBindingExists (network/admitter/binding.go)", check: "networks", what: "exactly one binding method or binding plugin",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).Bridge, pxe(s).Binding = nil, &kubevirtv1.PluginBinding{Name: "l2bridge"}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).Bridge = nil }, path: "spec.domain.devices.interfaces[1]"},
	{id: "net-masquerade", section: "Network", upstream: "validateMasqueradeBinding (network/admitter/binding.go)", check: "networks", what: "masquerade only on the pod network (reported at the name), and not with MAC 02:00:00:00:00:00",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pod(s).MacAddress = "02:00:00:00:00:01" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).Bridge, pxe(s).Masquerade = nil, &kubevirtv1.InterfaceMasquerade{}
		}, path: "spec.domain.devices.interfaces[1].name"},
	{id: "net-masquerade-mac", section: "Network", upstream: "validateMasqueradeBinding (network/admitter/binding.go)", check: "networks", what: "masquerade does not take the in-pod bridge's MAC",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).MacAddress = "02:00:00:00:00:00" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pod(s).MacAddress = "02:00:00:00:00:00" }, path: "spec.domain.devices.interfaces[0].macAddress"},
	{id: "net-bridge-pod", section: "Network", upstream: "validateBridgeBinding (network/admitter/binding.go)", check: "networks (a warning in adviseInterface)", what: "bridge on the pod network only if permitBridgeInterfaceOnPodNetwork (true by default: accepted, pxekit warns)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pod(s).Masquerade, pod(s).Bridge = nil, &kubevirtv1.InterfaceBridge{}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pod(s).Masquerade, pod(s).Bridge, pod(s).Binding = nil, &kubevirtv1.InterfaceBridge{}, &kubevirtv1.PluginBinding{Name: "x"}
		}, path: "spec.domain.devices.interfaces[0]"},
	{id: "net-passt", section: "Network", upstream: "validatePasstBinding (network/admitter/passt.go)", check: "networks", what: "passtBinding (beta gate PasstBinding) only on the pod network",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pod(s).Masquerade, pod(s).PasstBinding = nil, &kubevirtv1.InterfacePasstBinding{}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).Bridge, pxe(s).PasstBinding = nil, &kubevirtv1.InterfacePasstBinding{}
		}, path: "spec.domain.devices.interfaces[1].name"},
	{id: "net-name-unique", section: "Network", upstream: "validateNetworkNameUnique (network/admitter/netiface.go)", check: "networks", what: "network names are unique",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks = append(s.Networks, s.Networks[1]) }, path: "spec.networks[2].name"},
	{id: "net-dra", section: "Network", upstream: "validateNetworkDevicesWithDRA (network/admitter/dra.go)", check: "draNetworks", what: "resourceClaim networks need the NetworkDevicesWithDRA gate, no Multus beside them, a claim in spec.resourceClaims, unique claim/request pairs, an SR-IOV or plugin interface",
		gates: []string{GateNetworkDevicesWithDRA},
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Networks[1].Multus, s.Networks[1].ResourceClaim = nil, &kubevirtv1.ClaimRequest{ClaimName: "c", RequestName: "r"}
			pxe(s).Bridge, pxe(s).SRIOV = nil, &kubevirtv1.InterfaceSRIOV{}
			pxe(s).BootOrder = nil
			s.Domain.Devices.Disks[0].BootOrder = p(uint(1))
			s.ResourceClaims = []kubevirtv1.VirtualMachineInstanceResourceClaim{{Name: "c"}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Networks[1].Multus, s.Networks[1].ResourceClaim = nil, &kubevirtv1.ClaimRequest{ClaimName: "c", RequestName: "r"}
		}, path: "spec.networks"},
	{id: "net-networks-have-ifaces", section: "Network", upstream: "validateNetworksAssignedToInterfaces (network/admitter/netiface.go)", check: "networks", what: "every network has an interface of its name",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Networks = append(s.Networks, kubevirtv1.Network{Name: "extra", NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: "br1"}}})
		}, path: "spec.networks[2].name"},
	{id: "net-iface-unique", section: "Network", upstream: "validateInterfaceNameUnique (network/admitter/netiface.go)", check: "networks", what: "interface names are unique",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			c := *pxe(s).DeepCopy()
			c.BootOrder = nil
			devs(s).Interfaces = append(devs(s).Interfaces, c)
		}, path: "spec.domain.devices.interfaces[2].name"},
	{id: "net-ifaces-have-networks", section: "Network", upstream: "validateInterfacesAssignedToNetworks (network/admitter/netiface.go)", check: "networks", what: "every interface has a network of its name",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Interfaces = append(devs(s).Interfaces, kubevirtv1.Interface{Name: "orphan", InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}})
		}, path: "spec.domain.devices.interfaces[2].name"},
	{id: "net-iface-name", section: "Network", upstream: "validateInterfaceNameFormat (network/admitter/netiface.go)", check: "interfaceFields", what: "interface names are letters, digits, '-' and '_'",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).Name, s.Networks[1].Name = "PXE_net-1", "PXE_net-1"
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).Name, s.Networks[1].Name = "pxe.net", "pxe.net" }, path: "spec.domain.devices.interfaces[1].name"},
	{id: "net-model", section: "Network", upstream: "validateInterfaceModel (network/admitter/netiface.go)", check: "interfaceFields", what: "model is e1000, e1000e, igb, ne2k_pci, pcnet, rtl8139 or virtio",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).Model = "igb" }, refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).Model = "vmxnet3" }, path: "spec.domain.devices.interfaces[1].model"},
	{id: "net-mac", section: "Network", upstream: "validateMacAddress (network/admitter/netiface.go, network/link/mac.go)", check: "interfaceFields", what: "a MAC address parses (any net.ParseMAC form) and has at most 6 bytes; a multicast one is accepted (pxekit warns)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).MacAddress = "01:00:5e:00:00:01" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).MacAddress = "de:00:00:00:00" }, path: "spec.domain.devices.interfaces[1].macAddress"},
	{id: "net-pci", section: "Network", upstream: "validatePciAddress (network/admitter/netiface.go)", check: "interfaceFields", what: "a PCI address is dddd:bb:ss.f",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).PciAddress = "0000:81:00.1" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).PciAddress = "81:00.1" }, path: "spec.domain.devices.interfaces[1].pciAddress"},
	{id: "net-ports", section: "Network", upstream: "validatePortConfiguration (network/admitter/netiface.go)", check: "interfaceFields", what: "on the pod network only: port in 1-65535, TCP or UDP, port names unique per interface and IANA service names; ports on a Multus NIC are not checked",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pod(s).Ports = []kubevirtv1.Port{{Name: "ssh", Port: 22}}
			pxe(s).Ports = []kubevirtv1.Port{{Name: "ssh", Port: 0}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pod(s).Ports = []kubevirtv1.Port{{Name: "ssh", Port: 22}, {Name: "ssh", Port: 2222}}
		},
		path: "spec.domain.devices.interfaces[0].ports[1].name"},
	{id: "net-port-ranges", section: "Network", upstream: "validatePortRangesConfiguration (network/admitter/netiface.go)", check: "portRanges", what: "portRanges need the PortRangesSpec gate; then masquerade, no ports beside them, at most 10, valid and not overlapping",
		gates: []string{GatePortRangesSpec},
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pod(s).PortRanges = []kubevirtv1.PortRange{{Protocol: "TCP", Start: 1000, End: 2000}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pod(s).PortRanges = []kubevirtv1.PortRange{{Protocol: "TCP", Start: 1000, End: 2000}}
		},
		path: "spec.domain.devices.interfaces[0].name"},
	{id: "net-dhcp", section: "Network", upstream: "validateDHCPOptions (network/admitter/netiface.go)", check: "interfaceFields", what: "NTP servers are IPv4; private options unique and in 224-254 (reported at spec)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).DHCPOptions = &kubevirtv1.DHCPOptions{NTPServers: []string{"192.0.2.123"}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).DHCPOptions = &kubevirtv1.DHCPOptions{PrivateOptions: []kubevirtv1.DHCPPrivateOptions{{Option: 100, Value: "x"}}}
		}, path: "spec"},

	// The spec rules VMs and VMIs share (ValidateVirtualMachineInstanceSpec).
	{id: "spec-hostname", section: "Spec", upstream: "validateHostNameNotConformingToDNSLabelRules, validateSubdomainDNSSubdomainRules (vmi-create-admitter.go)", check: "hostnames", what: "hostname is a DNS label, subdomain a DNS subdomain",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Hostname, s.Subdomain = "node1", "lab.example" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Hostname = "node1.lab" }, path: "spec.hostname"},
	{id: "spec-memory-request", section: "Spec", upstream: "validateMemoryRequestsNegativeOrNull (vmi-create-admitter.go)", check: "memory", what: "the memory request is not negative and, when set, at least 1M",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { setReq(s, k8sv1.ResourceMemory, "1M") },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { setReq(s, k8sv1.ResourceMemory, "512k") }, path: "spec.domain.resources.requests.memory"},
	{id: "spec-memory-limit", section: "Spec", upstream: "validateMemoryLimitsNegativeOrNull (vmi-create-admitter.go)", check: "memory", what: "the memory limit is not negative and not below the request (reported at the request)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { setLim(s, k8sv1.ResourceMemory, "2G") },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { setLim(s, k8sv1.ResourceMemory, "512M") }, path: "spec.domain.resources.requests.memory"},
	{id: "spec-hugepages", section: "Spec", upstream: "validateHugepagesMemoryRequests (vmi-create-admitter.go)", check: "memory", what: "a page size parses; the memory (request, else guest, which the defaults take from the limit, else the limit) is at least one page and a multiple of it (reported at the request); hugepages sized by limits.memory alone are accepted",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			delete(s.Domain.Resources.Requests, k8sv1.ResourceMemory)
			setLim(s, k8sv1.ResourceMemory, "2Gi")
			memOf(s).Hugepages = &kubevirtv1.Hugepages{PageSize: "1Gi"}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			memOf(s).Hugepages = &kubevirtv1.Hugepages{PageSize: "2Mi"}
		}, path: "spec.domain.resources.requests.memory"},
	{id: "spec-reserved-overhead", section: "Spec", upstream: "validateReservedOverheadMemlock (vmi-create-admitter.go)", check: "memory", what: "memory.reservedOverhead needs the ReservedOverheadMemlock gate",
		gates: []string{GateReservedOverheadMemlock},
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			memOf(s).ReservedOverhead = &kubevirtv1.ReservedOverhead{AddedOverhead: p(q("100Mi"))}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			memOf(s).ReservedOverhead = &kubevirtv1.ReservedOverhead{AddedOverhead: p(q("100Mi"))}
		}, path: "spec.domain.memory.reservedOverhead"},
	{id: "spec-guest-limit", section: "Spec", upstream: "validateGuestMemoryLimit (vmi-create-admitter.go)", check: "(off)", what: "guest memory not above the limit: off with v1.9.0's default rollout strategy LiveUpdate, so a guest above the limit is accepted",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			setLim(s, k8sv1.ResourceMemory, "2G")
			memOf(s).Guest = p(q("3G"))
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { setLim(s, k8sv1.ResourceMemory, "-1") }, path: "spec.domain.resources.limits.memory"},
	{id: "spec-machine", section: "Spec", upstream: "validateEmulatedMachine (vmi-create-admitter.go)", check: "machine", what: "the machine type matches the architecture's emulated machines (amd64: q35*, pc-q35*)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Machine = &kubevirtv1.Machine{Type: "pc-q35-rhel9.4.0"}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Machine = &kubevirtv1.Machine{Type: "pc-i440fx-2.12"}
		}, path: "spec.domain.machine.type"},
	{id: "spec-acpi", section: "Spec", upstream: "validateFirmwareACPI (vmi-create-admitter.go)", check: "acpi", what: "firmware.acpi names a SLIC or MSDM secret volume (reported under spec.acpi)",
		accept: both(func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Firmware = &kubevirtv1.Firmware{ACPI: &kubevirtv1.ACPI{SlicNameRef: "slic"}}
		}, addVolume("slic", kubevirtv1.VolumeSource{Secret: &kubevirtv1.SecretVolumeSource{SecretName: "slic"}})),
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Firmware = &kubevirtv1.Firmware{ACPI: &kubevirtv1.ACPI{SlicNameRef: "slic"}}
		}, path: "spec.acpi.slicNameRef"},
	{id: "spec-cpu-resources", section: "Spec", upstream: "validateCPURequestNotNegative, validateCPULimitNotNegative, validateCpuRequestDoesNotExceedLimit (vmi-create-admitter.go)", check: "cpuResources", what: "CPU request and limit not negative; the request not above the limit",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			setReq(s, k8sv1.ResourceCPU, "500m")
			setLim(s, k8sv1.ResourceCPU, "1")
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			setReq(s, k8sv1.ResourceCPU, "2")
			setLim(s, k8sv1.ResourceCPU, "1")
		}, path: "spec.domain.resources.requests.cpu"},
	{id: "spec-dedicated-memory", section: "Spec", upstream: "validateCpuPinning: validateMemoryIsProvided, validateMemoryRequestsAndLimits (vmi-create-admitter.go)", check: "dedicatedCPU", what: "dedicated CPUs: memory given; request equal to limit",
		accept: dedicated("2"),
		refuse: both(dedicated("2"), func(s *kubevirtv1.VirtualMachineInstanceSpec) { setLim(s, k8sv1.ResourceMemory, "2G") }), path: "spec.domain.resources.requests.memory"},
	{id: "spec-dedicated-whole", section: "Spec", upstream: "validateCpuPinning: validateCPURequestIsInteger, validateCPULimitIsInteger (vmi-create-admitter.go)", check: "dedicatedCPU", what: "dedicated CPUs: whole CPU request and limit",
		accept: dedicated("2"), refuse: dedicated("1500m"), path: "spec.domain.resources.requests.cpu"},
	{id: "spec-dedicated-count", section: "Spec", upstream: "validateCpuPinning: validateRequestLimitOrCoresProvided..., validateRequestEqualsLimit..., validateRequestOrLimitWithCoresProvided..., validateThreadCount... (vmi-create-admitter.go)", check: "dedicatedCPU", what: "dedicated CPUs: a CPU count given, request equal to limit, equal to cores × sockets × threads, at most 2 threads (arm64: 1); reported at domain.cpu.dedicatedCpuPlacement",
		accept: both(dedicated("4"), func(s *kubevirtv1.VirtualMachineInstanceSpec) { c := cpuOf(s); c.Cores, c.Sockets, c.Threads = 2, 1, 2 }),
		refuse: both(dedicated("4"), func(s *kubevirtv1.VirtualMachineInstanceSpec) { c := cpuOf(s); c.Cores, c.Sockets, c.Threads = 3, 1, 1 }), path: "spec.domain.cpu.dedicatedCpuPlacement"},
	{id: "spec-isolate-emulator", section: "Spec", upstream: "validateCPUIsolatorThread (vmi-create-admitter.go)", check: "dedicatedCPU", what: "isolateEmulatorThread only with dedicated CPUs",
		accept: both(dedicated("2"), func(s *kubevirtv1.VirtualMachineInstanceSpec) { cpuOf(s).IsolateEmulatorThread = true }),
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { cpuOf(s).IsolateEmulatorThread = true }, path: "spec.domain.cpu.isolateEmulatorThread"},
	{id: "spec-numa", section: "Spec", upstream: "validateNUMA (vmi-create-admitter.go)", check: "numa", what: "NUMA guest mapping passthrough needs dedicated CPUs and hugepages (the NUMA gate is GA)",
		accept: both(dedicated("2"), func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			cpuOf(s).NUMA = &kubevirtv1.NUMA{GuestMappingPassthrough: &kubevirtv1.NUMAGuestMappingPassthrough{}}
			memOf(s).Hugepages = &kubevirtv1.Hugepages{PageSize: "2Mi"}
			setReq(s, k8sv1.ResourceMemory, "1Gi")
			setLim(s, k8sv1.ResourceMemory, "1Gi")
		}),
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			cpuOf(s).NUMA = &kubevirtv1.NUMA{GuestMappingPassthrough: &kubevirtv1.NUMAGuestMappingPassthrough{}}
		}, path: "spec.domain.cpu.numa.guestMappingPassthrough"},
	{id: "spec-cpu-features", section: "Spec", upstream: "validateCPUFeaturePolicies (vmi-create-admitter.go)", check: "cpuFeatures", what: "a CPU feature's policy is force, require, optional, disable or forbid",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			cpuOf(s).Features = []kubevirtv1.CPUFeature{{Name: "vmx", Policy: "require"}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			cpuOf(s).Features = []kubevirtv1.CPUFeature{{Name: "vmx", Policy: "sometimes"}}
		},
		path: "spec.domain.cpu.features[0].policy"},
	{id: "spec-cpu-hotplug", section: "Spec", upstream: "validateCPUHotplug (vmi-create-admitter.go)", check: "cpuFeatures", what: "sockets not above maxSockets",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { c := cpuOf(s); c.Sockets, c.MaxSockets = 2, 4 },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { c := cpuOf(s); c.Sockets, c.MaxSockets = 4, 2 }, path: "spec.domain.cpu.sockets"},
	{id: "spec-start-strategy", section: "Spec", upstream: "validateStartStrategy (vmi-create-admitter.go)", check: "startStrategy", what: "startStrategy is Paused, without a livenessProbe",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.StartStrategy = p(kubevirtv1.StartStrategyPaused) },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.StartStrategy = p(kubevirtv1.StartStrategy("Running"))
		}, path: "spec.startStrategy"},
	{id: "spec-realtime", section: "Spec", upstream: "validateRealtime (vmi-create-admitter.go)", check: "realtime", what: "realtime needs dedicated CPUs and NUMA guest mapping passthrough",
		accept: both(dedicated("2"), func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			cpuOf(s).Realtime = &kubevirtv1.Realtime{}
			cpuOf(s).NUMA = &kubevirtv1.NUMA{GuestMappingPassthrough: &kubevirtv1.NUMAGuestMappingPassthrough{}}
			memOf(s).Hugepages = &kubevirtv1.Hugepages{PageSize: "2Mi"}
			setReq(s, k8sv1.ResourceMemory, "1Gi")
			setLim(s, k8sv1.ResourceMemory, "1Gi")
		}),
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { cpuOf(s).Realtime = &kubevirtv1.Realtime{} }, path: "spec.domain.cpu.dedicatedCpuPlacement"},
	{id: "spec-disk-volume", section: "Spec", upstream: "validateBootOrder (vmi-create-admitter.go)", check: "bootOrder", what: "every disk names a volume; a CD-ROM without one needs DeclarativeHotplugVolumes (beta, on)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks = append(devs(s).Disks, kubevirtv1.Disk{Name: "iso", DiskDevice: kubevirtv1.DiskDevice{CDRom: &kubevirtv1.CDRomTarget{}}})
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks = append(devs(s).Disks, kubevirtv1.Disk{Name: "nothing"})
		},
		path: "spec.domain.devices.disks[2].name"},
	{id: "spec-lun", section: "Spec", upstream: "validateBootOrder (vmi-create-admitter.go)", check: "bootOrder", what: "a LUN is a PVC or DataVolume",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Volumes[1].CloudInitNoCloud, s.Volumes[1].PersistentVolumeClaim = nil, &kubevirtv1.PersistentVolumeClaimVolumeSource{PersistentVolumeClaimVolumeSource: k8sv1.PersistentVolumeClaimVolumeSource{ClaimName: "lun"}}
			devs(s).Disks[1].DiskDevice = kubevirtv1.DiskDevice{LUN: &kubevirtv1.LunTarget{Bus: "scsi"}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[1].DiskDevice = kubevirtv1.DiskDevice{LUN: &kubevirtv1.LunTarget{Bus: "scsi"}}
		}, path: "spec.domain.devices.disks[1].lun"},
	{id: "spec-boot-order", section: "Spec", upstream: "validateBootOrder, validateInterfaceBootOrder (vmi-create-admitter.go)", check: "bootOrder", what: "boot orders unique across disks and interfaces; an interface's is > 0 (reported at spec[i].bootOrder)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks[1].BootOrder = p(uint(3)) },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { pxe(s).BootOrder = p(uint(0)) }, path: "spec[1].bootOrder"},
	{id: "spec-boot-order-dup", section: "Spec", upstream: "validateBootOrder (vmi-create-admitter.go)", check: "bootOrder", what: "a boot order used twice is reported at the later device",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks[1].BootOrder = p(uint(1)) }, path: "spec.domain.devices.interfaces[1].bootOrder"},
	{id: "spec-inputs", section: "Spec", upstream: "validateInputDevices (vmi-create-admitter.go)", check: "inputs", what: "inputs are tablets on the usb or virtio bus",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Inputs = []kubevirtv1.Input{{Name: "t", Type: "tablet", Bus: "virtio"}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Inputs = []kubevirtv1.Input{{Name: "t", Type: "keyboard"}}
		}, path: "spec.domain.devices.inputs[0].type"},
	{id: "spec-io-threads", section: "Spec", upstream: "validateIOThreadsPolicy (vmi-create-admitter.go)", check: "ioThreads", what: "ioThreadsPolicy is shared, auto or supplementalPool (with a positive count, reported at ioThreads.count)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.IOThreadsPolicy = p(kubevirtv1.IOThreadsPolicyAuto)
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.IOThreadsPolicy = p(kubevirtv1.IOThreadsPolicySupplementalPool)
		}, path: "spec.domain.ioThreads.count"},
	{id: "spec-probes", section: "Spec", upstream: "validateProbe, appendStatusCauseForProbeNotAllowedWithNoPodNetworkPresent (vmi-create-admitter.go)", check: "probes", what: "a probe has exactly one handler; httpGet and tcpSocket need the pod network",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.ReadinessProbe = &kubevirtv1.Probe{Handler: kubevirtv1.Handler{TCPSocket: &k8sv1.TCPSocketAction{Port: intstr.FromInt32(22)}}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.ReadinessProbe = &kubevirtv1.Probe{} }, path: "spec.readinessProbe"},
	{id: "spec-disks", section: "Spec", upstream: "ValidateDisks: validateDiskName, validateDeviceTarget, validateBootOrderValue (storage/admitters/disks.go)", check: "disks", what: "disk names unique; one target at most; boot order > 0",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks[1].CDRom = &kubevirtv1.CDRomTarget{} }, path: "spec.domain.devices.disks[1]"},
	{id: "spec-disk-bus", section: "Spec", upstream: "validateBusSupport (storage/admitters/disks.go)", check: "disks", what: "bus virtio, sata, scsi or usb; no virtio CD-ROM; no read-only sata disk (a VMI's disks without a bus default to sata); dedicated IO threads only on virtio",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[1].Disk = &kubevirtv1.DiskTarget{Bus: "scsi", ReadOnly: true}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[1].Disk = &kubevirtv1.DiskTarget{ReadOnly: true}
		}, path: "spec.domain.devices.disks[1].disk.bus"},
	{id: "spec-disk-pci", section: "Spec", upstream: "validatePciAddress (storage/admitters/disks.go)", check: "disks", what: "a disk PCI address needs virtio and parses (reported under spec.domain.devices.disks.domain.devices.disks.disk[i])",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[1].Disk = &kubevirtv1.DiskTarget{Bus: "virtio", PciAddress: "0000:07:00.0"}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[1].Disk = &kubevirtv1.DiskTarget{Bus: "sata", PciAddress: "0000:07:00.0"}
		},
		path: "spec.domain.devices.disks.domain.devices.disks.disk[1].pciAddress"},
	{id: "spec-disk-serial", section: "Spec", upstream: "validateSerialNumValue, validateSerialNumLength (storage/admitters/disks.go)", check: "disks", what: "a serial is [A-Za-z0-9_.+-], at most 256 characters",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks[1].Serial = "SN-1.2" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks[1].Serial = "SN 1" }, path: "spec.domain.devices.disks[1].serial"},
	{id: "spec-disk-cache-io", section: "Spec", upstream: "validateCacheMode, validateIOMode, validateErrorPolicy (storage/admitters/disks.go)", check: "disks", what: "cache none, writethrough or writeback; io native or threads (reported under the doubled disks path); errorPolicy stop, ignore, report or enospace",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[1].Cache, devs(s).Disks[1].IO = "none", "native"
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks[1].IO = "io_uring" }, path: "spec.domain.devices.disks.domain.devices.disks[1].io"},
	{id: "spec-disk-name", section: "Spec", upstream: "validateDiskNameAsContainerName (storage/admitters/disks.go)", check: "disks", what: "a disk name is a DNS-1123 label (it names a container); also the disks the defaults add for volumes",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Volumes[1].Name, devs(s).Disks[1].Name = "cloud-init", "cloud-init"
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Volumes[1].Name, devs(s).Disks[1].Name = "cloud.init", "cloud.init"
		},
		path: "spec.domain.devices.disks.domain.devices.disks[1].name"},
	{id: "spec-block-size", section: "Spec", upstream: "validateBlockSize (storage/admitters/disks.go)", check: "blockSize", what: "custom block sizes: not with matchVolume, logical ≤ physical, 512 logical on sata, powers of 2 in 512-2097152",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[0].BlockSize = &kubevirtv1.BlockSize{Custom: &kubevirtv1.CustomBlockSize{Logical: 512, Physical: 4096}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).Disks[0].BlockSize = &kubevirtv1.BlockSize{Custom: &kubevirtv1.CustomBlockSize{Logical: 4096, Physical: 512}}
		}, path: "spec.domain.devices.disks[0].blockSize.custom.logical"},
	{id: "spec-firmware", section: "Spec", upstream: "validateBootloader, validateKernelBoot (vmi-create-admitter.go)", check: "firmware", what: "not both bios and efi; kernel boot: args need a container, an image, a kernel or initrd path, absolute",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Firmware = &kubevirtv1.Firmware{KernelBoot: &kubevirtv1.KernelBoot{Container: &kubevirtv1.KernelBootContainer{Image: "k", KernelPath: "/boot/vmlinuz"}}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{BIOS: &kubevirtv1.BIOS{}, EFI: &kubevirtv1.EFI{SecureBoot: p(false)}}}
		}, path: "spec.domain.firmware.bootloader"},
	{id: "spec-secure-boot", section: "Spec", upstream: "validateDomainSpec (vmi-create-admitter.go)", check: "firmware", what: "EFI secure boot (the default with efi) needs SMM, unless TDX (reported at spec.domain)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{EFI: &kubevirtv1.EFI{}}}
			s.Domain.Features = &kubevirtv1.Features{SMM: &kubevirtv1.FeatureState{}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{EFI: &kubevirtv1.EFI{}}}
		}, path: "spec.domain"},
	{id: "spec-volumes", section: "Spec", upstream: "validateVolumes (vmi-create-admitter.go)", check: "volumes", what: "volume names unique; exactly one source; a dataVolume names one (reported at the volume's name); at most one serviceAccount, downwardMetrics and memoryDump volume; configMap, secret and serviceAccount name theirs. A containerDisk without image, an emptyDisk without capacity, a PVC without claim are accepted (pxekit warns)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Volumes[0].ContainerDisk.Image = "" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Volumes[0].EmptyDisk = &kubevirtv1.EmptyDiskSource{Capacity: q("1Gi")}
		}, path: "spec.volumes[0]"},
	{id: "spec-cloud-init", section: "Spec", upstream: "validateVolumes (vmi-create-admitter.go)", check: "cloudInit", what: "cloud-init: one user data and one network data source at most, one at least, base64 that decodes, at most 2048 bytes each (reported at the volume's cloudInitNoCloud)",
		accept: noCloud(kubevirtv1.CloudInitNoCloudSource{UserDataSecretRef: &k8sv1.LocalObjectReference{Name: "ud"}, NetworkData: "version: 2\n"}),
		refuse: noCloud(kubevirtv1.CloudInitNoCloudSource{UserData: strings.Repeat("x", 2049)}), path: "spec.volumes[1].cloudInitNoCloud"},
	{id: "spec-gated-volumes", section: "Spec", upstream: "validateVolumes (vmi-create-admitter.go)", check: "volumes", what: "hostDisk needs the HostDisk gate, a path, type Disk or DiskOrCreate (capacity only with DiskOrCreate); downwardMetrics the DownwardMetrics gate",
		gates:  []string{GateHostDisk},
		accept: addVolume("data", kubevirtv1.VolumeSource{HostDisk: &kubevirtv1.HostDisk{Path: "/data/disk.img", Type: kubevirtv1.HostDiskExistsOrCreate, Capacity: q("1Gi")}}),
		refuse: addVolume("data", kubevirtv1.VolumeSource{HostDisk: &kubevirtv1.HostDisk{Path: "/data/disk.img", Type: kubevirtv1.HostDiskExists}}), path: "spec.volumes[2]"},
	{id: "spec-container-disk-path", section: "Spec", upstream: "ValidateContainerDisks, ValidatePath (storage/admitters/disks.go)", check: "containerDiskPaths", what: "a containerDisk path is absolute, not /, without relative parts (reported at the containerDisk)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Volumes[0].ContainerDisk.Path = "/disk/disk.img" },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Volumes[0].ContainerDisk.Path = "disk.img" }, path: "spec.volumes[0].containerDisk"},
	{id: "spec-utility-volumes", section: "Spec", upstream: "ValidateUtilityVolumesNotPresentOnCreation (storage/admitters/storagehotplug.go)", check: "spec", what: "no utilityVolumes on creation",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.UtilityVolumes = []kubevirtv1.UtilityVolume{{Name: "u", PersistentVolumeClaimVolumeSource: k8sv1.PersistentVolumeClaimVolumeSource{ClaimName: "u"}}}
		}, path: "spec.utilityVolumes"},
	{id: "spec-access-credentials", section: "Spec", upstream: "validateAccessCredentials (vmi-create-admitter.go)", check: "accessCredentials", what: "one credential type, one source, one propagation method (noCloud and configDrive need their volume, qemuGuestAgent a user)",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.AccessCredentials = []kubevirtv1.AccessCredential{{SSHPublicKey: &kubevirtv1.SSHPublicKeyAccessCredential{
				Source:            kubevirtv1.SSHPublicKeyAccessCredentialSource{Secret: &kubevirtv1.AccessCredentialSecretSource{SecretName: "keys"}},
				PropagationMethod: kubevirtv1.SSHPublicKeyAccessCredentialPropagationMethod{NoCloud: &kubevirtv1.NoCloudSSHPublicKeyAccessCredentialPropagation{}}}}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.AccessCredentials = []kubevirtv1.AccessCredential{{SSHPublicKey: &kubevirtv1.SSHPublicKeyAccessCredential{
				Source:            kubevirtv1.SSHPublicKeyAccessCredentialSource{Secret: &kubevirtv1.AccessCredentialSecretSource{SecretName: "keys"}},
				PropagationMethod: kubevirtv1.SSHPublicKeyAccessCredentialPropagationMethod{ConfigDrive: &kubevirtv1.ConfigDriveSSHPublicKeyAccessCredentialPropagation{}}}}}
		}, path: "spec.accessCredentials[0].sshPublicKey.propagationMethod"},
	{id: "spec-dns", section: "Spec", upstream: "validateDNSPolicy, validatePodDNSConfig (vmi-create-admitter.go)", check: "dns", what: "dnsPolicy None needs a dnsConfig with a nameserver; at most 3 nameservers (IPs), 6 search domains (DNS subdomains, 256 characters); options named; reported at nameservers, searchDomains, options",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.DNSPolicy, s.DNSConfig = "None", &k8sv1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.DNSPolicy, s.DNSConfig = "None", &k8sv1.PodDNSConfig{}
		}, path: "nameservers"},
	{id: "spec-eviction", section: "Spec", upstream: "validateLiveMigration (vmi-create-admitter.go)", check: "evictionStrategy", what: "evictionStrategy is LiveMigrate, LiveMigrateIfPossible, None or External",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.EvictionStrategy = p(kubevirtv1.EvictionStrategyExternal)
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.EvictionStrategy = p(kubevirtv1.EvictionStrategy("Sometimes"))
		}, path: "spec.evictionStrategy"},
	{id: "spec-gated-devices", section: "Spec", upstream: "validateMDEVRamFB, validateHostDevicesWithPassthroughEnabled, validateSoundDevices, validateVSOCK, validateDownwardMetrics, validateFilesystemsWithVirtIOFSEnabled, validateVideoConfig, validateRebootPolicy (vmi-create-admitter.go)", check: "devicesGated", what: "one ramfb GPU display; hostDevices (HostDevices gate, reported at spec.HostDevices); sound ich9 or ac97 with a name (spec.Sound); VSOCK, downwardMetrics, virtiofs on PVCs and rebootPolicy (RebootPolicy, beta) need their gates; video needs a graphics device (spec.video)",
		gates: []string{GateHostDevices},
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).HostDevices = []kubevirtv1.HostDevice{{Name: "gpu", DeviceName: "nvidia.com/GP100"}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).HostDevices = []kubevirtv1.HostDevice{{Name: "gpu", DeviceName: "nvidia.com/GP100"}}
		},
		path: "spec.HostDevices"},
	{id: "spec-launch-security", section: "Spec", upstream: "validateLaunchSecurity, ValidateLaunchSecurityAmd64 (virt-api/webhooks/amd64.go)", check: "launchSecurity", what: "one of sev, snp, tdx with its gate (SEV beta), EFI without secure boot (SEV, SNP), without persistent EFI (SNP, TDX), no SMM (TDX), attestation with startStrategy Paused, no NIC that boots",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			pxe(s).BootOrder = nil
			s.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{EFI: &kubevirtv1.EFI{SecureBoot: p(false)}}}
			s.Domain.LaunchSecurity = &kubevirtv1.LaunchSecurity{SEV: &kubevirtv1.SEV{}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Firmware = &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{EFI: &kubevirtv1.EFI{SecureBoot: p(false)}}}
			s.Domain.LaunchSecurity = &kubevirtv1.LaunchSecurity{SEV: &kubevirtv1.SEV{}}
		}, path: "spec.launchSecurity"},
	{id: "spec-panic-devices", section: "Spec", upstream: "validatePanicDevices (vmi-create-admitter.go)", check: "panicDevices", what: "panic devices hyperv, isa or pvpanic; none on s390x",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).PanicDevices = []kubevirtv1.PanicDevice{{Model: p(kubevirtv1.Isa)}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			devs(s).PanicDevices = []kubevirtv1.PanicDevice{{Model: p(kubevirtv1.PanicDeviceModel("s390"))}}
		}, path: "spec.domain.devices.panicDevices[0].model"},
	{id: "spec-service-account", section: "Spec", upstream: "validateServiceAccountName (vmi-create-admitter.go)", check: "serviceAccount", what: "serviceAccountName is a DNS subdomain and the serviceAccount volume's",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.ServiceAccountName = "builder" },
		refuse: both(func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.ServiceAccountName = "builder" },
			addVolume("sa", kubevirtv1.VolumeSource{ServiceAccount: &kubevirtv1.ServiceAccountVolumeSource{ServiceAccountName: "other"}})),
		path: "spec.serviceAccountName"},

	// VMI only.
	{id: "vmi-volume-targets", section: "VMI", upstream: "validateVirtualMachineInstanceSpecVolumeDisks (vmi-create-admitter.go)", check: "volumeTargets", what: "a volume has a disk or filesystem (the defaults add a disk, so a volume without one is accepted); containerPath volumes are filesystems outside /var/run/kubevirt and /var/run/libvirt (reported under spec.domain.volumes)",
		accept: addVolume("extra", kubevirtv1.VolumeSource{EmptyDisk: &kubevirtv1.EmptyDiskSource{Capacity: q("1Gi")}}),
		refuse: addVolume("host", kubevirtv1.VolumeSource{ContainerPath: &kubevirtv1.ContainerPathVolumeSource{Path: "/var/run/kubevirt/x"}}), path: "spec.domain.volumes[2]"},
	{id: "vmi-memory", section: "VMI", upstream: "ValidateVirtualMachineInstanceMandatoryFields (vmi-create-admitter.go)", check: "memoryRequested", what: "some memory is asked for (request, limit, guest or hugepages); reported without a field path",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			delete(s.Domain.Resources.Requests, k8sv1.ResourceMemory)
			memOf(s).Guest = p(q("1Gi"))
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			delete(s.Domain.Resources.Requests, k8sv1.ResourceMemory)
		}, path: "<nil>"},
	{id: "vmi-hyperv", section: "VMI", upstream: "ValidateVirtualMachineInstanceHypervMode (virt-api/webhooks/hyperv.go)", check: "hyperv", what: "hyperv features and hypervPassthrough exclude each other",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Features = &kubevirtv1.Features{HypervPassthrough: &kubevirtv1.HyperVPassthrough{Enabled: p(true)}}
		},
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			s.Domain.Features = &kubevirtv1.Features{HypervPassthrough: &kubevirtv1.HyperVPassthrough{Enabled: p(true)}, Hyperv: &kubevirtv1.FeatureHyperv{}}
		}, path: "spec.domain.features.hyperv"},
	{id: "vmi-arch", section: "VMI", upstream: "ValidateVirtualMachineInstancePerArch, ValidateVirtualMachineInstanceAmd64Setting (virt-api/webhooks/amd64.go)", check: "architecture", what: "architecture amd64, arm64 or s390x; on amd64 the watchdog is i6300esb, video vga, cirrus, virtio, ramfb or bochs",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Video = &kubevirtv1.VideoDevice{Type: "bochs"} },
		refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Video = &kubevirtv1.VideoDevice{Type: "qxl"} }, path: "spec.domain.devices.video.type"},
	{id: "vmi-metadata", section: "VMI", upstream: "ValidateVirtualMachineInstanceMetadata (vmi-create-admitter.go)", check: "templateMetadata", what: "no labels reserved for KubeVirt (kubevirt.io/nodeName, created-by, ...); the ignition and hook sidecar annotations need their gates",
		accept: func(s *kubevirtv1.VirtualMachineInstanceSpec) {}, refuse: func(s *kubevirtv1.VirtualMachineInstanceSpec) {}, path: "metadata.labels"},

	// VM only.
	{id: "vm-run-strategy", section: "VM", vm: true, upstream: "validateRunStrategy (vms-admitter.go)", check: "runStrategy", what: "runStrategy (or the deprecated running) is set, not both (a missing one is reported at spec.running); Always, Halted, Manual, RerunOnFailure or Once; WaitAsReceiver needs the DecentralizedLiveMigration gate",
		gates:    []string{GateDecentralizedLiveMigration},
		vmAccept: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.RunStrategy = p(kubevirtv1.RunStrategyWaitAsReceiver) },
		vmRefuse: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.RunStrategy = p(kubevirtv1.RunStrategyWaitAsReceiver) }, path: "spec.runStrategy"},
	{id: "vm-run-strategy-missing", section: "VM", vm: true, upstream: "validateRunStrategy (vms-admitter.go)", check: "runStrategy", what: "a VM without runStrategy and running is reported at spec.running",
		vmAccept: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.RunStrategy, vm.Spec.Running = nil, p(true) },
		vmRefuse: func(vm *kubevirtv1.VirtualMachine) { vm.Spec.RunStrategy = nil }, path: "spec.running"},
	{id: "vm-dv-template", section: "VM", vm: true, upstream: "ValidateDataVolumeTemplate, validateDataVolume (storage/admitters/data-volume-template.go)", check: "dataVolumeTemplates", what: "a named template with storage or pvc (not both, reported at PVC.Storage); a source, a sourceRef, or a dataSourceRef/dataSource that populates it (not with a source); one source; used by a volume (reported under spec.dataVolumeTemplate, singular)",
		vmAccept: dvTemplate(func(dv *kubevirtv1.DataVolumeTemplateSpec) {
			dv.Spec.SourceRef = nil
			dv.Spec.Storage.DataSourceRef = &k8sv1.TypedObjectReference{APIGroup: p("forklift.konveyor.io"), Kind: "OvirtVolumePopulator", Name: "disk-1"}
		}),
		vmRefuse: dvTemplate(func(dv *kubevirtv1.DataVolumeTemplateSpec) {
			dv.Spec.Storage.DataSourceRef = &k8sv1.TypedObjectReference{Kind: "VolumeSnapshot", Name: "snap"}
		}), path: "spec.dataVolumeTemplate[0].source"},
	{id: "vm-dv-unused", section: "VM", vm: true, upstream: "ValidateDataVolumeTemplate (storage/admitters/data-volume-template.go)", check: "dataVolumeTemplates", what: "a template some volume uses (dataVolume.name or persistentVolumeClaim.claimName)",
		vmAccept: dvTemplate(func(*kubevirtv1.DataVolumeTemplateSpec) {}),
		vmRefuse: func(vm *kubevirtv1.VirtualMachine) {
			dv := okDV()
			dv.Name = "orphan"
			vm.Spec.DataVolumeTemplates = append(vm.Spec.DataVolumeTemplates, dv)
		}, path: "spec.dataVolumeTemplate[0]"},
	{id: "vm-live-update", section: "VM", vm: true, upstream: "validateLiveUpdateFeatures, memory.ValidateLiveUpdateMemory (vms-admitter.go, liveupdate/memory)", check: "liveUpdate", what: "with the LiveUpdate rollout strategy (v1.9.0's default): sockets ≤ maxSockets; maxGuest ≥ guest, both 2Mi-aligned (1Gi with 1Gi pages), guest ≥ 1Gi, amd64, no realtime, NUMA passthrough or launchSecurity (reported at memory.guest)",
		vmAccept: func(vm *kubevirtv1.VirtualMachine) {
			s := &vm.Spec.Template.Spec
			memOf(s).Guest, memOf(s).MaxGuest = p(q("1Gi")), p(q("4Gi"))
		},
		vmRefuse: func(vm *kubevirtv1.VirtualMachine) {
			s := &vm.Spec.Template.Spec
			memOf(s).Guest, memOf(s).MaxGuest = p(q("1Gi")), p(q("512Mi"))
		}, path: "spec.template.spec.domain.memory.guest"},
	{id: "vm-dv-namespace", section: "VM", vm: true, upstream: "validateVirtualMachineDataVolumeTemplateNamespace (storage/admitters/data-volume-template.go)", check: "dataVolumeNamespaces", what: "a dataVolumeTemplate's namespace, if set, is the VM's",
		vmAccept: dvTemplate(func(dv *kubevirtv1.DataVolumeTemplateSpec) { dv.Namespace = "lab" }),
		vmRefuse: dvTemplate(func(dv *kubevirtv1.DataVolumeTemplateSpec) { dv.Namespace = "elsewhere" }), path: "spec.dataVolumeTemplates[0]"},
}

func baseVM(t *testing.T) *kubevirtv1.VirtualMachine {
	t.Helper()
	vm, err := pxeBoot(NewVM("vmi-pxe-boot")).WithNamespace("lab").WithAPIVersion(APIVersionV1).Build()
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// TestRules checks every rule of the inventory with the object it accepts
// and the object it refuses.
func TestRules(t *testing.T) {
	for _, r := range rules {
		t.Run(r.id, func(t *testing.T) {
			for _, refuse := range []bool{false, true} {
				c := Validator{}
				if !refuse {
					c.FeatureGates = r.gates
				}
				var errs []string
				if r.vm || r.vmAccept != nil {
					vm := baseVM(t)
					switch {
					case refuse && r.vmRefuse != nil:
						r.vmRefuse(vm)
					case !refuse && r.vmAccept != nil:
						r.vmAccept(vm)
					case refuse:
						r.refuse(&vm.Spec.Template.Spec)
					default:
						r.accept(&vm.Spec.Template.Spec)
					}
					fe, _ := c.ValidateVM(vm)
					for _, e := range fe {
						errs = append(errs, e.Field+" | "+e.Error())
					}
				} else {
					vmi := baseVMI(t)
					if r.id == "vmi-metadata" && refuse {
						vmi.Labels = map[string]string{kubevirtv1.NodeNameLabel: "node1"}
					}
					if refuse {
						r.refuse(&vmi.Spec)
					} else {
						r.accept(&vmi.Spec)
					}
					fe, _ := c.ValidateVMI(vmi)
					for _, e := range fe {
						errs = append(errs, e.Field+" | "+e.Error())
					}
				}
				if !refuse && len(errs) > 0 {
					t.Errorf("accepted object refused:\n  %s", strings.Join(errs, "\n  "))
				}
				if refuse && !slices.ContainsFunc(errs, func(e string) bool { return strings.HasPrefix(e, r.path+" | ") }) {
					t.Errorf("refused object has no error at %s:\n  %s", r.path, strings.Join(errs, "\n  "))
				}
			}
		})
	}
}

// defaultCase is one of virt-api's defaults with a spec it changes.
type defaultCase struct {
	id, upstream, what string
	in                 specMut
	check              func(*kubevirtv1.VirtualMachineInstanceSpec) bool
}

var defaultCases = []defaultCase{
	{"default-arch-machine", "setDefaultArchitecture, setDefaultMachineType (defaults/defaults.go)", "architecture amd64, machine type q35",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			return s.Architecture == "amd64" && s.Domain.Machine.Type == "q35"
		}},
	{"default-cpu-request", "setDefaultResourceRequests (defaults/defaults.go)", "a CPU request equal to the CPU limit when only the limit is set",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) { setLim(s, k8sv1.ResourceCPU, "2") },
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			return s.Domain.Resources.Requests.Cpu().Value() == 2
		}},
	{"default-guest-memory", "setGuestMemory (defaults/defaults.go)", "domain.memory.guest from the memory request, else the limit, else the hugepages page size",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) {
			delete(s.Domain.Resources.Requests, k8sv1.ResourceMemory)
			setLim(s, k8sv1.ResourceMemory, "2Gi")
		},
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool { return s.Domain.Memory.Guest.Cmp(q("2Gi")) == 0 }},
	{"default-cpu-topology", "SetDefaultGuestCPUTopology (defaults/defaults.go)", "sockets from the CPU limit (else request, else 1), one core, one thread, when no topology is set",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) { setLim(s, k8sv1.ResourceCPU, "3") },
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			c := s.Domain.CPU
			return c.Sockets == 3 && c.Cores == 1 && c.Threads == 1
		}},
	{"default-pull-policy", "setDefaultPullPoliciesOnContainerDisks (defaults/defaults.go)", "containerDisk pull policy Always for :latest or untagged images, else IfNotPresent",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) {},
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			return s.Volumes[0].ContainerDisk.ImagePullPolicy == k8sv1.PullAlways
		}},
	{"default-pod-network", "vmispec.SetDefaultNetworkInterface (network/vmispec/defaults.go)", "the pod network with a bridge interface named default, when there are neither networks nor interfaces",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) { s.Networks, s.Domain.Devices.Interfaces = nil, nil },
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			return len(s.Networks) == 1 && s.Networks[0].Pod != nil && s.Domain.Devices.Interfaces[0].Bridge != nil
		}},
	{"default-volume-disk", "util.SetDefaultVolumeDisk (util/util.go)", "a disk named after every volume without a disk or filesystem",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks = devs(s).Disks[:1] },
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			return len(devs(s).Disks) == 2 && devs(s).Disks[1].Name == "cloudinitdisk"
		}},
	{"default-vmi-disk-bus", "v1.SetObjectDefaults_VirtualMachineInstance, SetAmd64Defaults (defaults/amd64.go)", "VMI only: a disk target for disks without one, sata for buses left empty",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) { devs(s).Disks[1].Disk = nil },
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			return devs(s).Disks[1].Disk.Bus == kubevirtv1.DiskBusSATA
		}},
	{"default-vmi-hotplug", "setupHotplug (defaults/defaults.go)", "VMI only, LiveUpdate rollout: maxSockets four times the sockets (at most 512 vCPUs), maxGuest four times the guest memory",
		func(s *kubevirtv1.VirtualMachineInstanceSpec) { setReq(s, k8sv1.ResourceMemory, "1Gi") },
		func(s *kubevirtv1.VirtualMachineInstanceSpec) bool {
			return s.Domain.CPU.MaxSockets == 4 && s.Domain.Memory.MaxGuest.Cmp(q("4Gi")) == 0
		}},
}

// TestDefaults checks each default virt-api applies before validation.
func TestDefaults(t *testing.T) {
	for _, d := range defaultCases {
		t.Run(d.id, func(t *testing.T) {
			vmi := baseVMI(t)
			d.in(&vmi.Spec)
			DefaultVMI(vmi)
			if !d.check(&vmi.Spec) {
				t.Errorf("%s: not applied; spec after the defaults: %+v", d.what, vmi.Spec.Domain)
			}
		})
	}
}

// TestRuleTable keeps RULES.md the table of the inventory (-update
// rewrites it).
func TestRuleTable(t *testing.T) {
	var b strings.Builder
	b.WriteString(rulesHeader)
	b.WriteString("\n## Defaults (applied first, on a copy)\n\n| default | upstream function | pxekit | test |\n| --- | --- | --- | --- |\n")
	for _, d := range defaultCases {
		fmt.Fprintf(&b, "| %s | `%s` | `DefaultVMISpec`, `DefaultVMI` | `TestDefaults/%s` |\n", d.what, d.upstream, d.id)
	}
	section := ""
	for _, r := range rules {
		if r.section != section {
			section = r.section
			fmt.Fprintf(&b, "\n## %s\n\n| rule | upstream function | pxekit check | field path of the refusal | test |\n| --- | --- | --- | --- | --- |\n", sectionTitles[section])
		}
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | `%s` | `TestRules/%s` |\n", r.what, r.upstream, r.check, r.path, r.id)
	}
	b.WriteString(rulesFooter)
	got := b.String()
	if *update {
		if err := os.WriteFile("RULES.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("RULES.md")
	if err != nil || string(want) != got {
		t.Errorf("RULES.md is not the table of the rule inventory; run go test ./vmspec -run TestRuleTable -update")
	}
}

var sectionTitles = map[string]string{
	"Schema":  "Schema (the webhook's OpenAPI check, first; its errors end the check)",
	"Network": "Network admitter (pkg/network/admitter)",
	"Spec":    "Spec rules VMs and VMIs share (ValidateVirtualMachineInstanceSpec; a VM's under spec.template.spec)",
	"VMI":     "VMI only (VMICreateAdmitter)",
	"VM":      "VM only (VMsAdmitter)",
}

const rulesHeader = `# KubeVirt v1.9.0 admission rules in vmspec

What KubeVirt v1.9.0's API server and admission webhooks check when a
VirtualMachine or VirtualMachineInstance is created, and where vmspec checks
the same: the upstream function (under pkg/ of kubevirt.io/kubevirt v1.9.0;
vmi-create-admitter.go and vms-admitter.go are in
virt-api/webhooks/validating-webhook/admitters),
the pxekit function, the field path the webhook reports a refusal at, and the
test that shows an accepted and a refused object. Written by
` + "`go test ./vmspec -run TestRuleTable -update`" + ` from the inventory in
rules_test.go; internal/kvoracle compares vmspec with the upstream code itself
on generated objects.

Feature gates are those v1.9.0 ships: alpha off, beta on (DeclarativeHotplugVolumes,
PasstBinding, RebootPolicy, WorkloadEncryptionSEV), GA always on;
` + "`vmspec.Validator{FeatureGates: ..., DisabledFeatureGates: ...}`" + ` selects others.
The cluster configuration is the default one (permitBridgeInterfaceOnPodNetwork,
the LiveUpdate rollout strategy, no permitted host devices).

The order: the API server's checks of apiVersion, kind and metadata; the
schema; then, on a copy with the defaults applied, the VMI admitter's rules in
one pass, or the VM admitter's in stages (discontinued bindings; the VM spec
with its template; the dataVolumeTemplates' namespace), where a stage with
errors ends the check as in the webhook.
`

const rulesFooter = `
## Not implemented

- ` + "`validateSpecAffinity`, `validateSpecTopologySpreadConstraints`" + ` (Kubernetes' pod
  affinity and topology spread validation, which KubeVirt copies): pxekit checks
  only their schema enums (tolerations, whenUnsatisfiable).
- ` + "`draadmitter.ValidateCreation`" + ` (GPUs and host devices from DRA claims) and
  ` + "`validateGraceIOVirtualization`" + ` (needs permitted host devices in the
  KubeVirt CR): not checked.
- ` + "`ValidateVirtualMachineInstanceHypervFeatureDependencies`" + ` and the mutator's
  Hyper-V dependency defaults: only the passthrough exclusion is checked.
- arm64 and s390x per-architecture defaults and rules beyond the disk bus and
  thread count: pxekit's VMs are amd64.
- The schema's required keys: a manifest that leaves out a required key (a
  volume's name) is refused by the schema check at that key; vmspec sees the
  decoded empty value and reports what it breaks instead.
- Instance types and preferences (` + "`instancetype.spec`" + `), VMI presets, and the
  update admitters: objects are checked as created.
- ` + "`featuregate.ValidateFeatureGates`" + ` refuses VMs using discontinued gates'
  features only when the KubeVirt CR still lists such a gate (Passt, Macvtap);
  their bindings are refused anyway.
`
