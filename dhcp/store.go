package dhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LeaseState says what an address record means.
type LeaseState uint8

// Lease states.
const (
	// Bound: acknowledged to MAC until Expiry. After Expiry the record
	// stays as a hint so the client gets the same address back, until the
	// address is needed for someone else.
	Bound LeaseState = iota + 1
	// Declined: a client reported the address in use (DHCPDECLINE); it is
	// quarantined until Expiry.
	Declined
)

// String names the state.
func (s LeaseState) String() string {
	switch s {
	case Bound:
		return "bound"
	case Declined:
		return "declined"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Lease is one address record, the unit a Store keeps (keyed by IP). The
// DHCPv6 server (package dhcp6) keeps its leases in the same records: IP is
// then the IPv6 address, ClientID the client's DUID, and MAC the client's
// link-layer address when it is known.
type Lease struct {
	IP       netip.Addr       `json:"ip"`                 // the address (the record's key)
	MAC      net.HardwareAddr `json:"mac,omitempty"`      // holder; empty for a declined address
	ClientID []byte           `json:"clientID,omitempty"` // option 61 as last sent (DHCPv6: the DUID)
	Hostname string           `json:"hostname,omitempty"` // option 12, or the reservation's name
	Expiry   time.Time        `json:"expiry"`             // end of the lease or of the quarantine
	State    LeaseState       `json:"state"`
}

// Active reports whether l holds its address at time now.
func (l Lease) Active(now time.Time) bool { return now.Before(l.Expiry) }

// Op is one change to a Store: put Lease (replacing any record for its IP)
// or, with Delete, remove the record for Lease.IP.
type Op struct {
	Lease  Lease
	Delete bool
}

// Store persists leases. The server batches many ops into one Apply (group
// commit) and answers those clients only after Apply returns, so Apply must
// be durable and atomic when it returns nil.
type Store interface {
	// Load returns every record, at start.
	Load() ([]Lease, error)
	// Apply performs ops in order, all or nothing.
	Apply(ops []Op) error
}

// MemStore is a Store in memory, for tests and throwaway labs.
type MemStore struct {
	mu sync.Mutex
	m  map[netip.Addr]Lease
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[netip.Addr]Lease{}} }

// Load implements Store.
func (s *MemStore) Load() ([]Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Lease, 0, len(s.m))
	for _, l := range s.m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out, nil
}

// Apply implements Store.
func (s *MemStore) Apply(ops []Op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range ops {
		if o.Delete {
			delete(s.m, o.Lease.IP)
		} else {
			s.m[o.Lease.IP] = o.Lease
		}
	}
	return nil
}

var leaseBucket = []byte("leases")

// BoltStore is the embedded default Store: a bbolt file with one record per
// address (keyed by its 4 or 16 bytes, so DHCPv4 and DHCPv6 leases share
// one file). Each Apply is one transaction (one fsync), which is why the
// server groups many lease writes into one Apply.
type BoltStore struct {
	db   *bolt.DB
	path string
}

// OpenBoltStore opens (or creates) the lease database at path. A file that
// is truncated, not a bbolt database, or of a newer schema is refused with a
// *LeaseFileError that says what to do; it is never reset.
func OpenBoltStore(path string) (*BoltStore, error) {
	if err := checkBoltFile(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 5 * time.Second,
		// The freelist is rebuilt on open instead of written per commit:
		// fewer pages per fsync, same durability.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrVersionMismatch) || errors.Is(err, bolt.ErrChecksum) {
		return nil, &LeaseFileError{Path: path, Err: fmt.Errorf("%w: %v", ErrLeaseFileCorrupt, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("dhcp: open lease file %s: %w", path, err)
	}
	if err := checkSchema(db); err != nil {
		db.Close()
		if errors.Is(err, ErrLeaseFileNewer) || errors.Is(err, ErrLeaseFileCorrupt) {
			return nil, &LeaseFileError{Path: path, Err: err}
		}
		return nil, fmt.Errorf("dhcp: lease file %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(leaseBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("dhcp: lease file %s: %w", path, err)
	}
	return &BoltStore{db: db, path: path}, nil
}

// Load implements Store. A record that does not decode is skipped and
// reported in the error list joined to the result, never a panic.
func (s *BoltStore) Load() ([]Lease, error) {
	var out []Lease
	err := s.loadEach(func(int) {}, func(l Lease) { out = append(out, l) })
	if lf := (*LeaseFileError)(nil); errors.As(err, &lf) {
		return nil, err
	}
	return out, err
}

// loadEach calls size with the number of records, then each with every
// record that decodes, in address order, without building a list of them
// (the server's table takes them as they come). The MACs and client-ids
// of the leases share large blocks of memory.
func (s *BoltStore) loadEach(size func(n int), each func(Lease)) error {
	var bad []error
	arena := &recordArena{}
	err := safeView(s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(leaseBucket)
		size(b.Stats().KeyN)
		return b.ForEach(func(k, v []byte) error {
			l, err := decodeLeaseArena(k, v, arena)
			if err != nil {
				bad = append(bad, err)
				return nil
			}
			each(l)
			return nil
		})
	})
	if err != nil {
		return &LeaseFileError{Path: s.path, Err: err}
	}
	return errors.Join(bad...)
}

// Apply implements Store.
func (s *BoltStore) Apply(ops []Op) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(leaseBucket)
		// Records are small and rewritten in place at about the same
		// size: fuller pages make a smaller file for a large pool.
		b.FillPercent = 0.9
		for _, o := range ops {
			k := o.Lease.IP.Unmap().AsSlice()
			if len(k) == 0 {
				return fmt.Errorf("dhcp: lease record without an address")
			}
			if o.Delete {
				if err := b.Delete(k); err != nil {
					return err
				}
				continue
			}
			if err := b.Put(k, appendRecord(nil, o.Lease)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the database file.
func (s *BoltStore) Close() error { return s.db.Close() }
