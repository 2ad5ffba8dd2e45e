package ratelimit

import (
	"testing"
	"time"
)

func TestKeyed(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(10, 3, 64)
	a := []byte("client-a")
	for i := range 3 {
		if !l.Allow(a, t0) {
			t.Fatalf("burst: token %d refused", i)
		}
	}
	if l.Allow(a, t0) {
		t.Fatal("a fourth packet within the burst of 3 was allowed")
	}
	if !l.Allow(a, t0.Add(100*time.Millisecond)) {
		t.Fatal("10/s: a token 100 ms later was refused")
	}
	if l.Allow(a, t0.Add(100*time.Millisecond)) {
		t.Fatal("only one token came back in 100 ms")
	}
	if !l.Allow(a, t0.Add(time.Hour)) {
		t.Fatal("refilled bucket refused")
	}
	var none *Keyed = New(-1, 0, 0)
	if none != nil || !none.Allow(a, t0) {
		t.Fatal("a negative rate must allow everything")
	}
}
