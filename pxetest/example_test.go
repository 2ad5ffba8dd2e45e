package pxetest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// The QEMU command line for a UEFI HTTP boot on tap0: OVMF as -bios, the
// NIC without its iPXE ROM, and PXE switched off so OVMF goes straight to
// HTTP boot.
func ExampleVMConfig_Args() {
	fw, _ := pxetest.ParseFirmware("uefi-http")
	mac, _ := net.ParseMAC("52:54:00:6b:13:e2")
	args, err := pxetest.VMConfig{Tap: "tap0", MAC: mac, Firmware: fw}.Args()
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Join(args, " "))
	// Output:
	// -machine q35 -accel tcg -m 512 -nographic -no-reboot -monitor none -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -bios /usr/share/ovmf/OVMF.fd -device virtio-net-pci,netdev=n0,mac=52:54:00:6b:13:e2,romfile= -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n
}

// A guest that, like an installer, fetches its config from a URL given on
// the kernel command line before phoning home.
func ExampleInitramfs_Script() {
	script := pxetest.Initramfs{Commands: []string{
		`url=$(arg harvester.install.config_url) && timeout 60 wget -q -O /tmp/config.yaml "$url" && echo CONFIG-FETCHED`,
	}}.Script()
	for _, l := range strings.Split(script, "\n") {
		if strings.Contains(l, "CONFIG-FETCHED") || strings.HasPrefix(l, "url=$(arg pxekit") || l == "poweroff -f" {
			fmt.Println(l)
		}
	}
	// Output:
	// url=$(arg harvester.install.config_url) && timeout 60 wget -q -O /tmp/config.yaml "$url" && echo CONFIG-FETCHED
	// url=$(arg pxekit.phonehome)
	// poweroff -f
}

// A lab network and a host on it: the bridge carries the boot server's
// address, the host's eth0 is a veth port of the bridge in a namespace of
// its own. Needs root, so it is run by TestExamples rather than go test's
// example runner.
func ExampleNewNetwork() {
	lnet, err := pxetest.NewNetwork(pxetest.NetworkConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lnet.Close()
	host, err := lnet.AddHost("client", netip.MustParsePrefix("192.0.2.2/24"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// The server's socket lives in the lab namespace, whichever
	// goroutine uses it later.
	ln, err := lnet.NS.Listen("tcp", lnet.ServerAddr().String()+":8080")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			fmt.Fprintf(c, "hello from %s", lnet.Bridge)
			c.Close()
		}
	}()
	err = host.NS.Do(func() error {
		c, err := net.Dial("tcp", "192.0.2.1:8080")
		if err != nil {
			return err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		fmt.Printf("%s %s got %q\n", host.Link, host.Addr, b)
		return err
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output would be:
	// eth0 192.0.2.2/24 got "hello from br0"
}

// A boot server built on pxekit, proven against real firmware: the busybox
// guest built for Debian's cloud kernel, the server in a lab namespace,
// and a BIOS VM (SeaBIOS + QEMU's iPXE ROM) that gets an address, the iPXE
// script, the kernel and the initramfs from it, boots, and phones home.
// Needs root, QEMU and the guest kernel, so TestExamples runs it; in a
// test, NewBootLab, Serve and Network.StartVM do the same and clean up.
func Example_bootPXE() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kernel, err := pxetest.FindKernel("cloud")
	if err != nil {
		fmt.Println(err)
		return
	}
	vmlinuz, err := os.ReadFile(kernel.Vmlinuz)
	if err != nil {
		fmt.Println(err)
		return
	}
	initrd, err := pxetest.Initramfs{ModulesDir: kernel.ModulesDir}.Bytes()
	if err != nil {
		fmt.Println(err)
		return
	}
	lnet, err := pxetest.NewNetwork(pxetest.NetworkConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lnet.Close()

	// Every machine boots the "lab" profile: the default of an inventory
	// that lists none.
	inv, err := pxe.NewStaticInventory(pxe.InventorySpec{Default: "lab", Profiles: map[string]pxe.Profile{"lab": {
		Kernel: "vmlinuz", Initrd: "initrd.gz",
		// The guest's /init GETs this URL once it has an address.
		Args: []string{"console=ttyS0", "panic=-1", "quiet", pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome"},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := pxe.New(pxe.Config{
		Interface: lnet.Bridge,
		NetNS:     lnet.NS.Path(),
		Subnets: []dhcp.Subnet{{Pools: []dhcp.Range{{
			Start: netip.MustParseAddr("192.0.2.100"), End: netip.MustParseAddr("192.0.2.199")}}}},
		HTTPPort:            8080,
		Assets:              fstest.MapFS{"vmlinuz": {Data: vmlinuz}, "initrd.gz": {Data: initrd}},
		Inventory:           inv,
		RouterAdvertisement: true, // the lab has no IPv6 router; iPXE stops waiting for one
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	defer func() { stop(); <-served }()
	select {
	case <-srv.Ready():
	case err := <-served:
		fmt.Println(err)
		return
	}

	tap, err := lnet.AddTap()
	if err != nil {
		fmt.Println(err)
		return
	}
	vm, err := pxetest.StartVM(ctx, pxetest.VMConfig{NetNS: lnet.NS, Tap: tap, MAC: pxetest.NewMAC(), Firmware: pxetest.BIOS})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vm.Stop()
	if _, err := vm.WaitFor(ctx, pxetest.CmdlineRE); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("the guest's /init ran")
	m, err := vm.WaitFor(ctx, pxetest.PhoneHomeRE)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("phone-home:", m[1])
	// Output would be:
	// the guest's /init ran
	// phone-home: ok
}
