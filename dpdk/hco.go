package dpdk

import (
	"encoding/json"
	"fmt"
	"strings"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/validation"
)

// HyperConverged names and the annotation that sets the default runtime
// class on it.
const (
	// JSONPatchAnnotation carries JSON patches the HyperConverged operator
	// applies to the KubeVirt CR it manages.
	JSONPatchAnnotation = "kubevirt.kubevirt.io/jsonpatch"
	// HCONamespace and HCOName locate OpenShift Virtualization's
	// HyperConverged CR.
	HCONamespace = "openshift-cnv"
	HCOName      = "kubevirt-hyperconverged"
)

// RuntimeClassWarning is OpenShift's warning about the annotation: it changes a
// global setting for every VM created afterwards and voids support.
const RuntimeClassWarning = "the kubevirt.kubevirt.io/jsonpatch annotation on the HyperConverged CR changes a global setting: every VM created after it runs with this runtime class; setting it breaks support for the OpenShift Virtualization instance and belongs on test clusters only (a support exception exists for best performance)"

// RuntimeClassAnnotation returns the HyperConverged annotation that makes
// runtimeClass (a PerformanceProfile's status.runtimeClass, see RuntimeClassName)
// the default runtime class of virt-launcher pods, and the warning that goes with
// it ([RuntimeClassWarning], at the annotation's path in the HyperConverged CR).
// The value is a JSON patch in which the class name is a JSON string: OpenShift's
// documentation prints the placeholder unquoted ("value": <name>), which
// substituted literally is not JSON.
func RuntimeClassAnnotation(runtimeClass string) (key, value string, warning validation.Warning, err error) {
	if msgs := k8svalidation.IsDNS1123Subdomain(runtimeClass); len(msgs) > 0 {
		return "", "", validation.Warning{}, fmt.Errorf("runtime class %q: %s", runtimeClass, strings.Join(msgs, "; "))
	}
	patch := []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value string `json:"value"`
	}{{"add", "/spec/configuration/defaultRuntimeClass", runtimeClass}}
	b, err := json.Marshal(patch)
	if err != nil {
		return "", "", validation.Warning{}, err
	}
	w := validation.Warnf(field.NewPath("metadata", "annotations").Key(JSONPatchAnnotation), "%s", RuntimeClassWarning)
	return JSONPatchAnnotation, string(b), w, nil
}

// AnnotateHCOCommand is the `oc annotate` command that sets the annotation
// for a runtime class, with the patch single-quoted for a POSIX shell.
func AnnotateHCOCommand(runtimeClass string) (string, error) {
	k, v, _, err := RuntimeClassAnnotation(runtimeClass)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("oc annotate --overwrite -n %s hco %s \\\n    %s='%s'", HCONamespace, HCOName, k, v), nil
}

// HCOAnnotationPatch is the same annotation as a merge patch of the
// HyperConverged CR's metadata (`oc patch hco ... --type merge -p`), for
// tools that apply objects rather than run commands.
func HCOAnnotationPatch(runtimeClass string) ([]byte, error) {
	k, v, _, err := RuntimeClassAnnotation(runtimeClass)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{k: v}}})
}
