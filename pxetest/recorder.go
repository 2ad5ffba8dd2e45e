package pxetest

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is what Recorder's waits return when the recorder was closed
// with a nil error before the values they wait for arrived.
var ErrClosed = errors.New("pxetest: recorder closed")

// Recorder keeps the values (boot events, console lines, phone-home
// requests) handed to it from any goroutine, for a test to look at or wait
// for. Its Add method fits a server's OnEvent callback; Record drains a
// channel such as pxe.Server.Subscribe's. The zero value is ready to use.
type Recorder[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every Add and at Close
	closed  bool
	err     error
}

// signal wakes the waiters; r.mu is held.
func (r *Recorder[T]) signal() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// wake returns the channel closed at the next change; r.mu is held.
func (r *Recorder[T]) wake() <-chan struct{} {
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

// Add records v. It never blocks for long, so it is safe as a server's
// synchronous OnEvent.
func (r *Recorder[T]) Add(v T) {
	r.mu.Lock()
	r.items = append(r.items, v)
	r.signal()
	r.mu.Unlock()
}

// Record adds every value received from ch until ch is closed, then closes
// the recorder. Run it on a goroutine of its own.
func (r *Recorder[T]) Record(ch <-chan T) {
	for v := range ch {
		r.Add(v)
	}
	r.Close(nil)
}

// Close says no more values will come; waits that are not satisfied yet
// then fail with err (ErrClosed when err is nil). Later Adds still record.
func (r *Recorder[T]) Close(err error) {
	r.mu.Lock()
	if !r.closed {
		r.closed, r.err = true, err
		if r.err == nil {
			r.err = ErrClosed
		}
	}
	r.signal()
	r.mu.Unlock()
}

// All returns a copy of the values recorded so far, in order.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}

// Wait waits until cond holds for the values recorded so far (it is called
// again after every Add) and returns them. It fails with ctx's error, or
// with the recorder's when it is closed first.
func (r *Recorder[T]) Wait(ctx context.Context, cond func(all []T) bool) ([]T, error) {
	for {
		r.mu.Lock()
		all := append([]T(nil), r.items...)
		closed, err, wake := r.closed, r.err, r.wake()
		r.mu.Unlock()
		if cond(all) {
			return all, nil
		}
		if closed {
			return all, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return all, ctx.Err()
		}
	}
}

// First waits for the first value (recorded before or after the call)
// that match accepts, and returns it. It fails as Wait does.
func (r *Recorder[T]) First(ctx context.Context, match func(T) bool) (T, error) {
	next := 0
	for {
		r.mu.Lock()
		fresh := append([]T(nil), r.items[next:]...)
		closed, err, wake := r.closed, r.err, r.wake()
		r.mu.Unlock()
		for _, v := range fresh {
			if match(v) {
				return v, nil
			}
		}
		next += len(fresh)
		if closed {
			var zero T
			return zero, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}
