package pxetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestRecorder: values added from other goroutines are seen by waits
// started before and after they arrive, in order; a closed recorder ends
// the waits it cannot satisfy with its error, a cancelled context with
// the context's.
func TestRecorder(t *testing.T) {
	var r Recorder[int]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan int, 1)
	go func() {
		v, err := r.First(ctx, func(v int) bool { return v > 2 })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	ch := make(chan int)
	go r.Record(ch)
	for _, v := range []int{1, 2, 3, 4} {
		ch <- v
	}
	if v := <-got; v != 3 {
		t.Errorf("First(> 2) = %d, want 3", v)
	}
	if v, err := r.First(ctx, func(v int) bool { return v == 1 }); err != nil || v != 1 {
		t.Errorf("First(== 1) after the fact = %d, %v", v, err)
	}
	all, err := r.Wait(ctx, func(all []int) bool { return len(all) == 4 })
	if err != nil || !slices.Equal(all, []int{1, 2, 3, 4}) {
		t.Errorf("Wait(4 values) = %v, %v", all, err)
	}
	close(ch) // Record closes the recorder
	if _, err := r.First(ctx, func(v int) bool { return v == 5 }); !errors.Is(err, ErrClosed) {
		t.Errorf("First on a closed recorder: %v, want ErrClosed", err)
	}

	var q Recorder[string]
	boom := errors.New("QEMU exited")
	q.Add("a")
	q.Close(boom)
	if _, err := q.Wait(ctx, func(all []string) bool { return len(all) > 1 }); !errors.Is(err, boom) {
		t.Errorf("Wait on a recorder closed with an error: %v", err)
	}
	var e Recorder[string]
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := e.First(cctx, func(string) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("First with a cancelled context: %v", err)
	}
	if got := q.All(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("All = %q", got)
	}
}
