package dropcount

import (
	"fmt"
	"sync"
	"testing"
)

type reason string

func TestCounts(t *testing.T) {
	c := New[reason]("a", "b", "c")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Add("a")
				c.Add("c")
			}
		})
	}
	wg.Wait()
	c.Add("not declared")
	if got := fmt.Sprint(c.Snapshot()); got != "map[a:8000 c:8000]" {
		t.Errorf("Snapshot = %s, want map[a:8000 c:8000] (b at zero left out, undeclared not counted)", got)
	}
}
