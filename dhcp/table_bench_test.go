package dhcp

import (
	"net"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"
)

// genStore is an eachStore that makes n bound leases on the fly, from
// 10.0.0.1 up, so that a load measures the table and not a list of the
// records.
type genStore struct {
	n   int
	exp time.Time
	// hosts gives every record a host name, as OS clients send one.
	hosts bool
}

func (g genStore) Load() ([]Lease, error) { return nil, nil }
func (g genStore) Apply([]Op) error       { return nil }

// loadEach hands out the records as BoltStore does: one Lease at a time,
// its MAC in a buffer the next record reuses (the table copies it).
func (g genStore) loadEach(size func(n int), each func(Lease)) error {
	size(g.n)
	mac := make(net.HardwareAddr, 6)
	base := ip4u(netip.MustParseAddr("10.0.0.1"))
	for i := 0; i < g.n; i++ {
		copy(mac, []byte{0x52, 0x54, 0, byte(i >> 16), byte(i >> 8), byte(i)})
		l := Lease{
			IP:     u2ip4(base + uint32(i)),
			MAC:    mac,
			Expiry: g.exp.Add(time.Duration(i%3600) * time.Second).UTC(),
			State:  Bound,
		}
		if g.hosts {
			l.Hostname = "node-" + strconv.Itoa(i)
		}
		each(l)
	}
	return nil
}

// heapObjectBytes is the heap held by live and not yet swept objects,
// read after a full collection so that it is the live heap.
func heapObjectBytes() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkTableMillion loads a million bound leases (a /12 pool) into a
// table through the load path and times full collections with it live:
// the table's share of every GC cycle a busy server runs. ns/op is one
// runtime.GC; heap-B/lease is the live heap the table adds per record.
// "hostname": every record has a host name, as a lease file of OS
// clients' leases does.
func BenchmarkTableMillion(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchTableMillion(b, false) })
	b.Run("hostname", func(b *testing.B) { benchTableMillion(b, true) })
}

func benchTableMillion(b *testing.B, hosts bool) {
	const n = 1_000_000
	sub := Subnet{
		Prefix: netip.MustParsePrefix("10.0.0.0/12"),
		Pools:  []Range{{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.15.255.254")}},
	}
	before := heapObjectBytes()
	t := newTable([]Subnet{sub}, nil)
	start := time.Now()
	if got, err := t.loadStore(genStore{n: n, exp: t0.Add(time.Hour), hosts: hosts}); got != n || err != nil {
		b.Fatalf("loaded %d records, err %v", got, err)
	}
	load := time.Since(start)
	if active, _, _ := t.counts(t0); active != n {
		b.Fatalf("%d active leases, want %d", active, n)
	}
	after := heapObjectBytes()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
	}
	b.StopTimer()
	b.ReportMetric(float64(after-before)/n, "heap-B/lease")
	b.ReportMetric(float64(load.Nanoseconds())/n, "load-ns/lease")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/GC")
	runtime.KeepAlive(t)
}
