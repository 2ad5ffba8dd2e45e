package pxetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeTB records what a helper reports; Fatal and Skip end the goroutine
// it runs on, as they do in a test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	fatal    string
	skipped  string
	cleanups []func()
}

func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}
func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errors) > 0 || f.fatal != ""
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Skip(args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with f on a goroutine of its own and waits for it.
func (f *fakeTB) run(fn func(tb testing.TB)) *fakeTB {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f
}

// TestMissing: what is missing skips outside CI and fails in CI, and
// either way says how to get it.
func TestMissing(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := (&fakeTB{}).run(func(tb testing.TB) { Missing(tb, "ovmf", "apt-get install ovmf") })
		msg := f.skipped
		if ci == "true" {
			msg = f.fatal
			if f.skipped != "" {
				t.Errorf("CI=true: skipped %q", f.skipped)
			}
		} else if f.fatal != "" {
			t.Errorf("outside CI: failed %q", f.fatal)
		}
		if !strings.Contains(msg, "ovmf is missing; apt-get install ovmf") {
			t.Errorf("CI=%q: message %q", ci, msg)
		}
	}
	t.Setenv("CI", "")
	f := (&fakeTB{}).run(func(tb testing.TB) { RequireCmd(tb, "pxetest-no-such-program", "pxetest-pkg") })
	if !strings.Contains(f.skipped, "pxetest-no-such-program is missing; apt-get install pxetest-pkg") {
		t.Errorf("RequireCmd: %q", f.skipped)
	}
	f = (&fakeTB{}).run(func(tb testing.TB) { RequireFile(tb, "/nonexistent/OVMF.fd", "ovmf") })
	if !strings.Contains(f.skipped, "/nonexistent/OVMF.fd is missing; apt-get install ovmf") {
		t.Errorf("RequireFile: %q", f.skipped)
	}
}

// unpackKernel lays out an unpacked kernel package (empty files) under
// dir.
func unpackKernel(t *testing.T, dir string) Kernel {
	t.Helper()
	k := Kernel{Vmlinuz: filepath.Join(dir, "boot", "vmlinuz-6.1.0-99-cloud-amd64"), ModulesDir: filepath.Join(dir, "lib", "modules", "6.1.0-99-cloud-amd64")}
	for _, d := range []string{filepath.Dir(k.Vmlinuz), k.ModulesDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(k.Vmlinuz, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFindKernel: $PXEKIT_KERNEL_DIR comes first; outside a pxekit checkout
// and without it, the error gives the apt-get download + dpkg -x recipe;
// inside one, it points at make testdeps.
func TestFindKernel(t *testing.T) {
	root := t.TempDir()
	want := unpackKernel(t, filepath.Join(root, "cloud"))
	t.Setenv(KernelDirEnv, root)
	if k, err := FindKernel("cloud"); err != nil || k != want {
		t.Errorf("FindKernel(cloud) in $%s = %+v, %v; want %+v", KernelDirEnv, k, err, want)
	}
	_, err := FindKernel("bpo")
	for _, s := range []string{root + "/bpo", "apt-get download", "bookworm-backports linux-image-amd64", "dpkg -x"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("FindKernel(bpo) with an empty $%s: %v; want it to mention %q", KernelDirEnv, err, s)
		}
	}

	t.Setenv(KernelDirEnv, "")
	_, err = FindKernel("nosuch")
	if err == nil || !strings.Contains(err.Error(), "make testdeps") || !strings.Contains(err.Error(), filepath.Join(".cache", "kernel", "nosuch")) {
		t.Errorf("FindKernel(nosuch) inside pxekit: %v", err)
	}
	t.Chdir(t.TempDir()) // no go.mod above a fresh temporary directory
	_, err = FindKernel("cloud")
	for _, s := range []string{KernelDirEnv + " is not set", "linux-image-cloud-amd64", "dpkg -x"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("FindKernel(cloud) outside pxekit: %v; want it to mention %q", err, s)
		}
	}
	// Skipped outside CI, failed in CI (TestMissing): the message either way.
	f := (&fakeTB{}).run(func(tb testing.TB) { GuestKernel(tb) })
	if msg := f.skipped + f.fatal; !strings.Contains(msg, "the cloud guest kernel is missing") || !strings.Contains(msg, "dpkg -x") {
		t.Errorf("GuestKernel outside pxekit: %q", msg)
	}
}

func TestModulePath(t *testing.T) {
	for in, want := range map[string]string{
		"module github.com/pxekit/pxekit\n\ngo 1.26\n":       "github.com/pxekit/pxekit",
		"// a comment\nmodule \"example.com/x\" // quoted\n": "example.com/x",
		"go 1.26\n":                 "",
		"module\n":                  "",
		"modulefoo example.com/y\n": "",
	} {
		if got := modulePath([]byte(in)); got != want {
			t.Errorf("modulePath(%q) = %q, want %q", in, got, want)
		}
	}
	if root := ModuleRoot(t); filepath.Base(root) == "pxetest" || modulePathOf(t, root) != pxekitModule {
		t.Errorf("ModuleRoot = %s", root)
	}
}

func modulePathOf(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	return modulePath(b)
}

// TestCheckGolden: PXETEST_UPDATE writes the file; without it a
// difference is an error that shows both sides, and a missing file says
// how to create it.
func TestCheckGolden(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(UpdateEnv, "")
	f := (&fakeTB{}).run(func(tb testing.TB) { CheckGolden(tb, "a.txt", []byte("one\n")) })
	if !strings.Contains(f.fatal, UpdateEnv+"=1 go test creates it") {
		t.Errorf("missing golden file: %q", f.fatal)
	}
	t.Setenv(UpdateEnv, "1")
	if f := (&fakeTB{}).run(func(tb testing.TB) { CheckGolden(tb, "a.txt", []byte("one\n")) }); f.fatal != "" || len(f.errors) > 0 {
		t.Errorf("update: %q %q", f.fatal, f.errors)
	}
	if b, err := os.ReadFile("testdata/golden/a.txt"); err != nil || string(b) != "one\n" {
		t.Errorf("golden file after update: %q, %v", b, err)
	}
	t.Setenv(UpdateEnv, "")
	if f := (&fakeTB{}).run(func(tb testing.TB) { CheckGolden(tb, "a.txt", []byte("one\n")) }); f.fatal != "" || len(f.errors) > 0 {
		t.Errorf("same content: %q %q", f.fatal, f.errors)
	}
	f = (&fakeTB{}).run(func(tb testing.TB) { CheckGolden(tb, "a.txt", []byte("two\n")) })
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "a.txt differs from golden") || !strings.Contains(f.errors[0], "two") {
		t.Errorf("different content: %q", f.errors)
	}
}
