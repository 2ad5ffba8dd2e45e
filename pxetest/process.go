package pxetest

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CommandContext is exec.CommandContext for a command to start in a lab
// namespace: the command gets a process group of its own, and when ctx
// ends the whole group is killed (a client's hook scripts, a server's
// forked workers) and waited for at most 5 s more. It also dies with the
// thread that forked it (PR_SET_PDEATHSIG), so a test binary killed by
// go test's -timeout does not leave it running.
func CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	ownGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// noDeathSignalEnv, when set, starts processes without PR_SET_PDEATHSIG:
// CheckCleanup's child sets it, so what it checks is that a test's
// cleanup killed them, not that its exit did.
const noDeathSignalEnv = "PXETEST_NO_PDEATHSIG"

// ownGroup puts cmd in a process group of its own, killed with its parent.
func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	if cmd.SysProcAttr.Pdeathsig == 0 && os.Getenv(noDeathSignalEnv) == "" {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
}

// killGroup kills the process group p leads. A group that is already gone
// is not an error.
func killGroup(p *os.Process) error {
	if p == nil {
		return nil
	}
	err := syscall.Kill(-p.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// Process is a program a test started with Start: it runs in a process
// group of its own, and the whole group is killed when the test ends, on
// success, failure or t.FailNow alike.
type Process struct {
	// Cmd is the started command (Cmd.Process.Pid is the group's id).
	Cmd *exec.Cmd

	name    string
	out     Buffer
	outDone chan struct{} // closed when the output pipe is drained (nil: not collected)
	done    chan struct{}
	err     error
}

// outputDrain bounds the wait for the last output once the group is dead:
// a process that left the group may hold the pipe.
const outputDrain = 5 * time.Second

// Start starts cmd in ns (nil: where the test runs) for the rest of the
// test. cmd must come from exec.Command or CommandContext (not
// exec.CommandContext, whose Cancel kills only the leader); Start puts it in
// a group of its own and, when cmd.Stdout and cmd.Stderr are nil, collects
// both in Output. When the test ends the group is killed with SIGKILL and
// the leader waited for; a failed test logs the output.
func Start(tb testing.TB, ns *NetNS, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{Cmd: cmd, name: filepath.Base(cmd.Path), done: make(chan struct{})}
	ownGroup(cmd)
	if cmd.WaitDelay == 0 {
		// With a writer of the caller's, Wait also waits for exec's
		// copying; bound that for a process that left the group.
		cmd.WaitDelay = outputDrain
	}
	var r, w *os.File
	if cmd.Stdout == nil && cmd.Stderr == nil {
		// A pipe of our own rather than exec's: Wait then returns when
		// the process exits, even while something it started in the
		// background still holds the pipe.
		var err error
		if r, w, err = os.Pipe(); err != nil {
			tb.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = w, w
		p.outDone = make(chan struct{})
	}
	where := "this netns"
	if ns != nil {
		where = "netns " + ns.Name()
	}
	err := ns.Start(cmd)
	if w != nil {
		w.Close()
	}
	if err != nil {
		if r != nil {
			r.Close()
		}
		tb.Fatalf("pxetest: starting %s in %s: %v", strings.Join(cmd.Args, " "), where, err)
	}
	tb.Logf("pxetest: started %s (pid %d, own process group) in %s", p.name, cmd.Process.Pid, where)
	if r != nil {
		go func() {
			_, _ = io.Copy(&p.out, r)
			r.Close()
			close(p.outDone)
		}()
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() && p.out.Len() > 0 {
			tb.Logf("%s (pid %d) output:\n%s", p.name, cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// Run starts cmd as Start does and waits for it: its collected output and
// how it exited. The group is killed when Run returns, so nothing it left
// behind outlives it.
func Run(tb testing.TB, ns *NetNS, cmd *exec.Cmd) (string, error) {
	tb.Helper()
	p := Start(tb, ns, cmd)
	err := p.Wait()
	p.Stop()
	return p.Output(), err
}

// Output is what the process wrote so far on stdout and stderr (when Start
// collected them); after Stop, all of it.
func (p *Process) Output() string { return p.out.String() }

// Pid is the process's id, which is also its group's.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Signal sends sig to the process (not its group).
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns how it exited.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop kills the process's group, waits for the process and for the rest
// of its output. It is safe to call more than once and after the process
// exited.
func (p *Process) Stop() {
	_ = killGroup(p.Cmd.Process)
	<-p.done
	if p.outDone != nil {
		select {
		case <-p.outDone:
		case <-time.After(outputDrain):
		}
	}
}

// Buffer is a bytes buffer that is safe to write from one goroutine (a
// child process's output, a logger) while others read it.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len is the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}
