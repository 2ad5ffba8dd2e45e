package harness

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

// Setup is New for a test: it needs root and iproute2 (skipping outside
// CI, failing in CI, as internal/testenv does), runs quick, logs nothing,
// writes its outputs into a test directory and is closed when the test
// ends.
func Setup(tb testing.TB) *Harness {
	tb.Helper()
	pxetest.RequireRoot(tb)
	pxetest.RequireCmd(tb, "ip", "iproute2")
	pxetest.RequireCmd(tb, "ss", "iproute2")
	h, err := New(context.Background(), Options{Out: tb.TempDir(), Quick: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	return h
}

// Serve runs serve (a server's Serve) for a test: until the test ends,
// when its context is cancelled and the test fails if it returned an
// error.
func Serve(tb testing.TB, serve func(context.Context) error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
}
