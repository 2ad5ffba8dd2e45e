package vmspec

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	k8sv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/strictyaml"
	"github.com/pxekit/pxekit/validation"
)

// KindService is the kind [DecodeService] reads.
const KindService = "Service"

// The NodePort range a default Kubernetes API server allocates from
// (--service-node-port-range 30000-32767).
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// ServiceSpec describes a Service that exposes a VM: its type,
// ports and IP families. The selector is the VM's template labels unless
// Selector is set.
type ServiceSpec struct {
	// Name of the Service; the VM's name when empty.
	Name string
	// Type is ClusterIP (the default), NodePort or LoadBalancer.
	Type k8sv1.ServiceType
	// Ports the Service exposes. TargetPort is the VM's port (port when
	// unset); NodePort is for NodePort and LoadBalancer services.
	Ports []k8sv1.ServicePort
	// Selector selects the VM's virt-launcher pod; nil takes the VM's
	// spec.template.metadata.labels, so both stay in step.
	Selector map[string]string
	// ExternalTrafficPolicy (Cluster or Local) applies to NodePort and
	// LoadBalancer services only.
	ExternalTrafficPolicy k8sv1.ServiceExternalTrafficPolicy
	// IPFamilyPolicy is SingleStack, PreferDualStack or RequireDualStack;
	// empty leaves the cluster's default (SingleStack).
	IPFamilyPolicy k8sv1.IPFamilyPolicy
	// IPFamilies orders the families: [IPv4], [IPv6], [IPv4, IPv6] or
	// [IPv6, IPv4].
	IPFamilies []k8sv1.IPFamily
}

// NewService returns the Service spec describes for vm, in the VM's
// namespace, and one error listing every problem [ValidateService] finds.
// The Service is returned even when there are problems.
func NewService(vm *kubevirtv1.VirtualMachine, spec ServiceSpec) (*k8sv1.Service, error) {
	svc := &k8sv1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: KindService}}
	if vm != nil {
		svc.Name, svc.Namespace = vm.Name, vm.Namespace
		if spec.Selector == nil && vm.Spec.Template != nil {
			spec.Selector = vm.Spec.Template.ObjectMeta.Labels
		}
	}
	if spec.Name != "" {
		svc.Name = spec.Name
	}
	svc.Spec = k8sv1.ServiceSpec{
		Type:                  spec.Type,
		Ports:                 slices.Clone(spec.Ports),
		Selector:              maps.Clone(spec.Selector),
		ExternalTrafficPolicy: spec.ExternalTrafficPolicy,
		IPFamilies:            slices.Clone(spec.IPFamilies),
	}
	if spec.IPFamilyPolicy != "" {
		p := spec.IPFamilyPolicy
		svc.Spec.IPFamilyPolicy = &p
	}
	if errs := ValidateService(svc, vm); len(errs) > 0 {
		return svc, errs.ToAggregate()
	}
	return svc, nil
}

// DecodeService reads one YAML document holding a core/v1 Service
// strictly, as [Decode] reads VMs: unknown fields, wrong types and syntax
// errors are reported with their path or line.
func DecodeService(doc []byte) (*k8sv1.Service, field.ErrorList) {
	apiVersion, kind, _ := strictyaml.TypeOf(doc)
	svc := &k8sv1.Service{}
	errs := strictyaml.Decode(doc, svc)
	if len(errs) > 0 && errs[0].Origin == strictyaml.OriginSyntax {
		return nil, errs[:1]
	}
	if apiVersion != "v1" {
		if apiVersion == "" {
			errs = append(errs, field.Required(field.NewPath("apiVersion"), "v1"))
		} else {
			errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), apiVersion, []string{"v1"}))
		}
	}
	if kind != KindService {
		if kind == "" {
			errs = append(errs, field.Required(field.NewPath("kind"), KindService))
		} else {
			return nil, append(errs, field.NotSupported(field.NewPath("kind"), kind, []string{KindService}))
		}
	}
	return svc, errs
}

// serviceType is what ValidateService takes: a Service's name is a DNS-1035
// label (it becomes a DNS name of the cluster).
var serviceType = validation.ObjectType{Kind: KindService, APIVersions: []string{"v1"}, NameRule: k8svalidation.IsDNS1035Label}

var (
	serviceTypes     = []k8sv1.ServiceType{k8sv1.ServiceTypeClusterIP, k8sv1.ServiceTypeNodePort, k8sv1.ServiceTypeLoadBalancer}
	trafficPolicies  = []k8sv1.ServiceExternalTrafficPolicy{k8sv1.ServiceExternalTrafficPolicyCluster, k8sv1.ServiceExternalTrafficPolicyLocal}
	ipFamilyPolicies = []k8sv1.IPFamilyPolicy{k8sv1.IPFamilyPolicySingleStack, k8sv1.IPFamilyPolicyPreferDualStack, k8sv1.IPFamilyPolicyRequireDualStack}
	ipFamilies       = []k8sv1.IPFamily{k8sv1.IPv4Protocol, k8sv1.IPv6Protocol}
	svcProtocols     = []k8sv1.Protocol{k8sv1.ProtocolTCP, k8sv1.ProtocolUDP, k8sv1.ProtocolSCTP}
)

// ValidateService checks a Service that exposes a VM: the API server's
// rules for what exposing a VM uses (type, ports, nodePort range, names, IP
// family policy and families, externalTrafficPolicy only for NodePort and
// LoadBalancer) and, when vm is given, that the Service is in the VM's
// namespace, that its selector matches spec.template.metadata.labels, and
// that each targetPort is one the VM forwards when its pod interface lists
// ports.
func ValidateService(svc *k8sv1.Service, vm *kubevirtv1.VirtualMachine) field.ErrorList {
	if svc == nil {
		return field.ErrorList{field.Required(nil, "no Service")}
	}
	v := &validator{}
	v.err(serviceType.Validate(svc.TypeMeta, &svc.ObjectMeta)...)

	sp := field.NewPath("spec")
	s := &svc.Spec
	typ := s.Type
	if typ == "" {
		typ = k8sv1.ServiceTypeClusterIP
	}
	if !slices.Contains(serviceTypes, typ) {
		if typ == k8sv1.ServiceTypeExternalName {
			v.err(field.NotSupported(sp.Child("type"), typ, serviceTypes).WithOrigin("vm"))
			v.errs[len(v.errs)-1].Detail = "an ExternalName Service selects no pods; expose a VM with ClusterIP, NodePort or LoadBalancer"
		} else {
			v.err(field.NotSupported(sp.Child("type"), typ, serviceTypes))
		}
	}
	v.servicePorts(s, typ, sp.Child("ports"))
	if s.ExternalTrafficPolicy != "" {
		switch {
		case !slices.Contains(trafficPolicies, s.ExternalTrafficPolicy):
			v.err(field.NotSupported(sp.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy, trafficPolicies))
		case slices.Contains(serviceTypes, typ) && typ != k8sv1.ServiceTypeNodePort && typ != k8sv1.ServiceTypeLoadBalancer:
			v.err(field.Invalid(sp.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy, "may only be set for NodePort and LoadBalancer services"))
		}
	}
	v.ipFamilies(s, sp)
	if len(s.Selector) == 0 {
		v.err(field.Required(sp.Child("selector"), "a Service exposing a VM selects its virt-launcher pod by a label of spec.template.metadata.labels"))
	}
	v.err(validateSelectorLabels(s.Selector, sp.Child("selector"))...)
	if vm != nil {
		v.serviceForVM(svc, vm)
	}
	return v.errs
}

func validateSelectorLabels(sel map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		for _, msg := range k8svalidation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(p, k, msg))
		}
		for _, msg := range k8svalidation.IsValidLabelValue(sel[k]) {
			errs = append(errs, field.Invalid(p.Key(k), sel[k], msg))
		}
	}
	return errs
}

func (v *validator) servicePorts(s *k8sv1.ServiceSpec, typ k8sv1.ServiceType, p *field.Path) {
	if len(s.Ports) == 0 {
		v.err(field.Required(p, "a Service exposing a VM needs at least one port"))
		return
	}
	names := map[string]bool{}
	nodePorts := map[string]bool{}
	for i, port := range s.Ports {
		pp := p.Index(i)
		if len(s.Ports) > 1 && port.Name == "" {
			v.err(field.Required(pp.Child("name"), "every port needs a name when there are several"))
		}
		if port.Name != "" {
			if names[port.Name] {
				v.err(field.Duplicate(pp.Child("name"), port.Name))
			}
			names[port.Name] = true
			for _, msg := range k8svalidation.IsDNS1123Label(port.Name) {
				v.err(field.Invalid(pp.Child("name"), port.Name, msg))
			}
		}
		for _, msg := range k8svalidation.IsValidPortNum(int(port.Port)) {
			v.err(field.Invalid(pp.Child("port"), port.Port, msg))
		}
		proto := port.Protocol
		if proto == "" {
			proto = k8sv1.ProtocolTCP
		}
		if !slices.Contains(svcProtocols, proto) {
			v.err(field.NotSupported(pp.Child("protocol"), port.Protocol, svcProtocols))
		}
		switch tp := port.TargetPort; {
		case tp.Type == intstr.String:
			for _, msg := range k8svalidation.IsValidPortName(tp.StrVal) {
				v.err(field.Invalid(pp.Child("targetPort"), tp.StrVal, msg))
			}
		case tp.IntVal != 0:
			for _, msg := range k8svalidation.IsValidPortNum(int(tp.IntVal)) {
				v.err(field.Invalid(pp.Child("targetPort"), tp.IntVal, msg))
			}
		}
		if port.NodePort != 0 {
			np := pp.Child("nodePort")
			switch {
			case typ != k8sv1.ServiceTypeNodePort && typ != k8sv1.ServiceTypeLoadBalancer:
				v.err(field.Forbidden(np, "may only be set for NodePort and LoadBalancer services"))
			case port.NodePort < NodePortMin || port.NodePort > NodePortMax:
				v.err(field.Invalid(np, port.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
			}
			key := fmt.Sprintf("%d/%s", port.NodePort, proto)
			if nodePorts[key] {
				v.err(field.Duplicate(np, port.NodePort))
			}
			nodePorts[key] = true
		}
	}
}

func (v *validator) ipFamilies(s *k8sv1.ServiceSpec, sp *field.Path) {
	fp := sp.Child("ipFamilies")
	if s.IPFamilyPolicy != nil && !slices.Contains(ipFamilyPolicies, *s.IPFamilyPolicy) {
		v.err(field.NotSupported(sp.Child("ipFamilyPolicy"), *s.IPFamilyPolicy, ipFamilyPolicies))
	}
	if len(s.IPFamilies) > 2 {
		v.err(field.TooMany(fp, len(s.IPFamilies), 2))
		return
	}
	seen := map[k8sv1.IPFamily]bool{}
	for i, f := range s.IPFamilies {
		switch {
		case !slices.Contains(ipFamilies, f):
			v.err(field.NotSupported(fp.Index(i), f, ipFamilies))
		case seen[f]:
			v.err(field.Duplicate(fp.Index(i), f))
		}
		seen[f] = true
	}
	if len(s.IPFamilies) == 2 && (s.IPFamilyPolicy == nil || *s.IPFamilyPolicy == k8sv1.IPFamilyPolicySingleStack) {
		v.err(field.Invalid(fp, s.IPFamilies, "two IP families need ipFamilyPolicy PreferDualStack or RequireDualStack"))
	}
}

// serviceForVM checks what ties the Service to the VM it exposes.
func (v *validator) serviceForVM(svc *k8sv1.Service, vm *kubevirtv1.VirtualMachine) {
	sp := field.NewPath("spec")
	if svc.Namespace != vm.Namespace && svc.Namespace != "" && vm.Namespace != "" {
		v.err(field.Invalid(field.NewPath("metadata", "namespace"), svc.Namespace, fmt.Sprintf("must be the VM's namespace %q: a Service selects pods of its own namespace only", vm.Namespace)))
	}
	if vm.Spec.Template == nil {
		return
	}
	labels := vm.Spec.Template.ObjectMeta.Labels
	for _, k := range slices.Sorted(maps.Keys(svc.Spec.Selector)) {
		if got, ok := labels[k]; !ok || got != svc.Spec.Selector[k] {
			v.err(field.Invalid(sp.Child("selector").Key(k), svc.Spec.Selector[k],
				fmt.Sprintf("does not match the VM's spec.template.metadata.labels (%s); the Service would select no virt-launcher pod of %s", labelString(labels), vm.Name)))
		}
	}
	// Ports a masquerade pod interface forwards; none listed means all.
	var declared []kubevirtv1.Port
	restricted := false
	for _, ifc := range vm.Spec.Template.Spec.Domain.Devices.Interfaces {
		if ifc.Masquerade != nil && len(ifc.Ports) > 0 {
			restricted = true
			declared = append(declared, ifc.Ports...)
		}
	}
	if !restricted {
		return
	}
	for i, port := range svc.Spec.Ports {
		tp := port.TargetPort
		if tp.Type == intstr.Int && tp.IntVal == 0 {
			tp = intstr.FromInt32(port.Port)
		}
		found := false
		for _, d := range declared {
			dproto := d.Protocol
			if dproto == "" {
				dproto = "TCP"
			}
			sproto := string(port.Protocol)
			if sproto == "" {
				sproto = "TCP"
			}
			if dproto != sproto {
				continue
			}
			if tp.Type == intstr.String && d.Name == tp.StrVal || tp.Type == intstr.Int && d.Port == tp.IntVal {
				found = true
			}
		}
		if !found {
			v.err(field.Invalid(sp.Child("ports").Index(i).Child("targetPort"), tp.String(),
				fmt.Sprintf("the VM forwards only ports %s on its pod network interface; add this port there or target one of them", portList(declared))))
		}
	}
}

func labelString(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ","
		}
		out += k + "=" + m[k]
	}
	return out
}

func portList(ps []kubevirtv1.Port) string {
	var s []string
	for _, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		s = append(s, fmt.Sprintf("%d/%s", p.Port, proto))
	}
	sort.Strings(s)
	return fmt.Sprint(s)
}
