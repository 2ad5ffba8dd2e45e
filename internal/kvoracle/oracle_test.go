package kvoracle

import (
	"testing"

	v1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const receiverVM = `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: receiver, namespace: lab}
spec:
  runStrategy: WaitAsReceiver
  template:
    spec:
      domain:
        resources: {requests: {memory: 1Gi}}
        devices: {}
`

// The oracle itself: KubeVirt's verdict on a VM that needs an alpha feature
// gate, with and without the gate, and the field path it reports.
func TestOracleFeatureGate(t *testing.T) {
	var vm v1.VirtualMachine
	if err := yaml.Unmarshal([]byte(receiverVM), &vm); err != nil {
		t.Fatal(err)
	}
	off := New(nil, nil).Review(&vm)
	if off.Allowed || len(off.Fields()) != 1 || off.Fields()[0] != "spec.runStrategy" {
		t.Errorf("without DecentralizedLiveMigration: %+v, want a refusal at spec.runStrategy", off)
	}
	on := New([]string{"DecentralizedLiveMigration"}, nil).Review(&vm)
	if !on.Allowed {
		t.Errorf("with DecentralizedLiveMigration: %+v, want allowed", on)
	}
	if got := vm.Spec.Template.Spec.Domain.Machine; got != nil {
		t.Errorf("Review changed the caller's object: machine %+v", got)
	}
}
