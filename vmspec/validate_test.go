package vmspec

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/pxekit/pxekit/validation"
)

func baseVMI(t *testing.T) *kubevirtv1.VirtualMachineInstance {
	t.Helper()
	vmi, err := pxeBootVMI().Build()
	if err != nil {
		t.Fatalf("the documented VMI invalid: %v", err)
	}
	return vmi
}

func uptr(n uint) *uint { return &n }

type ruleCase struct {
	name   string
	mutate func(*kubevirtv1.VirtualMachineInstance)
	errs   []string // substrings, each must match one error (path included)
	warns  []string // substrings, each must match one warning
}

func checkRule(t *testing.T, errs field.ErrorList, warns []validation.Warning, wantErrs, wantWarns []string) {
	t.Helper()
	if len(errs) != len(wantErrs) {
		t.Errorf("got %d errors, want %d:\n%s", len(errs), len(wantErrs), errList(errs))
	}
	for _, w := range wantErrs {
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e.Error(), w)
		}
		if !found {
			t.Errorf("no error contains %q; got:\n%s", w, errList(errs))
		}
	}
	if len(warns) != len(wantWarns) {
		t.Errorf("got %d warnings, want %d: %v", len(warns), len(wantWarns), warns)
	}
	for _, w := range wantWarns {
		found := false
		for _, x := range warns {
			found = found || strings.Contains(x.String(), w)
		}
		if !found {
			t.Errorf("no warning contains %q; got %v", w, warns)
		}
	}
}

func errList(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func TestValidateDispatch(t *testing.T) {
	vmi := baseVMI(t)
	if errs, _ := Validate(*vmi); len(errs) != 0 {
		t.Errorf("Validate(VMI value): %v", errs)
	}
	vm, _ := pxeBoot(NewVM("vmi-pxe-boot")).Build()
	if errs, _ := Validate(vm); len(errs) != 0 {
		t.Errorf("Validate(*VM): %v", errs)
	}
	for _, bad := range []any{nil, "vm", (*kubevirtv1.VirtualMachine)(nil), (*kubevirtv1.VirtualMachineInstance)(nil)} {
		if errs, _ := Validate(bad); len(errs) != 1 {
			t.Errorf("Validate(%T) = %v, want one error", bad, errs)
		}
	}
}
