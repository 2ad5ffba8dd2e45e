package pxetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/consoleline"
)

// Firmware is how a VM network-boots.
type Firmware int

const (
	// BIOS is SeaBIOS with QEMU's iPXE option ROM for virtio-net
	// (ipxe-qemu): the ROM sends DHCP with user class "iPXE", arch 0.
	BIOS Firmware = iota
	// UEFIPXE is OVMF's own PXE stack (the NIC's iPXE ROM is disabled with
	// romfile=): DHCP with "PXEClient:Arch:00007", then TFTP.
	UEFIPXE
	// UEFIHTTP is OVMF's UEFI HTTP boot: DHCP with "HTTPClient:Arch:00016";
	// the server answers with option 60 "HTTPClient" and a URL. PXE over
	// IPv4/IPv6 is switched off through fw_cfg so OVMF goes straight to it.
	UEFIHTTP
	// UEFIPXE6 and UEFIHTTP6 boot OVMF over IPv6 only: IPv4 is switched
	// off through fw_cfg (opt/org.tianocore/IPv4Support=n: no PXEv4, no
	// HTTPv4, each of which would wait 60 s for a DHCPv4 server), leaving
	// PXE over IPv6, then HTTP boot over IPv6. UEFIPXE6 is OVMF's PXE
	// (DHCPv6 arch 7, then TFTP from the option 59 tftp://[…] URL).
	// UEFIHTTP6 is its HTTP boot (arch 16, vendor class HTTPClient): the
	// VM starts the same way, and the server must give its PXEv6 attempt no
	// boot file URL. OVMF 2022.11's HTTPv6 fails at once, sending no DHCPv6
	// at all, when it is the first network attempt (within about 12 s of
	// power-on: seen with IPv4Support=n, with HTTPv6 first in BootOrder,
	// with a BootNext URI entry); after a PXEv6 attempt that gets no URL
	// and gives up (about 13.7 s under TCG) it works. Each VM gets a
	// random SMBIOS UUID (-uuid): iPXE's DHCPv6 client DUID is a DUID-UUID
	// made from it, all zeros otherwise under QEMU.
	UEFIPXE6
	UEFIHTTP6
)

// String returns the name ParseFirmware accepts: bios, uefi, uefi-http.
func (f Firmware) String() string {
	switch f {
	case BIOS:
		return "bios"
	case UEFIPXE:
		return "uefi"
	case UEFIHTTP:
		return "uefi-http"
	case UEFIPXE6:
		return "uefi-pxe6"
	case UEFIHTTP6:
		return "uefi-http6"
	}
	return "Firmware(" + strconv.Itoa(int(f)) + ")"
}

// ParseFirmware parses "bios", "uefi" (or "uefi-pxe"), "uefi-http",
// "uefi-pxe6" and "uefi-http6".
func ParseFirmware(s string) (Firmware, error) {
	switch strings.ToLower(s) {
	case "bios":
		return BIOS, nil
	case "uefi", "uefi-pxe":
		return UEFIPXE, nil
	case "uefi-http":
		return UEFIHTTP, nil
	case "uefi-pxe6":
		return UEFIPXE6, nil
	case "uefi-http6":
		return UEFIHTTP6, nil
	}
	return 0, fmt.Errorf("pxetest: unknown firmware %q (want bios, uefi, uefi-http, uefi-pxe6 or uefi-http6)", s)
}

// IPv6 reports whether f boots over IPv6.
func (f Firmware) IPv6() bool { return f == UEFIPXE6 || f == UEFIHTTP6 }

// image is the firmware file QEMU needs for f: the iPXE ROM SeaBIOS runs,
// or OVMF.
func (f Firmware) image() string {
	if f == BIOS {
		return IPXEROM
	}
	return OVMFImage
}

// VMConfig describes a network-booting VM.
type VMConfig struct {
	// NetNS is where QEMU runs (the namespace of Tap). Required.
	NetNS *NetNS
	// Tap is the tap device (see NetNS.AddTap). Required.
	Tap string
	// MAC of the VM's virtio NIC. Required: boot servers key on it.
	MAC net.HardwareAddr
	// Firmware selects BIOS, UEFI PXE or UEFI HTTP boot.
	Firmware Firmware
	// MemoryMB is the guest's RAM (default 512).
	MemoryMB int
	// QEMU is the emulator binary (default qemu-system-x86_64 on PATH).
	QEMU string
	// OVMF is the UEFI image for UEFIPXE and UEFIHTTP (default OVMFImage,
	// from Debian's ovmf package).
	OVMF string
	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string
	// OnLine, if set, is called for each console line as it arrives
	// (escape sequences and \r removed), from the reader goroutine.
	OnLine func(line string)
	// UUID is the SMBIOS system UUID (-uuid), e.g.
	// 2f6b2b5c-0d5e-4c53-9d36-1c6bd7c8a001; empty leaves QEMU's all-zero
	// one, except for the IPv6 firmwares, which get a random one.
	UUID string
}

// VM is a running QEMU. Its serial console is read live; Console returns
// what arrived so far and WaitFor waits for a line to match.
type VM struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	started time.Time

	lines   Recorder[string] // closed when QEMU exits
	stderr  Buffer
	exitErr error // set before done is closed
	done    chan struct{}
}

// Args returns QEMU's command line arguments for cfg (without the binary).
func (cfg VMConfig) Args() ([]string, error) {
	if cfg.Tap == "" {
		return nil, errors.New("pxetest: VMConfig.Tap is empty")
	}
	if len(cfg.MAC) != 6 {
		return nil, fmt.Errorf("pxetest: VMConfig.MAC %q is not a 6-byte MAC", cfg.MAC)
	}
	if cfg.MAC[0]&1 == 1 {
		return nil, fmt.Errorf("pxetest: VMConfig.MAC %s is a multicast address", cfg.MAC)
	}
	mem := cfg.MemoryMB
	if mem <= 0 {
		mem = 512
	}
	args := []string{
		"-machine", "q35", "-accel", "tcg", "-m", strconv.Itoa(mem),
		"-nographic", "-no-reboot", "-monitor", "none",
		"-netdev", "tap,id=n0,ifname=" + cfg.Tap + ",script=no,downscript=no",
	}
	nic := "virtio-net-pci,netdev=n0,mac=" + cfg.MAC.String()
	switch cfg.Firmware {
	case BIOS:
		args = append(args, "-boot", "n", "-device", nic)
	case UEFIPXE, UEFIHTTP:
		ovmf := cfg.OVMF
		if ovmf == "" {
			ovmf = OVMFImage
		}
		// romfile= (empty) keeps QEMU's iPXE EFI ROM off the NIC, so the
		// firmware's own network stack boots.
		args = append(args,
			"-bios", ovmf,
			"-device", nic+",romfile=",
			// OVMF's boot options otherwise try PXEv4, PXEv6, HTTPv4, HTTPv6
			// in turn, each waiting out its DHCP timeout.
			"-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n")
		if cfg.Firmware == UEFIHTTP {
			args = append(args, "-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n")
		}
	case UEFIPXE6, UEFIHTTP6:
		args = append(args, ipv6Args(cfg, nic)...)
	default:
		return nil, fmt.Errorf("pxetest: unknown firmware %v", cfg.Firmware)
	}
	if cfg.UUID != "" {
		args = append(args, "-uuid", cfg.UUID)
	}
	return append(args, cfg.ExtraArgs...), nil
}

// StartVM boots a VM in cfg.NetNS. Cancelling ctx (or Stop) kills QEMU.
func StartVM(ctx context.Context, cfg VMConfig) (*VM, error) {
	if cfg.NetNS == nil {
		return nil, errors.New("pxetest: VMConfig.NetNS is nil")
	}
	qemu := cfg.QEMU
	if qemu == "" {
		var err error
		if qemu, err = exec.LookPath("qemu-system-x86_64"); err != nil {
			return nil, fmt.Errorf("pxetest: qemu-system-x86_64 not found (apt-get install qemu-system-x86): %w", err)
		}
	}
	if cfg.Firmware.IPv6() && cfg.UUID == "" {
		cfg.UUID = newUUID()
	}
	args, err := cfg.Args()
	if err != nil {
		return nil, err
	}
	if cfg.Firmware != BIOS {
		// SeaBIOS's iPXE ROM is QEMU's to find (its own message says
		// which); OVMF is named on the command line.
		img, how := cfg.OVMF, "VMConfig.OVMF"
		if img == "" {
			img, how = OVMFImage, "apt-get install "+debianPackage[OVMFImage]
		}
		if _, err := os.Stat(img); err != nil {
			return nil, fmt.Errorf("pxetest: %s firmware (%s): %w", cfg.Firmware, how, err)
		}
	}
	vm := &VM{done: make(chan struct{})}
	ctx, vm.cancel = context.WithCancel(ctx)
	vm.cmd = CommandContext(ctx, qemu, args...)
	vm.cmd.Stderr = &vm.stderr
	out, err := vm.cmd.StdoutPipe()
	if err != nil {
		vm.cancel()
		return nil, err
	}
	vm.started = time.Now()
	if err := cfg.NetNS.Start(vm.cmd); err != nil {
		vm.cancel()
		return nil, fmt.Errorf("pxetest: starting QEMU in netns %s: %w", cfg.NetNS.Name(), err)
	}
	go vm.read(out, cfg.OnLine)
	return vm, nil
}

// StartVM boots a VM on the network for the rest of the test: it adds a tap
// (unless cfg.Tap names one), fills in NetNS, a random MAC when cfg.MAC is
// nil, and an OnLine that logs the console through tb when cfg has none.
// QEMU is stopped when the test ends; a failed test logs its stderr.
func (n *Network) StartVM(tb testing.TB, ctx context.Context, cfg VMConfig) *VM {
	tb.Helper()
	if cfg.Tap == "" {
		tap, err := n.AddTap()
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Tap = tap
	}
	cfg.NetNS = n.NS
	if cfg.MAC == nil {
		cfg.MAC = NewMAC()
	}
	if cfg.OnLine == nil {
		mac := cfg.MAC.String()
		cfg.OnLine = func(l string) { tb.Logf("vm %s: %s", mac, l) }
	}
	vm, err := StartVM(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("pxetest: started QEMU (pid %d, own process group, %s firmware, MAC %s) in netns %s", vm.cmd.Process.Pid, cfg.Firmware, cfg.MAC, n.NS.Name())
	tb.Cleanup(func() {
		vm.Stop()
		if tb.Failed() {
			tb.Logf("vm %s: QEMU stderr: %s", cfg.MAC, strings.TrimSpace(vm.Stderr()))
		}
	})
	return vm
}

func (vm *VM) read(r io.Reader, onLine func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := consoleline.Clean(sc.Text())
		if onLine != nil {
			onLine(line)
		}
		vm.lines.Add(line)
	}
	_, _ = io.Copy(io.Discard, r)
	vm.exitErr = vm.cmd.Wait()
	vm.lines.Close(fmt.Errorf("pxetest: QEMU exited (%v); stderr: %s", vm.exitErr, strings.TrimSpace(vm.Stderr())))
	close(vm.done)
}

// Console returns the console lines received so far, joined by newlines.
func (vm *VM) Console() string { return strings.Join(vm.lines.All(), "\n") }

// Stderr returns what QEMU wrote on stderr (warnings, errors).
func (vm *VM) Stderr() string { return vm.stderr.String() }

// Started is when QEMU was started (power-on), for boot timings.
func (vm *VM) Started() time.Time { return vm.started }

// WaitFor waits until a console line (any since power-on) matches re and
// returns its submatches. It fails when ctx ends or QEMU exits first.
func (vm *VM) WaitFor(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	line, err := vm.lines.First(ctx, re.MatchString)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pxetest: console did not match %q: %w", re, err)
		}
		return nil, fmt.Errorf("%w before the console matched %q", err, re)
	}
	return re.FindStringSubmatch(line), nil
}

// Wait waits for QEMU to exit (the guest powered off, with -no-reboot) and
// returns its exit error.
func (vm *VM) Wait(ctx context.Context) error {
	select {
	case <-vm.done:
		return vm.exitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop kills QEMU (if still running) and waits for it. It is safe to call
// more than once.
func (vm *VM) Stop() {
	vm.cancel()
	<-vm.done
}
