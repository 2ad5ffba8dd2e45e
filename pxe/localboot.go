package pxe

import "github.com/pxekit/pxekit/ipxe"

// LocalBootProfile is the name inventories give LocalBoot's profile.
const LocalBootProfile = "local-boot"

// LocalBoot returns a profile whose script boots nothing itself: it leaves
// iPXE with an error status, handing the machine back to its firmware,
// which boots the next device of its boot order. A machine whose NIC boots
// first and its disk second (KubeVirt's PXE pattern: interface bootOrder 1,
// disk bootOrder 2) then starts the system installed on that disk, while
// the boot server still decides, on every boot, whether it installs again.
// The status is an error because UEFI's boot manager goes on to the next
// boot option only after one (success makes it stop at its menu); SeaBIOS
// goes on either way.
func LocalBoot() Profile {
	script, err := ipxe.NewScript().
		Echo("pxekit: installed, booting the next boot device").
		Exit(1).
		Build()
	if err != nil {
		panic("pxe: the local-boot script does not build: " + err.Error()) // constant input
	}
	return Profile{Script: string(script)}
}
