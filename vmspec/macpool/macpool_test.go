package macpool

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Many goroutines allocating for many VMs at once get distinct MACs, and
// asking again for the same NIC gives the same MAC.
func TestConcurrentAllocation(t *testing.T) {
	p, err := New("02:00:00:00:00:00", "02:00:00:00:ff:ff", nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers, vms = 16, 40
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range vms {
				for _, nic := range []string{"default", "pxe"} {
					vm := fmt.Sprintf("vm-%d-%d", w, i)
					m, err := p.AllocateMAC("lab", vm, nic)
					if err != nil {
						t.Error(err)
						return
					}
					again, _ := p.AllocateMAC("lab", vm, nic)
					if again.String() != m.String() {
						t.Errorf("%s/%s: %s then %s", vm, nic, m, again)
					}
					mu.Lock()
					if other, dup := got[m.String()]; dup {
						t.Errorf("%s given to %s and %s/%s", m, other, vm, nic)
					}
					got[m.String()] = vm + "/" + nic
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(got) != workers*vms*2 || p.Len() != workers*vms*2 {
		t.Errorf("%d MACs, pool holds %d; want %d", len(got), p.Len(), workers*vms*2)
	}
}

// Allocations survive a restart through the file store; a released VM's
// MACs are free again.
func TestPersistenceAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pool.json")
	p, err := New("02:00:00:00:00:01", "02:00:00:00:00:03", FileStore{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.AllocateMAC("lab", "web", "default")
	b, _ := p.AllocateMAC("lab", "web", "pxe")
	c, _ := p.AllocateMAC("lab", "db", "default")
	if _, err := p.AllocateMAC("lab", "cache", "default"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("full pool: %v", err)
	}
	// Restart: a new pool on the same file.
	p2, err := New("02:00:00:00:00:01", "02:00:00:00:00:03", FileStore{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := p2.AllocateMAC("lab", "web", "pxe"); m.String() != b.String() {
		t.Errorf("after restart web/pxe has %s, had %s", m, b)
	}
	if err := p2.Release("lab", "web"); err != nil {
		t.Fatal(err)
	}
	// "lab/web" must not release "lab/web2"-style prefixes: none here, but
	// db keeps its MAC.
	if m, _ := p2.AllocateMAC("lab", "db", "default"); m.String() != c.String() {
		t.Errorf("db lost its MAC")
	}
	n1, _ := p2.AllocateMAC("lab", "cache", "default")
	n2, err := p2.AllocateMAC("lab", "cache", "pxe")
	if err != nil {
		t.Fatal(err)
	}
	freed := map[string]bool{a.String(): true, b.String(): true}
	if !freed[n1.String()] || !freed[n2.String()] {
		t.Errorf("released MACs %s %s not reused: got %s %s", a, b, n1, n2)
	}
	p3, err := New("02:00:00:00:00:01", "02:00:00:00:00:03", FileStore{Path: path})
	if err != nil || p3.Len() != 3 {
		t.Errorf("third start: %v, %d allocations", err, p3.Len())
	}
}

func TestReserveAndRange(t *testing.T) {
	p, err := New("02:00:00:00:00:00", "02:00:00:00:00:01", &MemoryStore{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve("lab", "pxe-vm", "pxe", "02:00:00:00:00:00"); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve("lab", "other", "pxe", "02:00:00:00:00:00"); err == nil {
		t.Error("a MAC held by another NIC was reserved twice")
	}
	if m, _ := p.AllocateMAC("lab", "x", "default"); m.String() != "02:00:00:00:00:01" {
		t.Errorf("allocated %s; the reserved MAC must be skipped", m)
	}
	if err := p.Reserve("lab", "x", "default", "zz"); err == nil {
		t.Error("bad MAC reserved")
	}
	// A range across the multicast bit never yields a multicast MAC.
	q, _ := New("00:ff:ff:ff:ff:ff", "01:00:00:00:00:01", nil)
	if m, _ := q.AllocateMAC("a", "b", "c"); m.String() != "00:ff:ff:ff:ff:ff" {
		t.Errorf("got %s", m)
	}
	if _, err := q.AllocateMAC("a", "b", "d"); !errors.Is(err, ErrExhausted) {
		t.Errorf("multicast MACs handed out: %v", err)
	}
	for _, r := range [][2]string{{"02:00:00:00:00:05", "02:00:00:00:00:01"}, {"x", "02:00:00:00:00:01"}, {"02:00:00:00:00:01", "00:00:00:00:00:00:00:01"}} {
		if _, err := New(r[0], r[1], nil); err == nil {
			t.Errorf("range %v accepted", r)
		}
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{nil, true},
		{map[string]string{IgnoreLabel: "ignore"}, false},
		{map[string]string{IgnoreLabel: "allocate"}, true},
	} {
		if got := Enabled(tc.labels); got != tc.want {
			t.Errorf("Enabled(%v) = %v", tc.labels, got)
		}
	}
}
