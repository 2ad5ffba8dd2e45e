package impair

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder collects what a path sends.
type recorder struct {
	mu   sync.Mutex
	sent [][]byte
}

func (r *recorder) send(b []byte) error {
	r.mu.Lock()
	r.sent = append(r.sent, b)
	r.mu.Unlock()
	return nil
}

// frameN is a minimal frame carrying its sequence number in the payload.
func frameN(i int) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[14:], uint32(i))
	return b
}

func seqOf(b []byte) int { return int(binary.BigEndian.Uint32(b[14:])) }

// feed runs n frames through a path with cfg, at a fixed clock step, and
// returns the sequence numbers in the order they left plus the counters.
func feed(t *testing.T, cfg Config, stream uint64, n int) ([]int, Direction) {
	t.Helper()
	rec := &recorder{}
	p := newPath(cfg, stream, rec.send)
	now := time.Unix(0, 0)
	var out [][]byte
	drain := func() {
		out, _ = p.due(now, out[:0])
		for _, b := range out {
			rec.send(b)
		}
	}
	for i := range n {
		p.handle(frameN(i), now)
		drain()
		now = now.Add(time.Millisecond)
	}
	now = now.Add(time.Hour)
	drain()
	var seqs []int
	for _, b := range rec.sent {
		seqs = append(seqs, seqOf(b))
	}
	return seqs, p.stats.load()
}

func within(t *testing.T, what string, got uint64, n int, want float64) {
	t.Helper()
	// Four standard deviations of a binomial count: a seeded run is fixed,
	// the bound only says the stream is not biased.
	mean := float64(n) * want
	sd := math.Sqrt(float64(n) * want * (1 - want))
	if math.Abs(float64(got)-mean) > 4*sd+1 {
		t.Errorf("%s: %d of %d frames, want about %.0f (±%.0f)", what, got, n, mean, 4*sd)
	}
}

func TestFractions(t *testing.T) {
	const n = 20000
	cfg := Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.03, Seed: 7}
	seqs, st := feed(t, cfg, streamAtoB, n)
	within(t, "dropped", st.Dropped, n, cfg.Loss)
	// Duplicates and reorders are drawn for frames that survive the loss.
	within(t, "duplicated", st.Duplicated, int(st.Forwarded), cfg.Duplicate)
	within(t, "reordered", st.Reordered, int(st.Forwarded), cfg.Reorder)
	if st.Frames != n || st.Forwarded+st.Dropped != n {
		t.Errorf("counters %+v: want Frames = Forwarded+Dropped = %d", st, n)
	}
	if got, want := uint64(len(seqs)), st.Forwarded+st.Duplicated; got != want {
		t.Errorf("sent %d frames, counters say forwarded %d + duplicated %d", got, st.Forwarded, st.Duplicated)
	}
	// Every frame sent is one of the input, each at most twice, and the
	// reordered ones come out after their successor.
	count := map[int]int{}
	inversions := 0
	for i, s := range seqs {
		count[s]++
		if i > 0 && s < seqs[i-1] {
			inversions++
		}
	}
	for s, c := range count {
		if s < 0 || s >= n || c > 2 {
			t.Fatalf("frame %d sent %d times", s, c)
		}
	}
	if uint64(len(count)) != st.Forwarded {
		t.Errorf("%d distinct frames sent, %d forwarded", len(count), st.Forwarded)
	}
	if inversions == 0 || uint64(inversions) > st.Reordered {
		t.Errorf("%d inversions in the output for %d reordered frames", inversions, st.Reordered)
	}
}

func TestZeroConfigForwardsAll(t *testing.T) {
	seqs, st := feed(t, Config{}, streamAtoB, 1000)
	if !slices.Equal(seqs, seqRange(1000)) {
		t.Errorf("zero Config changed the stream: %v…", seqs[:min(10, len(seqs))])
	}
	if st != (Direction{Frames: 1000, Forwarded: 1000}) {
		t.Errorf("counters %+v", st)
	}
}

func seqRange(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestDeterministicBySeed(t *testing.T) {
	cfg := Config{Loss: 0.1, Duplicate: 0.05, Reorder: 0.05, Jitter: 3 * time.Millisecond, Seed: 42}
	a, sa := feed(t, cfg, streamAtoB, 5000)
	b, sb := feed(t, cfg, streamAtoB, 5000)
	if !slices.Equal(a, b) || sa != sb {
		t.Errorf("same seed, different runs: %+v vs %+v", sa, sb)
	}
	cfg.Seed = 43
	c, _ := feed(t, cfg, streamAtoB, 5000)
	if slices.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same decisions")
	}
	cfg.Seed = 42
	d, _ := feed(t, cfg, streamBtoA, 5000)
	if slices.Equal(a, d) {
		t.Error("the two directions share one random stream")
	}
}

func TestMatch(t *testing.T) {
	// Only odd frames are impaired, and all of those are lost.
	cfg := Config{Loss: 1, Seed: 1, Match: func(b []byte) bool { return seqOf(b)%2 == 1 }}
	seqs, st := feed(t, cfg, streamAtoB, 100)
	for i, s := range seqs {
		if s != 2*i {
			t.Fatalf("sent %v, want the even frames in order", seqs)
		}
	}
	if st != (Direction{Frames: 100, Forwarded: 50, Dropped: 50}) {
		t.Errorf("counters %+v", st)
	}
}

func TestDelayAndHold(t *testing.T) {
	rec := &recorder{}
	p := newPath(Config{Delay: 10 * time.Millisecond, Reorder: 1, Seed: 1}, streamAtoB, rec.send)
	t0 := time.Unix(0, 0)
	p.handle(frameN(0), t0)
	if out, next := p.due(t0.Add(9*time.Millisecond), nil); len(out) != 0 || !next.Equal(t0.Add(20*time.Millisecond)) {
		t.Fatalf("held frame: sent %d early, next due %v", len(out), next.Sub(t0))
	}
	// With no frame to overtake it, the held frame leaves after Delay
	// plus its hold (Delay+Jitter).
	if out, _ := p.due(t0.Add(20*time.Millisecond), nil); len(out) != 1 {
		t.Fatalf("held frame not released after its hold: %d sent", len(out))
	}
}

func TestReorderAfterNext(t *testing.T) {
	// Frame 0 is held (Reorder 1 holds every frame, releasing the one
	// before): with a stream of frames each one leaves right after its
	// successor arrives.
	seqs, st := feed(t, Config{Reorder: 1, Seed: 3}, streamAtoB, 5)
	if !slices.Equal(seqs, []int{0, 1, 2, 3, 4}) || st.Reordered != 5 {
		t.Errorf("sent %v, counters %+v", seqs, st)
	}
	seqs, _ = feed(t, Config{Reorder: 0.5, Seed: 3}, streamAtoB, 200)
	if slices.IsSorted(seqs) {
		t.Errorf("half the frames reordered and the output is in order")
	}
}
