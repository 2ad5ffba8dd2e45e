package vmspec

import (
	"net"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/vmspec/macpool"
)

// The builder takes MACs from the pool for NICs without one, keeps them
// across builds (restarts), reserves the ones given, honours the
// namespace opt-out, and leaves VMIs alone.
func TestBuilderMACPool(t *testing.T) {
	pool, err := macpool.New("02:00:00:00:00:10", "02:00:00:00:00:ff", nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(name string, labels map[string]string, pxeMAC string) (*VMBuilder, error) {
		b := NewVM(name).WithNamespace("lab").WithMACPool(pool, labels).
			WithPodNetwork().WithPXENIC("pxe", "pxe-net-conf", pxeMAC).WithMemory("1Gi")
		_, err := b.Build()
		return b, err
	}
	b, err := build("web", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	vm, _ := b.Build()
	ifs := vm.Spec.Template.Spec.Domain.Devices.Interfaces
	if ifs[0].MacAddress == "" || ifs[1].MacAddress == "" || ifs[0].MacAddress == ifs[1].MacAddress {
		t.Fatalf("MACs %q %q", ifs[0].MacAddress, ifs[1].MacAddress)
	}
	vm2, _ := b.Build()
	if vm2.Spec.Template.Spec.Domain.Devices.Interfaces[1].MacAddress != ifs[1].MacAddress {
		t.Error("MAC changed between builds")
	}
	// No "no macAddress" warning any more.
	if _, warns := ValidateVM(vm); len(warns) != 0 {
		t.Errorf("warnings %v", warns)
	}
	// A MAC given by hand that the pool already gave to web is refused.
	if _, err := build("db", nil, ifs[1].MacAddress); err == nil || !strings.Contains(err.Error(), "is already used by lab/web/pxe") {
		t.Errorf("duplicate MAC: %v", err)
	}
	// Opted-out namespace: no MAC assigned.
	b, _ = build("legacy", map[string]string{macpool.IgnoreLabel: macpool.IgnoreValue}, "")
	vm, _ = b.Build()
	if m := vm.Spec.Template.Spec.Domain.Devices.Interfaces[1].MacAddress; m != "" {
		t.Errorf("opted-out namespace got %s", m)
	}
	vmi, _ := NewVMI("standalone").WithMACPool(pool, nil).WithPodNetwork().WithMemory("1Gi").Build()
	if m := vmi.Spec.Domain.Devices.Interfaces[0].MacAddress; m != "" {
		t.Errorf("VMI got %s from the pool", m)
	}
	// A failing allocator is an error at the interface.
	_, err = NewVM("x").WithMACPool(failing{}, nil).WithPodNetwork().WithMemory("1Gi").Build()
	if err == nil || !strings.Contains(err.Error(), "spec.template.spec.domain.devices.interfaces[0].macAddress: Internal error: pool empty") {
		t.Errorf("failing pool: %v", err)
	}
}

type failing struct{}

func (failing) AllocateMAC(_, _, _ string) (net.HardwareAddr, error) {
	return nil, errPoolEmpty
}

var errPoolEmpty = errString("pool empty")

type errString string

func (e errString) Error() string { return string(e) }
