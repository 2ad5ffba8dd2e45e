package tftp

import (
	"context"
	"crypto/sha256"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pxekit/pxekit/pxetest"
	"github.com/pxekit/pxekit/pxetest/impair"
)

// lossyImpairment is the lossy lab's impairment: 5 % loss, 2 %
// duplication, 2 % reordering each way, with a fixed seed.
func lossyImpairment() *impair.Config {
	return &impair.Config{Loss: 0.05, Duplicate: 0.02, Reorder: 0.02, Seed: 20261204}
}

// TestLossyTransfers: tftp-hpa (lock-step, 512-byte blocks) and atftp
// (lock-step with blksize, and windowed) fetch files through the
// impairment relay, and every file arrives byte-identical by hash.
func TestLossyTransfers(t *testing.T) {
	pxetest.RequireCmd(t, "tftp", "tftp-hpa")
	pxetest.RequireCmd(t, "atftp", "atftp")
	n := pxetest.TempNetwork(t, pxetest.NetworkConfig{Name: "lossy", Impair: lossyImpairment()})
	h, err := n.AddHost("lossyc", netip.MustParsePrefix("192.0.2.20/24"))
	if err != nil {
		t.Fatal(err)
	}
	dir, files := testRoot(t, 64<<10, 128<<10, 512<<10)
	root, r, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	conn, err := n.NS.ListenPacket("udp4", netip.AddrPortFrom(n.ServerAddr(), 69).String())
	if err != nil {
		t.Fatal(err)
	}
	// A short retransmission timeout keeps a lock-step transfer at 5 %
	// loss to seconds; Retries allows for a block lost several times.
	s := serveConn(t, Config{Root: root, Timeout: 250 * time.Millisecond, Retries: 10, MaxWindowSize: 16,
		Logger: pxetest.Logger(t, 0)}, conn)
	server := n.ServerAddr().String()

	cases := []struct {
		name, file string
		args       func(out string) []string
	}{
		{"tftp-hpa/lockstep", "131072b", func(out string) []string {
			return []string{"tftp", "-m", "binary", server, "-c", "get", "131072b", out}
		}},
		// atftp acknowledges a repeated DATA block once, then ignores
		// repeats and waits its own timeout since the last packet: when
		// both ACKs are lost, only a pause longer than atftp's timeout
		// (the server's backoff, from timeout 2 against atftp's 1) lets
		// it fire before the server gives up.
		{"atftp/lockstep-blksize1468", "65536b", func(out string) []string {
			return []string{"atftp", "--get", "-r", "65536b", "-l", out, "--tftp-timeout", "1",
				"--option", "blksize 1468", "--option", "tsize 0", "--option", "timeout 2", server}
		}},
		{"atftp/windowsize8", "524288b", func(out string) []string {
			return []string{"atftp", "--get", "-r", "524288b", "-l", out, "--tftp-timeout", "1",
				"--option", "blksize 1468", "--option", "windowsize 8", "--option", "timeout 2", server}
		}},
	}
	var reAsked atomic.Int64
	t.Run("clients", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				out := filepath.Join(t.TempDir(), "got")
				args := c.args(out)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				start := time.Now()
				msg, err := pxetest.Run(t, h.NS, pxetest.CommandContext(ctx, args[0], args[1:]...))
				// atftp aborts when a duplicated OACK reaches it after
				// its ACK of the first (it sends ERROR 0 and exits):
				// nothing a server can prevent. Fetch again, as a user
				// would, and count it.
				for tries := 1; err != nil && tries < 3 && strings.Contains(msg, "unexpected OACK"); tries++ {
					t.Logf("%s: atftp aborted on a duplicated OACK; fetching again", c.name)
					reAsked.Add(1)
					msg, err = pxetest.Run(t, h.NS, pxetest.CommandContext(ctx, args[0], args[1:]...))
				}
				got, _ := os.ReadFile(out)
				want := files[c.file]
				if err != nil || sha256.Sum256(got) != sha256.Sum256(want) {
					t.Fatalf("%s: %d bytes (want %d identical ones), err %v; said %q", c.name, len(got), len(want), err, msg)
				}
				t.Logf("%s: %d bytes identical in %v", c.name, len(got), time.Since(start).Round(time.Millisecond))
			})
		}
	})
	// A client exits once it has the last block: when its final ACK was
	// lost, the server is still sending that block again until the
	// client's closed port answers. Wait for the server to be done.
	deadline := time.Now().Add(time.Minute)
	for s.srv.Stats().Active > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := s.srv.Stats()
	rs := n.Impairment()
	t.Logf("server: sent %d (final ACK lost %d), failed %d, ended by the client %d (fetched again %d), retransmitted %d; relay server->client %+v, client->server %+v",
		st.Sent, st.FinalACKLost, st.Failed, st.Aborted, reAsked.Load(), st.Retransmitted, rs.AtoB, rs.BtoA)
	// The relay lost frames both ways, and the server made up for them.
	if rs.AtoB.Dropped == 0 || rs.BtoA.Dropped == 0 || st.Retransmitted == 0 {
		t.Errorf("no loss to recover from: relay %+v, server retransmitted %d", rs, st.Retransmitted)
	}
	if st.Sent != uint64(len(cases)) || st.Failed != 0 || st.Aborted != uint64(reAsked.Load()) {
		t.Errorf("server completed %d transfers, failed %d, had %d ended by the client; want %d, 0 and %d",
			st.Sent, st.Failed, st.Aborted, len(cases), reAsked.Load())
	}
}
