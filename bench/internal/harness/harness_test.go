package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestTailAndMissing(t *testing.T) {
	if got := Tail("abcdef", 3); got != "…def" {
		t.Errorf("Tail = %q", got)
	}
	if got := Tail("abc", 3); got != "abc" {
		t.Errorf("Tail of a short string = %q", got)
	}
	if got := Missing("sh", "no-such-command-pxekit", "ls"); got != "no-such-command-pxekit" {
		t.Errorf("Missing = %q", got)
	}
	if got := Missing("sh"); got != "" {
		t.Errorf("Missing(sh) = %q", got)
	}
}

// A process here (no namespace): its output is kept, Exited says how it
// ended, WaitReady gives up on it at once.
func TestProc(t *testing.T) {
	p, err := Start(nil, Command{Name: "sh", Args: []string{"-c", `echo "GOMAXPROCS=$GOMAXPROCS X=$X"; exit 3`}, Env: []string{"X=y"}})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if out := p.Output(); out != "GOMAXPROCS=2 X=y\n" {
		t.Errorf("output %q", out)
	}
	var ee *exec.ExitError
	if !errors.As(p.Err(), &ee) || ee.ExitCode() != 3 {
		t.Errorf("Err = %v, want exit status 3", p.Err())
	}
	if e := p.Exited(); e == nil || !strings.Contains(e.Error(), "sh exited: exit status 3: GOMAXPROCS=2") {
		t.Errorf("Exited = %v", e)
	}
	err = WaitReady(context.Background(), func() error { return errors.New("not yet") }, p)
	if err == nil || !strings.Contains(err.Error(), "sh exited") {
		t.Errorf("WaitReady on a dead server = %v", err)
	}

	log := &lockedBuf{}
	q, err := Start(nil, Command{Name: "sh", Args: []string{"-c", "echo ready; exec sleep 600"}, Log: log, Label: "sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Kill9()
	if err := WaitReady(context.Background(), func() error {
		if !strings.Contains(q.Output(), "ready") {
			return errors.New("no output yet")
		}
		return nil
	}, q); err != nil {
		t.Fatal(err)
	}
	if q.Exited() != nil || q.Name() != "sleeper" || q.PID() <= 0 {
		t.Errorf("running process: Exited %v, Name %q, PID %d", q.Exited(), q.Name(), q.PID())
	}
	q.Stop() // sleep ends on SIGTERM
	if q.Exited() == nil || !strings.Contains(q.Exited().Error(), "signal: terminated") {
		t.Errorf("after Stop: %v", q.Exited())
	}
	if got := log.String(); got != "ready\n" {
		t.Errorf("Log got %q", got)
	}

	if _, err := Start(nil, Command{Name: "/nonexistent/pxekit-server"}); err == nil {
		t.Error("started a program that does not exist")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitReady(ctx, func() error { return errors.New("no") }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitReady after cancel = %v", err)
	}
}

func TestOutputCap(t *testing.T) {
	var b lockedBuf
	chunk := strings.Repeat("x", 64<<10)
	for range 40 {
		if n, err := b.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if n := len(b.String()); n > outCap+len(chunk) {
		t.Errorf("kept %d bytes, cap %d", n, outCap)
	}
}

// The namespaces, the veth between them, processes inside them and the
// pool addresses; Close leaves nothing behind.
func TestHarness(t *testing.T) {
	ctx := context.Background()
	h := Setup(t) // closed here, and again (a no-op) when the test ends
	srvName, cliName, dir := h.Srv.Name(), h.Cli.Name(), h.Dir

	// A server in Srv answers a client in Cli over the veth.
	l, err := h.Srv.Listen("tcp", ServerIP+":8080")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := WaitReady(ctx, DialTCP(h.Cli, ServerIP+":8080")); err != nil {
		t.Fatal(err)
	}
	if err := DialTCP(h.Srv, ClientIP+":8080")(); err == nil {
		t.Error("a connection to the clients' end reached the servers' listener")
	}
	pc, err := h.Srv.ListenPacket("udp4", ServerIP+":6969")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := UDPBound(ctx, h.Srv, "6969")(); err != nil {
		t.Error(err)
	}
	if err := UDPBound(ctx, h.Srv, "6970")(); err == nil {
		t.Error("UDPBound found a listener on a free port")
	}

	// A process started in Srv is in Srv's namespace.
	p, err := h.Start(h.Srv, "sleep", "600")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill9()
	if got, want := nsInode(t, "/proc/"+strconv.Itoa(p.PID())+"/ns/net"), nsInode(t, "/var/run/netns/"+srvName); got != want {
		t.Errorf("the process is in netns inode %d, Srv is %d", got, want)
	}
	p.Kill9()
	if e := p.Exited(); e == nil || !strings.Contains(e.Error(), "signal: killed") {
		t.Errorf("after Kill9: %v", e)
	}
	out, err := Run(ctx, h.Cli, "ip", "-4", "-o", "addr", "show", "dev", h.CliIf)
	if err != nil || !strings.Contains(out, ClientIP+"/24") {
		t.Errorf("clients' end: %v %s", err, out)
	}

	remove, err := h.AddPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = Run(ctx, h.Cli, "ip", "-4", "-o", "addr", "show", "dev", h.CliIf)
	if n := strings.Count(out, "/32"); n != 241 || !strings.Contains(out, PoolStart+"/32") || !strings.Contains(out, PoolEnd+"/32") {
		t.Errorf("%d pool addresses on the clients' end, want 241 from %s to %s", n, PoolStart, PoolEnd)
	}
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	out, _ = Run(ctx, h.Cli, "ip", "-4", "-o", "addr", "show", "dev", h.CliIf)
	if strings.Contains(out, "/32") {
		t.Errorf("pool addresses left after remove: %s", out)
	}

	h.Close()
	list, _ := exec.Command("ip", "netns", "list").Output()
	for _, n := range []string{srvName, cliName} {
		if strings.Contains(string(list), n) {
			t.Errorf("netns %s is left after Close", n)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("scratch directory %s is left after Close: %v", dir, err)
	}
}

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
