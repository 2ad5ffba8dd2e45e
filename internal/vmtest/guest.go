package vmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// guestConfigPath is where the host puts the guest's instructions in the
// initramfs. Its presence (in the initramfs root) is what marks a guest.
const guestConfigPath = "/.pxekit-vmtest.json"

// markerPrefix starts the console line on which the guest's init reports
// the test binary's exit code.
const markerPrefix = "VMTEST-RC="

// guestConfig is what the host tells the guest's init.
type guestConfig struct {
	Args    []string `json:"args"`    // test binary arguments (-test.run=...)
	Modules []string `json:"modules"` // module images, in load order
	Env     []string `json:"env"`     // extra KEY=value for the test binary
	Dir     string   `json:"dir"`     // working directory of the tests
}

// parseGuestConfig decodes and checks the guest config file.
func parseGuestConfig(data []byte) (guestConfig, error) {
	var c guestConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return guestConfig{}, fmt.Errorf("vmtest: %s: %w", guestConfigPath, err)
	}
	for i, e := range c.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return guestConfig{}, fmt.Errorf("vmtest: %s: env[%d]: want KEY=value, got %q", guestConfigPath, i, e)
		}
	}
	for i, m := range c.Modules {
		if m == "" || m[0] != '/' {
			return guestConfig{}, fmt.Errorf("vmtest: %s: modules[%d]: want an absolute path, got %q", guestConfigPath, i, m)
		}
	}
	return c, nil
}

// InGuest reports whether this process runs inside a vmtest guest (the init
// process or the test binary it started).
func InGuest() bool {
	_, err := os.Stat(guestConfigPath)
	return err == nil
}

// The guest side needs no TestMain: when the test binary is the guest's
// PID 1, this runs before any test code, does init's work and never
// returns. Outside a guest (any other PID, or no config file) it does
// nothing.
func init() {
	if os.Getpid() != 1 {
		return
	}
	data, err := os.ReadFile(guestConfigPath)
	if err != nil {
		return
	}
	guestInit(data)
}

// guestInit mounts the kernel filesystems, loads the modules, runs the test
// binary as a child (so a panicking test still yields an exit code), prints
// the marker and powers off.
func guestInit(cfgData []byte) {
	console := io.Writer(os.Stdout)
	rc := func() int {
		for _, m := range []struct{ src, dir, fstype string }{
			{"proc", "/proc", "proc"},
			{"sysfs", "/sys", "sysfs"},
			{"devtmpfs", "/dev", "devtmpfs"},
			{"tmpfs", "/tmp", "tmpfs"},
			{"tmpfs", "/run", "tmpfs"},
		} {
			_ = os.MkdirAll(m.dir, 0o755)
			if err := unix.Mount(m.src, m.dir, m.fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
				fmt.Fprintf(console, "vmtest: mount %s: %v\n", m.dir, err)
				return 125
			}
		}
		if c, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
			console = c
		}
		cfg, err := parseGuestConfig(cfgData)
		if err != nil {
			fmt.Fprintln(console, err)
			return 125
		}
		for _, m := range cfg.Modules {
			img, err := os.ReadFile(m)
			if err != nil {
				fmt.Fprintf(console, "vmtest: %v\n", err)
				return 125
			}
			if err := unix.InitModule(img, ""); err != nil && !errors.Is(err, unix.EEXIST) {
				fmt.Fprintf(console, "vmtest: loading module %s: %v\n", m, err)
				return 125
			}
		}
		_ = os.MkdirAll("/run/netns", 0o755)
		cmd := exec.Command("/init", cfg.Args...)
		cmd.Dir = cfg.Dir
		cmd.Stdin = nil
		cmd.Stdout, cmd.Stderr = console, console
		cmd.Env = append([]string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "TMPDIR=/tmp"}, cfg.Env...)
		err = cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ee.ExitCode()
		default:
			fmt.Fprintf(console, "vmtest: running tests: %v\n", err)
			return 125
		}
	}()
	// The marker goes out twice, each time drained (tcdrain), then a short
	// settle before power-off: the console tail has been seen lost at
	// power-off under a loaded TCG host, and a kernel message could split
	// one copy. The host takes the last well-formed copy.
	for i := 0; i < 2; i++ {
		fmt.Fprintf(console, "\n%s%d\n", markerPrefix, rc)
		if f, ok := console.(*os.File); ok {
			_ = unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
		}
	}
	unix.Sync()
	time.Sleep(200 * time.Millisecond)
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	os.Exit(rc) // init exiting panics the kernel; with panic=-1 QEMU stops
}
