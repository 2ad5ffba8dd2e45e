package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/pxekit/pxekit/internal/consoleline"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
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
	}
	return "Firmware(" + strconv.Itoa(int(f)) + ")"
}

// ParseFirmware parses "bios", "uefi" (or "uefi-pxe") and "uefi-http".
func ParseFirmware(s string) (Firmware, error) {
	switch strings.ToLower(s) {
	case "bios":
		return BIOS, nil
	case "uefi", "uefi-pxe":
		return UEFIPXE, nil
	case "uefi-http":
		return UEFIHTTP, nil
	}
	return 0, fmt.Errorf("lab: unknown firmware %q (want bios, uefi or uefi-http)", s)
}

// OVMFImage is the combined OVMF image in Debian's ovmf package. QEMU 10
// boots it with -bios (verified here); the variable store is then volatile,
// which a network-booting lab VM does not mind.
const OVMFImage = "/usr/share/ovmf/OVMF.fd"

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
	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string
	// OnLine, if set, is called for each console line as it arrives
	// (escape sequences and \r removed), from the reader goroutine.
	OnLine func(line string)
}

// VM is a running QEMU. Its serial console is read live; Console returns
// what arrived so far and WaitFor waits for a line to match.
type VM struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	started time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every line and at exit
	lines   []string
	stderr  strings.Builder
	exited  bool
	exitErr error
	done    chan struct{}
}

// Args returns QEMU's command line arguments for cfg (without the binary).
func (cfg VMConfig) Args() ([]string, error) {
	if cfg.Tap == "" {
		return nil, errors.New("lab: VMConfig.Tap is empty")
	}
	if len(cfg.MAC) != 6 {
		return nil, fmt.Errorf("lab: VMConfig.MAC %q is not a 6-byte MAC", cfg.MAC)
	}
	if cfg.MAC[0]&1 == 1 {
		return nil, fmt.Errorf("lab: VMConfig.MAC %s is a multicast address", cfg.MAC)
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
		// romfile= (empty) keeps QEMU's iPXE EFI ROM off the NIC, so the
		// firmware's own network stack boots.
		args = append(args,
			"-bios", OVMFImage,
			"-device", nic+",romfile=",
			// OVMF's boot options otherwise try PXEv4, PXEv6, HTTPv4, HTTPv6
			// in turn, each waiting out its DHCP timeout.
			"-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n")
		if cfg.Firmware == UEFIHTTP {
			args = append(args, "-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n")
		}
	default:
		return nil, fmt.Errorf("lab: unknown firmware %v", cfg.Firmware)
	}
	return append(args, cfg.ExtraArgs...), nil
}

// StartVM boots a VM in cfg.NetNS. Cancelling ctx (or Stop) kills QEMU.
func StartVM(ctx context.Context, cfg VMConfig) (*VM, error) {
	if cfg.NetNS == nil {
		return nil, errors.New("lab: VMConfig.NetNS is nil")
	}
	qemu := cfg.QEMU
	if qemu == "" {
		var err error
		if qemu, err = exec.LookPath("qemu-system-x86_64"); err != nil {
			return nil, fmt.Errorf("lab: qemu-system-x86_64 not found (apt-get install qemu-system-x86): %w", err)
		}
	}
	args, err := cfg.Args()
	if err != nil {
		return nil, err
	}
	if cfg.Firmware != BIOS {
		if _, err := os.Stat(OVMFImage); err != nil {
			return nil, fmt.Errorf("lab: UEFI firmware (apt-get install ovmf): %w", err)
		}
	}
	vm := &VM{changed: make(chan struct{}), done: make(chan struct{})}
	ctx, vm.cancel = context.WithCancel(ctx)
	vm.cmd = CommandContext(ctx, qemu, args...)
	vm.cmd.Stderr = &lockedWriter{mu: &vm.mu, w: &vm.stderr}
	out, err := vm.cmd.StdoutPipe()
	if err != nil {
		vm.cancel()
		return nil, err
	}
	vm.started = time.Now()
	if err := cfg.NetNS.Start(vm.cmd); err != nil {
		vm.cancel()
		return nil, fmt.Errorf("lab: starting QEMU in netns %s: %w", cfg.NetNS.Name(), err)
	}
	go vm.read(out, cfg.OnLine)
	return vm, nil
}

func (vm *VM) read(r io.Reader, onLine func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := consoleline.Clean(sc.Text())
		if onLine != nil {
			onLine(line)
		}
		vm.mu.Lock()
		vm.lines = append(vm.lines, line)
		close(vm.changed)
		vm.changed = make(chan struct{})
		vm.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
	err := vm.cmd.Wait()
	vm.mu.Lock()
	vm.exited, vm.exitErr = true, err
	close(vm.changed)
	vm.changed = make(chan struct{})
	vm.mu.Unlock()
	close(vm.done)
}

// Console returns the console lines received so far, joined by newlines.
func (vm *VM) Console() string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return strings.Join(vm.lines, "\n")
}

// Stderr returns what QEMU wrote on stderr (warnings, errors).
func (vm *VM) Stderr() string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.stderr.String()
}

// Started is when QEMU was started (power-on), for boot timings.
func (vm *VM) Started() time.Time { return vm.started }

// WaitFor waits until a console line (any since power-on) matches re and
// returns its submatches. It fails when ctx ends or QEMU exits first.
func (vm *VM) WaitFor(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	next := 0
	for {
		vm.mu.Lock()
		for ; next < len(vm.lines); next++ {
			if m := re.FindStringSubmatch(vm.lines[next]); m != nil {
				vm.mu.Unlock()
				return m, nil
			}
		}
		exited, exitErr, changed := vm.exited, vm.exitErr, vm.changed
		vm.mu.Unlock()
		if exited {
			return nil, fmt.Errorf("lab: QEMU exited (%v) before the console matched %q; stderr: %s", exitErr, re, strings.TrimSpace(vm.Stderr()))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("lab: console did not match %q: %w", re, ctx.Err())
		}
	}
}

// Wait waits for QEMU to exit (the guest powered off, with -no-reboot) and
// returns its exit error.
func (vm *VM) Wait(ctx context.Context) error {
	select {
	case <-vm.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.exitErr
}

// Stop kills QEMU (if still running) and waits for it. It is safe to call
// more than once.
func (vm *VM) Stop() {
	vm.cancel()
	<-vm.done
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

// Write writes p under the lock.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
