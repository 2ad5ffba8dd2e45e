package vmtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pxekit/pxekit/internal/consoleline"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/vmtest/initramfs"
	"github.com/pxekit/pxekit/internal/vmtest/kmod"
	"github.com/pxekit/pxekit/pxetest"
)

// Config describes the guest a host test boots.
type Config struct {
	// Kernel is the guest kernel: pxetest.GuestKernel(t) (6.1 cloud) or
	// pxetest.GuestKernelFlavor(t, "bpo") (6.12 generic: igb, vfio).
	Kernel pxetest.Kernel
	// Modules are loaded in the guest before the tests run, each after the
	// modules it depends on (read from .modinfo; built-ins are skipped).
	Modules []string
	// QEMUArgs are appended to the QEMU command line, e.g.
	// {"-device", "igb,netdev=n0", "-netdev", "user,id=n0"}.
	QEMUArgs []string
	// Append is added to the kernel command line (e.g. "intel_iommu=on").
	Append string
	// TestRun selects the guest tests (a -test.run pattern). Empty means
	// the calling test itself, whose body then runs in the guest.
	TestRun string
	// Timeout bounds the whole boot (default 5 minutes, and never past the
	// test's own deadline).
	Timeout time.Duration
	// MemoryMB is the guest's RAM (default 512).
	MemoryMB int
	// Accel is QEMU's -accel value (default "tcg", as CI has no KVM).
	Accel string
	// Quiet stops the console from being logged live; it is still logged
	// when the run fails.
	Quiet bool
	// Machine is QEMU's -machine value (default "q35"; q35 is what
	// -device intel-iommu needs).
	Machine string
}

// guestDir is where the package's testdata directory is copied in the
// guest and where the guest tests run, so relative paths such as
// "testdata/policy.yaml" work there as on the host.
const guestDir = "/pkg"

// maxTestdata bounds what is copied from testdata into the guest's RAM.
const maxTestdata = 64 << 20

// Result is what a guest run produced.
type Result struct {
	Console  string        // everything the guest printed on ttyS0, \r removed
	ExitCode int           // the test binary's exit code, -1 if no marker was seen
	Elapsed  time.Duration // QEMU start to exit
}

// Run runs guest tests in a QEMU guest kernel.
//
// On the host it builds the calling package's test binary, boots it as the
// guest's /init and fails t unless the guest reports exit code 0. With an
// empty cfg.TestRun the guest runs this same test (t.Name()), and there Run
// calls body instead of booting — so one function holds both halves and a
// guest test can never run against the host kernel. With cfg.TestRun set,
// body may be nil and the selected guest tests call GuestOnly.
//
// It skips (outside CI) or fails (in CI) when QEMU or the kernel is missing.
func Run(t *testing.T, cfg Config, body func(t *testing.T)) Result {
	t.Helper()
	if InGuest() {
		if body == nil {
			t.Skip("vmtest: host-side driver; nothing to do inside the guest")
		}
		body(t)
		return Result{}
	}
	if cfg.TestRun == "" && body == nil {
		t.Fatal("vmtest.Run: need a body or Config.TestRun")
	}
	pattern, exact := cfg.TestRun, ""
	if pattern == "" {
		pattern, exact = exactPattern(t.Name()), t.Name()
	}
	res, err := boot(t, cfg, pattern, exact)
	if err != nil {
		if cfg.Quiet {
			t.Logf("guest console:\n%s", res.Console)
		}
		t.Fatal(err)
	}
	return res
}

// GuestOnly skips t unless it runs inside a vmtest guest. driver names the
// host test whose Config.TestRun selects t, for the skip message.
func GuestOnly(t testing.TB, driver string) {
	t.Helper()
	if !InGuest() {
		t.Skipf("runs inside the guest kernel via %s", driver)
	}
}

// exactPattern turns a test name (with subtests) into a -test.run pattern
// that selects exactly it.
func exactPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// boot does the host side of Run and returns an error rather than failing
// t, so the failure paths themselves can be tested.
// exact is the test that must not skip in the guest ("" for a TestRun
// pattern).
func boot(t *testing.T, cfg Config, pattern, exact string) (Result, error) {
	t.Helper()
	qemu := pxetest.RequireCmd(t, "qemu-system-x86_64", "qemu-system-x86")
	if cfg.Kernel.Vmlinuz == "" {
		return Result{ExitCode: -1}, errors.New("vmtest: Config.Kernel is empty (use pxetest.GuestKernel(t))")
	}
	pxetest.RequireFile(t, cfg.Kernel.Vmlinuz, "linux-image (make testdeps)")

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if dl, ok := t.Deadline(); ok {
		// Leave time to report instead of being killed by go test.
		if left := time.Until(dl) - 30*time.Second; left < timeout {
			timeout = max(left, 10*time.Second)
		}
	}

	bin, err := testBinary(t)
	if err != nil {
		return Result{ExitCode: -1}, err
	}
	initrd := filepath.Join(t.TempDir(), "initrd.cpio")
	args := []string{
		"-test.run=" + pattern,
		"-test.v",
		// The guest's own timeout fires first and prints goroutine stacks.
		"-test.timeout=" + max(timeout-15*time.Second, 5*time.Second).String(),
	}
	if err := writeInitramfs(initrd, bin, cfg, args); err != nil {
		return Result{ExitCode: -1}, err
	}

	mem := cfg.MemoryMB
	if mem <= 0 {
		mem = 512
	}
	accel := cfg.Accel
	if accel == "" {
		accel = "tcg"
	}
	appendArgs := "console=ttyS0 panic=-1 quiet"
	if cfg.Append != "" {
		appendArgs += " " + cfg.Append
	}
	machine := cfg.Machine
	if machine == "" {
		machine = "q35"
	}
	qargs := []string{
		"-machine", machine, "-accel", accel, "-cpu", "max", "-m", strconv.Itoa(mem),
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", cfg.Kernel.Vmlinuz, "-initrd", initrd, "-append", appendArgs,
	}
	qargs = append(qargs, cfg.QEMUArgs...)

	var res Result
	var waitErr error
	var stderr string
	var timedOut bool
	for attempt := 1; ; attempt++ {
		res, waitErr, stderr, timedOut = runQEMU(t, cfg, qemu, qargs, timeout)
		t.Logf("vmtest: guest ran %s in %v (exit code %d)", pattern, res.Elapsed.Round(100*time.Millisecond), res.ExitCode)
		// A guest that stops cleanly before any test started (no marker,
		// no "=== RUN") was reset during early boot — seen rarely under a
		// loaded TCG host with the 6.12 kernel. That is not a test result:
		// boot once more. A guest that reached its tests is never retried.
		if attempt == 1 && res.ExitCode < 0 && waitErr == nil && !timedOut && !strings.Contains(res.Console, "=== RUN") {
			t.Logf("vmtest: guest stopped before its tests started (console above; QEMU stderr: %s); booting once more", stderr)
			continue
		}
		break
	}
	rc := res.ExitCode

	ran, skipped := testVerdicts(res.Console)
	switch {
	case timedOut:
		return res, fmt.Errorf("vmtest: guest did not finish within %v (QEMU killed)", timeout)
	case rc < 0:
		return res, fmt.Errorf("vmtest: guest printed no %s marker (kernel panic, or the test binary is not the guest's init?); QEMU: %v %s",
			markerPrefix, waitErr, stderr)
	case rc != 0:
		return res, fmt.Errorf("vmtest: guest tests %s failed: exit code %d", pattern, rc)
	case waitErr != nil:
		return res, fmt.Errorf("vmtest: QEMU: %v %s", waitErr, stderr)
	case ran == 0:
		// A pattern that selects nothing must not pass silently.
		return res, fmt.Errorf("vmtest: -test.run=%s selected no test that ran in the guest (skipped: %v)", pattern, skipped)
	case exact != "" && slices.Contains(skipped, exact):
		return res, fmt.Errorf("vmtest: %s skipped inside the guest (see its console): a guest test must run there", exact)
	}
	return res, nil
}

// runQEMU boots the guest once and collects its console.
func runQEMU(t *testing.T, cfg Config, qemu string, qargs []string, timeout time.Duration) (res Result, waitErr error, stderr string, timedOut bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, qargs...)
	cmd.WaitDelay = 5 * time.Second
	var errBuf strings.Builder
	cmd.Stderr = &errBuf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Result{ExitCode: -1}, err, "", false
	}
	t.Logf("vmtest: %s %s", qemu, strings.Join(qargs, " "))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("vmtest: starting QEMU: %w", err), "", false
	}
	var console strings.Builder
	var logf func(string, ...any)
	if !cfg.Quiet {
		logf = t.Logf
	}
	rc := scanConsole(out, &console, logf)
	waitErr = cmd.Wait()
	res = Result{Console: console.String(), ExitCode: rc, Elapsed: time.Since(start)}
	return res, waitErr, strings.TrimSpace(errBuf.String()), ctx.Err() != nil
}

// testVerdicts counts the tests that passed or failed and lists those
// skipped, from go test -v output.
func testVerdicts(console string) (ran int, skipped []string) {
	for _, line := range strings.Split(console, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[0] + " " + f[1] {
		case "--- PASS:", "--- FAIL:":
			ran++
		case "--- SKIP:":
			skipped = append(skipped, f[2])
		}
	}
	return ran, skipped
}

// scanConsole copies QEMU's serial output into console line by line (\r
// dropped), logging each line when logf is set, and returns the exit code
// from the last marker line, or -1.
func scanConsole(r io.Reader, console *strings.Builder, logf func(string, ...any)) int {
	rc := -1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := consoleline.Clean(sc.Text())
		console.WriteString(line)
		console.WriteByte('\n')
		if logf != nil {
			logf("guest: %s", line)
		}
		if code, ok := parseMarker(line); ok {
			rc = code
		}
	}
	// Keep draining on a scanner error so QEMU never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
	return rc
}

// parseMarker recognizes the exit marker line "VMTEST-RC=<n>".
func parseMarker(line string) (int, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), markerPrefix)
	if !ok || rest == "" || len(rest) > 4 {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}

// writeInitramfs writes the guest's root: the test binary as /init, the
// module images and the guest config.
func writeInitramfs(dst, bin string, cfg Config, args []string) error {
	var mods []kmod.Module
	if len(cfg.Modules) > 0 {
		ix, err := kmod.Open(cfg.Kernel.ModulesDir)
		if err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		if mods, err = ix.Resolve(cfg.Modules...); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	w := initramfs.NewWriter(f, initramfs.Options{})
	for _, d := range []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/root", "/etc"} {
		if err := w.Dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := w.Symlink("/var/run", "../run"); err != nil {
		return err
	}
	if err := w.CopyFile("/init", bin, 0o755); err != nil {
		return err
	}
	paths, err := w.Modules("/lib/modules", mods)
	if err != nil {
		return err
	}
	env, err := guestKernelPlaceholder(w, cfg.Kernel)
	if err != nil {
		return err
	}
	if pxetest.InCI() {
		// Missing() in the guest must fail, as on the host.
		env = append(env, "CI=true")
	}
	if err := addTestdata(w, "testdata", guestDir+"/testdata"); err != nil {
		return err
	}
	gc, err := json.Marshal(guestConfig{Args: args, Modules: paths, Env: env, Dir: guestDir})
	if err != nil {
		return err
	}
	if err := w.File(guestConfigPath, gc, 0o644); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

// addTestdata copies the host directory src (relative to the package
// directory, where go test runs) into the archive at dst; symlinks are
// followed only if they stay regular files. A missing src is fine.
func addTestdata(w *initramfs.Writer, src, dst string) error {
	if err := w.Dir(dst, 0o755); err != nil {
		return err
	}
	var total int64
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == src {
				return filepath.SkipDir
			}
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := dst + "/" + filepath.ToSlash(rel)
		if d.IsDir() {
			return w.Dir(target, 0o755)
		}
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			return nil // dangling or special: nothing a test can read
		}
		if total += st.Size(); total > maxTestdata {
			return fmt.Errorf("vmtest: testdata is over %d MB; the guest holds it in RAM", maxTestdata>>20)
		}
		return w.CopyFile(target, p, 0)
	})
	if errors.Is(err, filepath.SkipDir) {
		return nil
	}
	return err
}

// guestKernelPlaceholder mirrors the booted kernel's layout (empty files)
// under /.vmtest/kernel and points PXEKIT_KERNEL_DIR there, so the
// pxetest.GuestKernel(t) call in a Config literal — evaluated again in the
// guest — finds "its" kernel instead of skipping the guest test.
func guestKernelPlaceholder(w *initramfs.Writer, k pxetest.Kernel) ([]string, error) {
	flavorDir := filepath.Dir(filepath.Dir(k.Vmlinuz)) // <root>/<flavor>
	root := "/.vmtest/kernel/" + filepath.Base(flavorDir)
	if err := w.File(root+"/boot/"+filepath.Base(k.Vmlinuz), nil, 0o644); err != nil {
		return nil, err
	}
	if k.ModulesDir != "" {
		if err := w.Dir(root+"/lib/modules/"+filepath.Base(k.ModulesDir), 0o755); err != nil {
			return nil, err
		}
	}
	return []string{"PXEKIT_KERNEL_DIR=/.vmtest/kernel"}, nil
}

// builds memoizes test binaries per package directory for the life of the
// test process: several guest runs in one package build once.
var builds sync.Map // package dir → *build

type build struct {
	once sync.Once
	path string
	err  error
}

// testBinary builds (once per process) a static test binary of the package
// under test — go test runs tests in the package directory — into the
// repository's gitignored .cache/vmtest.
func testBinary(t *testing.T) (string, error) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	v, _ := builds.LoadOrStore(dir, &build{})
	b := v.(*build)
	b.once.Do(func() {
		sum := sha256.Sum256([]byte(dir))
		cache := filepath.Join(pxetest.ModuleRoot(t), ".cache", "vmtest")
		if b.err = os.MkdirAll(cache, 0o755); b.err != nil {
			return
		}
		b.path = filepath.Join(cache, filepath.Base(dir)+"-"+hex.EncodeToString(sum[:6])+".test")
		tmp, err := os.CreateTemp(cache, "build-*.test")
		if err != nil {
			b.err = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(goBin, "test", "-c", "-o", tmp.Name(), ".")
		cmd.Dir = dir
		// Static, no race detector: the guest has no libc.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("vmtest: go test -c in %s: %v\n%s", dir, err, out)
			return
		}
		t.Logf("vmtest: built guest test binary in %v", time.Since(start).Round(100*time.Millisecond))
		// Rename is atomic: a concurrent run of the same package never
		// sees a half-written binary.
		b.err = os.Rename(tmp.Name(), b.path)
	})
	return b.path, b.err
}
