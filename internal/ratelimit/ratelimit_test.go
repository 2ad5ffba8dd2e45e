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

// Peek takes nothing: only Take spends the token it found.
func TestPeekTake(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(1, 2, 64)
	a := []byte("relay-a")
	for range 10 {
		if _, ok := l.Peek(a, t0); !ok {
			t.Fatal("Peek refused a full bucket")
		}
	}
	for i := range 2 {
		tok, ok := l.Peek(a, t0)
		if !ok {
			t.Fatalf("token %d of the burst of 2 refused after Peeks alone", i)
		}
		tok.Take()
	}
	if _, ok := l.Peek(a, t0); ok {
		t.Fatal("Peek found a token after the burst was taken")
	}
	if l.Allow(a, t0) {
		t.Fatal("Allow took a token from an empty bucket")
	}
	if _, ok := l.Peek(a, t0.Add(time.Second)); !ok {
		t.Fatal("1/s: no token a second later")
	}
	var none *Keyed
	tok, ok := none.Peek(a, t0)
	if !ok {
		t.Fatal("a nil Keyed must allow everything")
	}
	tok.Take() // no-op
}
