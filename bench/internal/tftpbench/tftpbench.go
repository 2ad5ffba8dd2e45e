// Package tftpbench is the comparison's TFTP part: pxekit's TFTP server
// against tftpd-hpa and atftpd, the same atftp client fetching a 1 MB and
// a 32 MB file from each, lock-step at blksize 512 and 1468 and windowed
// (RFC 7440, windowsize 64) where the server has it.
package tftpbench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/bench/internal/stats"
)

// Servers, by the name in the rows.
const (
	pxekit   = "pxekit"
	tftpdHPA = "tftpd-hpa"
	atftpd   = "atftpd"
)

// fetchCase is one file × block size × window size.
type fetchCase struct {
	file   string
	size   int
	blk    int
	window int // 0: lock-step (RFC 1350)
	reps   int
}

// cases are the part's fetches: per file, lock-step at 512 and 1468, then
// windowed at 1468.
func cases(quick bool) []fetchCase {
	reps := map[string]int{"1m": 15, "32m": 5}
	if quick {
		reps = map[string]int{"1m": 3, "32m": 1}
	}
	var cs []fetchCase
	for _, f := range []struct {
		name string
		size int
	}{{"1m", 1 << 20}, {"32m", 32 << 20}} {
		for _, blk := range []int{512, 1468} {
			cs = append(cs, fetchCase{file: f.name, size: f.size, blk: blk, reps: reps[f.name]})
		}
		cs = append(cs, fetchCase{file: f.name, size: f.size, blk: 1468, window: 64, reps: reps[f.name]})
	}
	return cs
}

// server is one server under test, listening on its own port: all of
// them run at once (idle but for the one being fetched from), so their
// runs can be interleaved.
type server struct {
	name  string
	port  int
	start func() (*harness.Proc, error)
	p     *harness.Proc
}

// atftpArgs is atftp's command line for c from the server on port,
// into local.
func atftpArgs(c fetchCase, port int, local string) []string {
	args := []string{"--get", "-r", c.file, "-l", local, "--option", "blksize " + strconv.Itoa(c.blk)}
	if c.window > 0 {
		args = append(args, "--option", "windowsize "+strconv.Itoa(c.window))
	}
	return append(args, harness.ServerIP, strconv.Itoa(port))
}

// atftpGet fetches c's file from the server on port with atftp and returns
// the time it took; the received file must have the right size.
func atftpGet(ctx context.Context, h *harness.Harness, port int, c fetchCase) (time.Duration, error) {
	local := filepath.Join(h.Dir, "tftp-got")
	_ = os.Remove(local)
	args := atftpArgs(c, port, local)
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

// Run is the TFTP part. Without atftpd (see peers.AtftpdPath) its rows
// have no atftpd figure.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	if m := harness.Missing("atftp", "in.tftpd"); m != "" {
		return nil, fmt.Errorf("missing %s (packages atftp, tftpd-hpa)", m)
	}
	dir := filepath.Join(h.Dir, "tftproot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cs := cases(h.Quick)
	for _, c := range cs {
		if _, err := os.Stat(filepath.Join(dir, c.file)); err == nil {
			continue
		}
		b := make([]byte, c.size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(dir, c.file), b, 0o644); err != nil {
			return nil, err
		}
	}

	// pxekit's role listens on port 69; the peers get ports of their own.
	servers := []*server{
		{name: tftpdHPA, port: 1069, start: func() (*harness.Proc, error) {
			return harness.Start(h.Srv, peers.TFTPDHPA{Addr: harness.ServerIP + ":1069", Root: dir}.Command())
		}},
		{name: atftpd, port: 2069, start: func() (*harness.Proc, error) {
			return harness.Start(h.Srv, peers.Atftpd{IP: harness.ServerIP, Port: 2069, Root: dir, LogFile: filepath.Join(h.Dir, "atftpd.log")}.Command())
		}},
		{name: pxekit, port: 69, start: func() (*harness.Proc, error) {
			return h.StartSelf(h.Srv, roles.TFTP, append([]string{"-dir", dir}, roles.CPUProfile(h.Options, "tftp")...)...)
		}},
	}
	if harness.Missing(peers.AtftpdPath()) != "" {
		h.Log.Warn("atftpd not installed (package atftpd): no atftpd figures")
		servers = slices.DeleteFunc(servers, func(s *server) bool { return s.name == atftpd })
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
		probe := fetchCase{file: cs[0].file, size: cs[0].size, blk: 1468, reps: 1}
		if err := harness.WaitReady(ctx, func() error { _, err := atftpGet(ctx, h, s.port, probe); return err }, p); err != nil {
			return nil, err
		}
	}
	// Every rep fetches from each server in turn, starting with a
	// different one each time, so load from other work on the machine
	// falls on all of them alike; each figure is the median of its reps.
	figures := map[string][]float64{} // [server][case index]
	for _, c := range cs {
		runs := map[string][]float64{}
		for rep := range c.reps {
			for i := range servers {
				s := servers[(rep+i)%len(servers)]
				if c.window > 0 && s.name == tftpdHPA {
					continue // does not negotiate windowsize
				}
				d, err := atftpGet(ctx, h, s.port, c)
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
	return rows(cs, figures), nil
}

// rows are the part's rows from figures[server][case]: each lock-step
// case against both peers (tftpd-hpa with a target: pxekit must be at
// least as fast as what most PXE setups run), each windowed one against
// atftpd.
func rows(cs []fetchCase, figures map[string][]float64) []report.Row {
	var rs []report.Row
	for i, c := range cs {
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
			rs = append(rs, report.Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: atftpd, PeerV: fig(atftpd), Pxekit: fig(pxekit),
				Note: note + "; tftpd-hpa has no windowsize"})
			continue
		}
		rs = append(rs,
			report.Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: tftpdHPA, PeerV: fig(tftpdHPA), Pxekit: fig(pxekit), Target: 1.0, Note: note + ", lock-step"},
			report.Row{Group: "TFTP", Case: name, Unit: "MB/s", Peer: atftpd, PeerV: fig(atftpd), Pxekit: fig(pxekit), Note: note + ", lock-step"})
	}
	return rs
}
