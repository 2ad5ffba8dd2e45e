package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pxekit/pxekit/dhcp"
)

// DefaultMemberTTL is a member's etcd lease TTL when Join is given none:
// a dead server's share moves within it (plus etcd's expiry check, up to
// 0.5 s), inside one firmware DISCOVER retransmit (4 s). etcd 3.4 with
// its default election timeout grants no TTL under 2 s.
const DefaultMemberTTL = 2 * time.Second

// Member is one boot server's membership: a key under /members/ attached
// to an etcd lease the member keeps alive. It implements dhcp.Sharing:
// a client belongs to the live member with the highest hash of (member,
// MAC) (rendezvous hashing), so when a member goes, only its clients
// move, evenly to the others.
type Member struct {
	c   *Cluster
	id  string
	ttl time.Duration
	// lastOK is when etcd last answered this member (a keep-alive, a
	// commit, a watch event), in Unix nanoseconds.
	lastOK atomic.Int64
	// live is the sorted IDs of the members alive now.
	live   atomic.Pointer[[]string]
	cancel context.CancelFunc
	done   sync.WaitGroup
	// moved counts changes of membership seen.
	moved atomic.Uint64
}

var _ dhcp.Sharing = (*Member)(nil)

type memberRecord struct {
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
}

// ErrMemberExists is returned by Join when a live member has the ID.
var ErrMemberExists = errors.New("etcdstore: a live member has this ID")

// Join makes this server a member named id (unique in the cluster: its
// server address, say) until Close. ttl 0 means DefaultMemberTTL. While a
// live member holds id, Join waits up to three TTLs for it to go, then
// fails with ErrMemberExists.
func (c *Cluster) Join(ctx context.Context, id string, ttl time.Duration) (*Member, error) {
	if id == "" || strings.Contains(id, "/") {
		return nil, fmt.Errorf("etcdstore: member ID %q: must be non-empty and have no /", id)
	}
	if ttl == 0 {
		ttl = DefaultMemberTTL
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("etcdstore: member TTL %s: etcd counts in seconds, at least 1s", ttl)
	}
	m := &Member{c: c, id: id, ttl: ttl}
	empty := []string{}
	m.live.Store(&empty)
	// A server restarted right after a crash finds its old key until
	// that incarnation's lease runs out (etcd renews every lease to its
	// full TTL when a leader is elected, so after an etcd restart too):
	// wait for it, up to three TTLs.
	var lease clientv3.LeaseID
	var err error
	for end := time.Now().Add(3 * ttl); ; {
		lease, err = m.register(ctx)
		if !errors.Is(err, ErrMemberExists) || time.Now().After(end) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(ttl / 4):
		}
	}
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	rev, err := m.loadMembers(ctx)
	if err != nil {
		cancel()
		m.revoke(lease)
		return nil, err
	}
	m.done.Add(2)
	go func() { defer m.done.Done(); m.keepAlive(mctx, lease) }()
	go func() { defer m.done.Done(); m.watchMembers(mctx, rev+1) }()
	return m, nil
}

func (m *Member) key() string { return m.c.prefix + "/members/" + m.id }

// register grants a lease and creates the member key on it, unless a live
// member holds the key.
func (m *Member) register(ctx context.Context) (clientv3.LeaseID, error) {
	rctx, cancel := m.c.reqCtx(ctx)
	defer cancel()
	g, err := m.c.cli.Grant(rctx, int64((m.ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, fmt.Errorf("etcdstore: join: grant lease: %w", err)
	}
	v, _ := json.Marshal(memberRecord{ID: m.id, Since: time.Now().UTC()})
	k := m.key()
	r, err := m.c.cli.Txn(rctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(v), clientv3.WithLease(g.ID))).Commit()
	if err != nil {
		return 0, fmt.Errorf("etcdstore: join: %w", err)
	}
	if !r.Succeeded {
		m.revoke(g.ID)
		return 0, fmt.Errorf("%w: %s", ErrMemberExists, m.id)
	}
	m.sawEtcd()
	return g.ID, nil
}

func (m *Member) revoke(id clientv3.LeaseID) {
	ctx, cancel := m.c.reqCtx(context.Background())
	defer cancel()
	m.c.cli.Revoke(ctx, id)
}

// keepAlive keeps the lease alive; when it is lost (etcd unreachable
// longer than the TTL, or quorum lost), it joins again once etcd answers.
func (m *Member) keepAlive(ctx context.Context, lease clientv3.LeaseID) {
	for {
		ch, err := m.c.cli.KeepAlive(ctx, lease)
		if err == nil {
			for range ch {
				m.sawEtcd()
			}
		}
		if ctx.Err() != nil {
			m.revoke(lease)
			return
		}
		m.c.log.Error("etcdstore: membership lost: this server answers no client until etcd is back", "member", m.id)
		for ctx.Err() == nil {
			if lease, err = m.register(ctx); err == nil {
				m.c.log.Info("etcdstore: membership restored", "member", m.id)
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(m.ttl / 4):
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (m *Member) loadMembers(ctx context.Context) (int64, error) {
	rctx, cancel := m.c.reqCtx(ctx)
	defer cancel()
	r, err := m.c.cli.Get(rctx, m.c.prefix+"/members/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0, fmt.Errorf("etcdstore: members: %w", err)
	}
	ids := []string{}
	for _, kv := range r.Kvs {
		ids = append(ids, strings.TrimPrefix(string(kv.Key), m.c.prefix+"/members/"))
	}
	slices.Sort(ids)
	m.live.Store(&ids)
	return r.Header.Revision, nil
}

func (m *Member) watchMembers(ctx context.Context, from int64) {
	p := m.c.prefix + "/members/"
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range m.c.cli.Watch(wctx, p, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithKeysOnly()) {
			if resp.CompactRevision != 0 || resp.Err() != nil {
				break
			}
			ids := slices.Clone(*m.live.Load())
			for _, ev := range resp.Events {
				id := strings.TrimPrefix(string(ev.Kv.Key), p)
				i, found := slices.BinarySearch(ids, id)
				switch {
				case ev.Type == clientv3.EventTypeDelete && found:
					ids = slices.Delete(ids, i, i+1)
				case ev.Type == clientv3.EventTypePut && !found:
					ids = slices.Insert(ids, i, id)
				}
				from = ev.Kv.ModRevision + 1
			}
			m.live.Store(&ids)
			m.moved.Add(1)
			m.c.log.Info("etcdstore: members", "live", strings.Join(ids, ","))
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		// Start over from what etcd holds now.
		for ctx.Err() == nil {
			rev, err := m.loadMembers(ctx)
			if err == nil {
				from = rev + 1
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func (m *Member) sawEtcd() { m.lastOK.Store(time.Now().UnixNano()) }

// Alive reports whether etcd answered this member recently enough that
// its lease still holds: within two thirds of the TTL (the keep-alive
// runs every third, so one lost keep-alive is tolerated). A member cut
// off from etcd stops answering before the others take its share.
func (m *Member) Alive() bool {
	return time.Since(time.Unix(0, m.lastOK.Load())) < m.ttl*2/3
}

// ID is the member's name.
func (m *Member) ID() string { return m.id }

// Members returns the IDs of the members alive now, sorted.
func (m *Member) Members() []string { return slices.Clone(*m.live.Load()) }

// Serves implements dhcp.Sharing: mac's client belongs to this member.
// A member that is not alive serves no one.
func (m *Member) Serves(mac net.HardwareAddr) bool {
	if !m.Alive() {
		return false
	}
	return Owner(*m.live.Load(), mac) == m.id
}

// Share implements dhcp.Sharing: the member's rank among the live ones.
func (m *Member) Share() (int, int) {
	ids := *m.live.Load()
	if i, ok := slices.BinarySearch(ids, m.id); ok {
		return i, len(ids)
	}
	return 0, 1
}

// Owner is the member among ids that answers the client with this MAC:
// the highest FNV-1a hash of member ID and MAC. Every server computes the
// same from the same member list.
func Owner(ids []string, mac net.HardwareAddr) string {
	best, bestH := "", uint64(0)
	for _, id := range ids {
		h := fnv.New64a()
		h.Write([]byte(id))
		h.Write([]byte{0})
		h.Write(mac)
		if v := mix(h.Sum64()); best == "" || v > bestH {
			best, bestH = id, v
		}
	}
	return best
}

// Close leaves the cluster: the member key goes at once (the others take
// this member's share now, not at the TTL) and the keep-alive stops.
func (m *Member) Close() error {
	m.cancel()
	m.done.Wait()
	return nil
}

// mix is splitmix64's finalizer: FNV's high bits depend weakly on the
// last bytes (a MAC's), and the comparison reads them first.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
