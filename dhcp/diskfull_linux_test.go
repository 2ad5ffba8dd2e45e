package dhcp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pxekit/pxekit/pxetest"
)

// smallTmpfs mounts a tmpfs of size bytes for the test.
func smallTmpfs(t *testing.T, size int) string {
	t.Helper()
	pxetest.RequireRoot(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file until the file system says ENOSPC.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestDiskFullDuringCommit: the lease file lives on a 1 MiB tmpfs that
// fills up while the server runs. Clients asking then get an OFFER but no
// ACK (a lease the store did not record is never acknowledged); the failed
// commits are counted and logged once; when space returns the same
// clients, retrying, are acknowledged without a restart; and every lease
// acknowledged before, during or after is in the file when it is opened
// again.
func TestDiskFullDuringCommit(t *testing.T) {
	dir := smallTmpfs(t, 1<<20)
	file := filepath.Join(dir, "leases.db")
	logs := &pxetest.Buffer{}
	s, addr, stop := serveLoopback(t, func(c *Config) {
		c.LeaseFile = file
		c.Subnets[0].Pools = []Range{{mustAddr("192.0.2.10"), mustAddr("192.0.2.250")}}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})

	acked := map[string]netip.Addr{}
	var mu sync.Mutex
	// doraAll runs one relay client per MAC at once and returns the MACs
	// that were acknowledged.
	doraAll := func(macs []string) (ok []string) {
		var wg sync.WaitGroup
		for _, m := range macs {
			wg.Go(func() {
				c, err := net.ListenPacket("udp4", "127.0.0.1:0")
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				rc := &relayClient{conn: c, server: addr}
				ip, err := rc.dora(mustMAC(m))
				if err != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, dup := acked[m]; dup && prev != ip {
					t.Errorf("%s moved from %s to %s", m, prev, ip)
				}
				acked[m] = ip
				ok = append(ok, m)
			})
		}
		wg.Wait()
		return ok
	}
	macs := func(base, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("52:54:00:00:%02x:%02x", base, i))
		}
		return out
	}

	before := macs(0x70, 20)
	if ok := doraAll(before); len(ok) != len(before) {
		t.Fatalf("before the disk filled: %d of %d acknowledged", len(ok), len(before))
	}
	fill(t, filepath.Join(dir, "filler"))

	during := macs(0x71, 150)
	okDuring := doraAll(during)
	st := s.Stats()
	if st.CommitErrors == 0 || st.Dropped[DropStoreError] == 0 {
		t.Fatalf("no failed commit counted with the disk full: %d acknowledged, stats %+v", len(okDuring), st)
	}
	if st.Offers < uint64(len(before)+len(during)) {
		t.Errorf("offers %d: the server stopped offering while the disk was full", st.Offers)
	}
	if n := strings.Count(logs.String(), "out of space"); n != 1 {
		t.Errorf("%d out-of-space log lines over %d failed commits, want 1 per interval\n%s", n, st.CommitErrors, logs.String())
	}
	t.Logf("disk full: %d of %d clients acknowledged, %d commits failed, %d replies withheld",
		len(okDuring), len(during), st.CommitErrors, st.Dropped[DropStoreError])

	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, m := range during {
		if _, ok := acked[m]; !ok {
			missing = append(missing, m)
		}
	}
	if ok := doraAll(missing); len(ok) != len(missing) {
		t.Fatalf("after space returned: %d of %d acknowledged", len(ok), len(missing))
	}
	if strings.Count(logs.String(), "lease commits succeed again") != 1 {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	stop()

	inFile := leasesInFile(t, file)
	for m, ip := range acked {
		if inFile[m] != ip {
			t.Errorf("%s was acknowledged %s; the file says %v", m, ip, inFile[m])
		}
	}
	if len(acked) != len(before)+len(during) {
		t.Errorf("%d clients hold leases, want %d", len(acked), len(before)+len(during))
	}
}
