package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/stats"
)

// tftpCase is one file × block size × window size.
type tftpCase struct {
	file   string
	size   int
	blk    int
	window int // 0: lock-step (RFC 1350)
	reps   int
}

// tftpServer is one server under test, listening on its own port: all of
// them run at once (idle but for the one being fetched from), so their
// runs can be interleaved.
type tftpServer struct {
	name  string
	port  int
	start func() (*harness.Proc, error)
	p     *harness.Proc
}

// atftpGet fetches name from the server on port with atftp and returns the
// time it took; the received file must have the right size.
func atftpGet(h *harness.Harness, ctx context.Context, port int, c tftpCase) (time.Duration, error) {
	local := filepath.Join(h.Dir, "tftp-got")
	_ = os.Remove(local)
	args := []string{"--get", "-r", c.file, "-l", local, "--option", "blksize " + strconv.Itoa(c.blk)}
	if c.window > 0 {
		args = append(args, "--option", "windowsize "+strconv.Itoa(c.window))
	}
	args = append(args, harness.ServerIP, strconv.Itoa(port))
	start := time.Now()
	out, err := harness.Run(ctx, h.Cli, "atftp", args...)
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("atftp %v: %v: %s", args, err, harness.Tail(out, 300))
	}
	if fi, err := os.Stat(local); err != nil || fi.Size() != int64(c.size) {
		return d, fmt.Errorf("atftp %v: got %v bytes (%v), want %d", args, fi, err, c.size)
	}
	return d, nil
}

func benchTFTP(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	if m := harness.Missing("atftp", "in.tftpd"); m != "" {
		return nil, fmt.Errorf("missing %s (packages atftp, tftpd-hpa)", m)
	}
	dir := filepath.Join(h.Dir, "tftproot")
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
	reps := map[string]int{"1m": 15, "32m": 5}
	if h.Quick {
		reps = map[string]int{"1m": 3, "32m": 1}
	}
	var cases []tftpCase
	for _, f := range []string{"1m", "32m"} {
		for _, blk := range []int{512, 1468} {
			cases = append(cases, tftpCase{file: f, size: files[f], blk: blk, reps: reps[f]})
		}
		cases = append(cases, tftpCase{file: f, size: files[f], blk: 1468, window: 64, reps: reps[f]})
	}

	// pxekit's role listens on port 69; the peers get ports of their own.
	servers := []*tftpServer{
		{name: "tftpd-hpa", port: 1069, start: func() (*harness.Proc, error) {
			return h.Start(h.Srv, "in.tftpd", "-L", "-a", harness.ServerIP+":1069", "-s", "-u", "root", dir)
		}},
		{name: "atftpd", port: 2069, start: func() (*harness.Proc, error) {
			return h.Start(h.Srv, atftpdPath(), "--daemon", "--no-fork", "--bind-address", harness.ServerIP, "--port", "2069",
				"--user", "root.root", "--logfile", filepath.Join(h.Dir, "atftpd.log"), "--maxthread", "100", dir)
		}},
		{name: "pxekit", port: 69, start: func() (*harness.Proc, error) {
			args := []string{"-dir", dir}
			if h.PProf {
				args = append(args, "-cpuprofile", filepath.Join(h.Out, "tftp.cpu.pprof"))
			}
			return h.StartSelf(h.Srv, "tftp", args...)
		}},
	}
	if harness.Missing(atftpdPath()) != "" {
		h.Log.Warn("atftpd not installed (package atftpd): no atftpd figures")
		servers = slices.DeleteFunc(servers, func(s *tftpServer) bool { return s.name == "atftpd" })
	}
	defer func() {
		for _, s := range servers {
			if s.p != nil {
				s.p.Stop()
			}
		}
	}()
	for _, s := range servers {
		p, err := s.start()
		if err != nil {
			return nil, err
		}
		s.p = p
		probe := tftpCase{file: "1m", size: files["1m"], blk: 1468, reps: 1}
		if err := harness.WaitReady(ctx, func() error { _, err := atftpGet(h, ctx, s.port, probe); return err }, p); err != nil {
			return nil, err
		}
	}
	// Every rep fetches from each server in turn, starting with a
	// different one each time, so load from other work on the machine
	// falls on all of them alike; each figure is the median of its reps.
	figures := map[string][]float64{} // [server][case index]
	for _, c := range cases {
		runs := map[string][]float64{}
		for rep := range c.reps {
			for i := range servers {
				s := servers[(rep+i)%len(servers)]
				if c.window > 0 && s.name == "tftpd-hpa" {
					continue // does not negotiate windowsize
				}
				d, err := atftpGet(h, ctx, s.port, c)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", s.name, err)
				}
				runs[s.name] = append(runs[s.name], float64(c.size)/d.Seconds()/1e6)
			}
		}
		for _, s := range servers {
			v := stats.Median(runs[s.name])
			if len(runs[s.name]) > 0 {
				h.Log.Info("tftp", "server", s.name, "file", c.file, "blksize", c.blk, "window", c.window, "MB/s", fmt.Sprintf("%.1f", v))
			}
			figures[s.name] = append(figures[s.name], v)
		}
	}
	var rows []report.Row
	for i, c := range cases {
		name := fmt.Sprintf("%s blksize %d", c.file, c.blk)
		fig := func(s string) float64 {
			if len(figures[s]) > i {
				return figures[s][i]
			}
			return 0
		}
		note := fmt.Sprintf("client atftp, median of %d interleaved runs", c.reps)
		if c.window > 0 {
			name += fmt.Sprintf(" windowsize %d", c.window)
			rows = append(rows, report.Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: "atftpd", PeerV: fig("atftpd"), Pxekit: fig("pxekit"),
				Note: note + "; tftpd-hpa has no windowsize"})
			continue
		}
		rows = append(rows,
			report.Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: "tftpd-hpa", PeerV: fig("tftpd-hpa"), Pxekit: fig("pxekit"), Target: 1.0, Note: note + ", lock-step"},
			report.Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: "atftpd", PeerV: fig("atftpd"), Pxekit: fig("pxekit"), Note: note + ", lock-step"})
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
