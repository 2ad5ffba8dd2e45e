package stats

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 5, 1, 100}, 5},
	} {
		in := slices.Clone(c.in)
		if got := Median(in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("Median reordered its input: %v", in)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    int
		want time.Duration
	}{{50, 100 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}, {1, 2 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("p%d of 1..200 ms = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile([]time.Duration{5}, 99); got != 5 {
		t.Errorf("p99 of one = %v", got)
	}
	if got := Percentile([]time.Duration(nil), 50); got != 0 {
		t.Errorf("p50 of none = %v", got)
	}
}

func ExamplePercentile() {
	boot := []time.Duration{80 * time.Millisecond, 90 * time.Millisecond, 95 * time.Millisecond, 2 * time.Second}
	fmt.Println(Percentile(boot, 50), Percentile(boot, 99))
	// Output: 90ms 2s
}
