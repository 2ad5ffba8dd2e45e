package vmspec

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// SecondaryDNSName returns the name KubeSecondaryDNS serves for a VM's
// interface on a secondary network:
// <interface>.<vm>.<namespace>.vm.<cluster FQDN>, e.g.
// example-nic.example-vm.example-namespace.vm.openshift.example.com.
// Interface, VM and namespace names become DNS labels, so each must be a
// lowercase RFC 1123 label (KubeVirt allows '_' and capitals in interface
// names and '.' in VM names; those cannot be looked up this way); the
// FQDN must be a DNS subdomain and the whole name at most 253 bytes.
func SecondaryDNSName(iface, vm, namespace, clusterFQDN string) (string, error) {
	var errs field.ErrorList
	for _, l := range []struct{ name, value string }{{"interface", iface}, {"vm", vm}, {"namespace", namespace}} {
		if l.value == "" {
			errs = append(errs, field.Required(field.NewPath(l.name), ""))
			continue
		}
		for _, msg := range validation.IsDNS1123Label(l.value) {
			errs = append(errs, field.Invalid(field.NewPath(l.name), l.value, msg))
		}
	}
	fqdn := strings.TrimSuffix(clusterFQDN, ".")
	if fqdn == "" {
		errs = append(errs, field.Required(field.NewPath("clusterFQDN"), "the cluster's base domain (oc get dnses.config.openshift.io cluster -o jsonpath='{.spec.baseDomain}')"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(fqdn) {
			errs = append(errs, field.Invalid(field.NewPath("clusterFQDN"), clusterFQDN, msg))
		}
	}
	if len(errs) > 0 {
		return "", errs.ToAggregate()
	}
	name := iface + "." + vm + "." + namespace + ".vm." + fqdn
	if len(name) > validation.DNS1123SubdomainMaxLength {
		return "", fmt.Errorf("vmspec: %s is %d bytes long, a DNS name has at most %d", name, len(name), validation.DNS1123SubdomainMaxLength)
	}
	return name, nil
}

// SecondaryDNSNames returns the KubeSecondaryDNS name of every interface of
// the VM on a secondary (Multus) network, by interface name. namespace
// overrides the VM's own (for a VM whose manifest has none).
func SecondaryDNSNames(vm *kubevirtv1.VirtualMachine, namespace, clusterFQDN string) (map[string]string, error) {
	if vm == nil || vm.Spec.Template == nil {
		return nil, fmt.Errorf("vmspec: no VirtualMachine template")
	}
	if namespace == "" {
		namespace = vm.Namespace
	}
	out := map[string]string{}
	var errs []string
	for _, n := range vm.Spec.Template.Spec.Networks {
		if n.Multus == nil || n.Multus.Default {
			continue
		}
		name, err := SecondaryDNSName(n.Name, vm.Name, namespace, clusterFQDN)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out[n.Name] = name
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("vmspec: %s", strings.Join(errs, "; "))
	}
	return out, nil
}
