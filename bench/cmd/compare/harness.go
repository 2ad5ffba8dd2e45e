package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pxekit/pxekit/internal/lab"
)

// Lab addresses: the servers' end and the clients' end of one veth.
const (
	serverIP = "192.0.2.1"
	clientIP = "192.0.2.2"
)

// harness holds the two namespaces, the veth between them and a scratch
// directory; close removes all of them.
type harness struct {
	o        options
	log      *slog.Logger
	srv, cli *lab.NetNS
	srvIf    string // veth end in srv (192.0.2.1/24)
	cliIf    string // veth end in cli (192.0.2.2/24)
	dir      string
	self     string // this binary, re-executed for the pxekit roles
}

func newHarness(ctx context.Context, o options, log *slog.Logger) (h *harness, err error) {
	h = &harness{o: o, log: log}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if h.dir, err = os.MkdirTemp("", "pxekit-bench-"); err != nil {
		return nil, err
	}
	if err = os.Chmod(h.dir, 0o755); err != nil { // atftpd and nginx workers read it
		return nil, err
	}
	if h.srv, err = lab.NewNetNS("pxkb-s"); err != nil {
		return nil, err
	}
	if h.cli, err = lab.NewNetNS("pxkb-c"); err != nil {
		return nil, err
	}
	sfx := randHex(3)
	h.srvIf, h.cliIf = "pxkbs"+sfx, "pxkbc"+sfx
	steps := [][]string{
		{"link", "add", h.srvIf, "netns", h.srv.Name(), "type", "veth", "peer", "name", h.cliIf, "netns", h.cli.Name()},
		{"-n", h.srv.Name(), "addr", "add", serverIP + "/24", "dev", h.srvIf},
		{"-n", h.cli.Name(), "addr", "add", clientIP + "/24", "dev", h.cliIf},
		{"-n", h.srv.Name(), "link", "set", h.srvIf, "up"},
		{"-n", h.cli.Name(), "link", "set", h.cliIf, "up"},
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, "ip", s...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return h, nil
}

func (h *harness) close() {
	if h.cli != nil {
		_ = h.cli.Close()
	}
	if h.srv != nil {
		_ = h.srv.Close() // the veth goes with it
	}
	if h.dir != "" {
		_ = os.RemoveAll(h.dir)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// proc is a server or client process started in one of the namespaces.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuf
	done   chan struct{}
	err    error
	killed bool
}

// lockedBuf collects a child's output from its copying goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // a chatty peer must not eat the machine's memory
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start starts name args in ns. The process dies with the harness
// (Pdeathsig) even if the harness itself is killed.
func (h *harness) start(ns *lab.NetNS, name string, args ...string) (*proc, error) {
	return h.startStdin(ns, nil, name, args...)
}

// startStdin is start with stdin connected to f (nil: /dev/null).
func (h *harness) startStdin(ns *lab.NetNS, f *os.File, name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	if f != nil {
		cmd.Stdin = f
	}
	p := &proc{name: filepath.Base(name), cmd: cmd, out: &lockedBuf{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	if err := ns.Start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// startSelf runs this binary in a role.
func (h *harness) startSelf(ns *lab.NetNS, role string, args ...string) (*proc, error) {
	p, err := h.start(ns, h.self, append([]string{"-role", role}, args...)...)
	if p != nil {
		p.name = "pxekit-" + role
	}
	return p, err
}

// stop ends a server gracefully (SIGTERM, then SIGKILL after 5 s).
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill9 kills the process without warning, as a power cut would.
func (p *proc) kill9() {
	p.killed = true
	_ = p.cmd.Process.Kill()
	<-p.done
}

// exited says whether the process already ended (a server that died).
func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v: %s", p.name, p.err, tail(p.out.String(), 800))
	default:
		return nil
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// runIn runs a client command in ns and returns its combined output.
func (h *harness) runIn(ctx context.Context, ns *lab.NetNS, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := ns.Run(cmd)
	return out.String(), err
}

// waitUDP waits until probe succeeds (a server is answering), or the
// server process died, or 10 s passed.
func waitReady(ctx context.Context, p *proc, probe func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := probe()
		if err == nil {
			return nil
		}
		if e := p.exited(); e != nil {
			return e
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering: %v: %s", p.name, err, tail(p.out.String(), 800))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitTCP waits until addr accepts connections from the client namespace.
func (h *harness) waitTCP(ctx context.Context, p *proc, addr string) error {
	return waitReady(ctx, p, func() error {
		return h.cli.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	})
}

// available reports the first missing command among cmds ("" if none).
func missing(cmds ...string) string {
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			return c
		}
	}
	return ""
}
