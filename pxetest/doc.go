// Package pxetest is a lab for proving, from go test, that a boot server
// network-boots real firmware. A project that embeds pxekit (or any boot
// server) calls it from its own tests: it builds a network namespace with a
// bridge on the lab subnet 192.0.2.0/24, a busybox guest at run time, and
// QEMU VMs that boot with real firmware — SeaBIOS with QEMU's iPXE ROM
// (BIOS), OVMF's own PXE (UEFIPXE), OVMF's HTTP boot (UEFIHTTP), both with
// Secure Boot enforced (UEFISecureBoot, UEFISecureBootHTTP) — against
// whatever server the test runs in the namespace, then follows the boot on
// the VM's serial console until the guest phones home. It also starts the
// real peers such tests need (dnsmasq, dhclient, udhcpc), each in a process
// group of its own that is killed when the test ends, pass or fail.
//
// Everything here runs on Linux as root, with Debian's (or Ubuntu's)
// packages: qemu-system-x86, ipxe-qemu, ovmf, ipxe, busybox-static, and for
// the peers dnsmasq-base, isc-dhcp-client, udhcpc. Outside CI a test that
// lacks one skips with a message naming the package; with CI=true it fails,
// since CI must provide everything (see Missing).
//
// # A firmware boot test
//
// The boot server runs in the lab namespace (pxe.Config.NetNS takes
// Network.NS.Path()); the guest's kernel command line carries the
// phone-home URL:
//
//	func TestBootsBIOS(t *testing.T) {
//		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
//		defer cancel()
//		lab := pxetest.NewBootLab(t, pxetest.Initramfs{}) // netns + br0 192.0.2.1/24, kernel, initramfs
//		inv, err := pxe.NewStaticInventory(pxe.InventorySpec{Default: "lab", Profiles: map[string]pxe.Profile{"lab": {
//			Kernel: "vmlinuz", Initrd: "initrd.gz",
//			Args: []string{"console=ttyS0", "panic=-1", pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"}}}})
//		if err != nil {
//			t.Fatal(err)
//		}
//		srv, err := pxe.New(pxe.Config{
//			Interface: lab.Bridge,
//			NetNS:     lab.NS.Path(),
//			Subnets: []dhcp.Subnet{{Pools: []dhcp.Range{{Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}}}},
//			Assets:    fstest.MapFS{"vmlinuz": {Data: lab.Vmlinuz}, "initrd.gz": {Data: lab.Initrd}},
//			Inventory: inv,
//			Logger: pxetest.Logger(t, slog.LevelWarn),
//		})
//		if err != nil {
//			t.Fatal(err)
//		}
//		pxetest.Serve(t, srv) // until the test ends; returns once it is ready
//		vm := lab.StartVM(t, ctx, pxetest.VMConfig{Firmware: pxetest.BIOS}) // a tap, a random MAC, the console in t.Log
//		m, err := vm.WaitFor(ctx, pxetest.CmdlineRE) // the guest's /init ran: m[1] is /proc/cmdline
//		if err != nil {
//			t.Fatal(err)
//		}
//		if m, err = vm.WaitFor(ctx, pxetest.PhoneHomeRE); err != nil || m[1] != "ok" {
//			t.Fatalf("phone-home: %v %v", m, err)
//		}
//	}
//
// Example_bootPXE is the same without the testing helpers, as a program
// would write it.
//
// # Reference
//
// Environment. InCI, Missing, RequireRoot, RequireCmd, RequireFile and
// RequireFirmware decide whether a test can run here; the constants
// OVMFImage, IPXEROM, IPXEEFI, IPXEBIOS and Busybox are where Debian's
// packages put the firmware and the guest's userland. CheckGolden compares
// output with testdata/golden files (PXETEST_UPDATE=1 rewrites them);
// ModuleRoot is the root of the module under test.
//
// Guest kernel. FindKernel, GuestKernel and GuestKernelFlavor look for an
// unpacked Debian kernel package (dpkg -x) in $PXEKIT_KERNEL_DIR/<flavor>
// ("cloud": Debian 12's cloud kernel; "bpo": bookworm-backports' 6.12),
// and, inside a pxekit checkout, in its .cache/kernel (make testdeps). The
// message of a missing kernel is the apt-get download recipe.
//
// Guest. Initramfs is a gzip'ed busybox root whose /init prints markers on
// the console (MarkerStart, MarkerCmdline, MarkerNIC, MarkerDHCP,
// MarkerPhoneHome, MarkerError, MarkerDone), loads the virtio NIC modules,
// takes a lease with udhcpc, runs Initramfs.Commands (shell lines that may
// read kernel arguments with `arg NAME`), GETs the phone-home URL with
// ?mac=<its MAC> and powers off. PhoneHomes is an http.Handler that records
// those requests with the MAC the server's neighbour table saw, for a boot
// server without a phone-home endpoint of its own.
//
// Namespaces. NewNetNS and TempNetNS create named namespaces (ip netns list
// shows them; names carry a random suffix so parallel runs never collide).
// NetNS.Do runs a function with the calling thread inside (locked, and
// switched back after), so sockets and links it creates live there;
// Listen and ListenPacket open sockets there; NetNS.Start forks a command
// from such a thread, so it runs inside without ip netns exec. AddBridge,
// AddTap, AddVeth (to a bridge, or with its peer in another namespace),
// AddAddr, MoveLink, WaitLinkLocal, HardwareAddr and MACOf do the
// plumbing with netlink. NewNetwork and TempNetwork build the usual lab (a
// bridge with the server address, or a Switch without one); AddTap adds
// taps for VMs and AddHost adds hosts, namespaces of their own on a veth
// port of the bridge.
//
// VMs. StartVM boots QEMU (TCG, q35, a virtio NIC on a tap) with a
// Firmware; Network.StartVM does it for a test. VM.WaitFor waits for a
// console line matching a pattern, reading the console live; VM.Wait waits
// for the guest to power off.
//
// Secure Boot. UEFISecureBoot and UEFISecureBootHTTP boot OVMF with Secure
// Boot enforced and Microsoft's keys (OVMFSecureBootCode as pflash, a
// fresh copy of OVMFSecureBootVars for every VM, SMM), so only shim and
// what it trusts runs; VMConfig.HTTPSCACerts hands the firmware the CAs it
// trusts for HTTPS boot (an EFI_SIGNATURE_LIST file, as pxe/labca writes
// it). The guest prints MarkerSecureBoot (SecureBootRE): what the kernel
// and the firmware's SecureBoot variable say. RequireSecureBoot needs the
// firmware and the signed shim and GRUB; StripSignature makes the unsigned
// copy of a kernel that Secure Boot must refuse.
//
// Servers and peers. Serve runs anything with Serve(ctx) and Ready() — a
// pxe.Server, a dhcp.Server, an ra.Responder — until the test ends.
// StartDnsmasq runs dnsmasq as a DHCP server; StartDhclient and
// StartUdhcpc run real DHCP clients whose hook scripts record every lease
// event (DHCPClient.WaitEvent); RelayClient speaks to a DHCP server on
// loopback as a relay agent does, picking the client's link, so a server
// with several subnets is tested without root. Recorder collects values from callbacks or
// channels (a server's OnEvent, pxe.Server.Subscribe) for a test to wait
// on; Buffer collects output; Logger sends slog records to the test log.
//
// Processes. Start and Run start a command in a namespace in a process
// group of its own; when the test ends the whole group is killed and
// waited for, also when the test failed or its context ran out.
// CommandContext is the same for programs (the group dies when the context
// ends, and with the thread that forked it). FailPoint and CheckCleanup
// prove it for a whole test: CheckCleanup re-runs the test binary as a
// child that fails the test at its FailPoint, then checks that no process
// the child started and no namespace it created is left.
package pxetest
