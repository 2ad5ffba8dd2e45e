// Package macpool hands out MAC addresses to VM NICs from a range, in the
// spirit of KubeMacPool: each NIC of each VM gets a MAC no other
// NIC holds, keeps it across restarts (allocations persist through a
// [Store]) and gives it back when the VM is deleted. Namespaces labelled
// mutatevirtualmachines.kubemacpool.io=ignore opt out. A [Pool] is safe
// for concurrent use. The package is declarative: no sockets.
package macpool

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/pxekit/pxekit/macaddr"
)

// IgnoreLabel is the namespace label that turns the pool off for the VMs
// of that namespace when its value is IgnoreValue.
const (
	IgnoreLabel = "mutatevirtualmachines.kubemacpool.io"
	IgnoreValue = "ignore"
)

// Enabled reports whether VMs of a namespace with these labels get MACs
// from the pool: yes unless the namespace carries
// mutatevirtualmachines.kubemacpool.io=ignore. (The older "allocate"
// value is accepted and redundant.)
func Enabled(namespaceLabels map[string]string) bool {
	return namespaceLabels[IgnoreLabel] != IgnoreValue
}

// Store keeps the allocations (key → MAC) across restarts.
type Store interface {
	// Load returns every saved allocation (empty on first use).
	Load() (map[string]string, error)
	// Save replaces the saved allocations with m.
	Save(m map[string]string) error
}

// MemoryStore is a Store in memory, for tests and single-run tools.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]string
}

// Load returns a copy of the stored allocations.
func (s *MemoryStore) Load() (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m), nil
}

// Save stores a copy of m.
func (s *MemoryStore) Save(m map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = maps.Clone(m)
	return nil
}

// FileStore keeps the allocations in a JSON file, written atomically (a
// temporary file renamed over it), so a crash leaves the old or the new
// state, never half of one.
type FileStore struct {
	// Path of the JSON file; its directory must exist.
	Path string
}

// Load reads the file; a missing file is an empty pool.
func (s FileStore) Load() (map[string]string, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("macpool: %s: %w", s.Path, err)
	}
	return m, nil
}

// Save writes m to the file atomically.
func (s FileStore) Save(m map[string]string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(s.Path), ".macpool-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, s.Path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Pool allocates MACs from [Start, End].
type Pool struct {
	start, end uint64
	store      Store

	mu     sync.Mutex
	byKey  map[string]uint64
	inUse  map[uint64]string
	cursor uint64
}

// New returns a pool over the range start..end (inclusive), loading the
// allocations store holds. KubeMacPool's default range is
// 02:00:00:00:00:00-02:FF:FF:FF:FF:FF. Multicast MACs inside the range are
// never handed out.
func New(start, end string, store Store) (*Pool, error) {
	s, err := parse(start)
	if err != nil {
		return nil, fmt.Errorf("macpool: range start: %w", err)
	}
	e, err := parse(end)
	if err != nil {
		return nil, fmt.Errorf("macpool: range end: %w", err)
	}
	if s > e {
		return nil, fmt.Errorf("macpool: range start %s is after its end %s", start, end)
	}
	if store == nil {
		store = &MemoryStore{}
	}
	saved, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("macpool: loading allocations: %w", err)
	}
	p := &Pool{start: s, end: e, store: store, byKey: map[string]uint64{}, inUse: map[uint64]string{}, cursor: s}
	for k, v := range saved {
		m, err := parse(v)
		if err != nil {
			return nil, fmt.Errorf("macpool: saved allocation %s: %w", k, err)
		}
		if other, dup := p.inUse[m]; dup {
			return nil, fmt.Errorf("macpool: saved allocations %s and %s share %s", k, other, v)
		}
		p.byKey[k], p.inUse[m] = m, k
	}
	return p, nil
}

func parse(s string) (uint64, error) {
	hw, err := macaddr.Parse(s)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, b := range hw {
		v = v<<8 | uint64(b)
	}
	return v, nil
}

func format(v uint64) net.HardwareAddr {
	hw := make(net.HardwareAddr, 6)
	for i := 5; i >= 0; i-- {
		hw[i] = byte(v)
		v >>= 8
	}
	return hw
}

func key(namespace, vm, iface string) string { return namespace + "/" + vm + "/" + iface }

// ErrExhausted is returned when every MAC of the range is taken.
var ErrExhausted = errors.New("macpool: no free MAC address left in the range")

// AllocateMAC returns the MAC of NIC iface of VM namespace/vm, allocating
// a free one of the range the first time and the same one after. The
// allocation is saved before it is returned.
func (p *Pool) AllocateMAC(namespace, vm, iface string) (net.HardwareAddr, error) {
	k := key(namespace, vm, iface)
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.byKey[k]; ok {
		return format(m), nil
	}
	size := p.end - p.start + 1
	for n := uint64(0); n < size || size == 0; n++ {
		m := p.cursor
		if p.cursor == p.end {
			p.cursor = p.start
		} else {
			p.cursor++
		}
		if m>>40&1 == 1 { // multicast bit of the first byte
			continue
		}
		if _, taken := p.inUse[m]; taken {
			continue
		}
		p.byKey[k], p.inUse[m] = m, k
		if err := p.save(); err != nil {
			delete(p.byKey, k)
			delete(p.inUse, m)
			return nil, err
		}
		return format(m), nil
	}
	return nil, ErrExhausted
}

// Reserve records a MAC the user chose for a NIC, so the pool never hands
// it to another; it fails if another NIC holds it.
func (p *Pool) Reserve(namespace, vm, iface, mac string) error {
	m, err := parse(mac)
	if err != nil {
		return fmt.Errorf("macpool: %w", err)
	}
	k := key(namespace, vm, iface)
	p.mu.Lock()
	defer p.mu.Unlock()
	if owner, ok := p.inUse[m]; ok && owner != k {
		return fmt.Errorf("macpool: %s is already used by %s", format(m), owner)
	}
	old, had := p.byKey[k]
	if had {
		delete(p.inUse, old)
	}
	p.byKey[k], p.inUse[m] = m, k
	if err := p.save(); err != nil {
		delete(p.inUse, m)
		delete(p.byKey, k)
		if had {
			p.byKey[k], p.inUse[old] = old, k
		}
		return err
	}
	return nil
}

// Release gives back every MAC of VM namespace/vm (it was deleted).
func (p *Pool) Release(namespace, vm string) error {
	prefix := namespace + "/" + vm + "/"
	p.mu.Lock()
	defer p.mu.Unlock()
	removed := map[string]uint64{}
	for k, m := range p.byKey {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			removed[k] = m
			delete(p.byKey, k)
			delete(p.inUse, m)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	if err := p.save(); err != nil {
		for k, m := range removed {
			p.byKey[k], p.inUse[m] = m, k
		}
		return err
	}
	return nil
}

// Len is the number of MACs allocated.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byKey)
}

func (p *Pool) save() error {
	m := make(map[string]string, len(p.byKey))
	for k, v := range p.byKey {
		m[k] = format(v).String()
	}
	if err := p.store.Save(m); err != nil {
		return fmt.Errorf("macpool: saving allocations: %w", err)
	}
	return nil
}
