// Package vmtest runs Go tests inside a QEMU guest kernel, for kernel
// features the host lacks (8021q VLAN links, bridge VLAN filtering, SR-IOV
// on an emulated igb NIC, vfio).
//
// The package's own test binary is the guest's /init: the host side builds
// it (go test -c, CGO_ENABLED=0, once per package and process), writes an
// initramfs in Go with the binary, the requested kernel modules (and their
// dependencies, read from .modinfo; .ko.xz decompressed) and a small config
// file, then boots
//
//	qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 512 -nographic
//	  -no-reboot -nic none -kernel VMLINUZ -initrd INITRD
//	  -append 'console=ttyS0 panic=-1 quiet'
//
// In the guest, this package's init function sees it is PID 1 with that
// config file, mounts proc, sysfs, devtmpfs and tmpfs (/tmp, /run; /var/run
// links to /run for named netns), loads the modules with init_module(2),
// runs the test binary again as a child with -test.run, prints
// "VMTEST-RC=<exit code>" on the console and powers off. No TestMain is
// needed. The host streams the console into t.Log and fails the test unless
// the marker says 0 (a kernel panic, a timeout or a missing marker fail
// too).
//
// Usage, one function for both halves — the body runs only in the guest:
//
//	func TestVLANFiltering(t *testing.T) {
//		vmtest.Run(t, vmtest.Config{
//			Kernel:  pxetest.GuestKernel(t),
//			Modules: []string{"8021q", "bridge", "veth"},
//		}, func(t *testing.T) {
//			// netlink.NewHandle(unix.NETLINK_ROUTE), create a bridge with
//			// vlan_filtering, ... (this is the guest kernel)
//		})
//	}
//
// Or one boot for several guest tests, selected by Config.TestRun; each
// guest test starts with GuestOnly so that on the host it skips:
//
//	func TestSRIOV(t *testing.T) { // host driver
//		vmtest.Run(t, vmtest.Config{Kernel: pxetest.GuestKernelFlavor(t, "bpo"),
//			Modules: []string{"igb", "igbvf"}, QEMUArgs: []string{"-device", "igb"},
//			TestRun: "^TestGuestSRIOV"}, nil)
//	}
//	func TestGuestSRIOVNumVFs(t *testing.T) {
//		vmtest.GuestOnly(t, "TestSRIOV")
//		...
//	}
//
// The guest has no network (-nic none) unless QEMUArgs add a device, no
// shell and no /bin: tests use Go APIs (netlink, sysfs), not commands.
// Under TCG expect a few seconds per boot with the cloud kernel and about a
// minute with the backports kernel and igb.
package vmtest
