package dpdk

import (
	"fmt"
	"maps"
	"regexp"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/sriov"
	"github.com/pxekit/pxekit/vmspec"
)

// CRI-O annotations a DPDK VM's virt-launcher pod needs, all set to "disable"
// on the VM template: no load balancing, no CFS quota and no IRQs on the
// pod's dedicated CPUs. They take effect with the PerformanceProfile's
// runtime class.
const (
	AnnotationCPULoadBalancing = "cpu-load-balancing.crio.io"
	AnnotationCPUQuota         = "cpu-quota.crio.io"
	AnnotationIRQLoadBalancing = "irq-load-balancing.crio.io"
)

// CRIOAnnotations are the three CRI-O annotations with value "disable".
func CRIOAnnotations() map[string]string {
	return map[string]string{AnnotationCPULoadBalancing: "disable", AnnotationCPUQuota: "disable", AnnotationIRQLoadBalancing: "disable"}
}

// VMConfig describes the DPDK part of a VirtualMachine (for OpenShift
// Virtualization's rhel-dpdk-vm, see [RHELDPDKVMConfig]).
type VMConfig struct {
	// Cores is the number of vCPU cores (rhel-dpdk-vm: 5); with Threads 2 the
	// VM has 2*Cores vCPUs, all in one socket so they come from one NUMA
	// node.
	Cores uint32
	// Threads per core; 0 means 2, pairs of host hyperthreads.
	Threads uint32
	// HugepageSize backs guest memory: "1Gi" (default) or "2Mi".
	HugepageSize string
	// GuestMemory is spec.domain.memory.guest (rhel-dpdk-vm: "8Gi"); a
	// multiple of HugepageSize.
	GuestMemory string
	// NIC is the SR-IOV interface name (rhel-dpdk-vm: "nic-east").
	NIC string
	// NetworkName is the SR-IOV NetworkAttachmentDefinition (Multus network)
	// name (rhel-dpdk-vm: "dpdk-net"); "namespace/name" works too.
	NetworkName string
	// PCIAddress is the guest PCI address of the VF (rhel-dpdk-vm:
	// "0000:07:00.0"), the address the guest's driverctl override names.
	PCIAddress string
	// NoPodNetwork drops the masquerade interface on the pod network.
	NoPodNetwork bool
}

// The names of OpenShift Virtualization's RHEL DPDK VM (rhel-dpdk-vm): the
// VM, its SR-IOV interface, the network it is on and the VF's guest PCI
// address.
const (
	RHELDPDKVMName      = "rhel-dpdk-vm"
	RHELDPDKNIC         = "nic-east"
	RHELDPDKNetworkName = "dpdk-net"
	RHELDPDKPCIAddress  = "0000:07:00.0"
)

// RHELDPDKVMConfig is OpenShift Virtualization's rhel-dpdk-vm: 5 cores x 2
// threads, 8Gi of 1Gi hugepages, SR-IOV NIC nic-east on dpdk-net at 0000:07:00.0.
func RHELDPDKVMConfig() VMConfig {
	return VMConfig{Cores: 5, Threads: 2, HugepageSize: "1Gi", GuestMemory: "8Gi", NIC: RHELDPDKNIC, NetworkName: RHELDPDKNetworkName, PCIAddress: RHELDPDKPCIAddress}
}

var pciAddressRE = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]$`)

func (c VMConfig) withDefaults() VMConfig {
	if c.Threads == 0 {
		c.Threads = 2
	}
	if c.HugepageSize == "" {
		c.HugepageSize = "1Gi"
	}
	return c
}

// VCPUs is the number of vCPUs the configuration gives the guest.
func (c VMConfig) VCPUs() int {
	c = c.withDefaults()
	return int(c.Cores * c.Threads)
}

// Validate checks the configuration with paths relative to it (cores,
// guestMemory, pciAddress): at least one core, a 1Gi or 2Mi hugepage size
// (empty means 1Gi), guest memory a positive multiple of it, an interface
// and a network name, and a PCI address of the form dddd:bb:ss.f if given.
func (c VMConfig) Validate() field.ErrorList {
	return c.withDefaults().check(func(name string) *field.Path { return field.NewPath(name) })
}

// check validates c (defaults applied) and reports each problem at the path
// at returns for the configuration field's JSON-style name.
func (c VMConfig) check(at func(name string) *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Cores < 1 {
		errs = append(errs, field.Invalid(at("cores"), c.Cores, "must be at least 1"))
	}
	pageOK := c.HugepageSize == "1Gi" || c.HugepageSize == "2Mi"
	if !pageOK {
		errs = append(errs, field.NotSupported(at("hugepageSize"), c.HugepageSize, []string{"1Gi", "2Mi"}))
	}
	mem, err := resource.ParseQuantity(c.GuestMemory)
	page := resource.MustParse("1Gi")
	if c.HugepageSize == "2Mi" {
		page = resource.MustParse("2Mi")
	}
	switch {
	case err != nil:
		errs = append(errs, field.Invalid(at("guestMemory"), c.GuestMemory, err.Error()))
	case pageOK && (mem.Value() <= 0 || mem.Value()%page.Value() != 0):
		errs = append(errs, field.Invalid(at("guestMemory"), c.GuestMemory, "must be a positive multiple of the hugepage size "+c.HugepageSize))
	}
	if c.NIC == "" {
		errs = append(errs, field.Required(at("nic"), "the SR-IOV interface's name"))
	}
	if c.NetworkName == "" {
		errs = append(errs, field.Required(at("networkName"), "the SR-IOV network's NetworkAttachmentDefinition"))
	}
	if c.PCIAddress != "" && !pciAddressRE.MatchString(c.PCIAddress) {
		errs = append(errs, field.Invalid(at("pciAddress"), c.PCIAddress, "must be a PCI address dddd:bb:ss.f"))
	}
	return errs
}

// inVMI returns where each configuration field lands in the VMI spec at sp,
// so that a problem with it is reported there.
func (c VMConfig) inVMI(sp *field.Path) func(name string) *field.Path {
	dp := sp.Child("domain")
	return func(name string) *field.Path {
		switch name {
		case "cores":
			return dp.Child("cpu", "cores")
		case "hugepageSize":
			return dp.Child("memory", "hugepages", "pageSize")
		case "guestMemory":
			return dp.Child("memory", "guest")
		case "nic":
			return dp.Child("devices", "interfaces")
		case "networkName":
			return sp.Child("networks").Key(c.NIC).Child("multus", "networkName")
		case "pciAddress":
			return dp.Child("devices", "interfaces").Key(c.NIC).Child("pciAddress")
		}
		return sp
	}
}

// apply makes the VMI of meta and spec (at path sp) a DPDK one; see ApplyVM.
// An invalid cfg changes nothing.
func apply(meta *metav1.ObjectMeta, spec *kubevirtv1.VirtualMachineInstanceSpec, cfg VMConfig, sp *field.Path) field.ErrorList {
	cfg = cfg.withDefaults()
	if errs := cfg.check(cfg.inVMI(sp)); len(errs) > 0 {
		return errs
	}
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	maps.Copy(meta.Annotations, CRIOAnnotations())
	d := &spec.Domain
	d.CPU = &kubevirtv1.CPU{Sockets: 1, Cores: cfg.Cores, Threads: cfg.Threads, DedicatedCPUPlacement: true, IsolateEmulatorThread: true}
	mem := resource.MustParse(cfg.GuestMemory)
	if d.Memory == nil {
		d.Memory = &kubevirtv1.Memory{}
	}
	d.Memory.Hugepages = &kubevirtv1.Hugepages{PageSize: cfg.HugepageSize}
	d.Memory.Guest = &mem
	d.Devices.NetworkInterfaceMultiQueue = ptr(true)
	d.Devices.Rng = &kubevirtv1.Rng{}
	iface, network := sriov.VMInterface(cfg.NIC, cfg.NetworkName, "", cfg.PCIAddress)
	if !cfg.NoPodNetwork && !hasPodNetwork(spec.Networks) {
		d.Devices.Interfaces = append([]kubevirtv1.Interface{*kubevirtv1.DefaultMasqueradeNetworkInterface()}, d.Devices.Interfaces...)
		spec.Networks = append([]kubevirtv1.Network{*kubevirtv1.DefaultPodNetwork()}, spec.Networks...)
	}
	d.Devices.Interfaces = replaceIface(d.Devices.Interfaces, iface)
	spec.Networks = replaceNetwork(spec.Networks, network)
	// What apply set holds by construction; the VF rules also concern the
	// interfaces the VMI had already (two of them at one PCI address).
	return sriov.ValidateVMSRIOVInterfaces(spec, sp)
}

// ApplyVM makes vm a DPDK VM: it sets the CRI-O annotations on the template,
// one socket of Cores x Threads dedicated vCPUs with an isolated emulator
// thread, guest memory backed by hugepages, network interface multiqueue, a
// virtio RNG, the SR-IOV interface with its guest PCI address and Multus
// network, and the pod network unless cfg.NoPodNetwork or one is there —
// each at its API path (spec.template.spec.domain.devices...,
// spec.template.spec.domain.memory...). An interface or network of the same
// name is replaced. It works on any VM; [WithDPDK] does the same inside a
// vmspec builder. The error lists every problem at its path in vm; an
// invalid cfg leaves vm unchanged.
func ApplyVM(vm *kubevirtv1.VirtualMachine, cfg VMConfig) error {
	if vm == nil {
		return fmt.Errorf("dpdk.ApplyVM: nil VirtualMachine")
	}
	if vm.Spec.Template == nil {
		vm.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
	}
	t := vm.Spec.Template
	return apply(&t.ObjectMeta, &t.Spec, cfg, field.NewPath("spec", "template", "spec")).ToAggregate()
}

func hasPodNetwork(ns []kubevirtv1.Network) bool {
	for _, n := range ns {
		if n.Pod != nil {
			return true
		}
	}
	return false
}

func replaceIface(list []kubevirtv1.Interface, i kubevirtv1.Interface) []kubevirtv1.Interface {
	for k := range list {
		if list[k].Name == i.Name {
			list[k] = i
			return list
		}
	}
	return append(list, i)
}

func replaceNetwork(list []kubevirtv1.Network, n kubevirtv1.Network) []kubevirtv1.Network {
	for k := range list {
		if list[k].Name == n.Name {
			list[k] = n
			return list
		}
	}
	return append(list, n)
}

// WithDPDK is the vmspec option that makes a VM (its template) or VMI a
// DPDK one, with the settings ApplyVM sets on a built VM:
//
//	vm, err := vmspec.NewVM("dpdk-vm").WithPodNetwork().With(dpdk.WithDPDK(cfg)).Build()
//
// Problems in cfg come back from Build at the paths where the values go
// (spec.template.spec.domain.memory.guest), and the option then changes
// nothing.
func WithDPDK(cfg VMConfig) vmspec.Option {
	return func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
		return apply(&vmi.ObjectMeta, &vmi.Spec, cfg, field.NewPath("spec"))
	}
}

// NewVM starts a vmspec builder for a DPDK VirtualMachine called name:
// vmspec.NewVM(name).With(WithDPDK(cfg)), which includes the pod network
// unless cfg.NoPodNetwork. Add a namespace, disks and cloud-init
// (AttachUserData on the built VM) as to any vmspec builder; Build
// validates it with KubeVirt's admission rules.
func NewVM(name string, cfg VMConfig) *vmspec.VMBuilder {
	return vmspec.NewVM(name).With(WithDPDK(cfg))
}

// ValidateDPDKVM checks what a VM needs to run DPDK well, beyond KubeVirt's
// own admission rules: the CRI-O annotations set to "disable", one socket,
// dedicated CPUs with an isolated emulator thread, hugepages of 1Gi or 2Mi
// with guest memory a multiple of the page size, and at least one SR-IOV
// interface that passes sriov.ValidateVMSRIOVInterfaces.
func ValidateDPDKVM(vm *kubevirtv1.VirtualMachine) field.ErrorList {
	var errs field.ErrorList
	tp := field.NewPath("spec", "template")
	if vm == nil || vm.Spec.Template == nil {
		return field.ErrorList{field.Required(tp, "")}
	}
	t := vm.Spec.Template
	ap := tp.Child("metadata", "annotations")
	for k := range CRIOAnnotations() {
		if v := t.ObjectMeta.Annotations[k]; v != "disable" {
			errs = append(errs, field.Invalid(ap.Key(k), v, `must be "disable" on a DPDK VM`))
		}
	}
	dp := tp.Child("spec", "domain")
	d := t.Spec.Domain
	cp := dp.Child("cpu")
	switch {
	case d.CPU == nil:
		errs = append(errs, field.Required(cp, "a DPDK VM needs dedicated CPUs"))
	default:
		if d.CPU.Sockets > 1 {
			errs = append(errs, field.Invalid(cp.Child("sockets"), d.CPU.Sockets, "must be 1 so all vCPUs come from one NUMA node"))
		}
		if !d.CPU.DedicatedCPUPlacement {
			errs = append(errs, field.Required(cp.Child("dedicatedCpuPlacement"), "a DPDK VM needs dedicated CPUs"))
		}
		if d.CPU.IsolateEmulatorThread && !d.CPU.DedicatedCPUPlacement {
			errs = append(errs, field.Invalid(cp.Child("isolateEmulatorThread"), true, "requires dedicatedCpuPlacement"))
		}
	}
	mp := dp.Child("memory")
	if d.Memory == nil || d.Memory.Hugepages == nil {
		errs = append(errs, field.Required(mp.Child("hugepages"), "a DPDK VM's memory must be backed by hugepages"))
	} else {
		ps := d.Memory.Hugepages.PageSize
		if ps != "1Gi" && ps != "2Mi" {
			errs = append(errs, field.NotSupported(mp.Child("hugepages", "pageSize"), ps, []string{"1Gi", "2Mi"}))
		} else {
			page := resource.MustParse(ps)
			var mem *resource.Quantity
			if d.Memory.Guest != nil {
				mem = d.Memory.Guest
			} else if q, ok := d.Resources.Requests["memory"]; ok {
				mem = &q
			}
			if mem == nil {
				errs = append(errs, field.Required(mp.Child("guest"), "hugepages need memory.guest or resources.requests.memory"))
			} else if mem.Value()%page.Value() != 0 {
				errs = append(errs, field.Invalid(mp.Child("guest"), mem.String(), "must be a multiple of the hugepage size "+ps))
			}
		}
	}
	nSRIOV := 0
	for _, iface := range d.Devices.Interfaces {
		if iface.SRIOV != nil {
			nSRIOV++
		}
	}
	errs = append(errs, sriov.ValidateVMSRIOVInterfaces(&t.Spec, tp.Child("spec"))...)
	if nSRIOV == 0 {
		errs = append(errs, field.Required(dp.Child("devices", "interfaces"), "a DPDK VM needs an SR-IOV interface"))
	}
	return errs
}
