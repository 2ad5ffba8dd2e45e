package dhcp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// QueueLen bounds datagrams, not reads: a read that would overfill the
// queue is dropped whole and every datagram in it is counted.
func TestQueueBoundCountsEveryDroppedDatagram(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.QueueLen = 4 })
	jobs := make(chan *batch, 16) // no worker: everything stays queued
	l := &listener{conn: discardConn{}}
	pkt := discover(t, "52:54:00:00:0c:01").ToBytes()
	read := func(n int) *batch {
		b := &batch{l: l}
		for range n {
			s.admit(b, append([]byte(nil), pkt...), 0, nil, t0)
		}
		return b
	}
	if !s.enqueue(jobs, read(3)) {
		t.Fatal("first read of 3 refused with QueueLen 4")
	}
	if s.enqueue(jobs, read(3)) {
		t.Fatal("second read of 3 accepted: 6 datagrams queued with QueueLen 4")
	}
	if !s.enqueue(jobs, read(1)) {
		t.Fatal("a read that fits was refused")
	}
	st := s.Stats()
	if st.Received != 7 || st.Dropped[DropQueueFull] != 3 || len(jobs) != 2 {
		t.Fatalf("received %d, queue-full %d, queued reads %d; want 7, 3, 2", st.Received, st.Dropped[DropQueueFull], len(jobs))
	}
}

// Replies collected from one read leave in one sendmmsg; one that cannot
// be sent is counted and does not stop the others.
func TestBatchedRepliesAllLeaveAndFailuresAreCounted(t *testing.T) {
	srv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	s := newTestServer(t, nil)
	l := s.wrap(srv, false)
	if l.pc == nil {
		t.Fatal("no control-message conn on a UDP socket")
	}
	to := cli.LocalAddr().(*net.UDPAddr).AddrPort()
	var out outbox
	for i := range 5 {
		p, _ := dhcpv4.New(dhcpv4.WithTransactionID(dhcpv4.TransactionID{0, 0, 0, byte(i)}))
		dst := to
		if i == 2 {
			dst = netip.AddrPortFrom(netip.IPv4Unspecified(), 0) // refused by the kernel
		}
		out.add(l, outcome{reply: p, dst: dst, events: []Event{{Kind: EventOffered}}})
	}
	s.flush(&out)
	got := map[byte]bool{}
	buf := make([]byte, 1500)
	cli.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(got) < 4 {
		n, _, err := cli.ReadFrom(buf)
		if err != nil {
			t.Fatalf("got %v before %v", got, err)
		}
		p, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		got[p.TransactionID[3]] = true
	}
	if got[2] || len(got) != 4 {
		t.Fatalf("replies received %v, want 0,1,3,4", got)
	}
	st := s.Stats()
	if st.Replied != 4 || st.Offers != 4 || st.Dropped[DropSendError] != 1 {
		t.Fatalf("replied %d offers %d send errors %d; want 4, 4, 1", st.Replied, st.Offers, st.Dropped[DropSendError])
	}
}
