package tftp

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// TestFloodOfDistinctNames: one client (127.0.0.2) asks for 65,535
// distinct files that do not exist while 64 others start transfers of a
// real file and never ACK. The server keeps no state per name: the first
// ones are answered "not found", the rest dropped unread once the
// flooding address has spent its refusal budget, all counted. It runs at
// most MaxTransfers transfers (the rest counted busy), tftp-hpa and atftp
// still fetch byte-identical files during the flood, and once the
// abandoned transfers time out the goroutines are back to where they
// were.
func TestFloodOfDistinctNames(t *testing.T) {
	dir, files := testRoot(t, 100000, 1<<20)
	root, r, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const maxTransfers = 16
	logs := &pxetest.Buffer{}
	// The abandoned transfers give up after 0.2 + 0.4 s: the slots free
	// up while the flood still runs, so it meets "not found" as well as
	// "busy".
	s := serve(t, Config{Root: root, MaxTransfers: maxTransfers, Timeout: 200 * time.Millisecond, Retries: 1,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	baseline := runtime.NumGoroutine()

	fl, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	fl.SetWriteBuffer(4 << 20)
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		for i := range 65535 {
			fl.WriteTo(rrq(fmt.Sprintf("flood/%05d.bin", i), "octet"), s.addr)
			if i%128 == 127 {
				time.Sleep(time.Millisecond) // let the reader keep up: the test counts what it read
			}
		}
	}()
	var stuck []*net.UDPConn
	for range 64 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteTo(rrq("1m", "octet"), s.addr)
		stuck = append(stuck, c)
	}
	if got, msg := tftpHPA(t, s.addr, "100000b"); !bytes.Equal(got, files["100000b"]) {
		t.Errorf("tftp-hpa during the flood: %d bytes, %q", len(got), msg)
	}
	if got, msg, ok := atftp(t, s.addr, "100000b", "blksize 1468"); !ok || !bytes.Equal(got, files["100000b"]) {
		t.Errorf("atftp during the flood: %d bytes, %q", len(got), msg)
	}
	<-floodDone
	settled := func(st Stats) bool {
		return st.Active == 0 && st.Dropped[DropNotFound] > 0 && st.Requests == st.Dropped[DropNotFound]+st.Dropped[DropRefusalRate]+st.Dropped[DropBusy]+st.Dropped[DropDuplicate]+st.Sent+st.Failed+st.Aborted
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !settled(s.srv.Stats()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.srv.Stats(); !settled(st) {
		t.Fatalf("the server never settled: %+v", st)
	}
	st := s.srv.Stats()
	t.Logf("flood: %d requests read, %d not found, %d over the refusal budget, %d busy, %d sent, %d failed",
		st.Requests, st.Dropped[DropNotFound], st.Dropped[DropRefusalRate], st.Dropped[DropBusy], st.Sent, st.Failed)
	// Each name is refused, not found or (while every transfer slot is
	// taken) busy: none starts a transfer or leaves state behind. (How
	// many of the 65,535 the kernel delivers depends on the machine's load:
	// a full socket buffer drops the rest.)
	if refused := st.Dropped[DropNotFound] + st.Dropped[DropRefusalRate] + st.Dropped[DropBusy]; refused+st.Sent+st.Failed < st.Requests || st.Requests == 0 {
		t.Errorf("%d requests read, %d refused", st.Requests, refused)
	}
	// The flood lasts about a second: its address gets its burst and about
	// a second's rate of answers, and no more.
	if nf := st.Dropped[DropNotFound]; st.Dropped[DropRefusalRate] == 0 || nf > DefaultRefusalBurst+10*DefaultRefusalRate {
		t.Errorf("%d answered not found, %d dropped over the refusal budget: the flooding address was not limited", nf, st.Dropped[DropRefusalRate])
	}
	if n := strings.Count(logs.String(), "tftp request refused") + strings.Count(logs.String(), "too many transfers"); n > 50 {
		t.Errorf("%d refusal log lines for the flood, want them paced", n)
	}
	if st.Dropped[DropBusy] == 0 || st.Failed > maxTransfers+2 {
		t.Errorf("transfers not bounded by MaxTransfers %d: %d busy, %d failed", maxTransfers, st.Dropped[DropBusy], st.Failed)
	}
	waitFor(t, func() bool {
		return runtime.NumGoroutine() <= baseline+2
	})
}
