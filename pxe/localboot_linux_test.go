package pxe

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxetest"
)

// An installed machine under UEFI: OVMF's PXE gets an address and no boot
// file, gives up on its DHCP retries (a minute or two: the firmware waits
// for an offer with a boot file) and says it failed to load that boot
// option, which is when its boot manager goes on to the next one (the
// disk of a KubeVirt VM; in this lab, OVMF's HTTP boot, which the test
// does not wait out).
// The firmware mostly waits, so the test runs beside the others. (BIOS is
// shown with a disk by pxelab's KubeVirt test: SeaBIOS boots it after
// iPXE runs the local-boot script.)
func TestLocalBootUEFI(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mac := pxetest.NewMAC()
	bl := startBootLab(t, ctx, nil)
	inv := bl.srv.Inventory().(*StaticInventory)
	must(t, inv.SetProfile(LocalBootProfile, LocalBoot()))
	must(t, inv.SetMachine(Machine{MAC: mac, Hostname: "installed", Profile: LocalBootProfile}))
	vm := bl.lab.StartVM(t, ctx, pxetest.VMConfig{Firmware: pxetest.UEFIPXE, MAC: mac})
	if _, err := vm.WaitFor(ctx, regexp.MustCompile(`BdsDxe: failed to load Boot[0-9A-F]{4} "UEFI PXEv4`)); err != nil {
		bl.dump(t)
		t.Fatalf("the PXE boot option did not give up: %v", err)
	}
	t.Logf("power-on to the PXE boot option's failure: %v", time.Since(vm.Started()).Round(time.Millisecond))
	vm.Stop()
	for _, e := range bl.events.All() {
		if macaddr.Equal(e.MAC, mac) && (e.Kind == EventTFTPSent || e.Kind == EventScriptServed || e.Kind == EventDenied) {
			t.Errorf("installed machine: %s %s", e.Kind, e.Detail)
		}
	}
	if strings.Contains(vm.Console(), "iPXE") {
		t.Errorf("iPXE ran:\n%s", vm.Console())
	}
}
