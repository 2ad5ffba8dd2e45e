package dhcp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// Network namespaces for tests with real clients. Names carry the PID and a
// counter: other packages' tests run at the same time on this machine.

var labSeq atomic.Int32

func labName(prefix string) string {
	return fmt.Sprintf("%s%d%d", prefix, os.Getpid()%100000, labSeq.Add(1))
}

func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netns creates a namespace with lo up and removes it when the test ends.
func netns(t testing.TB) string {
	t.Helper()
	n := labName("dh")
	sh(t, "ip", "netns", "add", n)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
	sh(t, "ip", "-n", n, "link", "set", "lo", "up")
	return n
}

// veth links namespace a (interface an, address aAddr if not empty) to b
// (interface bn, address bAddr if not empty), both up.
func veth(t testing.TB, a, an, aAddr, b, bn, bAddr string) {
	t.Helper()
	sh(t, "ip", "-n", a, "link", "add", an, "type", "veth", "peer", "name", bn, "netns", b)
	for _, x := range [][3]string{{a, an, aAddr}, {b, bn, bAddr}} {
		if x[2] != "" {
			sh(t, "ip", "-n", x[0], "addr", "add", x[2], "dev", x[1])
		}
		sh(t, "ip", "-n", x[0], "link", "set", x[1], "up")
	}
}

// requireLab needs root and the named programs; in CI it fails instead.
func requireLab(t testing.TB, cmds ...[2]string) map[string]string {
	t.Helper()
	pxetest.RequireRoot(t)
	pxetest.RequireCmd(t, "ip", "iproute2")
	paths := map[string]string{}
	for _, c := range cmds {
		paths[c[0]] = pxetest.RequireCmd(t, c[0], c[1])
	}
	return paths
}

// serve runs s until the test ends and waits for it to listen.
func serve(t testing.TB, s *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
}

// waitFor polls cond until it holds or the deadline passes. The deadline
// bounds a hung peer; it is not a timing assertion.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuf collects a child process's output; safe to read while the
// process still writes.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
