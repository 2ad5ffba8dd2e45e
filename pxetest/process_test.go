package pxetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	state, _, ok := parseProcStat(b)
	return ok && state != "Z"
}

// waitGone waits for pids to be gone (a killed orphan is reaped by init a
// moment later) and reports those still alive.
func waitGone(pids ...int) []int {
	var left []int
	for end := time.Now().Add(10 * time.Second); ; {
		left = left[:0]
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(end) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pgrp is the process group of pid.
func pgrp(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	g, _ := strconv.Atoi(f[2])
	return g
}

// sameNetNS reports whether process pid runs in namespace ns.
func sameNetNS(t *testing.T, pid int, ns *NetNS) bool {
	t.Helper()
	var a, b syscall.Stat_t
	if err := syscall.Stat("/proc/"+strconv.Itoa(pid)+"/ns/net", &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(ns.Path(), &b); err != nil {
		t.Fatal(err)
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// TestStartKillsGroup: a process Start started runs in the namespace, in
// a group of its own, and when its test ends the whole group is gone: the
// shell and the child it put in the background.
func TestStartKillsGroup(t *testing.T) {
	ns := TempNetNS(t, "pxp")
	var pids []int
	t.Run("test", func(t *testing.T) {
		p := Start(t, ns, exec.Command("sh", "-c", "sleep 300 & echo $!; sleep 300"))
		var bg int
		for end := time.Now().Add(10 * time.Second); bg == 0; time.Sleep(20 * time.Millisecond) {
			bg, _ = strconv.Atoi(strings.TrimSpace(p.Output()))
			if time.Now().After(end) {
				t.Fatalf("no background pid in %q", p.Output())
			}
		}
		pids = []int{p.Pid(), bg}
		if g := pgrp(t, p.Pid()); g != p.Pid() {
			t.Errorf("process group %d, want its own (%d)", g, p.Pid())
		}
		if g := pgrp(t, bg); g != p.Pid() {
			t.Errorf("background child in group %d, want the shell's (%d)", g, p.Pid())
		}
		if !sameNetNS(t, p.Pid(), ns) {
			t.Errorf("process %d is not in netns %s", p.Pid(), ns.Name())
		}
	})
	if left := waitGone(pids...); len(left) > 0 {
		t.Errorf("processes %v still running after their test ended", left)
	}
}

// TestRun: Run returns the output and the exit status, and kills what the
// command left in the background.
func TestRun(t *testing.T) {
	out, err := Run(t, nil, exec.Command("sh", "-c", "sleep 300 & echo $!; echo hello; exit 3"))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("Run: %v, want exit status 3", err)
	}
	lines := strings.Fields(out)
	if len(lines) != 2 || lines[1] != "hello" {
		t.Fatalf("Run output %q", out)
	}
	bg, _ := strconv.Atoi(lines[0])
	if left := waitGone(bg); len(left) > 0 {
		t.Errorf("background process %d still running after Run returned", bg)
	}
}

// TestCommandContext: ending the context kills the command's whole group.
func TestCommandContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := CommandContext(ctx, "sh", "-c", "sleep 300 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	bg, _ := strconv.Atoi(strings.TrimSpace(line))
	cancel()
	if err := cmd.Wait(); err == nil {
		t.Error("a command killed by its context exited cleanly")
	}
	if left := waitGone(cmd.Process.Pid, bg); len(left) > 0 {
		t.Errorf("processes %v still running after the context ended", left)
	}
}
