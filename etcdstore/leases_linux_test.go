package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/macaddr"
)

func lease(ip, mac string, until time.Time) dhcp.Lease {
	m, err := macaddr.Parse(mac)
	if err != nil {
		panic(err)
	}
	return dhcp.Lease{IP: netip.MustParseAddr(ip), MAC: m, Expiry: until.Truncate(time.Second), State: dhcp.Bound}
}

func join(t *testing.T, c *Cluster, id string) *Member {
	t.Helper()
	m, err := c.Join(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// watchInto collects what a store's watch delivers.
type watchInto struct {
	mu sync.Mutex
	cs []dhcp.Change
}

func (w *watchInto) add(c dhcp.Change) { w.mu.Lock(); w.cs = append(w.cs, c); w.mu.Unlock() }
func (w *watchInto) wait(t *testing.T, ip string) dhcp.Change {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for _, c := range w.cs {
			if c.Lease.IP.String() == ip {
				w.mu.Unlock()
				return c
			}
		}
		w.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("watch never delivered %s", ip)
	return dhcp.Change{}
}

// Claims against a real three-member etcd: a claim on an address another
// server wrote since this one looked fails and returns what is there; one
// transaction carries independent claims with their own results; more
// leases than --max-txn-ops (128) in one Claim are split; the other
// server's watch delivers each write, its own writes are not echoed back.
func TestLeaseStoreClaims(t *testing.T) {
	lab, ns := startEtcd(t, false)
	ca, cb := open(t, lab, ns, Config{}), open(t, lab, ns, Config{})
	sa, sb := join(t, ca, "a").LeaseStore(), join(t, cb, "b").LeaseStore()
	for _, s := range []*LeaseStore{sa, sb} {
		if ls, err := s.Load(); err != nil || len(ls) != 0 {
			t.Fatalf("Load on an empty etcd: %v %v", ls, err)
		}
	}
	var wa, wb watchInto
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := sa.Watch(ctx, wa.add); err != nil {
		t.Fatal(err)
	}
	if err := sb.Watch(ctx, wb.add); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour)

	// Both take 192.0.2.10 for two clients, A first: B loses.
	if cs, err := sa.Claim([]dhcp.Op{{Lease: lease("192.0.2.10", "02:00:00:00:00:01", until)}}); err != nil || cs[0] != nil {
		t.Fatalf("A's claim: %v %v", cs, err)
	}
	cs, err := sb.Claim([]dhcp.Op{
		{Lease: lease("192.0.2.10", "02:00:00:00:00:02", until)},
		{Lease: lease("192.0.2.11", "02:00:00:00:00:03", until)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cs[0] == nil || cs[0].MAC.String() != "02:00:00:00:00:01" {
		t.Fatalf("B's claim on A's address: %+v, want lost to 02:00:00:00:00:01", cs[0])
	}
	if cs[1] != nil {
		t.Fatalf("B's claim on a free address lost: %+v", cs[1])
	}
	if err := sb.Apply([]dhcp.Op{{Lease: lease("192.0.2.11", "02:00:00:00:00:03", until.Add(time.Minute))}}); err != nil {
		t.Fatalf("B renews what it holds: %v", err)
	}
	// A did not see B's write of .11 when it claims it: lost, as Apply
	// reports to a server that does not know claims.
	if err := sa.Apply([]dhcp.Op{{Lease: lease("192.0.2.11", "02:00:00:00:00:04", until)}}); !errors.Is(err, dhcp.ErrClaimConflict) {
		t.Fatalf("A's Apply over B's lease: %v, want ErrClaimConflict", err)
	}
	if c := wb.wait(t, "192.0.2.10"); c.Lease.MAC.String() != "02:00:00:00:00:01" {
		t.Fatalf("B's watch: %+v", c)
	}
	if c := wa.wait(t, "192.0.2.11"); c.Lease.MAC.String() != "02:00:00:00:00:03" {
		t.Fatalf("A's watch: %+v", c)
	}
	wa.mu.Lock()
	for _, c := range wa.cs {
		if c.Lease.IP.String() == "192.0.2.10" {
			t.Errorf("A's own write came back through its watch: %+v", c)
		}
	}
	wa.mu.Unlock()

	// 300 leases in one Claim: three transactions under etcd's default
	// --max-txn-ops, every result its own.
	var ops []dhcp.Op
	for i := range 300 {
		ops = append(ops, dhcp.Op{Lease: lease(fmt.Sprintf("198.51.100.%d", i%250), fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256), until)})
	}
	ops = ops[:250] // unique addresses
	for i := range 50 {
		ops = append(ops, dhcp.Op{Lease: lease(fmt.Sprintf("2001:db8::%x", i+1), fmt.Sprintf("02:00:00:01:00:%02x", i), until)})
	}
	cs, err = sa.Claim(ops)
	if err != nil {
		t.Fatalf("300 claims: %v", err)
	}
	for i, c := range cs {
		if c != nil {
			t.Fatalf("claim %d (%s) lost: %+v", i, ops[i].Lease.IP, c)
		}
	}
	ls, err := (join(t, open(t, lab, ns, Config{}), "c").LeaseStore()).Load()
	if err != nil || len(ls) != 302 {
		t.Fatalf("Load after: %d records, %v; want 302", len(ls), err)
	}
}

// Membership: two members split the clients; when one dies without
// leaving (its connection cut, its etcd lease left to expire), the other
// serves every client, and Close leaves at once.
func TestMemberShareAndTakeover(t *testing.T) {
	lab, ns := startEtcd(t, false)
	ca, cb := open(t, lab, ns, Config{}), open(t, lab, ns, Config{})
	a, b := join(t, ca, "192.0.2.1"), join(t, cb, "192.0.2.2")
	waitMembers(t, a, 2)
	waitMembers(t, b, 2)
	na, nb := 0, 0
	for i := range 200 {
		mac, _ := macaddr.Parse(fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256))
		sa, sb := a.Serves(mac), b.Serves(mac)
		if sa == sb {
			t.Fatalf("%s: served by a %v, by b %v: want exactly one", mac, sa, sb)
		}
		if sa {
			na++
		} else {
			nb++
		}
	}
	if na < 60 || nb < 60 {
		t.Fatalf("split of 200 clients: %d / %d", na, nb)
	}
	if i, n := a.Share(); i != 0 || n != 2 {
		t.Fatalf("a.Share = %d/%d", i, n)
	}
	// b dies: its client goes, its keep-alive with it.
	cb.Client().Close()
	waitMembers(t, a, 1)
	for i := range 200 {
		mac, _ := macaddr.Parse(fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256))
		if !a.Serves(mac) {
			t.Fatalf("after b died, a does not serve %s", mac)
		}
	}
	if _, err := ca.Join(context.Background(), "192.0.2.1", 0); !errors.Is(err, ErrMemberExists) {
		t.Fatalf("second member with a's ID: %v", err)
	}
}

func waitMembers(t *testing.T, m *Member, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(m.Members()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s sees members %v, want %d", m.ID(), m.Members(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
