// Command sriov-dpdk prints every object of OpenShift Virtualization's
// SR-IOV and DPDK procedure for a node, ready for `oc apply -f -`:
//
//	the Namespace of the network and the VM, SriovNetworkNodePolicy (VFs
//	bound to vfio-pci), SriovNetwork (with, as comments, the
//	NetworkAttachmentDefinition the SR-IOV operator renders from it),
//	MachineConfigPool worker-dpdk, PerformanceProfile (CPU sets planned from
//	the node's topology), the HyperConverged runtime-class annotation (as
//	the oc command, with OpenShift's warning), and the DPDK VirtualMachine
//	with its guest tuning as cloud-init (plus its Secret when the tuning
//	outgrows KubeVirt's inline limit).
//
// The topology comes from flags (-sockets, -cores, -threads, -layout) or from a
// sysfs tree (-sysfs /sys for this host). The default flags reproduce the objects
// of OpenShift Virtualization's SR-IOV and DPDK procedure; where those are
// malformed the output is corrected and each correction is listed on stderr, with
// the warnings.
//
//	sriov-dpdk                                  # the documented objects
//	sriov-dpdk -sysfs /sys -reserved-cores 1    # this host's topology
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/dpdk"
	"github.com/pxekit/pxekit/sriov"
	"github.com/pxekit/pxekit/validation"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// dpdkNetworkIPAM is the host-local IPAM of the documented dpdk-sriovnetwork.
const dpdkNetworkIPAM = `{
  "type": "host-local",
  "subnet": "10.56.217.0/24",
  "rangeStart": "10.56.217.171",
  "rangeEnd": "10.56.217.181",
  "routes": [{
    "dst": "0.0.0.0/0"
  }],
  "gateway": "10.56.217.1"
}
`

// config is every flag.
type config struct {
	role, profile, node                   string
	sysfs                                 string
	sockets, cores, threads               int
	layout                                string
	reservedCores                         int
	hugepages                             int
	hugepageNodes, hugepageSize, topology string
	policy, resource, vendor, device, pf  string
	rootDevice                            string
	numVFs, mtu, priority                 int
	network, namespace, ipam              string
	vlan                                  int
	vm, vmMemory, nic, pci                string
	vmCores, vmThreads                    int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("sriov-dpdk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.role, "role", "worker-dpdk", "node role: node-role.kubernetes.io/<role> label, MachineConfigPool name")
	fs.StringVar(&c.profile, "profile", "profile-1", "PerformanceProfile name")
	fs.StringVar(&c.node, "node", "<node_name>", "node to label into the role (shown in the oc label command)")
	fs.StringVar(&c.sysfs, "sysfs", "", "read the CPU topology from this sysfs root (e.g. /sys) instead of -sockets/-cores/-threads")
	fs.IntVar(&c.sockets, "sockets", 2, "sockets (one NUMA node each)")
	fs.IntVar(&c.cores, "cores", 20, "cores per socket")
	fs.IntVar(&c.threads, "threads", 2, "threads per core")
	fs.StringVar(&c.layout, "layout", "interleaved", "CPU numbering across sockets: interleaved (node0 = even CPUs) or packed")
	fs.IntVar(&c.reservedCores, "reserved-cores", 2, "whole cores per NUMA node reserved for housekeeping")
	fs.IntVar(&c.hugepages, "hugepages", 32, "hugepages per NUMA node in -hugepage-nodes")
	fs.StringVar(&c.hugepageNodes, "hugepage-nodes", "0", "comma-separated NUMA nodes that get hugepages (empty: all)")
	fs.StringVar(&c.hugepageSize, "hugepage-size", "1G", "node hugepage size: 1G or 2M")
	fs.StringVar(&c.topology, "topology-policy", dpdk.TopologyPolicySingleNUMANode, "spec.numa.topologyPolicy")
	fs.StringVar(&c.policy, "policy", "policy-1", "SriovNetworkNodePolicy name")
	fs.StringVar(&c.resource, "resource", "intel_nics_dpdk", "SR-IOV resource name")
	fs.StringVar(&c.vendor, "vendor", "8086", "PF vendor ID")
	fs.StringVar(&c.device, "device", "1572", "PF device ID")
	fs.StringVar(&c.pf, "pf", "eno3", "PF netdev name")
	fs.StringVar(&c.rootDevice, "root-device", "0000:19:00.2", "PF PCI address (empty: none)")
	fs.IntVar(&c.numVFs, "num-vfs", 4, "VFs to create")
	fs.IntVar(&c.mtu, "mtu", 9000, "VF MTU")
	fs.IntVar(&c.priority, "priority", 99, "policy priority")
	fs.StringVar(&c.network, "network", "dpdk-sriovnetwork", "SriovNetwork (and NAD) name")
	fs.StringVar(&c.namespace, "namespace", "dpdk-checkup-ns", "namespace of the NAD and the VM")
	fs.IntVar(&c.vlan, "vlan", 1019, "VF VLAN")
	fs.StringVar(&c.ipam, "ipam", dpdkNetworkIPAM, "CNI IPAM JSON of the SriovNetwork")
	fs.StringVar(&c.vm, "vm", dpdk.RHELDPDKVMName, "VirtualMachine name")
	fs.IntVar(&c.vmCores, "vm-cores", 5, "VM cores (one socket)")
	fs.IntVar(&c.vmThreads, "vm-threads", 2, "VM threads per core")
	fs.StringVar(&c.vmMemory, "vm-memory", "8Gi", "VM guest memory, backed by 1Gi hugepages")
	fs.StringVar(&c.nic, "nic", dpdk.RHELDPDKNIC, "VM SR-IOV interface name")
	fs.StringVar(&c.pci, "pci", dpdk.RHELDPDKPCIAddress, "guest PCI address of the VF")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sriov-dpdk:", err)
		return 2
	}
	out, notes, err := render(c)
	if err != nil {
		fmt.Fprintln(stderr, "sriov-dpdk:", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	for _, n := range notes {
		fmt.Fprintln(stderr, n)
	}
	return 0
}

// render builds every object and returns the YAML stream and the
// corrections and warnings for stderr.
func render(c config) (string, []string, error) {
	var notes []string
	warn := func(ws ...validation.Warning) {
		for _, w := range ws {
			notes = append(notes, "warning: "+w.String())
		}
	}
	topo, source, err := topology(c)
	if err != nil {
		return "", nil, err
	}
	var hpNodes []int
	if c.hugepageNodes != "" {
		for _, s := range strings.Split(c.hugepageNodes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return "", nil, fmt.Errorf("-hugepage-nodes %q: %v", c.hugepageNodes, err)
			}
			hpNodes = append(hpNodes, n)
		}
	}
	plan, err := dpdk.PlanCPUs(topo, dpdk.PlanConfig{ReservedCoresPerNode: c.reservedCores,
		HugepageSize: c.hugepageSize, HugepagesPerNode: int32(c.hugepages), HugepageNodes: hpNodes})
	if err != nil {
		return "", nil, err
	}
	pb := dpdk.NewProfile(c.profile, c.role, plan).WithUserLevelNetworking(true)
	if c.topology != "" {
		pb = pb.WithTopologyPolicy(c.topology)
	}
	profile, err := pb.Build()
	if err != nil {
		return "", nil, err
	}
	_, pw := dpdk.ValidateProfile(profile)
	warn(pw...)
	pool, err := dpdk.NewMachineConfigPool(c.role).Build()
	if err != nil {
		return "", nil, err
	}
	if errs := dpdk.CheckProfilePool(profile, pool); len(errs) > 0 {
		return "", nil, errs.ToAggregate()
	}

	npb := sriov.NewNodePolicy(c.policy, c.resource).
		WithDeviceType(sriov.DeviceTypeVfioPCI).
		WithMTU(c.mtu).WithNumVFs(c.numVFs).WithPriority(c.priority).
		WithNIC(c.vendor, c.device).WithPFNames(c.pf).
		WithNodeSelector(map[string]string{"feature.node.kubernetes.io/network-sriov.capable": "true"})
	if c.rootDevice != "" {
		npb = npb.WithRootDevices(c.rootDevice)
	}
	policy, err := npb.Build()
	if err != nil {
		return "", nil, err
	}
	_, sw := sriov.ValidateNodePolicy(policy, sriov.Options{})
	warn(sw...)
	network, err := sriov.NewNetwork(c.network, c.resource).WithNetworkNamespace(c.namespace).
		WithVLAN(c.vlan).WithMACSpoofCheck(false).WithTrust(true).WithIPAM(json.RawMessage(c.ipam)).Build()
	if err != nil {
		return "", nil, err
	}
	_, nw := sriov.ValidateNetwork(network, sriov.Options{})
	warn(nw...)
	nad, err := sriov.RenderNAD(network, sriov.RenderOptions{})
	if err != nil {
		return "", nil, err
	}

	if c.vmCores < 1 || c.vmThreads < 1 {
		return "", nil, fmt.Errorf("-vm-cores and -vm-threads must be at least 1")
	}
	vmCfg := dpdk.RHELDPDKVMConfig()
	vmCfg.Cores, vmCfg.Threads, vmCfg.GuestMemory = uint32(c.vmCores), uint32(c.vmThreads), c.vmMemory
	vmCfg.NIC, vmCfg.PCIAddress = c.nic, c.pci
	vmCfg.NetworkName = nad.Name // the NAD lives in the VM's namespace
	vm, err := dpdk.NewVM(c.vm, vmCfg).WithNamespace(nad.Namespace).Build()
	if err != nil {
		return "", nil, err
	}
	guest, err := dpdk.GuestTuningFor(vm)
	if err != nil {
		return "", nil, err
	}
	warn(guest.Warnings(vm.Spec.Template.Spec.Domain.Memory.Guest)...)
	userData, err := guest.UserData()
	if err != nil {
		return "", nil, err
	}
	secret, err := dpdk.AttachUserData(vm, userData, c.vm+"-guest-tuning")
	if err != nil {
		return "", nil, err
	}
	rc := dpdk.RuntimeClassName(profile.Name)
	annotate, err := dpdk.AnnotateHCOCommand(rc)
	if err != nil {
		return "", nil, err
	}
	_, _, rcWarning, _ := dpdk.RuntimeClassAnnotation(rc)
	warn(rcWarning)

	var b strings.Builder
	fmt.Fprintf(&b, "# SR-IOV and DPDK objects for role %s.\n# Topology (%s):\n", c.role, source)
	for _, l := range strings.Split(strings.TrimSpace(topo.String()), "\n") {
		fmt.Fprintf(&b, "#   %s\n", l)
	}
	fmt.Fprintf(&b, "# Label the DPDK nodes first:\n#   %s\n", dpdk.LabelNodeCommand(c.node, c.role))
	hco := "# Once the profile reports status.runtimeClass (" + rc + "), make it the\n" +
		"# default runtime class of virt-launcher pods:\n"
	for _, l := range strings.Split(annotate, "\n") {
		hco += "#   " + l + "\n"
	}
	mergePatch, err := dpdk.HCOAnnotationPatch(rc)
	if err != nil {
		return "", nil, err
	}
	hco += fmt.Sprintf("# or, as a merge patch:\n#   oc patch hco %s -n %s --type merge -p '%s'\n", dpdk.HCOName, dpdk.HCONamespace, mergePatch)
	hco += "# WARNING: " + rcWarning.Message + "\n"
	// The namespace of the SriovNetwork's NAD, the VM and its Secret is
	// the user's: created here, so that the stream applies to a cluster
	// that has only the operators (whose namespaces the policy and the
	// SriovNetwork use).
	ns := struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
	}{metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, metav1.ObjectMeta{Name: c.namespace}}
	// The NAD is the operator's to create: shown as comments, never as a
	// document oc apply would create (and the operator then overwrite).
	nadYAML, err := yaml.Marshal(nad)
	if err != nil {
		return "", nil, err
	}
	nadNote := "# The SR-IOV operator renders this NetworkAttachmentDefinition from the\n# SriovNetwork above (for reference only; do not apply it):\n"
	for _, l := range strings.Split(strings.TrimRight(string(nadYAML), "\n"), "\n") {
		nadNote += referencePrefix + l + "\n"
	}
	docs := []struct {
		head string
		obj  any
	}{
		{"", ns},
		{"", policy},
		{"", network},
		{nadNote, pool},
		{"", profile},
		{"", secret},
		{hco, vm},
	}
	for _, d := range docs {
		if s, ok := d.obj.(*corev1.Secret); ok && s == nil {
			continue
		}
		if err := doc(&b, d.head, d.obj); err != nil {
			return "", nil, err
		}
	}
	notes = append(notes, corrections(vmCfg.NetworkName)...)
	return b.String(), notes, nil
}

// corrections are the places the default output departs from the
// documented objects because those are malformed or inconsistent.
func corrections(nadName string) []string {
	c := []string{
		"rhel-dpdk-vm: the callout markers printed after values (\"sockets: 1 4\", \"cores: 5 5\", \"pageSize: 1Gi 6\", \"networkName: dpdk-net 7\", \"disable 1\"...) are not part of the values",
		"rhel-dpdk-vm: networkInterfaceMultiqueue and rng were indented into the interfaces list (a YAML syntax error at line 28); they are fields of spec.template.spec.domain.devices",
		"rhel-dpdk-vm: interfaces moved from spec.template.spec.domain to spec.template.spec.domain.devices.interfaces",
		"rhel-dpdk-vm: memory moved from spec.template.spec to spec.template.spec.domain.memory",
		"rhel-dpdk-vm: guest moved from memory.hugepages.guest to spec.template.spec.domain.memory.guest",
		"rhel-dpdk-vm: spec.running (deprecated) replaced by spec.runStrategy: Always",
		"rhel-dpdk-vm: model: virtio dropped from the SR-IOV interface: the guest sees the VF itself, the model only applies to emulated NICs",
		"rhel-dpdk-vm: the guest tuning steps (grubby, tuned cpu-partitioning, driverctl) run from cloud-init and end with a reboot, instead of by hand",
		"HyperConverged annotation: the runtime class is a JSON string in the patch (the documentation's unquoted <runtimeclass_name> is not JSON once substituted)",
	}
	if nadName != dpdk.RHELDPDKNetworkName {
		c = append(c, "rhel-dpdk-vm: networkName "+nadName+" instead of dpdk-net: no NAD dpdk-net exists; the SR-IOV operator renders the NAD from the SriovNetwork, here "+nadName+", and the VM is placed in that NAD's namespace")
	}
	out := make([]string, len(c))
	for i, s := range c {
		out[i] = "correction: " + s
	}
	return out
}

// referencePrefix starts each line of an object shown for reference only.
const referencePrefix = "#  | "

// doc writes one document: the separator, head comments, the object.
func doc(b *strings.Builder, head string, obj any) error {
	y, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	b.WriteString("---\n" + head)
	b.Write(y)
	return nil
}

func topology(c config) (dpdk.Topology, string, error) {
	if c.sysfs != "" {
		t, err := dpdk.ReadTopology(os.DirFS(c.sysfs))
		return t, "read from " + c.sysfs, err
	}
	layout := dpdk.LayoutInterleaved
	switch c.layout {
	case "interleaved":
	case "packed":
		layout = dpdk.LayoutPacked
	default:
		return dpdk.Topology{}, "", fmt.Errorf("-layout %q: want interleaved or packed", c.layout)
	}
	t, err := dpdk.SyntheticTopology(c.sockets, c.cores, c.threads, layout)
	return t, fmt.Sprintf("%d sockets x %d cores x %d threads, %s numbering", c.sockets, c.cores, c.threads, c.layout), err
}
