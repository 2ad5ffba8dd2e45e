package pxetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FailPointEnv names the environment variable that makes FailPoint fail a
// test: PXETEST_FAIL_AT=<name>.
const FailPointEnv = "PXETEST_FAIL_AT"

// cleanupTokenEnv carries a random token into CheckCleanup's child; every
// process the child starts inherits it, so one that left the child's
// session is still recognised.
const cleanupTokenEnv = "PXETEST_CLEANUP_TOKEN"

// FailPoint fails the test with t.Fatal when $PXETEST_FAIL_AT is name, and
// does nothing otherwise. A test marks the point where everything it runs
// has started (namespaces, servers, dnsmasq, clients, QEMU); CheckCleanup
// makes it fail there to prove that nothing outlives a failing test.
func FailPoint(tb testing.TB, name string) {
	tb.Helper()
	if os.Getenv(FailPointEnv) == name {
		tb.Fatalf("pxetest: failing at %s on purpose (%s=%s)", name, FailPointEnv, name)
	}
}

// CheckCleanup proves that test, a top-level test of this test binary,
// cleans up when it fails: it runs the binary again as a child (a session
// of its own) with only that test selected and $PXETEST_FAIL_AT set to
// failpoint, and once the child has exited it checks that the test did
// fail at the failpoint, that it created network namespaces, and that no
// process of the child's session or environment and no namespace it
// created is left. The child starts processes without the death signal
// CommandContext otherwise sets, so they are gone only if the test's own
// cleanup killed them. Whatever is left is reported, then killed or
// deleted.
func CheckCleanup(t testing.TB, test, failpoint string) {
	t.Helper()
	RequireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	token := hex.EncodeToString(rnd[:])
	prefix := "ck" + token[:4] + "-"
	timeout := 10 * time.Minute
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			timeout = min(timeout, time.Until(dl)-30*time.Second)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^"+regexp.QuoteMeta(test)+"$", "-test.v", "-test.count=1",
		"-test.timeout="+timeout.String())
	cmd.Env = append(os.Environ(), FailPointEnv+"="+failpoint, NetNSPrefixEnv+"="+prefix, cleanupTokenEnv+"="+token,
		// Processes must be gone because the test's cleanup killed them,
		// not because the child's exit did.
		noDeathSignalEnv+"=1")
	// Its own session: every process it starts is in that session, even
	// in process groups of their own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sid := cmd.Process.Pid
	err = cmd.Wait()
	log := out.String()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child %s output:\n%s", test, log)
		}
	})
	if err == nil {
		t.Errorf("%s passed in the child despite %s=%s", test, FailPointEnv, failpoint)
	}
	if !strings.Contains(log, "failing at "+failpoint+" on purpose") {
		t.Errorf("%s did not reach failpoint %s in the child (exit: %v)", test, failpoint, err)
	}
	created := map[string]bool{}
	for _, name := range regexp.MustCompile(`\b`+regexp.QuoteMeta(prefix)+`[\w-]+`).FindAllString(log, -1) {
		created[name] = true
	}
	if len(created) == 0 {
		t.Errorf("%s created no namespace in the child before failing (none named %s*)", test, prefix)
	}

	// A killed process is gone once init has reaped it; give that a
	// moment before calling anything left over.
	var procs []string
	var spaces []string
	for end := time.Now().Add(15 * time.Second); ; {
		procs, spaces = leftoverProcesses(sid, token), leftoverNetNS(prefix)
		if len(procs) == 0 && len(spaces) == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range procs {
		t.Errorf("process left running by the failed %s: %s", test, p)
		if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, name := range spaces {
		t.Errorf("network namespace left by the failed %s: %s", test, name)
		_ = deleteNamed(name)
	}
	t.Logf("child %s failed at %s as asked, its log named %d namespaces it created and %d processes it started; none left",
		test, failpoint, len(created), strings.Count(log, "pxetest: started "))
}

// leftoverProcesses lists the live processes of session sid or carrying
// token in their environment, as "PID cmdline".
func leftoverProcesses(sid int, token string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var left []string
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		state, session, ok := parseProcStat(stat)
		if !ok || state == "Z" {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(d, "environ"))
		if session != sid && !bytes.Contains(env, []byte(cleanupTokenEnv+"="+token)) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		left = append(left, fmt.Sprintf("%d %s", pid, strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))))
	}
	return left
}

// leftoverNetNS lists the named namespaces whose name starts with prefix.
func leftoverNetNS(prefix string) []string {
	entries, _ := os.ReadDir(netnsDir)
	var left []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			left = append(left, e.Name())
		}
	}
	return left
}

// parseProcStat reads the state and session id from /proc/PID/stat:
// "pid (comm) state ppid pgrp session …", where comm may hold spaces and
// parentheses (hence the last ')').
func parseProcStat(stat []byte) (state string, session int, ok bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 4 {
		return "", 0, false
	}
	session, err := strconv.Atoi(f[3])
	if err != nil {
		return "", 0, false
	}
	return f[0], session, true
}
