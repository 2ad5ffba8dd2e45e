// Command kubevirt-pxe prints the Kubernetes objects that PXE-boot a KubeVirt
// virtual machine instance from a Linux bridge on its node, as OpenShift
// Virtualization's PXE booting procedure does: the
// NetworkAttachmentDefinition for the PXE network and the
// VirtualMachineInstance with the PXE NIC first in the boot order, as one
// multi-document YAML stream for `kubectl apply -f -`. With -node-port it
// also prints the nmstate policy that creates the bridge; with
// -kind VirtualMachine it prints a VirtualMachine whose template is that VMI.
//
// With -profile NAME the VM or VMI carries the annotation pxekit.io/profile:
// NAME, and a boot server that watches the cluster (pxelab serve
// --kubeconfig) installs it with that profile, then boots its disk.
// --rbac prints instead what that server runs as: its ServiceAccount,
// Role and RoleBinding in -namespace (a ClusterRole and ClusterRoleBinding
// with -all-namespaces).
//
// With no flags the output is that procedure's pxe-net-conf NAD and vmi-pxe-boot
// template. Flags change the names, the MAC the PXE server knows, the bridge, the
// VLAN, the container disk image and the KubeVirt apiVersion:
//
//	kubevirt-pxe -name pxe1 -mac de:00:00:00:00:01 -vlan 100 -api-version kubevirt.io/v1
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/netattach"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags; their defaults are the values of the
// PXE booting procedure.
type options struct {
	name, namespace string
	mac             string
	bridge, nad     string
	network         string
	vlan            int
	image           string
	memory          string
	apiVersion      string
	cniType         string
	tuning          bool
	nodePort        string
	kind            string
	runStrategy     string
	// The boot server's annotation and its RBAC (--rbac).
	profile, serviceAccount, profilesConfigMap string
	rbac, allNamespaces                        bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kubevirt-pxe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.name, "name", "vmi-pxe-boot", "name of the VirtualMachineInstance")
	fs.StringVar(&o.namespace, "namespace", "", "namespace of both objects (the NAD must be in the VM's namespace); empty: kubectl's current one")
	fs.StringVar(&o.mac, "mac", "de:00:00:00:00:de", "MAC address of the PXE NIC (the one the PXE server's inventory knows); empty: KubeVirt assigns one, which does not persist")
	fs.StringVar(&o.bridge, "bridge", "br1", "Linux bridge on the node that reaches the PXE server")
	fs.StringVar(&o.nad, "nad", "pxe-net-conf", "name of the NetworkAttachmentDefinition")
	fs.StringVar(&o.network, "network", "pxe-net", "name of the VMI's PXE interface and network")
	fs.IntVar(&o.vlan, "vlan", 0, "VLAN of the PXE network on the bridge (1..4094; 0: untagged)")
	fs.StringVar(&o.image, "image", "kubevirt/fedora-cloud-container-disk-demo", "container disk image booted after provisioning (boot order 2)")
	fs.StringVar(&o.memory, "memory", "1024M", "memory request")
	fs.StringVar(&o.apiVersion, "api-version", "kubevirt.io/v1alpha3", "apiVersion of the VMI: the documented template writes kubevirt.io/v1alpha3; current clusters serve kubevirt.io/v1")
	fs.StringVar(&o.cniType, "cni", netattach.PluginCNVBridge, "bridge CNI plugin type: cnv-bridge (OpenShift Virtualization) or bridge (upstream)")
	fs.BoolVar(&o.tuning, "tuning", true, "chain the tuning plugin so the VM's custom MAC is applied")
	fs.StringVar(&o.kind, "kind", kindVMI, "VirtualMachineInstance or VirtualMachine (the same VMI as its template, kept running by -run-strategy)")
	fs.StringVar(&o.runStrategy, "run-strategy", string(kubevirtv1.RunStrategyAlways), "runStrategy of a VirtualMachine: Always, RerunOnFailure, Manual, Halted or Once")
	fs.StringVar(&o.nodePort, "node-port", "", "also print the nmstate NodeNetworkConfigurationPolicy that creates the bridge with this node NIC as its port (the documented br1-eth1-policy for eth1)")
	fs.StringVar(&o.profile, "profile", "", "annotate the VM or VMI pxekit.io/profile: PROFILE, the boot server profile it installs with")
	fs.BoolVar(&o.rbac, "rbac", false, "print the boot server's ServiceAccount, Role and RoleBinding in -namespace instead")
	fs.BoolVar(&o.allNamespaces, "all-namespaces", false, "with --rbac: the server serves every namespace (ClusterRole and ClusterRoleBinding)")
	fs.StringVar(&o.serviceAccount, "service-account", "pxekit", "with --rbac: name of the service account, roles and bindings")
	fs.StringVar(&o.profilesConfigMap, "profiles-configmap", "", "with --rbac: the ConfigMap the server reads its profiles from")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// run prints the NAD and the VMI; it returns the exit status (2 for bad
// flags or values, with every problem on stderr).
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "kubevirt-pxe:", err)
		return 2
	}
	out, warns, err := render(o)
	for _, w := range warns {
		fmt.Fprintln(stderr, "kubevirt-pxe: warning:", w)
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "kubevirt-pxe:", line)
		}
		return 2
	}
	stdout.Write(out)
	return 0
}

// render builds both objects and writes them as one YAML stream; warnings
// (a MAC that KubeVirt picks and does not keep, IPAM in a VM's NAD) do not
// stop it.
func render(o *options) ([]byte, []string, error) {
	if o.rbac {
		out, err := renderRBAC(o)
		return out, nil, err
	}
	nb := netattach.NewBridgeNAD(o.nad, o.bridge).
		WithNamespace(o.namespace).
		WithPluginType(o.cniType).
		WithL2IPAM()
	if o.vlan != 0 {
		nb.WithVLAN(o.vlan)
	}
	if o.tuning {
		nb.WithTuning(netattach.TuningNetConf{})
	}
	nad, nadErr := nb.Build()
	vm, vmWarns, vmErr := machine(o)
	if err := errors.Join(perLine("NetworkAttachmentDefinition", nadErr), perLine(o.kind, vmErr)); err != nil {
		return nil, nil, err
	}
	var warns []string
	_, nadWarns := netattach.ValidateNAD(nad)
	for _, w := range nadWarns {
		warns = append(warns, "NetworkAttachmentDefinition: "+w.String())
	}
	for _, w := range vmWarns {
		warns = append(warns, o.kind+": "+w.String())
	}
	objs := []any{nad, vm}
	if o.nodePort != "" {
		// The bridge comes first: the NAD and the VM need it on the node.
		pol, err := netattach.NewBridgePolicy(o.bridge+"-"+o.nodePort+"-policy", o.bridge).
			WithDescription("Linux bridge with " + o.nodePort + " as a port").
			WithPort(o.nodePort).
			Build()
		if err != nil {
			return nil, nil, perLine("NodeNetworkConfigurationPolicy", err)
		}
		objs = append([]any{pol}, objs...)
	}
	out, err := stream(objs...)
	return out, warns, err
}

// stream writes objs as one multi-document YAML stream.
func stream(objs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range objs {
		y, err := marshal(obj)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// perLine splits a builder's aggregate error into one error per problem, each
// prefixed with the kind of object it is about.
func perLine(kind string, err error) error {
	if err == nil {
		return nil
	}
	var agg interface{ Errors() []error }
	if !errors.As(err, &agg) {
		return fmt.Errorf("%s: %w", kind, err)
	}
	var errs []error
	for _, e := range agg.Errors() {
		errs = append(errs, fmt.Errorf("%s: %w", kind, e))
	}
	return errors.Join(errs...)
}

// marshal renders obj as YAML. A status is written as "status: {}", as the
// documented template does: a new object has none (the API server ignores it on
// create), but kubevirt.io/api's status struct would print zero-valued fields.
func marshal(obj any) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	if _, ok := m["status"]; ok {
		m["status"] = map[string]any{}
	}
	return yaml.Marshal(m)
}
