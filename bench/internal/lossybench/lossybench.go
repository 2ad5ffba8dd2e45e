// Package lossybench is the comparison's lossy-link part: DHCP bind time
// (udhcpc) and TFTP transfer time (atftp, lock-step and windowed) through
// pxetest's impairment relay — 5 % loss, 2 % duplication, 2 % reordering
// each way, fixed seed — for pxekit against dnsmasq and tftpd-hpa, each
// next to its own unimpaired baseline, with the relay's counts and
// pxekit's own retransmissions; and (not in a quick run) the qemu part's
// SeaBIOS+iPXE and OVMF boots, pxekit against dnsmasq + nginx, impaired
// and not.
package lossybench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/qemubench"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/stats"
	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/pxetest/impair"
	"github.com/pxekit/pxekit/tftp"
)

// Impairment is the part's lossy link.
func Impairment() impair.Config {
	return impair.Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.02, Seed: 20261204}
}

// fileSize is the TFTP file: big enough for tens of losses, small enough
// for lock-step at 5 % loss to take seconds (less in a quick run).
func fileSize(quick bool) int {
	if quick {
		return 32 << 10
	}
	return 256 << 10
}

// measured is one server's runs on one network.
type measured struct {
	secs  []float64
	relay impair.Stats
	retx  uint64 // the server's own retransmissions, where it counts them
	// failed counts runs that did not complete; err is the last one's
	// error. A failed run is a result, not the end of the part.
	failed int
	err    error
}

// failNote says how many runs failed and why, or nothing.
func (m measured) failNote(name string) string {
	if m.failed == 0 {
		return ""
	}
	return fmt.Sprintf("; %s: %d run(s) FAILED (%v)", name, m.failed, m.err)
}

func (m measured) median() float64 { return stats.Median(m.secs) }

// Run measures every case on an unimpaired and an impaired lab.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	if miss := harness.Missing("udhcpc", "atftp", "in.tftpd", "dnsmasq"); miss != "" {
		return nil, fmt.Errorf("lossy: missing %s", miss)
	}
	reps := 3
	if h.Quick {
		reps = 1
	}
	dir := filepath.Join(h.Dir, "lossy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	data := make([]byte, fileSize(h.Quick))
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "file"), data, 0o644); err != nil {
		return nil, err
	}
	cond := fmt.Sprintf("5%% loss, 2%% dup, 2%% reorder each way, seed %d; median of %d runs, counts summed over them", Impairment().Seed, reps)
	var rows []report.Row

	type tcase struct {
		name   string
		window int
	}
	for _, c := range []tcase{{"lock-step blksize 1468", 0}, {"windowsize 8 blksize 1468", 8}} {
		res := map[string][2]measured{}
		for _, srv := range []string{"pxekit", "tftpd-hpa"} {
			if c.window > 0 && srv == "tftpd-hpa" {
				continue // tftpd-hpa has no RFC 7440 windows
			}
			var pair [2]measured
			for i, cfg := range []*impair.Config{nil, ptr(Impairment())} {
				m, err := tftpRuns(ctx, h, dir, srv, c.window, cfg, reps, data)
				if err != nil {
					return rows, fmt.Errorf("lossy: TFTP %s %s: %w", srv, c.name, err)
				}
				pair[i] = m
			}
			res[srv] = pair
		}
		px := res["pxekit"]
		row := report.Row{Group: "Lossy", Case: fmt.Sprintf("TFTP %d KiB atftp %s, impaired", fileSize(h.Quick)>>10, c.name), Unit: "s",
			Pxekit: px[1].median(), Lower: true,
			Note: fmt.Sprintf("%s; pxekit baseline %.3f s (cost %+.3f s), %d retransmitted, relay %s",
				cond, px[0].median(), px[1].median()-px[0].median(), px[1].retx, relayNote(px[1].relay)) +
				px[0].failNote("pxekit unimpaired") + px[1].failNote("pxekit"),
			Failed: px[0].failed+px[1].failed > 0}
		if hp, ok := res["tftpd-hpa"]; ok {
			row.Peer, row.PeerV = "tftpd-hpa", hp[1].median()
			row.Note += fmt.Sprintf("; tftpd-hpa baseline %.3f s (cost %+.3f s), relay %s", hp[0].median(), hp[1].median()-hp[0].median(), relayNote(hp[1].relay)) +
				hp[0].failNote("tftpd-hpa unimpaired") + hp[1].failNote("tftpd-hpa")
			row.Failed = row.Failed || hp[0].failed+hp[1].failed > 0
		}
		rows = append(rows, row)
	}

	res := map[string][2]measured{}
	for _, srv := range []string{"pxekit", "dnsmasq"} {
		var pair [2]measured
		for i, cfg := range []*impair.Config{nil, ptr(Impairment())} {
			m, err := dhcpRuns(ctx, h, dir, srv, cfg, reps)
			if err != nil {
				return rows, fmt.Errorf("lossy: DHCP %s: %w", srv, err)
			}
			pair[i] = m
		}
		res[srv] = pair
	}
	px, dm := res["pxekit"], res["dnsmasq"]
	rows = append(rows, report.Row{Group: "Lossy", Case: "DHCP bind, udhcpc (DISCOVER every 1 s), impaired", Unit: "s",
		Peer: "dnsmasq", PeerV: dm[1].median(), Pxekit: px[1].median(), Lower: true,
		Note: fmt.Sprintf("%s; baselines pxekit %.3f s, dnsmasq %.3f s (cost %+.3f / %+.3f s); relay pxekit %s, dnsmasq %s",
			cond, px[0].median(), dm[0].median(), px[1].median()-px[0].median(), dm[1].median()-dm[0].median(),
			relayNote(px[1].relay), relayNote(dm[1].relay)) +
			px[0].failNote("pxekit unimpaired") + px[1].failNote("pxekit") + dm[0].failNote("dnsmasq unimpaired") + dm[1].failNote("dnsmasq"),
		Failed: px[0].failed+px[1].failed+dm[0].failed+dm[1].failed > 0})
	if h.Quick {
		return rows, nil // boots take minutes: the qemu part's quick run covers them
	}
	boots, err := bootRows(ctx, h)
	return append(rows, boots...), err
}

// bootRows are the qemu part's boots (SeaBIOS+iPXE, OVMF; pxekit against
// dnsmasq + nginx) on an impaired lab, each row with the same boots'
// unimpaired figures beside it. Their phase tables go to Out/lossy-qemu
// and Out/lossy-qemu-baseline.
func bootRows(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	var got [2][]report.Row
	var errs []error
	for i, sub := range []string{"lossy-qemu-baseline", "lossy-qemu"} {
		hh := *h
		hh.Out = filepath.Join(h.Out, sub)
		if err := os.MkdirAll(hh.Out, 0o755); err != nil {
			return nil, err
		}
		cfg := pxetest.NetworkConfig{}
		if i == 1 {
			cfg.Impair = ptr(Impairment())
		}
		rs, err := qemubench.RunOn(ctx, &hh, cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("lossy: boots (%s): %w", sub, err))
		}
		got[i] = rs
	}
	var rows []report.Row
	for _, r := range got[1] {
		r.Group = "Lossy"
		note := "5% loss, 2% dup, 2% reorder each way through the relay"
		for _, b := range got[0] {
			if b.Case == r.Case {
				note += fmt.Sprintf("; unimpaired pxekit %.3f, %s %.3f (cost pxekit %+.3f, %s %+.3f)",
					b.Pxekit, b.Peer, b.PeerV, r.Pxekit-b.Pxekit, r.Peer, r.PeerV-b.PeerV)
			}
		}
		r.Case = "boot " + r.Case + ", impaired"
		r.Note = note + "; " + r.Note
		rows = append(rows, r)
	}
	return rows, errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

// relayNote is the relay's drops, duplicates and reorders, each way.
func relayNote(s impair.Stats) string {
	return fmt.Sprintf("srv→cli %d/%d dropped %d dup %d reord, cli→srv %d/%d dropped %d dup %d reord",
		s.AtoB.Dropped, s.AtoB.Frames, s.AtoB.Duplicated, s.AtoB.Reordered,
		s.BtoA.Dropped, s.BtoA.Frames, s.BtoA.Duplicated, s.BtoA.Reordered)
}

// lab is a lab network (impaired when cfg is set) with one client host.
func lab(cfg *impair.Config) (*pxetest.Network, *pxetest.Host, error) {
	n, err := pxetest.NewNetwork(pxetest.NetworkConfig{Name: "pxkl", Impair: cfg})
	if err != nil {
		return nil, nil, err
	}
	c, err := n.AddHost("pxklc", netip.MustParsePrefix(harness.ClientIP+"/24"))
	if err != nil {
		n.Close()
		return nil, nil, err
	}
	return n, c, nil
}

// tftpRuns fetches the file reps times from srv on a fresh lab.
func tftpRuns(ctx context.Context, h *harness.Harness, dir, srv string, window int, cfg *impair.Config, reps int, want []byte) (measured, error) {
	var m measured
	n, cli, err := lab(cfg)
	if err != nil {
		return m, err
	}
	defer n.Close()
	addr := harness.ServerIP + ":69"
	var pxk *tftp.Server
	switch srv {
	case "pxekit":
		conn, err := n.NS.ListenPacket("udp4", addr)
		if err != nil {
			return m, err
		}
		root, r, err := tftp.Dir(dir)
		if err != nil {
			conn.Close()
			return m, err
		}
		defer r.Close()
		if pxk, err = tftp.New(tftp.Config{Root: root, Conn: conn, MaxWindowSize: 64, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			conn.Close()
			return m, err
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); pxk.Serve(sctx) }()
		defer func() { cancel(); <-done }()
	default:
		p, err := harness.Start(n.NS, peers.TFTPDHPA{Addr: addr, Root: dir}.Command())
		if err != nil {
			return m, err
		}
		defer p.Stop()
		time.Sleep(200 * time.Millisecond) // in.tftpd binds after it starts
	}
	out := filepath.Join(h.Dir, "lossy-got")
	for range reps {
		os.Remove(out)
		// atftp does not acknowledge a block it already acknowledged
		// again; its own 1 s timeout is what recovers a lost ACK, so the
		// server's (timeout option 2) must be longer.
		args := []string{"--get", "-r", "file", "-l", out, "--tftp-timeout", "1", "--option", "blksize 1468", "--option", "timeout 2"}
		if window > 0 {
			args = append(args, "--option", "windowsize "+strconv.Itoa(window))
		}
		args = append(args, harness.ServerIP)
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		start := time.Now()
		cmd := pxetest.CommandContext(cctx, "atftp", args...)
		var said bytes.Buffer
		cmd.Stdout, cmd.Stderr = &said, &said
		err := cli.NS.Run(cmd)
		el := time.Since(start)
		cancel()
		got, _ := os.ReadFile(out)
		if err != nil || sha256.Sum256(got) != sha256.Sum256(want) {
			m.failed++
			m.err = fmt.Errorf("atftp: %d of %d bytes, %v: %q", len(got), len(want), err, harness.Tail(said.String(), 300))
			continue
		}
		m.secs = append(m.secs, el.Seconds())
	}
	m.relay = n.Impairment()
	if pxk != nil {
		m.retx = pxk.Stats().Retransmitted
	}
	return m, nil
}

// dhcpRuns times udhcpc binding reps times against srv on a fresh lab.
func dhcpRuns(ctx context.Context, h *harness.Harness, dir, srv string, cfg *impair.Config, reps int) (measured, error) {
	var m measured
	n, cli, err := lab(cfg)
	if err != nil {
		return m, err
	}
	defer n.Close()
	switch srv {
	case "pxekit":
		s, err := dhcp.New(dhcp.Config{
			NetNS:      n.NS.Path(),
			Interfaces: []string{n.Bridge},
			Subnets: []dhcp.Subnet{{Prefix: netip.MustParsePrefix(harness.Prefix),
				Pools:     []dhcp.Range{{Start: netip.MustParseAddr(harness.PoolStart), End: netip.MustParseAddr(harness.PoolEnd)}},
				LeaseTime: time.Hour}},
			LeaseFile:  filepath.Join(dir, "leases-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".db"),
			ClientRate: -1,
			Logger:     slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return m, err
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); s.Serve(sctx) }()
		defer func() { cancel(); <-done }()
		time.Sleep(200 * time.Millisecond)
	default:
		d := peers.Dnsmasq{Interface: n.Bridge, Dir: dir, PoolStart: harness.PoolStart, PoolEnd: harness.PoolEnd, Quiet: true}
		os.Remove(filepath.Join(dir, "dnsmasq.leases"))
		p, err := harness.Start(n.NS, d.Command())
		if err != nil {
			return m, err
		}
		defer p.Stop()
		time.Sleep(500 * time.Millisecond)
	}
	for range reps {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		start := time.Now()
		// -q: quit once bound; -n: fail after -t tries; the script does
		// nothing, the lease is only timed.
		err := cli.NS.Run(pxetest.CommandContext(cctx, "udhcpc", "-i", cli.Link, "-f", "-q", "-n", "-t", "30", "-T", "1", "-s", "/bin/true"))
		el := time.Since(start)
		cancel()
		if err != nil {
			m.failed++
			m.err = fmt.Errorf("udhcpc: %w", err)
			continue
		}
		m.secs = append(m.secs, el.Seconds())
	}
	m.relay = n.Impairment()
	return m, nil
}
