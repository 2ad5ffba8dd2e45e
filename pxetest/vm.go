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
	"path/filepath"
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
	// UEFISecureBoot is OVMF's PXE with Secure Boot enforced and
	// Microsoft's keys enrolled (OVMFSecureBootCode, a fresh copy of
	// OVMFSecureBootVars, SMM): it runs only what Microsoft's UEFI CA
	// signed, such as shim, and shim only what its vendor signed.
	UEFISecureBoot
	// UEFISecureBootHTTP is UEFISecureBoot's firmware booting over UEFI
	// HTTP (PXE switched off, as for UEFIHTTP); with VMConfig.HTTPSCACerts
	// it trusts those CAs for https URLs.
	UEFISecureBootHTTP
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

// SecureBoot reports firmware that enforces Secure Boot.
func (f Firmware) SecureBoot() bool { return f == UEFISecureBoot || f == UEFISecureBootHTTP }

// httpBoot reports firmware that boots over UEFI HTTP.
func (f Firmware) httpBoot() bool { return f == UEFIHTTP || f == UEFISecureBootHTTP }

// String returns the name ParseFirmware accepts: bios, uefi, uefi-http,
// uefi-secureboot, uefi-secureboot-http.
func (f Firmware) String() string {
	switch f {
	case BIOS:
		return "bios"
	case UEFIPXE:
		return "uefi"
	case UEFIHTTP:
		return "uefi-http"
	case UEFISecureBoot:
		return "uefi-secureboot"
	case UEFISecureBootHTTP:
		return "uefi-secureboot-http"
	case UEFIPXE6:
		return "uefi-pxe6"
	case UEFIHTTP6:
		return "uefi-http6"
	}
	return "Firmware(" + strconv.Itoa(int(f)) + ")"
}

// ParseFirmware parses "bios", "uefi" (or "uefi-pxe"), "uefi-http",
// "uefi-secureboot", "uefi-secureboot-http", "uefi-pxe6" and "uefi-http6".
func ParseFirmware(s string) (Firmware, error) {
	switch strings.ToLower(s) {
	case "bios":
		return BIOS, nil
	case "uefi", "uefi-pxe":
		return UEFIPXE, nil
	case "uefi-http":
		return UEFIHTTP, nil
	case "uefi-secureboot":
		return UEFISecureBoot, nil
	case "uefi-secureboot-http":
		return UEFISecureBootHTTP, nil
	case "uefi-pxe6":
		return UEFIPXE6, nil
	case "uefi-http6":
		return UEFIHTTP6, nil
	}
	return 0, fmt.Errorf("pxetest: unknown firmware %q (want bios, uefi, uefi-http, uefi-secureboot, uefi-secureboot-http, uefi-pxe6 or uefi-http6)", s)
}

// IPv6 reports whether f boots over IPv6.
func (f Firmware) IPv6() bool { return f == UEFIPXE6 || f == UEFIHTTP6 }

// images are the firmware files QEMU needs for f: the iPXE ROM SeaBIOS
// runs, OVMF, or Secure Boot OVMF and its variable store.
func (f Firmware) images() []string {
	switch {
	case f == BIOS:
		return []string{IPXEROM}
	case f.SecureBoot():
		return []string{OVMFSecureBootCode, OVMFSecureBootVars}
	}
	return []string{OVMFImage}
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
	// from Debian's ovmf package), or the code image for UEFISecureBoot
	// and UEFISecureBootHTTP (default OVMFSecureBootCode).
	OVMF string
	// OVMFVars is the writable variable store Secure Boot firmware boots
	// with. StartVM makes a fresh copy of OVMFSecureBootVars when it is
	// empty (OVMF writes boot entries into the store on every boot, so
	// each boot starts from a fresh one) and removes it when QEMU exits.
	OVMFVars string
	// HTTPSCACerts is an EFI_SIGNATURE_LIST file of the CAs the firmware
	// trusts for HTTPS boot (pxe/labca writes one, cacerts.esl), passed
	// as fw_cfg etc/edk2/https/cacerts. Without it OVMF trusts none and
	// does not even connect to an https URL.
	HTTPSCACerts string
	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string
	// NICBootIndex, when above 0, is the NIC's bootindex instead of
	// BIOS's -boot n: the firmware boots the devices that have one in
	// their order, as libvirt starts a KubeVirt VM (interface bootOrder 1,
	// disk bootOrder 2 is NICBootIndex 1 and a disk with bootindex=2 in
	// ExtraArgs). SeaBIOS then boots the disk when iPXE exits.
	NICBootIndex int
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
	// tmpDir holds the fresh variable store of Secure Boot firmware;
	// removed when QEMU exits.
	tmpDir string
}

// freshVars copies OVMFSecureBootVars into a new temporary directory.
func freshVars() (vars, dir string, err error) {
	b, err := os.ReadFile(OVMFSecureBootVars)
	if err != nil {
		return "", "", fmt.Errorf("pxetest: Secure Boot variable store (apt-get install ovmf): %w", err)
	}
	if dir, err = os.MkdirTemp("", "pxetest-vars-"); err != nil {
		return "", "", err
	}
	vars = filepath.Join(dir, "OVMF_VARS.fd")
	if err := os.WriteFile(vars, b, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return vars, dir, nil
}

func (vm *VM) removeTmp() {
	if vm.tmpDir != "" {
		os.RemoveAll(vm.tmpDir)
	}
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
		if cfg.NICBootIndex > 0 {
			args = append(args, "-device", nic+",bootindex="+strconv.Itoa(cfg.NICBootIndex))
			break
		}
		args = append(args, "-boot", "n", "-device", nic)
	case UEFIPXE, UEFIHTTP, UEFISecureBoot, UEFISecureBootHTTP:
		ovmf := cfg.OVMF
		if cfg.Firmware.SecureBoot() {
			if ovmf == "" {
				ovmf = OVMFSecureBootCode
			}
			if cfg.OVMFVars == "" {
				return nil, errors.New("pxetest: Secure Boot firmware needs VMConfig.OVMFVars (StartVM makes a fresh copy)")
			}
			// Secure Boot OVMF keeps its variables in SMM-protected
			// flash: q35 with SMM, the flash device in secure mode.
			args[1] = "q35,smm=on"
			args = append(args,
				"-global", "driver=cfi.pflash01,property=secure,value=on",
				"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+ovmf,
				"-drive", "if=pflash,format=raw,unit=1,file="+cfg.OVMFVars)
		} else {
			if ovmf == "" {
				ovmf = OVMFImage
			}
			args = append(args, "-bios", ovmf)
		}
		// romfile= (empty) keeps QEMU's iPXE EFI ROM off the NIC, so the
		// firmware's own network stack boots.
		if cfg.NICBootIndex > 0 {
			nic += ",bootindex=" + strconv.Itoa(cfg.NICBootIndex)
		}
		args = append(args,
			"-device", nic+",romfile=",
			// OVMF's boot options otherwise try PXEv4, PXEv6, HTTPv4, HTTPv6
			// in turn, each waiting out its DHCP timeout.
			"-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n")
		if cfg.Firmware.httpBoot() {
			args = append(args, "-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n")
		}
		if cfg.HTTPSCACerts != "" {
			// QEMU warns that names not under opt/ are reserved; this
			// one is where OVMF looks.
			args = append(args, "-fw_cfg", "name=etc/edk2/https/cacerts,file="+cfg.HTTPSCACerts)
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
	if cfg.Firmware != BIOS {
		// SeaBIOS's iPXE ROM is QEMU's to find (its own message says
		// which); OVMF is named on the command line.
		img, how := cfg.OVMF, "VMConfig.OVMF"
		if img == "" {
			img = cfg.Firmware.images()[0]
			how = "apt-get install " + debianPackage[img]
		}
		if _, err := os.Stat(img); err != nil {
			return nil, fmt.Errorf("pxetest: %s firmware (%s): %w", cfg.Firmware, how, err)
		}
	}
	vm := &VM{done: make(chan struct{})}
	if cfg.Firmware.SecureBoot() && cfg.OVMFVars == "" {
		vars, dir, err := freshVars()
		if err != nil {
			return nil, err
		}
		cfg.OVMFVars, vm.tmpDir = vars, dir
	}
	args, err := cfg.Args()
	if err != nil {
		vm.removeTmp()
		return nil, err
	}
	ctx, vm.cancel = context.WithCancel(ctx)
	vm.cmd = CommandContext(ctx, qemu, args...)
	vm.cmd.Stderr = &vm.stderr
	out, err := vm.cmd.StdoutPipe()
	if err != nil {
		vm.cancel()
		vm.removeTmp()
		return nil, err
	}
	vm.started = time.Now()
	if err := cfg.NetNS.Start(vm.cmd); err != nil {
		vm.cancel()
		vm.removeTmp()
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
	vm.removeTmp()
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
