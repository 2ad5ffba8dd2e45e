package pxetest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a boot server as Serve runs it: pxe.Server, dhcp.Server,
// ra.Responder, or a project's own server built on them.
type Server interface {
	// Serve serves until ctx ends and returns nil then, or the error that
	// stopped it.
	Serve(ctx context.Context) error
	// Ready is closed once the server's sockets are open.
	Ready() <-chan struct{}
}

// readyTimeout bounds the wait for a server that never gets ready (a hang
// guard, not a timing check).
const readyTimeout = time.Minute

// Serve runs srv until the test ends and returns once it is ready. It fails
// the test when Serve returns before that, when the server is not ready
// within a minute, or when Serve returns an error once stopped.
func Serve(tb testing.TB, srv Server) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	stopped := false // Serve returned early and was reported
	tb.Cleanup(func() {
		cancel()
		if stopped {
			return
		}
		if err := <-done; err != nil {
			tb.Errorf("pxetest: boot server: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		stopped = true
		if err == nil {
			tb.Fatal("pxetest: boot server stopped before it was ready")
		}
		tb.Fatalf("pxetest: boot server: %v", err)
	case <-time.After(readyTimeout):
		tb.Fatalf("pxetest: boot server not ready after %v", readyTimeout)
	}
}

// Logger returns a logger that writes each record at level or above to the
// test's log. Records that come after the test ended (from a goroutine
// that outlived it) are dropped rather than failing the test binary.
func Logger(tb testing.TB, level slog.Level) *slog.Logger {
	w := &testLog{tb: tb}
	tb.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// testLog is an io.Writer on tb.Log that goes quiet once the test ends.
type testLog struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

// Write logs p as one line.
func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLog) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
