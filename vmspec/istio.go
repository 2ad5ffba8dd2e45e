package vmspec

import (
	"fmt"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// IstioInjectAnnotation on a VM's template (a VMI's metadata) asks Istio
// to inject its sidecar proxy into the virt-launcher pod.
const IstioInjectAnnotation = "sidecar.istio.io/inject"

// IstioProxyPorts are the ports Istio's sidecar proxy listens on in the
// pod; a VM must not forward them: 15000 admin, 15001
// outbound, 15006 inbound, 15008 HBONE tunnel, 15020 merged metrics,
// 15021 health, 15090 Envoy Prometheus telemetry.
var IstioProxyPorts = []int32{15000, 15001, 15006, 15008, 15020, 15021, 15090}

// WithIstioSidecar sets sidecar.istio.io/inject: "true" on the VMI the
// object runs, adding the VM to the service mesh. Validation then requires
// masquerade on the pod network and warns about Istio's own ports (KubeVirt
// accepts both; the mesh breaks at run time).
func (b *Builder[T]) WithIstioSidecar() *Builder[T] {
	return b.WithTemplateAnnotations(map[string]string{IstioInjectAnnotation: "true"})
}

// istio checks a VMI spec whose pod carries the injection annotation.
func (v *validator) istio(annotations map[string]string, s *kubevirtv1.VirtualMachineInstanceSpec, ap, sp *field.Path) {
	val, ok := annotations[IstioInjectAnnotation]
	if !ok {
		return
	}
	p := ap.Key(IstioInjectAnnotation)
	on, err := strconv.ParseBool(val)
	if err != nil {
		v.warn(p, fmt.Sprintf("%q is not a boolean; Istio does not inject a sidecar (write \"true\")", val))
		return
	}
	if !on {
		return
	}
	pods := map[string]bool{}
	for _, n := range s.Networks {
		if n.Pod != nil {
			pods[n.Name] = true
		}
	}
	masq := false
	ip := sp.Child("domain", "devices", "interfaces")
	for i, ifc := range s.Domain.Devices.Interfaces {
		if pods[ifc.Name] && ifc.Masquerade != nil {
			masq = true
		}
		for j, port := range ifc.Ports {
			if slices.Contains(IstioProxyPorts, port.Port) {
				v.warn(ip.Index(i).Child("ports").Index(j).Child("port"),
					fmt.Sprintf("port %d is used by the Istio sidecar proxy (%v); choose another one", port.Port, IstioProxyPorts))
			}
		}
	}
	if !masq {
		v.warn(p, "the Istio sidecar needs the VM on the pod network with masquerade binding")
	}
}
