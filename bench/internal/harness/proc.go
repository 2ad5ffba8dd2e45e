package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// Command is a process to start in a namespace.
type Command struct {
	Name  string
	Args  []string
	Env   []string  // added to this process's environment
	Log   io.Writer // also gets the output as it comes (nil: only kept)
	Label string    // the Proc's name in messages (default: Name's base)
}

// Proc is a server or client process started in a namespace.
type Proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuf
	done chan struct{}
	err  error
}

// lockedBuf collects a child's output from its copying goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// outCap bounds what is kept of a process's output: a chatty peer must
// not eat the machine's memory.
const outCap = 1 << 20

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > outCap {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start starts c in ns (nil: this process's namespace). The process dies
// with the harness (Pdeathsig) even if the harness itself is killed, and
// runs with GOMAXPROCS=2, as every server of the comparison gets two
// cores.
func Start(ns *pxetest.NetNS, c Command) (*Proc, error) {
	cmd := exec.Command(c.Name, c.Args...)
	name := c.Label
	if name == "" {
		name = filepath.Base(c.Name)
	}
	p := &Proc{name: name, cmd: cmd, out: &lockedBuf{}, done: make(chan struct{})}
	var w io.Writer = p.out
	if c.Log != nil {
		w = io.MultiWriter(p.out, c.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(append(os.Environ(), "GOMAXPROCS=2"), c.Env...)
	start := cmd.Start
	if ns != nil {
		start = func() error { return ns.Start(cmd) }
	}
	if err := start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Name is the process's name in messages.
func (p *Proc) Name() string { return p.name }

// PID is the process's id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output is what the process wrote to stdout and stderr so far (its first
// MiB).
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended (Wait's error); valid once Done is closed.
func (p *Proc) Err() error { return p.err }

// Stop ends the process gracefully (SIGTERM, then SIGKILL after 5 s) and
// waits for it.
func (p *Proc) Stop() {
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

// Kill9 kills the process without warning, as a power cut would, and
// waits for it.
func (p *Proc) Kill9() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Exited is an error saying how the process ended, with the end of its
// output, once it has; nil while it runs (a server that died).
func (p *Proc) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v: %s", p.name, p.err, Tail(p.out.String(), 800))
	default:
		return nil
	}
}

// Run runs a client command in ns (nil: here) and returns its combined
// output.
func Run(ctx context.Context, ns *pxetest.NetNS, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if ns != nil {
		err = ns.Run(cmd)
	} else {
		err = cmd.Run()
	}
	return out.String(), err
}

// readyTimeout is how long a server just started has to answer.
const readyTimeout = 10 * time.Second

// WaitReady polls probe every 100 ms until it succeeds (the servers
// procs are answering), one of procs ends, ctx is done or 10 s passed.
func WaitReady(ctx context.Context, probe func() error, procs ...*Proc) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := probe()
		if err == nil {
			return nil
		}
		var outs []string
		for _, p := range procs {
			if e := p.Exited(); e != nil {
				return e
			}
			outs = append(outs, p.name+": "+Tail(p.out.String(), 800))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after %v: %w; %s", readyTimeout, err, strings.Join(outs, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// DialTCP is a probe for WaitReady: addr accepts TCP connections from
// inside ns.
func DialTCP(ns *pxetest.NetNS, addr string) func() error {
	return func() error {
		return ns.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
}

// UDPBound is a probe for WaitReady: something listens on UDP port in ns
// (unlike a DHCP exchange, it takes no lease).
func UDPBound(ctx context.Context, ns *pxetest.NetNS, port string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := Run(ctx, ns, "ss", "-Hlun", "sport = :"+port)
		if err != nil {
			return fmt.Errorf("ss: %v: %s", err, out)
		}
		if strings.TrimSpace(out) == "" {
			return errors.New("nothing on udp port " + port)
		}
		return nil
	}
}
