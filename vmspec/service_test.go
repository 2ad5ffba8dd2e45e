package vmspec

import (
	"os"
	"strings"
	"testing"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ephemeralVM is the documented vm-ephemeral, labelled for the Service.
func ephemeralVM(t *testing.T) *kubevirtv1.VirtualMachine {
	t.Helper()
	vm, err := NewVM("vm-ephemeral").WithNamespace("example-namespace").WithRunning(false).
		WithTemplateLabels(map[string]string{"special": "key"}).
		WithPodNetwork().WithContainerDisk("containerdisk", "quay.io/containerdisks/fedora", Bootable()).
		WithMemory("1Gi").Build()
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// The documented vmservice: NodePort 30000 → port 27017 → the VM's ssh port 22,
// selecting special: key. Built from the VM, it is the documentation's Service.
func TestServiceVMService(t *testing.T) {
	vm := ephemeralVM(t)
	svc, err := NewService(vm, ServiceSpec{
		Name:                  "vmservice",
		Type:                  k8sv1.ServiceTypeNodePort,
		ExternalTrafficPolicy: k8sv1.ServiceExternalTrafficPolicyCluster,
		Ports:                 []k8sv1.ServicePort{{NodePort: 30000, Port: 27017, Protocol: k8sv1.ProtocolTCP, TargetPort: intstr.FromInt32(22)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want, errs := DecodeService(readFile(t, "vmservice.nocallouts.yaml"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !equality.Semantic.DeepEqual(svc, want) {
		out, _ := ToYAML(svc)
		t.Errorf("built Service differs from the documentation's:\n%s", out)
	}
	if errs := ValidateService(want, vm); len(errs) > 0 {
		t.Errorf("documented Service against its VM: %v", errs)
	}
	// As printed, the callout numbers land inside the values.
	got, errs := DecodeService(readFile(t, "vmservice.yaml"))
	verrs := ValidateService(got, vm)
	errs = append(errs, verrs...)
	checkRule(t, errs, nil, []string{
		`spec.ports[0].nodePort: Invalid value: "30000 4": must be of type integer, got string`,
		`metadata.name: Invalid value: "vmservice 1": a DNS-1035 label`,
		`spec.ports[0].targetPort: Invalid value: "22 5": must contain only alpha-numeric characters`,
		`spec.ports[0].targetPort: Invalid value: "22 5": must contain at least one letter`,
		`spec.externalTrafficPolicy: Unsupported value: "Cluster 3"`,
		`spec.selector[special]: Invalid value: "key 6": a valid label must be`,
		`spec.type: Unsupported value: "NodePort 7"`,
		`metadata.namespace: Invalid value: "example-namespace 2": a lowercase RFC 1123 label`,
		`metadata.namespace: Invalid value: "example-namespace 2": must be the VM's namespace "example-namespace"`,
		`spec.selector[special]: Invalid value: "key 6": does not match the VM's spec.template.metadata.labels (special=key)`,
	}, nil)
}

// The documented Istio VM and its Service. The VM as printed lacks the volume of
// its cloudinitdisk disk (TestDocumentationManifests); built with one, it is the
// documentation's VM plus that volume.
func TestIstioVM(t *testing.T) {
	vm, err := NewVM("vm-istio").WithLabels(map[string]string{"kubevirt.io/vm": "vm-istio"}).
		WithTemplateLabels(map[string]string{"kubevirt.io/vm": "vm-istio"}).WithTemplateLabels(map[string]string{"app": "vm-istio"}).
		WithIstioSidecar().
		WithPodNetwork().
		WithContainerDisk("containerdisk", "registry:5000/kubevirt/fedora-cloud-container-disk-demo:devel").
		WithCloudInitNoCloud("cloudinitdisk", ShellScript("echo \"fedora\" | passwd fedora --stdin\n")).
		WithMemory("1024M").WithTerminationGracePeriod(180).Build()
	if err != nil {
		t.Fatal(err)
	}
	obj, errs := Decode(readFile(t, "vm-istio.fixed.yaml"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !equality.Semantic.DeepEqual(vm, obj) {
		out, _ := ToYAML(vm)
		t.Errorf("built VM differs from the documentation's:\n%s", out)
	}
	svc, err := NewService(vm, ServiceSpec{Selector: map[string]string{"app": "vm-istio"},
		Ports: []k8sv1.ServicePort{{Port: 8080, Name: "http", Protocol: k8sv1.ProtocolTCP}}})
	if err != nil {
		t.Fatal(err)
	}
	want, errs := DecodeService(readFile(t, "vm-istio-service.nocallouts.yaml"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !equality.Semantic.DeepEqual(svc, want) {
		out, _ := ToYAML(svc)
		t.Errorf("built Service differs from the documentation's:\n%s", out)
	}
	got, errs := DecodeService(readFile(t, "vm-istio-service.yaml"))
	verrs := ValidateService(got, vm)
	checkRule(t, append(errs, verrs...), nil, []string{
		`spec.selector[app]: Invalid value: "vm-istio 1": a valid label must be`,
		`spec.selector[app]: Invalid value: "vm-istio 1": does not match`,
	}, nil)
}

// One row per Service rule.
func TestServiceRules(t *testing.T) {
	vm, err := NewVM("web").WithNamespace("lab").WithTemplateLabels(map[string]string{"app": "web"}).
		WithPodNetwork(Ports(TCP(22), kubevirtv1.Port{Name: "dns", Port: 53, Protocol: "UDP"})).
		WithContainerDisk("root", "quay.io/containerdisks/fedora", Bootable()).WithMemory("1Gi").Build()
	if err != nil {
		t.Fatal(err)
	}
	open, err := NewVM("open").WithNamespace("lab").WithTemplateLabels(map[string]string{"app": "web"}).WithPodNetwork().
		WithContainerDisk("root", "quay.io/containerdisks/fedora", Bootable()).WithMemory("1Gi").Build()
	if err != nil {
		t.Fatal(err)
	}
	tcp := func(port, target int32) k8sv1.ServicePort {
		return k8sv1.ServicePort{Port: port, TargetPort: intstr.FromInt32(target)}
	}
	pol := func(p k8sv1.IPFamilyPolicy) k8sv1.IPFamilyPolicy { return p }
	tests := []struct {
		name string
		vm   *kubevirtv1.VirtualMachine
		spec ServiceSpec
		errs []string
	}{
		{"ClusterIP default", vm, ServiceSpec{Ports: []k8sv1.ServicePort{tcp(2222, 22)}}, nil},
		{"LoadBalancer", vm, ServiceSpec{Type: k8sv1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: "Local", Ports: []k8sv1.ServicePort{tcp(22, 0)}}, nil},
		{"ExternalName", vm, ServiceSpec{Type: k8sv1.ServiceTypeExternalName, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{`spec.type: Unsupported value: "ExternalName": an ExternalName Service selects no pods`}},
		{"no ports", vm, ServiceSpec{}, []string{"spec.ports: Required value"}},
		{"node port range", vm, ServiceSpec{Type: k8sv1.ServiceTypeNodePort, Ports: []k8sv1.ServicePort{{Port: 22, NodePort: 29999}}}, []string{"spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-32767"}},
		{"node port top", vm, ServiceSpec{Type: k8sv1.ServiceTypeNodePort, Ports: []k8sv1.ServicePort{{Port: 22, NodePort: 32767}}}, nil},
		{"node port on ClusterIP", vm, ServiceSpec{Ports: []k8sv1.ServicePort{{Port: 22, NodePort: 30001}}}, []string{"spec.ports[0].nodePort: Forbidden: may only be set for NodePort and LoadBalancer services"}},
		{"duplicate node port", vm, ServiceSpec{Type: k8sv1.ServiceTypeNodePort, Ports: []k8sv1.ServicePort{{Name: "a", Port: 22, NodePort: 30001}, {Name: "b", Port: 23, TargetPort: intstr.FromInt32(22), NodePort: 30001}}}, []string{"spec.ports[1].nodePort: Duplicate value: 30001"}},
		{"traffic policy on ClusterIP", vm, ServiceSpec{ExternalTrafficPolicy: "Cluster", Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{"spec.externalTrafficPolicy: Invalid value: \"Cluster\": may only be set for NodePort and LoadBalancer services"}},
		{"bad traffic policy", vm, ServiceSpec{Type: k8sv1.ServiceTypeNodePort, ExternalTrafficPolicy: "Nearest", Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{`spec.externalTrafficPolicy: Unsupported value: "Nearest"`}},
		{"target port not forwarded", vm, ServiceSpec{Ports: []k8sv1.ServicePort{tcp(80, 8080)}}, []string{`spec.ports[0].targetPort: Invalid value: "8080": the VM forwards only ports [22/TCP 53/UDP]`}},
		{"port defaults the target", vm, ServiceSpec{Ports: []k8sv1.ServicePort{tcp(80, 0)}}, []string{`spec.ports[0].targetPort: Invalid value: "80"`}},
		{"protocol must match", vm, ServiceSpec{Ports: []k8sv1.ServicePort{{Port: 53, Protocol: "TCP"}}}, []string{`spec.ports[0].targetPort: Invalid value: "53"`}},
		{"named target port", vm, ServiceSpec{Ports: []k8sv1.ServicePort{{Port: 53, Protocol: "UDP", TargetPort: intstr.FromString("dns")}}}, nil},
		{"all ports forwarded", open, ServiceSpec{Ports: []k8sv1.ServicePort{tcp(80, 8080)}}, nil},
		{"selector not in template labels", vm, ServiceSpec{Selector: map[string]string{"app": "db"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{`spec.selector[app]: Invalid value: "db": does not match the VM's spec.template.metadata.labels (app=web)`}},
		{"empty selector", vm, ServiceSpec{Selector: map[string]string{}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{"spec.selector: Required value"}},
		{"unnamed ports", vm, ServiceSpec{Ports: []k8sv1.ServicePort{tcp(22, 22), {Name: "dns", Port: 53, Protocol: "UDP"}}}, []string{"spec.ports[0].name: Required value"}},
		{"bad name", vm, ServiceSpec{Name: "1web", Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{`metadata.name: Invalid value: "1web": a DNS-1035 label`}},
		{"dual stack", vm, ServiceSpec{IPFamilyPolicy: pol(k8sv1.IPFamilyPolicyRequireDualStack), IPFamilies: []k8sv1.IPFamily{"IPv6", "IPv4"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, nil},
		{"prefer dual stack", vm, ServiceSpec{IPFamilyPolicy: pol(k8sv1.IPFamilyPolicyPreferDualStack), IPFamilies: []k8sv1.IPFamily{"IPv4", "IPv6"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, nil},
		{"single stack IPv6", vm, ServiceSpec{IPFamilyPolicy: pol(k8sv1.IPFamilyPolicySingleStack), IPFamilies: []k8sv1.IPFamily{"IPv6"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, nil},
		{"two families single stack", vm, ServiceSpec{IPFamilyPolicy: pol(k8sv1.IPFamilyPolicySingleStack), IPFamilies: []k8sv1.IPFamily{"IPv4", "IPv6"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{"spec.ipFamilies: Invalid value: [\"IPv4\",\"IPv6\"]: two IP families need ipFamilyPolicy PreferDualStack or RequireDualStack"}},
		{"duplicate family", vm, ServiceSpec{IPFamilyPolicy: pol(k8sv1.IPFamilyPolicyPreferDualStack), IPFamilies: []k8sv1.IPFamily{"IPv4", "IPv4"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{`spec.ipFamilies[1]: Duplicate value: "IPv4"`}},
		{"bad family and policy", vm, ServiceSpec{IPFamilyPolicy: "DualStack", IPFamilies: []k8sv1.IPFamily{"IPv5"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{`spec.ipFamilyPolicy: Unsupported value: "DualStack"`, `spec.ipFamilies[0]: Unsupported value: "IPv5"`}},
		{"three families", vm, ServiceSpec{IPFamilyPolicy: pol(k8sv1.IPFamilyPolicyPreferDualStack), IPFamilies: []k8sv1.IPFamily{"IPv4", "IPv6", "IPv4"}, Ports: []k8sv1.ServicePort{tcp(22, 22)}}, []string{"spec.ipFamilies: Too many: 3: must have at most 2 items"}},
		{"bad port numbers", vm, ServiceSpec{Ports: []k8sv1.ServicePort{{Port: 70000, TargetPort: intstr.FromInt32(22), Protocol: "ICMP"}}}, []string{"spec.ports[0].port: Invalid value: 70000", `spec.ports[0].protocol: Unsupported value: "ICMP"`, `spec.ports[0].targetPort: Invalid value: "22": the VM forwards only`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewService(tc.vm, tc.spec)
			errs := ValidateService(mustService(tc.vm, tc.spec), tc.vm)
			checkRule(t, errs, nil, tc.errs, nil)
			if (err != nil) != (len(tc.errs) > 0) {
				t.Errorf("NewService error %v", err)
			}
		})
	}
	// A Service in another namespace selects nothing of the VM.
	svc := mustService(vm, ServiceSpec{Ports: []k8sv1.ServicePort{tcp(22, 22)}})
	svc.Namespace = "other"
	errs := ValidateService(svc, vm)
	checkRule(t, errs, nil, []string{`metadata.namespace: Invalid value: "other": must be the VM's namespace "lab"`}, nil)
	if errs := ValidateService(nil, nil); len(errs) != 1 {
		t.Errorf("nil Service: %v", errs)
	}
}

func mustService(vm *kubevirtv1.VirtualMachine, spec ServiceSpec) *k8sv1.Service {
	svc, _ := NewService(vm, spec)
	return svc
}

// mesh is a VM or VMI in the Istio service mesh.
func mesh[T Kind](b *Builder[T]) *Builder[T] {
	return b.WithIstioSidecar().WithContainerDisk("root", "quay.io/containerdisks/fedora", Bootable()).WithMemory("1Gi")
}

// Istio's rules: masquerade on the pod network, none of the proxy's ports.
// KubeVirt accepts both; the mesh breaks at run time, so they are warnings.
func TestIstioRules(t *testing.T) {
	base := func() *VMBuilder { return mesh(NewVM("mesh")) }
	tests := []struct {
		name  string
		b     *VMBuilder
		errs  []string
		warns []string
	}{
		{"masquerade", base().WithPodNetwork(Ports(TCP(8080))), nil, nil},
		{"proxy ports", base().WithPodNetwork(Ports(TCP(15001), TCP(80), TCP(15090))), nil, []string{
			"spec.template.spec.domain.devices.interfaces[0].ports[0].port: port 15001 is used by the Istio sidecar proxy",
			"spec.template.spec.domain.devices.interfaces[0].ports[2].port: port 15090 is used by the Istio sidecar proxy",
		}},
		{"no pod network", base().WithBridgeNIC("lan", "lan-conf", "02:00:00:00:00:01"), nil, []string{
			`spec.template.metadata.annotations[sidecar.istio.io/inject]: the Istio sidecar needs the VM on the pod network with masquerade binding`,
		}},
		{"bridge on the pod network", base().With(func(vmi *kubevirtv1.VirtualMachineInstance) field.ErrorList {
			vmi.Spec.Domain.Devices.Interfaces = []kubevirtv1.Interface{{Name: "default", InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}}}
			vmi.Spec.Networks = []kubevirtv1.Network{{Name: "default", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}}
			return nil
		}), nil, []string{`annotations[sidecar.istio.io/inject]: the Istio sidecar needs`, "interfaces[0].bridge: bridge binding on the pod network"}},
		{"not a boolean", base().WithPodNetwork().WithTemplateAnnotations(map[string]string{IstioInjectAnnotation: "yes"}), nil, []string{`annotations[sidecar.istio.io/inject]: "yes" is not a boolean`}},
		{"off", base().WithBridgeNIC("lan", "lan-conf", "02:00:00:00:00:01").WithTemplateAnnotations(map[string]string{IstioInjectAnnotation: "false"}), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vm, _ := tc.b.Build()
			errs, warns := ValidateVM(vm)
			checkRule(t, errs, warns, tc.errs, tc.warns)
		})
	}
	// A VMI carries the annotation on its own metadata.
	vmi, _ := mesh(NewVMI("mesh")).WithPodNetwork(Ports(TCP(15021))).Build()
	errs, warns := ValidateVMI(vmi)
	checkRule(t, errs, warns, nil, []string{"spec.domain.devices.interfaces[0].ports[0].port: port 15021"})
}

func TestDecodeServiceKinds(t *testing.T) {
	tests := []struct {
		doc  string
		nil_ bool
		errs []string
	}{
		{"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", false, nil},
		{"apiVersion: v1\nkind: Pod\n", true, []string{`kind: Unsupported value: "Pod"`}},
		{"kind: Service\nspec: {ports: [{port: 1}]}\n", false, []string{"apiVersion: Required value"}},
		{"apiVersion: v2\nkind: Service\n", false, []string{`apiVersion: Unsupported value: "v2"`}},
		{"apiVersion: v1\nkind: Service\nspec:\n  selctor: {a: b}\n", false, []string{`spec.selctor: Forbidden: unknown field "selctor"`}},
		{"apiVersion: v1\nkind: Service\nspec: [\n", true, []string{"line 3"}},
	}
	for _, tc := range tests {
		svc, errs := DecodeService([]byte(tc.doc))
		if (svc == nil) != tc.nil_ {
			t.Errorf("%q: Service %v", tc.doc, svc)
		}
		if len(errs) != len(tc.errs) {
			t.Errorf("%q: errors %v, want %v", tc.doc, errs, tc.errs)
			continue
		}
		for i, w := range tc.errs {
			if !strings.Contains(errs[i].Error(), w) {
				t.Errorf("%q: %q, want %q", tc.doc, errs[i].Error(), w)
			}
		}
	}
}

// FuzzDecodeService: any document decodes and validates without a panic;
// a Service that decodes cleanly prints as YAML that decodes to the same
// Service.
func FuzzDecodeService(f *testing.F) {
	for _, n := range []string{"vmservice.yaml", "vmservice.nocallouts.yaml", "vm-istio-service.yaml"} {
		f.Add(readFile(f, n))
	}
	f.Add([]byte("apiVersion: v1\nkind: Service\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv6, IPv4]\n  ports: [{port: 80, targetPort: http}]\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 8<<10 {
			return
		}
		svc, errs := DecodeService(doc)
		if svc == nil {
			return
		}
		verrs := ValidateService(svc, nil)
		for _, e := range append(errs, verrs...) {
			_ = e.Error()
		}
		if len(errs) > 0 {
			return
		}
		out, err := ToYAML(svc)
		if err != nil {
			t.Fatal(err)
		}
		again, errs := DecodeService(out)
		if len(errs) > 0 || !equality.Semantic.DeepEqual(svc, again) {
			t.Fatalf("round trip: %v\n%s", errs, out)
		}
	})
}
