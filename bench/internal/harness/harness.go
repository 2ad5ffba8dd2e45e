// Package harness is where the comparison runs: two network namespaces it
// creates and removes, the servers' (192.0.2.1 on one end of a veth) and
// the clients' (192.0.2.2 on the other), a scratch directory, and the
// processes started in them. The pxekit servers run as child processes of
// the comparison's own binary (a role, see bench/internal/roles), so their
// peak RSS is their own and kill -9 hits only them.
package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/pxekit/pxekit/pxetest"
)

// The lab link's addresses: every server listens on ServerIP, every
// client runs from ClientIP (as a relay agent, for DHCP), and every DHCP
// server of the comparison hands out PoolStart–PoolEnd: 241 addresses, so
// perfdhcp simulates 240 clients and never exhausts it.
const (
	Prefix    = "192.0.2.0/24"
	ServerIP  = "192.0.2.1"
	ClientIP  = "192.0.2.2"
	PoolStart = "192.0.2.10"
	PoolEnd   = "192.0.2.250"
)

// Options are a run's settings every part reads.
type Options struct {
	Out   string // results, profiles and logs go here
	Quick bool   // shorter runs, for a smoke test of the harness
	PProf bool   // the pxekit servers write CPU profiles to Out
}

// Harness is the two namespaces, the veth between them and a scratch
// directory; Close removes all of them. Its fields are set by New and
// only read after.
type Harness struct {
	Options
	Log      *slog.Logger
	Srv, Cli *pxetest.NetNS
	SrvIf    string // veth end in Srv, ServerIP/24
	CliIf    string // veth end in Cli, ClientIP/24
	Dir      string // scratch, removed by Close; readable by the peers' unprivileged workers
	self     string // this binary, re-executed for the roles
}

// New creates the namespaces and the veth. A nil log is slog.Default().
func New(ctx context.Context, o Options, log *slog.Logger) (h *Harness, err error) {
	if log == nil {
		log = slog.Default()
	}
	h = &Harness{Options: o, Log: log}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if h.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if h.Dir, err = os.MkdirTemp("", "pxekit-bench-"); err != nil {
		return nil, err
	}
	if err = os.Chmod(h.Dir, 0o755); err != nil { // atftpd and nginx workers read it
		return nil, err
	}
	if h.Srv, err = pxetest.NewNetNS("pxkb-s"); err != nil {
		return nil, err
	}
	if h.Cli, err = pxetest.NewNetNS("pxkb-c"); err != nil {
		return nil, err
	}
	sfx := randHex(3)
	h.SrvIf, h.CliIf = "pxkbs"+sfx, "pxkbc"+sfx
	steps := [][]string{
		{"link", "add", h.SrvIf, "netns", h.Srv.Name(), "type", "veth", "peer", "name", h.CliIf, "netns", h.Cli.Name()},
		{"-n", h.Srv.Name(), "addr", "add", ServerIP + "/24", "dev", h.SrvIf},
		{"-n", h.Cli.Name(), "addr", "add", ClientIP + "/24", "dev", h.CliIf},
		{"-n", h.Srv.Name(), "link", "set", h.SrvIf, "up"},
		{"-n", h.Cli.Name(), "link", "set", h.CliIf, "up"},
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, "ip", s...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return h, nil
}

// Close removes the namespaces (the veth goes with them) and the scratch
// directory.
func (h *Harness) Close() {
	if h.Cli != nil {
		_ = h.Cli.Close()
	}
	if h.Srv != nil {
		_ = h.Srv.Close()
	}
	if h.Dir != "" {
		_ = os.RemoveAll(h.Dir)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SelfCmd is this binary in role with args, for running to completion
// (Cmd.Run in a namespace); it dies with the harness.
func (h *Harness) SelfCmd(ctx context.Context, role string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, h.self, append([]string{"-role", role}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// StartSelf starts this binary in role in ns; the Proc is named
// pxekit-<role>.
func (h *Harness) StartSelf(ns *pxetest.NetNS, role string, args ...string) (*Proc, error) {
	return Start(ns, Command{Name: h.self, Args: append([]string{"-role", role}, args...), Label: "pxekit-" + role})
}

// Start starts name args in ns (see the package function Start).
func (h *Harness) Start(ns *pxetest.NetNS, name string, args ...string) (*Proc, error) {
	return Start(ns, Command{Name: name, Args: args})
}

// AddPool puts every pool address as a /32 on the clients' veth end, so
// each simulated machine talks from the address it leased; remove takes
// them off again.
func (h *Harness) AddPool(ctx context.Context) (remove func() error, err error) {
	if err := h.pool(ctx, "add"); err != nil {
		return nil, err
	}
	return func() error { return h.pool(context.WithoutCancel(ctx), "del") }, nil
}

func (h *Harness) pool(ctx context.Context, op string) error {
	var b bytes.Buffer
	for a, end := netip.MustParseAddr(PoolStart), netip.MustParseAddr(PoolEnd); a.Compare(end) <= 0; a = a.Next() {
		fmt.Fprintf(&b, "addr %s %s/32 dev %s\n", op, a, h.CliIf)
	}
	cmd := exec.CommandContext(ctx, "ip", "-n", h.Cli.Name(), "-force", "-batch", "-")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip addr %s pool on %s: %v: %s", op, h.CliIf, err, Tail(string(out), 300))
	}
	return nil
}

// Missing is the first of cmds not on PATH ("" if none).
func Missing(cmds ...string) string {
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			return c
		}
	}
	return ""
}

// Tail is the last n bytes of s, marked as cut when they are not all of
// it: what error messages quote of a process's output.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
