// Package procfs reads what the comparison measures of a running process
// from Linux's /proc: CPU time, peak resident set, thread count.
package procfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// ParseStatCPU decodes the user+system CPU time (exited threads
// included) from /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses itself, so fields are
// counted from the last ')'.
func ParseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	// state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime ...
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want 13 or more", len(f))
	}
	ut, err := strconv.ParseUint(f[11], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("stat: utime: %w", err)
	}
	st, err := strconv.ParseUint(f[12], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("stat: stime: %w", err)
	}
	ticks := ut + st
	if ticks > uint64(1<<63-1)/uint64(time.Second) {
		return 0, errors.New("stat: CPU time out of range")
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// CPU is the user+system CPU time pid has used so far, in clock ticks
// (10 ms), exited threads included.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStatCPU(b)
}

// TreeCPU is the CPU time that pid's threads and, recursively, its
// children (nginx's workers) have used, from their schedstat run times in
// nanoseconds, so a short fetch does not round to clock ticks. Threads
// and processes that already exited are not in it. A process that is gone
// counts 0.
func TreeCPU(pid int) time.Duration {
	var total time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, t := range tasks {
		if b, err := os.ReadFile(filepath.Join(t, "schedstat")); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				total += time.Duration(ns)
			}
		}
		if b, err := os.ReadFile(filepath.Join(t, "children")); err == nil {
			for _, c := range strings.Fields(string(b)) {
				if cpid, err := strconv.Atoi(c); err == nil {
					total += TreeCPU(cpid)
				}
			}
		}
	}
	return total
}

// StatusField is the value of one "Key:\tvalue" line of
// /proc/<pid>/status, without its unit ("VmHWM" → "1234" of "1234 kB").
func StatusField(b []byte, key string) (string, bool) {
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0], true
			}
			return "", false
		}
	}
	return "", false
}

func statusInt(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	v, ok := StatusField(b, key)
	if !ok {
		return 0, fmt.Errorf("status of %d: no %s", pid, key)
	}
	return strconv.ParseInt(v, 10, 64)
}

// PeakRSS is the process's peak resident set (VmHWM) in bytes. It is only
// readable while the process runs.
func PeakRSS(pid int) (int64, error) {
	kb, err := statusInt(pid, "VmHWM")
	return kb * 1024, err
}

// Threads is the process's number of OS threads now.
func Threads(pid int) (int, error) {
	n, err := statusInt(pid, "Threads")
	return int(n), err
}

// MaxThreads samples pid's thread count every 100 ms until ctx is done
// and returns the largest seen (blocking sockets cost a server one OS
// thread each).
func MaxThreads(ctx context.Context, pid int) int {
	hi := 0
	for {
		if n, err := Threads(pid); err == nil {
			hi = max(hi, n)
		}
		select {
		case <-ctx.Done():
			return hi
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FindPID is the first process whose command line contains every one of
// parts (for a process another package started and does not expose).
func FindPID(parts ...string) (int, bool) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		all := true
		for _, p := range parts {
			if !bytes.Contains(cl, []byte(p)) {
				all = false
				break
			}
		}
		if all {
			return pid, true
		}
	}
	return 0, false
}
