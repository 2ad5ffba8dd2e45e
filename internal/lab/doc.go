// Package lab is the harness for real-firmware network-boot tests and the
// pxelab demo: a network namespace with a bridge on the lab subnet
// (192.0.2.0/24), taps for VMs, QEMU VMs that boot with real firmware —
// SeaBIOS + QEMU's iPXE ROM (BIOS), OVMF's own PXE (UEFIPXE), OVMF HTTP
// boot (UEFIHTTP) — with a live serial console, and a busybox initramfs
// built in Go whose /init reports on the console and phones home.
//
// A typical test:
//
//	lnet := lab.Setup(t)                         // netns + br0 192.0.2.1/24, removed at the end
//	ln, _ := lnet.NS.Listen("tcp", "192.0.2.1:0") // the boot server's sockets live in the netns
//	initrd, _ := lab.Initramfs{ModulesDir: testenv.GuestKernel(t).ModulesDir}.Bytes()
//	// ... serve DHCP/TFTP/HTTP in lnet.NS; the script's kernel arguments
//	// include pxekit.phonehome=http://192.0.2.1:PORT/phonehome
//	tap, _ := lnet.AddTap()
//	vm, _ := lab.StartVM(ctx, lab.VMConfig{NetNS: lnet.NS, Tap: tap, MAC: lab.NewMAC(), Firmware: lab.BIOS})
//	defer vm.Stop()
//	m, err := vm.WaitFor(ctx, lab.CmdlineRE)   // /init ran; m[1] is /proc/cmdline
//	m, err = vm.WaitFor(ctx, lab.PhoneHomeRE)  // "ok" and the URL
//
// Namespaces: NetNS.Do runs a function with the calling thread inside the
// namespace (locked, and switched back after), so sockets and links it
// creates live there; NetNS.Start forks a command from such a thread, so
// QEMU and dnsmasq run inside without ip netns exec. Names carry a random
// suffix: parallel runs never collide.
//
// Everything here needs root; Setup skips outside CI and fails in CI when
// it is missing (internal/testenv).
package lab
