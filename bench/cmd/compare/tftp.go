package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// tftpCase is one file × block size × window size.
type tftpCase struct {
	file   string
	size   int
	blk    int
	window int // 0: lock-step (RFC 1350)
	reps   int
}

// atftpGet fetches name from the server with atftp and returns the time it
// took; the received file must have the right size.
func (h *harness) atftpGet(ctx context.Context, c tftpCase) (time.Duration, error) {
	local := filepath.Join(h.dir, "tftp-got")
	_ = os.Remove(local)
	args := []string{"--get", "-r", c.file, "-l", local, "--option", "blksize " + strconv.Itoa(c.blk)}
	if c.window > 0 {
		args = append(args, "--option", "windowsize "+strconv.Itoa(c.window))
	}
	args = append(args, serverIP, "69")
	start := time.Now()
	out, err := h.runIn(ctx, h.cli, "atftp", args...)
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("atftp %v: %v: %s", args, err, tail(out, 300))
	}
	if fi, err := os.Stat(local); err != nil || fi.Size() != int64(c.size) {
		return d, fmt.Errorf("atftp %v: got %v bytes (%v), want %d", args, fi, err, c.size)
	}
	return d, nil
}

// mbps runs c reps times and returns the throughput in MB/s (10^6).
func (h *harness) mbps(ctx context.Context, c tftpCase) (float64, error) {
	var total time.Duration
	for range c.reps {
		d, err := h.atftpGet(ctx, c)
		if err != nil {
			return 0, err
		}
		total += d
	}
	return float64(c.size*c.reps) / total.Seconds() / 1e6, nil
}

func benchTFTP(ctx context.Context, h *harness) ([]Row, error) {
	if m := missing("atftp", "in.tftpd"); m != "" {
		return nil, fmt.Errorf("missing %s (packages atftp, tftpd-hpa)", m)
	}
	dir := filepath.Join(h.dir, "tftproot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string]int{"1m": 1 << 20, "32m": 32 << 20}
	for name, size := range files {
		b := make([]byte, size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	reps := map[string]int{"1m": 10, "32m": 2}
	if h.o.quick {
		reps = map[string]int{"1m": 3, "32m": 1}
	}
	var cases []tftpCase
	for _, f := range []string{"1m", "32m"} {
		for _, blk := range []int{512, 1468} {
			cases = append(cases, tftpCase{file: f, size: files[f], blk: blk, reps: reps[f]})
		}
		cases = append(cases, tftpCase{file: f, size: files[f], blk: 1468, window: 64, reps: reps[f]})
	}

	type server struct {
		name  string
		start func() (*proc, error)
	}
	servers := []server{
		{"tftpd-hpa", func() (*proc, error) {
			return h.start(h.srv, "in.tftpd", "-L", "-a", serverIP+":69", "-s", "-u", "root", dir)
		}},
		{"atftpd", func() (*proc, error) {
			return h.start(h.srv, atftpdPath(), "--daemon", "--no-fork", "--bind-address", serverIP, "--port", "69",
				"--user", "root.root", "--logfile", filepath.Join(h.dir, "atftpd.log"), "--maxthread", "100", dir)
		}},
		{"pxekit", func() (*proc, error) {
			args := []string{"-dir", dir}
			if h.o.pprof {
				args = append(args, "-cpuprofile", filepath.Join(h.o.out, "tftp.cpu.pprof"))
			}
			return h.startSelf(h.srv, "tftp", args...)
		}},
	}
	// figures[server][case index]
	figures := map[string][]float64{}
	for _, s := range servers {
		if s.name == "atftpd" && missing(atftpdPath()) != "" {
			h.log.Warn("atftpd not installed (package atftpd): no atftpd figures")
			continue
		}
		p, err := s.start()
		if err != nil {
			return nil, err
		}
		probe := tftpCase{file: "1m", size: files["1m"], blk: 1468, reps: 1}
		if err := waitReady(ctx, p, func() error { _, err := h.atftpGet(ctx, probe); return err }); err != nil {
			p.stop()
			return nil, err
		}
		for _, c := range cases {
			if c.window > 0 && s.name == "tftpd-hpa" {
				figures[s.name] = append(figures[s.name], 0) // does not negotiate windowsize
				continue
			}
			v, err := h.mbps(ctx, c)
			if err != nil {
				p.stop()
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			h.log.Info("tftp", "server", s.name, "file", c.file, "blksize", c.blk, "window", c.window, "MB/s", fmt.Sprintf("%.1f", v))
			figures[s.name] = append(figures[s.name], v)
		}
		p.stop()
	}
	var rows []Row
	for i, c := range cases {
		name := fmt.Sprintf("%s blksize %d", c.file, c.blk)
		fig := func(s string) float64 {
			if len(figures[s]) > i {
				return figures[s][i]
			}
			return 0
		}
		if c.window > 0 {
			name += fmt.Sprintf(" windowsize %d", c.window)
			rows = append(rows, Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: "atftpd", PeerV: fig("atftpd"), Pxekit: fig("pxekit"),
				Note: "client atftp; tftpd-hpa has no windowsize"})
			continue
		}
		rows = append(rows,
			Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: "tftpd-hpa", PeerV: fig("tftpd-hpa"), Pxekit: fig("pxekit"), Target: 1.0, Note: "client atftp, lock-step"},
			Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: "atftpd", PeerV: fig("atftpd"), Pxekit: fig("pxekit"), Note: "client atftp, lock-step"})
	}
	return rows, nil
}

// atftpdPath is atftpd from PATH, or unpacked by `make bench-deps` into
// .cache/bench: Debian's atftpd package conflicts with tftpd-hpa (both
// ship /usr/sbin/in.tftpd), so it is not installed beside it.
func atftpdPath() string {
	if p, err := exec.LookPath("atftpd"); err == nil {
		return p
	}
	p, _ := filepath.Abs(".cache/bench/atftpd/usr/sbin/atftpd")
	return p
}
