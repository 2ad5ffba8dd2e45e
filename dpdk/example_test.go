package dpdk_test

import (
	"fmt"
	"testing/fstest"

	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/dpdk"
	"github.com/pxekit/pxekit/vmspec"
)

// The documented profile-1 from the node's topology: a 2-socket, 40-core,
// 80-thread machine, 2 whole cores per NUMA node for housekeeping, 32 1G
// pages on node 0.
func ExamplePlanCPUs() {
	topo, _ := dpdk.SyntheticTopology(2, 20, 2, dpdk.LayoutInterleaved)
	plan, err := dpdk.PlanCPUs(topo, dpdk.PlanConfig{ReservedCoresPerNode: 2, HugepagesPerNode: 32, HugepageNodes: []int{0}})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := dpdk.NewProfile("profile-1", "worker-dpdk", plan).WithTopologyPolicy(dpdk.TopologyPolicySingleNUMANode).WithUserLevelNetworking(true).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := yaml.Marshal(p)
	fmt.Print(string(out))
	// Output:
	// apiVersion: performance.openshift.io/v2
	// kind: PerformanceProfile
	// metadata:
	//   name: profile-1
	// spec:
	//   cpu:
	//     isolated: 4-39,44-79
	//     reserved: 0-3,40-43
	//   hugepages:
	//     defaultHugepagesSize: 1G
	//     pages:
	//     - count: 32
	//       node: 0
	//       size: 1G
	//   net:
	//     userLevelNetworking: true
	//   nodeSelector:
	//     node-role.kubernetes.io/worker-dpdk: ""
	//   numa:
	//     topologyPolicy: single-numa-node
}

// The topology comes from sysfs; here a 1-socket, 2-core, 2-thread node.
func ExampleReadTopology() {
	sysfs := fstest.MapFS{
		"devices/system/cpu/online":                             {Data: []byte("0-3\n")},
		"devices/system/node/node0/cpulist":                     {Data: []byte("0-3\n")},
		"devices/system/cpu/cpu0/topology/thread_siblings_list": {Data: []byte("0,2\n")},
		"devices/system/cpu/cpu1/topology/thread_siblings_list": {Data: []byte("1,3\n")},
		"devices/system/cpu/cpu2/topology/thread_siblings_list": {Data: []byte("0,2\n")},
		"devices/system/cpu/cpu3/topology/thread_siblings_list": {Data: []byte("1,3\n")},
	}
	topo, err := dpdk.ReadTopology(sysfs) // os.DirFS("/sys") on a live node
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, _ := dpdk.PlanCPUs(topo, dpdk.PlanConfig{ReservedCoresPerNode: 1})
	fmt.Print(topo)
	fmt.Println("reserved", plan.Reserved, "isolated", plan.Isolated)
	// Output:
	// node0: 2 cores, CPUs 0-3
	// reserved 0,2 isolated 1,3
}

// Every problem of a profile at once, under its field path.
func ExampleValidateProfile() {
	p, _ := dpdk.DecodeProfile([]byte(`apiVersion: performance.openshift.io/v2
kind: PerformanceProfile
metadata:
  name: profile-1
spec:
  cpu:
    isolated: 3-39,44-79
    reserved: 0-3,40-43
  hugepages:
    pages:
    - count: 32
      node: 0
      size: 1Gi
  nodeSelector:
    node-role.kubernetes.io/worker-dpdk: ""
`))
	errs, _ := dpdk.ValidateProfile(p)
	for _, e := range errs {
		fmt.Println(e)
	}
	// Output:
	// spec.cpu: Forbidden: reserved and isolated cpus overlap: 3
	// spec.hugepages.defaultHugepagesSize: Required value: required when pages are set, or the kernel keeps its 2M default
	// spec.hugepages.pages[0].size: Unsupported value: "1Gi": supported values: "2M", "1G"
}

// The documented MachineConfigPool and the label that puts a node in it.
func ExampleNewMachineConfigPool() {
	fmt.Println(dpdk.LabelNodeCommand("<node_name>", "worker-dpdk"))
	pool, err := dpdk.NewMachineConfigPool("worker-dpdk").Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := yaml.Marshal(pool)
	fmt.Print(string(out))
	// Output:
	// oc label node <node_name> node-role.kubernetes.io/worker-dpdk=""
	// apiVersion: machineconfiguration.openshift.io/v1
	// kind: MachineConfigPool
	// metadata:
	//   labels:
	//     machineconfiguration.openshift.io/role: worker-dpdk
	//   name: worker-dpdk
	// spec:
	//   machineConfigSelector:
	//     matchExpressions:
	//     - key: machineconfiguration.openshift.io/role
	//       operator: In
	//       values:
	//       - worker
	//       - worker-dpdk
	//   nodeSelector:
	//     matchLabels:
	//       node-role.kubernetes.io/worker-dpdk: ""
}

// The HyperConverged annotation for profile-1's runtime class, with the
// documentation's warning.
func ExampleRuntimeClassAnnotation() {
	k, v, warning, err := dpdk.RuntimeClassAnnotation(dpdk.RuntimeClassName("profile-1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s\n", k, v)
	fmt.Println("warning:", warning)
	// Output:
	// kubevirt.kubevirt.io/jsonpatch: [{"op":"add","path":"/spec/configuration/defaultRuntimeClass","value":"performance-profile-1"}]
	// warning: metadata.annotations[kubevirt.kubevirt.io/jsonpatch]: the kubevirt.kubevirt.io/jsonpatch annotation on the HyperConverged CR changes a global setting: every VM created after it runs with this runtime class; setting it breaks support for the OpenShift Virtualization instance and belongs on test clusters only (a support exception exists for best performance)
}

// The documented rhel-dpdk-vm guest steps, derived from the VM: 10 vCPUs keep
// 0-1 for housekeeping.
func ExampleGuestTuningFor() {
	vm, err := dpdk.NewVM(dpdk.RHELDPDKVMName, dpdk.RHELDPDKVMConfig()).WithNamespace("dpdk-checkup-ns").Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	g, _ := dpdk.GuestTuningFor(vm)
	cmds, _ := g.Commands()
	for _, c := range cmds {
		fmt.Println(c)
	}
	ud, _ := g.UserData()
	secret, _ := dpdk.AttachUserData(vm, ud, "rhel-dpdk-vm-tuning")
	fmt.Println(len(ud) <= dpdk.NoCloudUserDataLimit, secret == nil)
	// Output:
	// grubby --update-kernel=ALL --args="default_hugepagesz=1GB hugepagesz=1G hugepages=8"
	// dnf install -y tuned-profiles-cpu-partitioning
	// echo isolated_cores=2-9 > /etc/tuned/cpu-partitioning-variables.conf
	// tuned-adm profile cpu-partitioning
	// dnf install -y driverctl
	// driverctl set-override 0000:07:00.0 vfio-pci
	// true true
}

// The DPDK settings as an option of a vmspec builder, beside the VM's own
// disk: the VM is validated as any other, problems come back at their
// paths.
func ExampleWithDPDK() {
	cfg := dpdk.VMConfig{Cores: 2, GuestMemory: "4Gi", NIC: "nic-east", NetworkName: "dpdk-net", PCIAddress: "0000:07:00.0"}
	vm, err := vmspec.NewVM("dpdk-vm").WithPodNetwork().
		WithContainerDisk("rootdisk", "quay.io/containerdisks/fedora", vmspec.Bootable()).
		With(dpdk.WithDPDK(cfg)).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	c := vm.Spec.Template.Spec.Domain.CPU
	fmt.Println(c.Sockets, c.Cores, c.Threads, c.DedicatedCPUPlacement, vm.Spec.Template.Spec.Domain.Memory.Hugepages.PageSize)

	cfg.GuestMemory = "3584Mi"
	_, err = vmspec.NewVM("dpdk-vm").With(dpdk.WithDPDK(cfg)).Build()
	fmt.Println(err)
	// Output:
	// 1 2 2 true 1Gi
	// spec.template.spec.domain.memory.guest: Invalid value: "3584Mi": must be a positive multiple of the hugepage size 1Gi
}
