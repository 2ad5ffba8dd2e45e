package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// demoTimeout bounds a whole demo: TCG boots take 20–70 s, more on a busy
// machine.
const demoTimeout = 10 * time.Minute

// requirement is a file a Debian package ships.
type requirement struct{ path, pkg string }

func demoRequirements(fw pxetest.Firmware) []requirement {
	reqs := []requirement{
		{"qemu-system-x86_64", "qemu-system-x86"},
		{pxetest.IPXEBIOS, "ipxe"},
		{pxetest.IPXEEFI, "ipxe"},
		{pxetest.Busybox, "busybox-static"},
	}
	switch {
	case fw == pxetest.BIOS:
		reqs = append(reqs, requirement{pxetest.IPXEROM, "ipxe-qemu"})
	case fw.SecureBoot():
		reqs = append(reqs, requirement{pxetest.OVMFSecureBootCode, "ovmf"}, requirement{pxetest.OVMFSecureBootVars, "ovmf"},
			requirement{"/usr/lib/shim/shimx64.efi.signed", "shim-signed"},
			requirement{"/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed", "grub-efi-amd64-signed"})
	default:
		reqs = append(reqs, requirement{pxetest.OVMFImage, "ovmf"})
	}
	return reqs
}

// missingPackages names the Debian packages whose files are not here.
func missingPackages(reqs []requirement) []string {
	var missing []string
	seen := map[string]bool{}
	for _, r := range reqs {
		var err error
		if strings.HasPrefix(r.path, "/") {
			_, err = os.Stat(r.path)
		} else {
			_, err = exec.LookPath(r.path)
		}
		if err != nil && !seen[r.pkg] {
			seen[r.pkg] = true
			missing = append(missing, r.pkg)
		}
	}
	return missing
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("pxelab demo", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fwName := fl.String("firmware", "bios", "bios (SeaBIOS + iPXE ROM), uefi (OVMF PXE), uefi-http (OVMF HTTP boot), "+
		"uefi-secureboot (OVMF PXE with Secure Boot enforced: shim, GRUB, Debian's signed kernel) or "+
		"uefi-secureboot-http (the same over UEFI HTTPS boot, with a lab CA handed to the firmware)")
	macStr := fl.String("mac", "52:54:00:de:00:01", "the VM's MAC address")
	kernelDir := fl.String("kernel-dir", "", "unpacked Debian kernel package (default $PXEKIT_KERNEL_DIR/cloud, or .cache/kernel/cloud of this repository)")
	quiet := fl.Bool("quiet", false, "do not print the guest's console")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	fw, err := pxetest.ParseFirmware(*fwName)
	if err != nil {
		fmt.Fprintf(stderr, "pxelab demo: %v\n", err)
		return 2
	}
	mac, err := macaddr.Parse(*macStr)
	if err != nil {
		fmt.Fprintf(stderr, "pxelab demo: --mac: %v\n", err)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "pxelab demo: needs root (network namespaces, taps): run it with sudo, or `sudo make demo`")
		return 1
	}
	if missing := missingPackages(demoRequirements(fw)); len(missing) > 0 {
		fmt.Fprintf(stderr, "pxelab demo: missing Debian packages: %s\n  apt-get install %s   (or `make demo`, which installs them)\n",
			strings.Join(missing, " "), strings.Join(missing, " "))
		return 1
	}
	kernel, err := pxetest.FindKernel("cloud")
	if *kernelDir != "" {
		kernel, err = pxetest.KernelAt(*kernelDir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pxelab demo: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	if err := runDemo(ctx, fw, mac, kernel, *quiet, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "pxelab demo: %v\n", err)
		return 1
	}
	return 0
}

// runDemo does the demo's work; everything it creates is removed when it
// returns, on success, failure or Ctrl-C alike.
func runDemo(ctx context.Context, fw pxetest.Firmware, mac net.HardwareAddr, kernel pxetest.Kernel, quiet bool, stdout, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "pxelab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	initrd := filepath.Join(tmp, "initrd.gz")
	f, err := os.Create(initrd)
	if err != nil {
		return err
	}
	err = pxetest.Initramfs{ModulesDir: kernel.ModulesDir}.Write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}

	lnet, err := pxetest.NewNetwork(pxetest.NetworkConfig{Name: "pxelab"})
	if err != nil {
		return fmt.Errorf("lab network: %w", err)
	}
	defer lnet.Close()
	fmt.Fprintf(stderr, "pxelab: network namespace %s, bridge %s %s\n", lnet.NS.Name(), lnet.Bridge, lnet.Server)

	o := serveOptions{
		iface: lnet.Bridge, netns: lnet.NS.Path(),
		pool:   "192.0.2.100-192.0.2.199",
		kernel: kernel.Vmlinuz, initrd: initrd,
		cmdline:  "console=ttyS0 panic=-1 quiet " + pxetest.DefaultPhoneHomeArg + "={{.BaseURL}}/phonehome",
		httpPort: 8080,
		state:    filepath.Join(tmp, "state"),
		machines: listFlag{mac.String() + "=default"},
		// The demo's network is an isolated lab with no IPv6 router:
		// answering iPXE's router solicitation saves its ~13 s wait.
		routerAdvert: true,
	}
	// Secure Boot: the profile boots through shim and GRUB; over HTTP boot
	// with HTTPS from a lab CA that the VM's firmware is given.
	o.secure.secureBoot = fw.SecureBoot()
	o.secure.httpsPort = 8443
	if fw == pxetest.UEFISecureBootHTTP {
		o.secure.tlsLabCA, o.secure.httpsBoot = filepath.Join(tmp, "ca"), true
	}
	cfg, err := o.config(io.Discard)
	if err != nil {
		return err
	}
	srv, err := o.server(cfg)
	if err != nil {
		return err
	}
	sctx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	defer func() {
		stopServer()
		<-served
	}()
	select {
	case <-srv.Ready():
	case err := <-served:
		return fmt.Errorf("boot server: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}

	home := make(chan pxe.Event, 1)
	var once sync.Once
	stopEvents := printEvents(ctx, srv, stdout, func(e pxe.Event) {
		if e.Kind == pxe.EventPhonedHome && macaddr.Equal(e.MAC, mac) {
			once.Do(func() { home <- e })
		}
	})
	defer stopEvents()

	tap, err := lnet.AddTap()
	if err != nil {
		return err
	}
	var consoleMu sync.Mutex
	vm, err := pxetest.StartVM(ctx, pxetest.VMConfig{NetNS: lnet.NS, Tap: tap, MAC: mac, Firmware: fw,
		HTTPSCACerts: o.secure.labCAFirmwareFile,
		OnLine: func(l string) {
			if quiet || strings.TrimSpace(l) == "" {
				return
			}
			consoleMu.Lock()
			fmt.Fprintf(stderr, "guest| %s\n", l)
			consoleMu.Unlock()
		}})
	if err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	defer vm.Stop()
	fmt.Fprintf(stderr, "pxelab: powered on %s (%s firmware), serving at %s\n", mac, fw, srv.BaseURL())

	initSeen := make(chan time.Duration, 1)
	go func() {
		if _, err := vm.WaitFor(ctx, regexp.MustCompile(pxetest.MarkerStart+"$")); err == nil {
			initSeen <- time.Since(vm.Started())
		}
	}()
	vmDone := make(chan error, 1)
	go func() { vmDone <- vm.Wait(ctx) }()
	select {
	case e := <-home:
		toHome := time.Since(vm.Started())
		var toInit time.Duration
		select {
		case toInit = <-initSeen:
		default:
		}
		// Let the guest power off by itself; it is about to.
		select {
		case <-vmDone:
		case <-time.After(20 * time.Second):
		}
		fmt.Fprintf(stderr, "pxelab: %s booted over the network (%s): power-on to /init %s, to phone-home %s (%s)\n",
			mac, fw, toInit.Round(100*time.Millisecond), toHome.Round(100*time.Millisecond), e.Detail)
		if fw.SecureBoot() {
			// What the guest's /init printed (pxetest.MarkerSecureBoot).
			sb := "not reported"
			for _, l := range strings.Split(vm.Console(), "\n") {
				if m := pxetest.SecureBootRE.FindStringSubmatch(l); m != nil {
					sb = m[1] + " (firmware variable SecureBoot=" + m[2] + ", lockdown " + m[3] + ")"
				}
			}
			fmt.Fprintf(stderr, "pxelab: the guest says Secure Boot is %s\n", sb)
		}
		return nil
	case err := <-vmDone:
		return fmt.Errorf("the VM stopped before it phoned home (%v); QEMU said: %s", err, strings.TrimSpace(vm.Stderr()))
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no phone-home within %s", demoTimeout)
		}
		return errors.New("interrupted")
	}
}
