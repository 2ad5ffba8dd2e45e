package vmspec

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The rules of KubeVirt v1.9.0's ValidateVirtualMachineInstanceSpec, which
// the VMI admitter applies at spec and the VM admitter at
// spec.template.spec, on a spec its defaults were applied to. Every field
// path is the one the webhook reports, also where that path is odd (the
// webhook's quirks are kept so that a tool can match on them); RULES.md
// lists each rule with its upstream function.

// spec applies the shared spec rules in the webhook's order.
func (v *validator) spec(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	v.hostnames(s, p)
	v.memory(s, p)
	v.machine(s, p)
	v.acpi(s, p.Child("acpi"))
	v.cpuResources(s, p)
	v.dedicatedCPU(s, p)
	v.numa(s, p)
	v.cpuFeatures(s, p)
	v.startStrategy(s, p)
	v.realtime(s, p)
	v.bootOrder(s, p)
	v.inputs(s, p)
	v.ioThreads(s, p)
	v.probes(s, p)
	v.disks(s.Domain.Devices.Disks, p.Child("domain", "devices", "disks"))
	v.firmware(&s.Domain, p.Child("domain"))
	v.volumes(s.Volumes, p.Child("volumes"))
	v.containerDiskPaths(s, p)
	if s.UtilityVolumes != nil {
		v.err(field.Invalid(p.Child("utilityVolumes"), len(s.UtilityVolumes), "utility volumes can only be added by hotplug, not on creation"))
	}
	v.accessCredentials(s, p.Child("accessCredentials"))
	v.dns(s, p)
	v.evictionStrategy(s, p)
	v.devicesGated(s, p)
	v.launchSecurity(s, p)
	v.panicDevices(s, p)
	v.serviceAccount(s, p)
}

func (v *validator) hostnames(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if s.Hostname != "" {
		if msgs := k8svalidation.IsDNS1123Label(s.Hostname); len(msgs) > 0 {
			v.err(field.Invalid(p.Child("hostname"), s.Hostname, "does not conform to the DNS label rules: "+strings.Join(msgs, ", ")))
		}
	}
	if s.Subdomain != "" {
		if msgs := k8svalidation.IsDNS1123Subdomain(s.Subdomain); len(msgs) > 0 {
			v.err(field.Invalid(p.Child("subdomain"), s.Subdomain, "does not conform to the DNS subdomain rules: "+strings.Join(msgs, ", ")))
		}
	}
}

var oneMegabyte = resource.MustParse("1M")

// memory checks requests, limits and hugepages. Quantities compare by
// Value(), rounded up to whole bytes, as the webhook compares them.
func (v *validator) memory(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	rp := p.Child("domain", "resources")
	req, lim := s.Domain.Resources.Requests.Memory(), s.Domain.Resources.Limits.Memory()
	switch {
	case req.Value() < 0:
		v.err(field.Invalid(rp.Child("requests", "memory"), req.String(), "must be greater than or equal to 0"))
	case req.Value() > 0 && req.Cmp(oneMegabyte) < 0:
		v.err(field.Invalid(rp.Child("requests", "memory"), req.String(), "must be greater than or equal to 1M"))
	}
	if lim.Value() < 0 {
		v.err(field.Invalid(rp.Child("limits", "memory"), lim.String(), "must be greater than or equal to 0"))
	}
	if lim.Value() > 0 && req.Value() > lim.Value() {
		v.err(field.Invalid(rp.Child("requests", "memory"), req.String(), fmt.Sprintf("is greater than the limit %s", lim.String())))
	}
	m := s.Domain.Memory
	if m != nil && m.Hugepages != nil {
		hp := p.Child("domain", "memory", "hugepages", "pageSize")
		page, err := resource.ParseQuantity(m.Hugepages.PageSize)
		if err != nil {
			v.err(field.Invalid(hp, m.Hugepages.PageSize, resource.ErrFormatWrong.Error()))
		} else {
			// The memory the pages are counted against: the request, else
			// the guest memory (defaulted from the limit), else the limit.
			mem := req.Value()
			if mem == 0 && m.Guest != nil {
				mem = m.Guest.Value()
			}
			if mem == 0 {
				mem = lim.Value()
			}
			rm := rp.Child("requests", "memory")
			switch {
			case page.Value() <= 0:
				// The webhook divides by the page size and fails.
				v.err(field.Invalid(hp, m.Hugepages.PageSize, "must be greater than 0"))
			case mem != 0 && mem < page.Value():
				v.err(field.Invalid(rm, mem, fmt.Sprintf("must be equal to or larger than the hugepages page size %s", m.Hugepages.PageSize)))
			case mem%page.Value() != 0:
				v.err(field.Invalid(rm, mem, fmt.Sprintf("is not a multiple of the hugepages page size %s", m.Hugepages.PageSize)))
			}
		}
	}
	if m != nil && m.ReservedOverhead != nil && !v.gates.Enabled(GateReservedOverheadMemlock) {
		v.err(gateOff(p.Child("domain", "memory", "reservedOverhead"), GateReservedOverheadMemlock))
	}
}

func (v *validator) machine(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	m := s.Domain.Machine
	if m == nil || m.Type == "" {
		return
	}
	patterns, ok := emulatedMachines[s.Architecture]
	if !ok {
		patterns = emulatedMachines[defaultArchitecture]
	}
	for _, pat := range patterns {
		if ok, _ := filepath.Match(pat, m.Type); ok {
			return
		}
	}
	v.err(field.Invalid(p.Child("domain", "machine", "type"), m.Type, fmt.Sprintf("is not supported (allowed values: %v)", patterns)))
}

// acpi checks the ACPI tables a Windows guest reads its license from; p is
// spec.acpi, the path the webhook reports (the field is
// spec.domain.firmware.acpi).
func (v *validator) acpi(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if s.Domain.Firmware == nil || s.Domain.Firmware.ACPI == nil {
		return
	}
	a := s.Domain.Firmware.ACPI
	if a.SlicNameRef == "" && a.MsdmNameRef == "" {
		v.err(field.Invalid(p, "", "ACPI is set but names no SLIC nor MSDM volume"))
		return
	}
	for _, ref := range []struct{ name, child string }{{a.SlicNameRef, "slicNameRef"}, {a.MsdmNameRef, "msdmNameRef"}} {
		if ref.name == "" {
			continue
		}
		i := slices.IndexFunc(s.Volumes, func(vol kubevirtv1.Volume) bool { return vol.Name == ref.name })
		switch {
		case i < 0:
			v.err(field.Invalid(p.Child(ref.child), ref.name, "no volume of this name"))
		case s.Volumes[i].Secret == nil:
			v.err(field.Invalid(p.Child(ref.child), ref.name, "must name a secret volume"))
		}
	}
}

func (v *validator) cpuResources(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	rp := p.Child("domain", "resources")
	req, lim := s.Domain.Resources.Requests.Cpu(), s.Domain.Resources.Limits.Cpu()
	if req.MilliValue() < 0 {
		v.err(field.Invalid(rp.Child("requests", "cpu"), req.String(), "must be greater than or equal to 0"))
	}
	if lim.MilliValue() < 0 {
		v.err(field.Invalid(rp.Child("limits", "cpu"), lim.String(), "must be greater than or equal to 0"))
	}
	if lim.MilliValue() > 0 && req.MilliValue() > lim.MilliValue() {
		v.err(field.Invalid(rp.Child("requests", "cpu"), req.String(), fmt.Sprintf("is greater than the limit %s", lim.String())))
	}
}

// vcpus is cores × sockets × threads, unset factors left out.
func vcpus(c *kubevirtv1.CPU) int64 {
	n := int64(0)
	for _, f := range []uint32{c.Cores, c.Sockets, c.Threads} {
		switch {
		case f == 0:
		case n == 0:
			n = int64(f)
		default:
			n *= int64(f)
		}
	}
	return n
}

// dedicatedCPU checks dedicatedCpuPlacement: whole CPUs, requests equal to
// limits, memory given, a topology that matches the CPU count. Most
// findings are reported at domain.cpu.dedicatedCpuPlacement.
func (v *validator) dedicatedCPU(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	c := s.Domain.CPU
	if c != nil && c.IsolateEmulatorThread && !c.DedicatedCPUPlacement {
		defer v.err(field.Invalid(p.Child("domain", "cpu", "isolateEmulatorThread"), true, "can only be set together with dedicatedCpuPlacement"))
	}
	if c == nil || !c.DedicatedCPUPlacement {
		return
	}
	dp := p.Child("domain", "cpu", "dedicatedCpuPlacement")
	rp := p.Child("domain", "resources")
	r := s.Domain.Resources
	reqCPU, limCPU := r.Requests.Cpu(), r.Limits.Cpu()
	m := s.Domain.Memory
	if r.Limits.Memory().IsZero() && r.Requests.Memory().IsZero() &&
		(m == nil || m.Hugepages == nil && (m.Guest == nil || m.Guest.IsZero())) {
		v.err(field.Required(rp.Child("limits", "memory"), "dedicated CPUs need a memory request or limit, hugepages or domain.memory.guest"))
	}
	if reqCPU.Value() > 0 && reqCPU.Value()*1000 != reqCPU.MilliValue() {
		v.err(field.Invalid(rp.Child("requests", "cpu"), reqCPU.String(), "must be a whole number of CPUs with dedicatedCpuPlacement"))
	}
	if limCPU.Value() > 0 && limCPU.Value()*1000 != limCPU.MilliValue() {
		v.err(field.Invalid(rp.Child("limits", "cpu"), limCPU.String(), "must be a whole number of CPUs with dedicatedCpuPlacement"))
	}
	if rm, lm := r.Requests.Memory().Value(), r.Limits.Memory().Value(); rm > 0 && lm > 0 && rm != lm {
		v.err(field.Invalid(rp.Child("requests", "memory"), r.Requests.Memory().String(), "must equal limits.memory with dedicatedCpuPlacement"))
	}
	n := vcpus(c)
	if reqCPU.Value() == 0 && limCPU.Value() == 0 && n == 0 {
		v.err(field.Invalid(dp, true, "needs a CPU request, a CPU limit or domain.cpu.cores"))
	}
	if reqCPU.Value() > 0 && limCPU.Value() > 0 && reqCPU.Value() != limCPU.Value() {
		v.err(field.Invalid(dp, true, "requests.cpu and limits.cpu must be equal with dedicatedCpuPlacement"))
	}
	if (reqCPU.Value() > 0 || limCPU.Value() > 0) && n > 0 && reqCPU.Value() != n && limCPU.Value() != n {
		v.err(field.Invalid(dp, true, fmt.Sprintf("the CPU request or limit must equal the %d vCPUs of domain.cpu (cores × sockets × threads)", n)))
	}
	if c.Threads > 1 && s.Architecture == "arm64" {
		v.err(field.Invalid(p.Child("architecture"), s.Architecture, "arm64 takes at most 1 thread per core with dedicatedCpuPlacement"))
	}
	if c.Threads > 2 {
		v.err(field.Invalid(dp, true, fmt.Sprintf("takes at most 2 threads per core (domain.cpu.threads is %d)", c.Threads)))
	}
}

func (v *validator) numa(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	c := s.Domain.CPU
	if c == nil || c.NUMA == nil || c.NUMA.GuestMappingPassthrough == nil {
		return
	}
	np := p.Child("domain", "cpu", "numa", "guestMappingPassthrough")
	if !c.DedicatedCPUPlacement {
		v.err(field.Invalid(np, "", "needs domain.cpu.dedicatedCpuPlacement: true"))
	}
	if s.Domain.Memory == nil || s.Domain.Memory.Hugepages == nil {
		v.err(field.Invalid(np, "", "needs domain.memory.hugepages"))
	}
}

var cpuFeaturePolicies = []string{"", "force", "require", "optional", "disable", "forbid"}

func (v *validator) cpuFeatures(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	c := s.Domain.CPU
	if c == nil {
		return
	}
	for i, f := range c.Features {
		if !slices.Contains(cpuFeaturePolicies, f.Policy) {
			v.err(field.NotSupported(p.Child("domain", "cpu", "features").Index(i).Child("policy"), f.Policy, cpuFeaturePolicies[1:]))
		}
	}
	if c.MaxSockets != 0 && c.Sockets > c.MaxSockets {
		v.err(field.Invalid(p.Child("domain", "cpu", "sockets"), c.Sockets, fmt.Sprintf("must not exceed maxSockets (%d)", c.MaxSockets)))
	}
}

func (v *validator) startStrategy(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if s.StartStrategy == nil {
		return
	}
	sp := p.Child("startStrategy")
	switch {
	case *s.StartStrategy != kubevirtv1.StartStrategyPaused:
		v.err(field.NotSupported(sp, *s.StartStrategy, []kubevirtv1.StartStrategy{kubevirtv1.StartStrategyPaused}))
	case s.LivenessProbe != nil:
		v.err(field.Invalid(sp, *s.StartStrategy, "a VMI that starts paused cannot have a livenessProbe"))
	}
}

func (v *validator) realtime(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	c := s.Domain.CPU
	if c == nil || c.Realtime == nil {
		return
	}
	cp := p.Child("domain", "cpu")
	if !c.DedicatedCPUPlacement {
		v.err(field.Required(cp.Child("dedicatedCpuPlacement"), "realtime needs dedicatedCpuPlacement: true"))
	}
	if c.NUMA == nil || c.NUMA.GuestMappingPassthrough == nil {
		v.err(field.Required(cp.Child("numa", "guestMappingPassthrough"), "realtime needs numa.guestMappingPassthrough"))
	}
}

// bootOrder checks that disks name volumes and that boot orders are unique
// across disks and interfaces.
func (v *validator) bootOrder(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	dp := p.Child("domain", "devices", "disks")
	vols := map[string]*kubevirtv1.Volume{}
	for i := range s.Volumes {
		vols[s.Volumes[i].Name] = &s.Volumes[i]
	}
	used := map[uint]bool{}
	for i, d := range s.Domain.Devices.Disks {
		ip := dp.Index(i)
		vol := vols[d.Name]
		switch {
		case vol == nil && d.CDRom == nil:
			v.err(field.Invalid(ip.Child("name"), d.Name, "no volume of this name in spec.volumes"))
		case vol == nil && !v.gates.Enabled(GateDeclarativeHotplugVolumes):
			v.err(field.Invalid(ip.Child("name"), d.Name, "an empty CD-ROM (without a volume) needs the "+GateDeclarativeHotplugVolumes+" feature gate"))
		}
		if d.LUN != nil && vol != nil && vol.PersistentVolumeClaim == nil && vol.DataVolume == nil {
			v.err(field.Invalid(ip.Child("lun"), d.Name, "a LUN can only be backed by a DataVolume or PersistentVolumeClaim volume"))
		}
		if vol != nil && vol.DownwardMetrics != nil {
			switch {
			case d.Disk == nil:
				v.err(field.Required(ip.Child("disk"), "a downwardMetrics volume must be a disk"))
			case d.Disk.Bus != "" && d.Disk.Bus != kubevirtv1.DiskBusVirtio:
				v.err(field.Invalid(ip.Child("disk", "bus"), d.Disk.Bus, "a downwardMetrics volume must be on the virtio bus"))
			}
		}
		if d.BootOrder != nil {
			if used[*d.BootOrder] {
				v.err(field.Invalid(ip.Child("bootOrder"), *d.BootOrder, "boot order already set for another device; boot order is global across disks and interfaces"))
			}
			used[*d.BootOrder] = true
		}
	}
	for i, ifc := range s.Domain.Devices.Interfaces {
		if ifc.BootOrder == nil {
			continue
		}
		if *ifc.BootOrder < 1 {
			// The webhook reports this at spec[i].bootOrder (sic).
			v.err(field.Invalid(p.Index(i).Child("bootOrder"), *ifc.BootOrder, fmt.Sprintf("interface %d must have a boot order > 0, if supplied", i)))
			continue
		}
		if used[*ifc.BootOrder] {
			v.err(field.Invalid(p.Child("domain", "devices", "interfaces").Index(i).Child("bootOrder"), *ifc.BootOrder, "boot order already set for another device; boot order is global across disks and interfaces"))
		}
		used[*ifc.BootOrder] = true
	}
}

func (v *validator) inputs(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	for i, in := range s.Domain.Devices.Inputs {
		ip := p.Child("domain", "devices", "inputs").Index(i)
		if in.Bus != "" && in.Bus != kubevirtv1.InputBusVirtio && in.Bus != kubevirtv1.InputBusUSB {
			v.err(field.NotSupported(ip.Child("bus"), in.Bus, []kubevirtv1.InputBus{kubevirtv1.InputBusVirtio, kubevirtv1.InputBusUSB}))
		}
		if in.Type != kubevirtv1.InputTypeTablet {
			v.err(field.NotSupported(ip.Child("type"), in.Type, []kubevirtv1.InputType{kubevirtv1.InputTypeTablet}))
		}
	}
}

var ioThreadsPolicies = []kubevirtv1.IOThreadsPolicy{kubevirtv1.IOThreadsPolicyShared, kubevirtv1.IOThreadsPolicyAuto, kubevirtv1.IOThreadsPolicySupplementalPool}

func (v *validator) ioThreads(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	pol := s.Domain.IOThreadsPolicy
	if pol == nil {
		return
	}
	if !slices.Contains(ioThreadsPolicies, *pol) {
		v.err(field.NotSupported(p.Child("domain", "ioThreadsPolicy"), *pol, ioThreadsPolicies))
	}
	if *pol == kubevirtv1.IOThreadsPolicySupplementalPool {
		if t := s.Domain.IOThreads; t == nil || t.SupplementalPoolThreadCount == nil || *t.SupplementalPoolThreadCount < 1 {
			// Reported at ioThreads.count, the field is supplementalPoolThreadCount.
			v.err(field.Invalid(p.Child("domain", "ioThreads", "count"), 0, "the supplementalPool policy needs a positive supplementalPoolThreadCount"))
		}
	}
}

func (v *validator) probes(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	pod := slices.ContainsFunc(s.Networks, func(n kubevirtv1.Network) bool { return n.Pod != nil })
	for _, pr := range []struct {
		probe *kubevirtv1.Probe
		path  *field.Path
	}{{s.ReadinessProbe, p.Child("readinessProbe")}, {s.LivenessProbe, p.Child("livenessProbe")}} {
		if pr.probe == nil {
			continue
		}
		h := pr.probe.Handler
		n := btoi(h.HTTPGet != nil) + btoi(h.TCPSocket != nil) + btoi(h.Exec != nil) + btoi(pr.probe.GuestAgentPing != nil)
		switch {
		case n > 1:
			v.err(field.Invalid(pr.path, n, "must have exactly one probe type set"))
		case n == 0:
			v.err(field.Required(pr.path, "needs one of tcpSocket, exec, httpGet or guestAgentPing"))
		}
		if !pod {
			if h.HTTPGet != nil {
				v.err(field.Invalid(pr.path.Child("httpGet"), "", "an httpGet probe needs the pod network"))
			}
			if h.TCPSocket != nil {
				v.err(field.Invalid(pr.path.Child("tcpSocket"), "", "a tcpSocket probe needs the pod network"))
			}
		}
	}
}

func (v *validator) firmware(d *kubevirtv1.DomainSpec, p *field.Path) {
	f := d.Firmware
	if f != nil {
		fp := p.Child("firmware")
		if b := f.Bootloader; b != nil && b.EFI != nil && b.BIOS != nil {
			v.err(field.Invalid(fp.Child("bootloader"), "bios+efi", "bios and efi are mutually exclusive"))
		}
		if k := f.KernelBoot; k != nil {
			kp := fp.Child("kernelBoot")
			switch c := k.Container; {
			case c == nil && k.KernelArgs != "":
				v.err(field.Invalid(kp.Child("kernelArgs"), k.KernelArgs, "kernel arguments need a kernel (kernelBoot.container)"))
			case c != nil:
				cp := kp.Child("container")
				if c.Image == "" {
					v.err(field.Required(cp.Child("image"), "a kernel boot container needs an image"))
				}
				if c.KernelPath == "" && c.InitrdPath == "" {
					v.err(field.Required(cp, "needs kernelPath, initrdPath or both"))
				}
				if c.KernelPath != "" {
					v.absolutePath(cp.Child("kernelPath"), c.KernelPath)
				}
				if c.InitrdPath != "" {
					v.absolutePath(cp.Child("initrdPath"), c.InitrdPath)
				}
			}
		}
	}
	// SMM protects the UEFI variable store Secure Boot keeps its keys in;
	// TDX firmware is stateless and needs none.
	secure := f != nil && f.Bootloader != nil && f.Bootloader.EFI != nil && (f.Bootloader.EFI.SecureBoot == nil || *f.Bootloader.EFI.SecureBoot)
	smm := d.Features != nil && d.Features.SMM != nil && (d.Features.SMM.Enabled == nil || *d.Features.SMM.Enabled)
	tdx := d.LaunchSecurity != nil && d.LaunchSecurity.TDX != nil
	if secure && !smm && !tdx {
		v.err(field.Invalid(p, "secureBoot", "EFI secure boot (the default with efi) needs SMM: set features.smm.enabled: true, or efi.secureBoot: false"))
	}
}

// absolutePath checks a path inside a container image: absolute, not "/",
// without "." or ".." components.
func (v *validator) absolutePath(p *field.Path, path string) {
	if path == "/" {
		v.err(field.Invalid(p, path, "must not point to root"))
		return
	}
	if filepath.Join("/", path) != strings.TrimSuffix(path, "/") {
		v.err(field.Invalid(p, path, "must be an absolute path to a file without relative components"))
	}
}

func (v *validator) containerDiskPaths(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	for i, vol := range s.Volumes {
		if vol.ContainerDisk != nil && vol.ContainerDisk.Path != "" {
			// Reported at the containerDisk, not its path field.
			v.absolutePath(p.Child("volumes").Index(i).Child("containerDisk"), vol.ContainerDisk.Path)
		}
	}
}

func (v *validator) accessCredentials(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	noCloud := slices.ContainsFunc(s.Volumes, func(vol kubevirtv1.Volume) bool { return vol.CloudInitNoCloud != nil })
	configDrive := slices.ContainsFunc(s.Volumes, func(vol kubevirtv1.Volume) bool { return vol.CloudInitConfigDrive != nil })
	for i, ac := range s.AccessCredentials {
		ip := p.Index(i)
		kinds := 0
		if k := ac.SSHPublicKey; k != nil {
			kinds++
			kp := ip.Child("sshPublicKey")
			methods := 0
			pm := k.PropagationMethod
			if pm.NoCloud != nil {
				methods++
				if !noCloud {
					v.err(field.Invalid(kp.Child("propagationMethod"), "noCloud", "the noCloud propagation method needs a cloudInitNoCloud volume"))
				}
			}
			if pm.ConfigDrive != nil {
				methods++
				if !configDrive {
					v.err(field.Invalid(kp.Child("propagationMethod"), "configDrive", "the configDrive propagation method needs a cloudInitConfigDrive volume"))
				}
			}
			if pm.QemuGuestAgent != nil {
				methods++
				if len(pm.QemuGuestAgent.Users) == 0 {
					v.err(field.Invalid(kp.Child("propagationMethod", "qemuGuestAgent", "users"), 0, "needs at least one user"))
				}
			}
			if k.Source.Secret == nil {
				v.err(field.Invalid(kp.Child("source"), "", "must have exactly one source set"))
			}
			if methods != 1 {
				v.err(field.Invalid(kp.Child("propagationMethod"), methods, "must have exactly one propagationMethod set"))
			}
		}
		if u := ac.UserPassword; u != nil {
			kinds++
			up := ip.Child("userPassword")
			if u.Source.Secret == nil {
				v.err(field.Invalid(up.Child("source"), "", "must have exactly one source set"))
			}
			if u.PropagationMethod.QemuGuestAgent == nil {
				v.err(field.Invalid(up.Child("propagationMethod"), 0, "must have exactly one propagationMethod set"))
			}
		}
		if kinds != 1 {
			v.err(field.Invalid(ip, kinds, "must have exactly one access credential type set"))
		}
	}
}

var dnsPolicies = []k8sv1.DNSPolicy{k8sv1.DNSClusterFirstWithHostNet, k8sv1.DNSClusterFirst, k8sv1.DNSDefault, k8sv1.DNSNone}

// dns checks dnsPolicy and dnsConfig as Kubernetes does for pods; the
// webhook reports the dnsConfig findings at the bare field names
// "nameservers", "searchDomains" and "options".
func (v *validator) dns(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if s.DNSPolicy != "" && !slices.Contains(dnsPolicies, s.DNSPolicy) {
		v.err(field.NotSupported(p.Child("dnsPolicy"), s.DNSPolicy, dnsPolicies))
	}
	c := s.DNSConfig
	if s.DNSPolicy == k8sv1.DNSNone {
		if c == nil {
			v.err(field.Required(p.Child("dnsConfig"), "dnsPolicy None needs a dnsConfig"))
			return
		}
		if len(c.Nameservers) == 0 {
			v.err(field.Required(field.NewPath("nameservers"), "dnsPolicy None needs at least one nameserver"))
			return
		}
	}
	if c == nil {
		return
	}
	if len(c.Nameservers) > 3 {
		v.err(field.TooMany(field.NewPath("nameservers"), len(c.Nameservers), 3))
	}
	for _, ns := range c.Nameservers {
		if net.ParseIP(ns) == nil {
			v.err(field.Invalid(field.NewPath("nameservers"), ns, "must be a valid IP address"))
		}
	}
	sd := field.NewPath("searchDomains")
	if len(c.Searches) > 6 {
		v.err(field.TooMany(sd, len(c.Searches), 6))
	}
	if n := len(strings.Join(c.Searches, " ")); n > 256 {
		v.err(field.TooLong(sd, n, 256))
	}
	for _, dom := range c.Searches {
		for _, msg := range k8svalidation.IsDNS1123Subdomain(dom) {
			v.err(field.Invalid(sd, dom, msg))
		}
	}
	for _, o := range c.Options {
		if o.Name == "" {
			v.err(field.Required(field.NewPath("options"), "a DNS option needs a name"))
		}
	}
}

var evictionStrategies = []kubevirtv1.EvictionStrategy{kubevirtv1.EvictionStrategyLiveMigrate, kubevirtv1.EvictionStrategyLiveMigrateIfPossible, kubevirtv1.EvictionStrategyNone, kubevirtv1.EvictionStrategyExternal}

func (v *validator) evictionStrategy(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if e := s.EvictionStrategy; e != nil && !slices.Contains(evictionStrategies, *e) {
		v.err(field.NotSupported(p.Child("evictionStrategy"), *e, evictionStrategies))
	}
}

func gateOff(p *field.Path, gate string) *field.Error {
	return field.Forbidden(p, "the "+gate+" feature gate is not enabled in the KubeVirt CR")
}

// devicesGated checks devices that need a feature gate or exclude each
// other: GPUs with a ramfb display, host devices, sound, VSOCK, the
// downwardMetrics device, virtiofs on PVCs, video, reboot policy.
func (v *validator) devicesGated(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	devs := &s.Domain.Devices
	ramfb := 0
	for _, g := range devs.GPUs {
		if o := g.VirtualGPUOptions; o != nil && o.Display != nil &&
			(o.Display.Enabled == nil || *o.Display.Enabled) &&
			(o.Display.RamFB == nil || o.Display.RamFB.Enabled != nil && *o.Display.RamFB.Enabled) {
			ramfb++
		}
	}
	if ramfb > 1 {
		// Reported at spec.GPUs (sic).
		v.err(field.Invalid(p.Child("GPUs"), ramfb, "at most one GPU display may use ramfb"))
	}
	if devs.HostDevices != nil && !v.gates.Enabled(GateHostDevices) {
		v.err(gateOff(p.Child("HostDevices"), GateHostDevices))
	}
	if snd := devs.Sound; snd != nil {
		if snd.Model != "" && snd.Model != "ich9" && snd.Model != "ac97" {
			v.err(field.NotSupported(p.Child("Sound"), snd.Model, []string{"ich9", "ac97"}))
		}
		if snd.Name == "" {
			v.err(field.Required(p.Child("Sound"), "a sound device needs a name"))
		}
	}
	if a := devs.AutoattachVSOCK; a != nil && *a && !v.gates.Enabled(GateVSOCK) {
		v.err(gateOff(p.Child("domain", "devices", "autoattachVSOCK"), GateVSOCK))
	}
	if devs.DownwardMetrics != nil && !v.gates.Enabled(GateDownwardMetrics) {
		v.err(gateOff(p.Child("domain", "devices", "downwardMetrics"), GateDownwardMetrics))
	}
	for _, fs := range devs.Filesystems {
		i := slices.IndexFunc(s.Volumes, func(vol kubevirtv1.Volume) bool { return vol.Name == fs.Name })
		if i >= 0 && (s.Volumes[i].PersistentVolumeClaim != nil || s.Volumes[i].DataVolume != nil) && !v.gates.Enabled(GateVirtIOFSStorageVolumes) {
			v.err(gateOff(p.Child("domain", "devices", "filesystems"), GateVirtIOFSStorageVolumes))
		}
	}
	if devs.Video != nil && devs.AutoattachGraphicsDevice != nil && !*devs.AutoattachGraphicsDevice {
		// Reported at spec.video.
		v.err(field.Invalid(p.Child("video"), devs.Video.Type, "a video device needs autoattachGraphicsDevice"))
	}
	if s.Domain.RebootPolicy != nil && !v.gates.Enabled(GateRebootPolicy) {
		v.err(gateOff(p.Child("domain", "rebootPolicy"), GateRebootPolicy))
	}
}

func (v *validator) launchSecurity(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	ls := s.Domain.LaunchSecurity
	if ls == nil {
		return
	}
	lp := p.Child("launchSecurity")
	switch s.Architecture {
	case "amd64":
	case "s390x":
		return // IBM Secure Execution has no settings to check
	default:
		v.err(field.Invalid(p.Child("architecture"), s.Architecture, "launchSecurity is not supported on this architecture"))
		return
	}
	var kinds []string
	gate := ""
	if ls.SEV != nil {
		kinds, gate = append(kinds, "SEV"), GateWorkloadEncryptionSEV
	}
	if ls.SNP != nil {
		kinds, gate = append(kinds, "SNP"), GateWorkloadEncryptionSEV
	}
	if ls.TDX != nil {
		kinds, gate = append(kinds, "TDX"), GateWorkloadEncryptionTDX
	}
	if len(kinds) != 1 {
		v.err(field.Forbidden(lp, "set exactly one of sev, snp and tdx"))
		return
	}
	if !v.gates.Enabled(gate) {
		v.err(gateOff(lp, gate))
		return
	}
	f, feat := s.Domain.Firmware, s.Domain.Features
	if ls.TDX != nil && feat != nil && feat.SMM != nil && (feat.SMM.Enabled == nil || *feat.SMM.Enabled) {
		v.err(field.Invalid(lp, "tdx", "TDX does not work with SMM"))
	}
	if f == nil || f.Bootloader == nil || f.Bootloader.EFI == nil {
		v.err(field.Invalid(lp, kinds[0], kinds[0]+" needs EFI firmware (bootloader.efi)"))
	} else {
		efi := f.Bootloader.EFI
		if ls.TDX == nil && (efi.SecureBoot == nil || *efi.SecureBoot) {
			v.err(field.Invalid(lp, kinds[0], kinds[0]+" does not work with secure boot"))
		}
		if ls.SEV == nil && efi.Persistent != nil && *efi.Persistent {
			v.err(field.Invalid(lp, kinds[0], kinds[0]+" does not work with persistent EFI variables"))
		}
	}
	if ls.SEV != nil && ls.SEV.Attestation != nil && (s.StartStrategy == nil || *s.StartStrategy != kubevirtv1.StartStrategyPaused) {
		v.err(field.Invalid(lp, "SEV", "SEV attestation needs startStrategy Paused"))
	}
	for _, ifc := range s.Domain.Devices.Interfaces {
		if ifc.BootOrder != nil {
			v.err(field.Invalid(lp, kinds[0], kinds[0]+" does not work with a NIC that boots (interface "+ifc.Name+")"))
		}
	}
}

var panicDeviceModels = []kubevirtv1.PanicDeviceModel{kubevirtv1.Hyperv, kubevirtv1.Isa, kubevirtv1.Pvpanic}

func (v *validator) panicDevices(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if len(s.Domain.Devices.PanicDevices) == 0 {
		return
	}
	pp := p.Child("domain", "devices", "panicDevices")
	if s.Architecture == "s390x" {
		v.err(field.Invalid(pp, len(s.Domain.Devices.PanicDevices), "panic devices are not supported on s390x"))
	}
	for i, d := range s.Domain.Devices.PanicDevices {
		if d.Model != nil && !slices.Contains(panicDeviceModels, *d.Model) {
			v.err(field.NotSupported(pp.Index(i).Child("model"), *d.Model, panicDeviceModels))
		}
	}
}

func (v *validator) serviceAccount(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if s.ServiceAccountName == "" {
		return
	}
	sp := p.Child("serviceAccountName")
	if msgs := k8svalidation.IsDNS1123Subdomain(s.ServiceAccountName); len(msgs) > 0 {
		v.err(field.Invalid(sp, s.ServiceAccountName, strings.Join(msgs, "; ")))
	}
	for _, vol := range s.Volumes {
		if vol.ServiceAccount != nil && vol.ServiceAccount.ServiceAccountName != s.ServiceAccountName {
			v.err(field.Invalid(sp, s.ServiceAccountName, fmt.Sprintf("must name the same service account as the serviceAccount volume (%q)", vol.ServiceAccount.ServiceAccountName)))
			break
		}
	}
}

// volumeTargets checks, for VMIs only, that every volume has a disk or a
// filesystem (after the defaults gave one to each) and that containerPath
// volumes are filesystems outside KubeVirt's own directories.
func (v *validator) volumeTargets(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	disks, fss := map[string]bool{}, map[string]bool{}
	for _, d := range s.Domain.Devices.Disks {
		disks[d.Name] = true
	}
	for _, f := range s.Domain.Devices.Filesystems {
		fss[f.Name] = true
	}
	// Reported under spec.domain.volumes (sic).
	vp := p.Child("domain", "volumes")
	for i, vol := range s.Volumes {
		if vol.MemoryDump != nil {
			continue
		}
		if !disks[vol.Name] && !fss[vol.Name] {
			v.err(field.Invalid(vp.Index(i).Child("name"), vol.Name, "no disk or filesystem of this name"))
		}
		if vol.ContainerPath == nil {
			continue
		}
		if disks[vol.Name] {
			v.err(field.Invalid(vp.Index(i), vol.Name, "a containerPath volume must be a filesystem, not a disk"))
		}
		if !fss[vol.Name] {
			v.err(field.Invalid(vp.Index(i), vol.Name, "a containerPath volume needs a filesystem of its name in domain.devices.filesystems"))
		}
		for _, prefix := range []string{"/var/run/kubevirt", "/var/run/libvirt"} {
			if strings.HasPrefix(vol.ContainerPath.Path, prefix) {
				v.err(field.Invalid(vp.Index(i).Child("containerPath", "path"), vol.ContainerPath.Path, "is under "+prefix+", which KubeVirt reserves"))
				break
			}
		}
	}
}

// memoryRequested checks, for VMIs only, that some memory is asked for;
// the webhook reports it without a field path.
func (v *validator) memoryRequested(s *kubevirtv1.VirtualMachineInstanceSpec) {
	if s.Domain.Resources.Requests.Memory().Value() != 0 {
		return
	}
	if m := s.Domain.Memory; m == nil || m.Guest == nil && m.Hugepages == nil {
		v.err(field.Required(nil, "no memory requested: set spec.domain.memory.guest, spec.domain.memory.hugepages.pageSize or spec.domain.resources.requests.memory"))
	}
}

// Labels only KubeVirt's own service accounts may set on a VMI.
var restrictedLabels = []string{
	kubevirtv1.CreatedByLabel, kubevirtv1.MigrationJobLabel, kubevirtv1.NodeNameLabel,
	kubevirtv1.MigrationTargetNodeNameLabel, kubevirtv1.NodeSchedulable, kubevirtv1.InstallStrategyLabel,
}

// hookSidecarAnnotation asks for hook sidecars in the virt-launcher pod.
const hookSidecarAnnotation = "hooks.kubevirt.io/hookSidecars"

// templateMetadata checks a VMI's metadata (or a VM's template metadata):
// reserved labels and annotations whose feature gate is off.
func (v *validator) templateMetadata(m interface {
	GetLabels() map[string]string
	GetAnnotations() map[string]string
}, p *field.Path) {
	for _, l := range restrictedLabels {
		if _, ok := m.GetLabels()[l]; ok {
			v.err(field.NotSupported(p.Child("labels"), l, []string{"labels other than " + strings.Join(restrictedLabels, ", ")}))
			break
		}
	}
	a := m.GetAnnotations()
	if a[kubevirtv1.IgnitionAnnotation] != "" && !v.gates.Enabled(GateIgnition) {
		v.err(gateOff(p.Child("annotations"), GateIgnition))
	}
	if a[hookSidecarAnnotation] != "" && !v.gates.Enabled(GateSidecar) {
		v.err(gateOff(p.Child("annotations"), GateSidecar))
	}
}

// hyperv checks that explicit Hyper-V features and passthrough are not
// both set.
func (v *validator) hyperv(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	if f := s.Domain.Features; f != nil && f.Hyperv != nil && f.HypervPassthrough != nil {
		v.err(field.Invalid(p, "", "set either hyperv features or hypervPassthrough, not both"))
	}
}

var videoTypesAMD64 = []string{"vga", "cirrus", "virtio", "ramfb", "bochs"}

// architecture applies the per-architecture rules (amd64: the watchdog
// model, the video type).
func (v *validator) architecture(s *kubevirtv1.VirtualMachineInstanceSpec, p *field.Path) {
	switch s.Architecture {
	case "amd64":
		if w := s.Domain.Devices.Watchdog; w != nil && (w.I6300ESB == nil || w.Diag288 != nil) {
			v.err(field.NotSupported(p.Child("domain", "devices", "watchdog"), w.Name, []string{"i6300esb"}))
		}
		if vid := s.Domain.Devices.Video; vid != nil && !slices.Contains(videoTypesAMD64, vid.Type) {
			v.err(field.NotSupported(p.Child("domain", "devices", "video", "type"), vid.Type, videoTypesAMD64))
		}
	case "arm64", "s390x":
		// Not modelled: pxekit's VMs are amd64.
	default:
		v.err(field.NotSupported(p.Child("architecture"), s.Architecture, []string{"amd64", "arm64", "s390x"}))
	}
}

var pciAddressRE = regexp.MustCompile(`^[\da-fA-F]{4}:[\da-fA-F]{2}:[\da-fA-F]{2}\.[0-7]$`)

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
