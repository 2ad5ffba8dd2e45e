package pxetest

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestVMQEMUFailsEarly: a QEMU that refuses its command line ends WaitFor
// with an error carrying QEMU's own message, instead of a hang.
func TestVMQEMUFailsEarly(t *testing.T) {
	RequireCmd(t, "qemu-system-x86_64", "qemu-system-x86")
	lnet := TempNetwork(t, NetworkConfig{})
	tap, err := lnet.AddTap()
	if err != nil {
		t.Fatal(err)
	}
	vm, err := StartVM(context.Background(), VMConfig{NetNS: lnet.NS, Tap: tap, MAC: NewMAC(),
		ExtraArgs: []string{"-device", "no-such-device-pxekit"}})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Stop()
	_, err = vm.WaitFor(context.Background(), regexp.MustCompile("never"))
	if err == nil || !strings.Contains(err.Error(), "QEMU exited") || !strings.Contains(err.Error(), "no-such-device-pxekit") {
		t.Errorf("WaitFor after QEMU failed: %v", err)
	}
}

// TestVMCancel: cancelling the VM's context kills a running QEMU (firmware
// looking for a boot server that is not there) and WaitFor reports it.
func TestVMCancel(t *testing.T) {
	RequireCmd(t, "qemu-system-x86_64", "qemu-system-x86")
	lnet := TempNetwork(t, NetworkConfig{})
	tap, err := lnet.AddTap()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vm, err := StartVM(ctx, VMConfig{NetNS: lnet.NS, Tap: tap, MAC: NewMAC(), Firmware: BIOS})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Stop()
	// SeaBIOS is up: the VM really runs.
	if _, err := vm.WaitFor(ctx, regexp.MustCompile("SeaBIOS")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := vm.WaitFor(context.Background(), regexp.MustCompile("PXEKIT-NEVER")); err == nil || !strings.Contains(err.Error(), "QEMU exited") {
		t.Errorf("WaitFor after cancel: %v", err)
	}
	if err := vm.Wait(context.Background()); err == nil {
		t.Error("QEMU killed by cancel reported a clean exit")
	}
	if !strings.Contains(vm.Console(), "SeaBIOS") {
		t.Errorf("console lost after exit: %q", vm.Console())
	}
	var ctxErr error
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, ctxErr = (&VM{}).WaitFor(ctx2, regexp.MustCompile("x"))
	if !errors.Is(ctxErr, context.Canceled) {
		t.Errorf("WaitFor with a cancelled context: %v", ctxErr)
	}
}
