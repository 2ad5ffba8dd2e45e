package pxe

import (
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/ipxe"
)

// LocalBootProfile is the name inventories give LocalBoot's profile.
const LocalBootProfile = "local-boot"

// LocalBoot returns the profile of a machine that is to boot its disk: a
// machine whose NIC boots first and its disk second (KubeVirt's PXE
// pattern: interface bootOrder 1, disk bootOrder 2) then starts the system
// installed on that disk, while the boot server still decides, on every
// boot, whether it installs again. A machine the inventory answers with
// the profile named LocalBootProfile is served so:
//
//   - iPXE under BIOS (QEMU's and KubeVirt's NIC ROM under SeaBIOS) gets
//     this profile's script, which leaves iPXE with an error status:
//     SeaBIOS then boots the next device of its boot order;
//   - firmware that is not iPXE, and any UEFI client, gets its address and
//     no boot file, so its boot manager goes on to the next boot option.
//     Under OVMF, Debian's ipxe.efi (1.0.0+git-20190125) did not hand back
//     to the boot manager after the script's exit, where a PXE offer
//     without a boot file makes OVMF move on at once.
//
// The script's status is an error because UEFI's boot manager goes on to
// the next boot option only after one; SeaBIOS goes on either way.
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

// firmwareBootsNext reports whether client c of machine m gets no boot
// file so its firmware boots the next boot option (LocalBoot says when).
func firmwareBootsNext(m Machine, c dhcp.Client) bool {
	return m.Profile == LocalBootProfile && (c.IsUEFI() || !c.IsIPXE())
}
