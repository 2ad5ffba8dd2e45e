package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/pxekit/pxekit/dhcp"
)

// LeaseStore is a dhcp.SharedStore in etcd: one key per address. Every
// write is a claim: refused at once if the record this store last saw
// for the address is another client's active lease, and otherwise sent
// with a compare on that record's revision (0 for a key it has not seen:
// create-if-absent), so a write never replaces a record it has not seen,
// and never an active lease of another client. Many leases go in one transaction,
// each as a nested transaction with its own compare and its own result,
// split by MaxTxnOps. Make one with Member.LeaseStore.
type LeaseStore struct {
	c      *Cluster
	m      *Member
	log    *slog.Logger
	prefix string // ".../leases/"

	mu sync.Mutex
	// seen is each key's record as last seen: its revision (0: absent)
	// and the lease at that revision.
	seen    map[string]seenRec
	loadRev int64
	bad     int
}

// seenRec is what a store knows of one key.
type seenRec struct {
	rev int64
	l   dhcp.Lease
	ok  bool // l decoded; a record that does not decode holds its address
	// mine: this store wrote the record (its claim's answer said so).
	mine bool
}

// MaxClockSkew is how far apart the servers' clocks may be: a lease
// another server granted counts as held until this long after its
// expiry. Keep the clocks in sync (NTP), as Kea HA asks too.
const MaxClockSkew = 2 * time.Second

// holds reports whether the record r keeps l from being written: an
// active lease of another client, a live quarantine, or a record that
// does not decode. A quarantine (Declined) may always be written: it
// hands the address to no one.
func (r seenRec) holds(o dhcp.Op, now time.Time) bool {
	if r.rev == 0 || (!o.Delete && o.Lease.State == dhcp.Declined) {
		return false
	}
	if !r.ok {
		return true
	}
	if !now.Before(r.l.Expiry.Add(MaxClockSkew)) {
		return false
	}
	if r.l.State == dhcp.Declined || o.Delete {
		return true
	}
	return string(r.l.MAC) != string(o.Lease.MAC)
}

// LeaseStore returns the lease store this member writes: its writes are
// marked with the member's ID, and it is Available while the member is
// alive (its etcd lease kept).
func (m *Member) LeaseStore() *LeaseStore {
	return &LeaseStore{c: m.c, m: m, log: m.c.log, prefix: m.c.prefix + "/leases/", seen: map[string]seenRec{}}
}

var _ dhcp.SharedStore = (*LeaseStore)(nil)

func (s *LeaseStore) key(l dhcp.Lease) string { return s.prefix + l.IP.String() }

// Load implements dhcp.Store: every record, and the revision the watch
// starts after. Records that do not decode are skipped and reported in
// the error joined to the result.
func (s *LeaseStore) Load() ([]dhcp.Lease, error) {
	ctx, cancel := s.c.reqCtx(context.Background())
	defer cancel()
	resp, err := s.c.cli.Get(ctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcdstore: load leases: %w", err)
	}
	var out []dhcp.Lease
	var bad []error
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kv := range resp.Kvs {
		l, _, err := decodeLease(string(kv.Key), kv.Value)
		s.seen[string(kv.Key)] = seenRec{rev: kv.ModRevision, l: l, ok: err == nil}
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, l)
	}
	s.loadRev = resp.Header.Revision
	return out, errors.Join(bad...)
}

// Apply implements dhcp.Store: Claim, with any lost claim an error
// (dhcp.ErrClaimConflict), for a server that does not know claims.
func (s *LeaseStore) Apply(ops []dhcp.Op) error {
	cs, err := s.Claim(ops)
	if err != nil {
		return err
	}
	for i, c := range cs {
		if c != nil {
			return fmt.Errorf("%w: %s", dhcp.ErrClaimConflict, ops[i].Lease.IP)
		}
	}
	return nil
}

// Claim implements dhcp.SharedStore. A lost claim's result is the record
// etcd holds now (zero when the key is gone).
func (s *LeaseStore) Claim(ops []dhcp.Op) ([]*dhcp.Lease, error) {
	out := make([]*dhcp.Lease, len(ops))
	// etcd 3.4.23 at --max-txn-ops 128 takes 127 nested claims in one
	// transaction and refuses 128 ("too many operations in txn request").
	max := max(s.c.cfg.MaxTxnOps-1, 1)
	g := errgroup.Group{}
	for start := 0; start < len(ops); start += max {
		end := min(start+max, len(ops))
		g.Go(func() error { return s.claim(ops[start:end], out[start:end]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *LeaseStore) claim(ops []dhcp.Op, out []*dhcp.Lease) error {
	var txns []clientv3.Op
	var idx []int // ops index of each transaction
	keys := make([]string, len(ops))
	now := time.Now()
	s.mu.Lock()
	for i, o := range ops {
		k := s.key(o.Lease)
		keys[i] = k
		r := s.seen[k]
		if r.holds(o, now) {
			// Lost without asking etcd: the record this store saw last
			// belongs to another client. The compare below makes sure that
			// record is still the one there, so a write is never over a
			// lease this store has not seen.
			cur := r.l
			out[i] = &cur
			continue
		}
		cmp := clientv3.Compare(clientv3.ModRevision(k), "=", r.rev)
		var then clientv3.Op
		if o.Delete {
			then = clientv3.OpDelete(k)
		} else {
			v, err := encodeLease(o.Lease, s.m.id)
			if err != nil {
				s.mu.Unlock()
				return err
			}
			then = clientv3.OpPut(k, string(v))
		}
		txns = append(txns, clientv3.OpTxn([]clientv3.Cmp{cmp}, []clientv3.Op{then}, []clientv3.Op{clientv3.OpGet(k)}))
		idx = append(idx, i)
	}
	s.mu.Unlock()
	if len(txns) == 0 {
		return nil
	}
	ctx, cancel := s.c.reqCtx(context.Background())
	defer cancel()
	resp, err := s.c.cli.Txn(ctx).Then(txns...).Commit()
	if err != nil {
		return fmt.Errorf("etcdstore: commit %d leases: %w", len(txns), err)
	}
	s.m.sawEtcd()
	rev := resp.Header.Revision
	s.mu.Lock()
	defer s.mu.Unlock()
	for j, r := range resp.Responses {
		i := idx[j]
		t := r.GetResponseTxn()
		if t == nil {
			return fmt.Errorf("etcdstore: commit: response %d is not a transaction", j)
		}
		if t.Succeeded {
			if ops[i].Delete {
				s.seen[keys[i]] = seenRec{}
			} else {
				s.remember(keys[i], seenRec{rev: rev, l: ops[i].Lease, ok: true, mine: true})
			}
			continue
		}
		cur := &dhcp.Lease{}
		if rr := t.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
			kv := rr.Kvs[0]
			l, _, err := decodeLease(keys[i], kv.Value)
			s.remember(keys[i], seenRec{rev: kv.ModRevision, l: l, ok: err == nil})
			if err == nil {
				*cur = l
			}
		} else {
			s.seen[keys[i]] = seenRec{}
		}
		out[i] = cur
	}
	return nil
}

// remember records r for key unless a later revision is known already
// (the watch may be ahead of a commit's answer). Called with s.mu held.
func (s *LeaseStore) remember(key string, r seenRec) {
	if s.seen[key].rev <= r.rev {
		s.seen[key] = r
	}
}

// Watch implements dhcp.SharedStore: from the revision Load read on, fn
// gets every record other members write. After an outage the watch
// resumes where it stopped; if etcd compacted those revisions meanwhile,
// every record is read again and handed to fn.
func (s *LeaseStore) Watch(ctx context.Context, fn func(dhcp.Change)) error {
	s.mu.Lock()
	rev := s.loadRev
	s.mu.Unlock()
	if rev == 0 {
		if _, err := s.Load(); err != nil && !strings.Contains(err.Error(), "lease record") {
			return err
		}
		s.mu.Lock()
		rev = s.loadRev
		s.mu.Unlock()
	}
	go s.watch(ctx, rev+1, fn)
	return nil
}

func (s *LeaseStore) watch(ctx context.Context, from int64, fn func(dhcp.Change)) {
	for ctx.Err() == nil {
		// RequireLeader: a member cut off from the others ends the watch
		// instead of leaving it silent.
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		ch := s.c.cli.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(from))
		for resp := range ch {
			if resp.CompactRevision != 0 {
				s.log.Warn("etcdstore: lease watch compacted; reading every lease again", "compacted", resp.CompactRevision)
				from = s.resync(ctx, fn)
				break
			}
			if err := resp.Err(); err != nil {
				s.log.Debug("etcdstore: lease watch", "err", err)
				break
			}
			for _, ev := range resp.Events {
				s.event(ev.Type == clientv3.EventTypeDelete, string(ev.Kv.Key), ev.Kv.Value, ev.Kv.ModRevision, fn)
				from = ev.Kv.ModRevision + 1
			}
			s.m.sawEtcd()
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// event applies one watched change: the revision is remembered for the
// next claim, and fn hears of it unless this member wrote it.
func (s *LeaseStore) event(deleted bool, key string, v []byte, rev int64, fn func(dhcp.Change)) {
	if deleted {
		s.mu.Lock()
		if s.seen[key].rev <= rev {
			s.seen[key] = seenRec{}
		}
		s.mu.Unlock()
		ip := key[strings.LastIndexByte(key, '/')+1:]
		if l, err := parseLeaseKey(ip); err == nil {
			fn(dhcp.Change{Lease: l, Deleted: true})
		}
		return
	}
	s.mu.Lock()
	if r := s.seen[key]; r.mine && r.rev == rev {
		// This member's own write, its commit's answer first: known,
		// and not for fn. Not decoded again.
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	l, by, err := decodeLease(key, v)
	s.mu.Lock()
	s.remember(key, seenRec{rev: rev, l: l, ok: err == nil})
	s.mu.Unlock()
	if err != nil {
		s.mu.Lock()
		s.bad++
		s.mu.Unlock()
		s.log.Warn("etcdstore: skipped an unreadable lease record", "key", key, "err", err)
		return
	}
	if by == s.m.id {
		return
	}
	fn(dhcp.Change{Lease: l})
}

// resync reads every record again (after a compaction) and returns the
// revision to watch from.
func (s *LeaseStore) resync(ctx context.Context, fn func(dhcp.Change)) int64 {
	for ctx.Err() == nil {
		rctx, cancel := s.c.reqCtx(ctx)
		resp, err := s.c.cli.Get(rctx, s.prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, kv := range resp.Kvs {
			s.event(false, string(kv.Key), kv.Value, kv.ModRevision, fn)
		}
		return resp.Header.Revision + 1
	}
	return 0
}

// Available implements dhcp.SharedStore: the member is alive, so etcd
// answered it within the last part of its TTL.
func (s *LeaseStore) Available() bool { return s.m.Alive() }
