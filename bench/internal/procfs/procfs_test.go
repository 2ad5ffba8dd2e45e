package procfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with a space and a ')' of its own.
	line := "4242 (a b) c) S 17 4242 4242 0 -1 4194560 300 0 0 0 250 130 0 0 20 0 3 0 100 0 0\n"
	if cpu, err := ParseStatCPU([]byte(line)); err != nil || cpu != 3800*time.Millisecond {
		t.Errorf("ParseStatCPU = %v, %v; want 3.8 s", cpu, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 1 0", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 92233720368547758 1 0"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("ParseStatCPU(%q) took it", bad)
		}
	}
}

func TestStatusField(t *testing.T) {
	status := "Name:\tpxekit\nVmPeak:\t  900 kB\nVmHWM:\t   31024 kB\nThreads:\t12\n"
	if v, ok := StatusField([]byte(status), "VmHWM"); !ok || v != "31024" {
		t.Errorf("VmHWM = %q, %v", v, ok)
	}
	if v, ok := StatusField([]byte(status), "Threads"); !ok || v != "12" {
		t.Errorf("Threads = %q, %v", v, ok)
	}
	if _, ok := StatusField([]byte(status), "Vm"); ok {
		t.Error("a key's prefix matched")
	}
}

// busyChild starts a shell spinning on a core, named marker in ps.
func busyChild(t *testing.T, marker string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done", marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// This process's figures, and a child's CPU counted in its parent's tree.
func TestLiveProcess(t *testing.T) {
	self := os.Getpid()
	if rss, err := PeakRSS(self); err != nil || rss < 1<<20 {
		t.Errorf("PeakRSS = %d, %v", rss, err)
	}
	if n, err := Threads(self); err != nil || n < 1 {
		t.Errorf("Threads = %d, %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := MaxThreads(ctx, self); n < 1 {
		t.Errorf("MaxThreads = %d", n)
	}

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	marker := "procfs-test-" + hex.EncodeToString(b)
	child := busyChild(t, marker)
	if pid, ok := FindPID("sh", marker); !ok || pid != child.Process.Pid {
		t.Errorf("FindPID(%s) = %d, %v; want %d", marker, pid, ok, child.Process.Pid)
	}
	if _, ok := FindPID(marker, "not-in-any-command-line"); ok {
		t.Error("FindPID matched one of two parts")
	}
	const burnt = 300 * time.Millisecond
	deadline := time.Now().Add(2 * time.Minute) // hang guard on a loaded machine
	for TreeCPU(child.Process.Pid) < burnt {
		if time.Now().After(deadline) {
			t.Fatalf("the child used %v of CPU in 2 minutes", TreeCPU(child.Process.Pid))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, err := CPU(child.Process.Pid); err != nil || c < burnt-20*time.Millisecond {
		t.Errorf("CPU(child) = %v, %v; schedstat says ≥ %v", c, err, burnt)
	}
	own := threadsCPU(self)
	if tree := TreeCPU(self); tree-own < burnt {
		t.Errorf("TreeCPU(self) = %v, only %v more than its own threads' %v: the child's ≥ %v is not in it", tree, tree-own, own, burnt)
	}
	if got := TreeCPU(1 << 30); got != 0 {
		t.Errorf("TreeCPU(no such pid) = %v", got)
	}
}

// threadsCPU is pid's own threads' schedstat time, children left out.
func threadsCPU(pid int) time.Duration {
	var total time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("4242 (a b) c) S 17 4242 4242 0 -1 4194560 300 0 0 0 250 130 0 0 20 0 3 0 100 0 0\n"))
	f.Add([]byte("1 () S 0 0 0 0 0 0 0 0 0 0 18446744073709551615 1 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cpu, err := ParseStatCPU(b)
		if err == nil && cpu < 0 {
			t.Fatalf("negative CPU %v from %q", cpu, b)
		}
	})
}

func FuzzStatusField(f *testing.F) {
	f.Add([]byte("VmHWM:\t   31024 kB\nThreads:\t12\n"), "VmHWM")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		v, ok := StatusField(b, key)
		if ok && (v == "" || strings.ContainsAny(v, " \t\n")) {
			t.Fatalf("StatusField(%q, %q) = %q", b, key, v)
		}
	})
}
