package tftpbench

import (
	"context"
	"slices"
	"testing"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/pxetest"
)

func TestMain(m *testing.M) { roles.RunTests(m) }

func TestCasesAndRows(t *testing.T) {
	cs := cases(false)
	if len(cs) != 6 || cs[0] != (fetchCase{file: "1m", size: 1 << 20, blk: 512, reps: 15}) || cs[5] != (fetchCase{file: "32m", size: 32 << 20, blk: 1468, window: 64, reps: 5}) {
		t.Fatalf("cases %+v", cs)
	}
	if q := cases(true); q[0].reps != 3 || q[5].reps != 1 {
		t.Errorf("quick cases %+v", q)
	}
	figures := map[string][]float64{pxekit: {1, 2, 3, 4, 5, 6}, tftpdHPA: {10, 20, 0, 40, 50, 0}, atftpd: {100, 200, 300, 400, 500, 600}}
	rs := rows(cs, figures)
	if len(rs) != 10 {
		t.Fatalf("%d rows, want 2 per lock-step case and 1 per windowed one", len(rs))
	}
	if r := rs[0]; r.Case != "1m blksize 512" || r.Peer != tftpdHPA || r.PeerV != 10 || r.Pxekit != 1 || r.Target != 1 {
		t.Errorf("first row %+v", r)
	}
	if r := rs[4]; r.Case != "1m blksize 1468 windowsize 64" || r.Peer != atftpd || r.PeerV != 300 || r.Pxekit != 3 || r.Target != 0 {
		t.Errorf("windowed row %+v", r)
	}
	// A missing server (atftpd not installed) leaves its figure at 0.
	rs = rows(cs, map[string][]float64{pxekit: {1, 2, 3, 4, 5, 6}})
	if rs[1].Peer != atftpd || rs[1].PeerV != 0 || rs[1].Ratio() != 0 {
		t.Errorf("without atftpd: %+v", rs[1])
	}
	if got := atftpArgs(cs[2], 2069, "/tmp/x"); !slices.Equal(got, []string{"--get", "-r", "1m", "-l", "/tmp/x", "--option", "blksize 1468", "--option", "windowsize 64", "192.0.2.1", "2069"}) {
		t.Errorf("atftp %q", got)
	}
}

// The part, quick, in the harness: every figure it reports is a real
// transfer's, and pxekit's is there for every case.
func TestRun(t *testing.T) {
	h := harness.Setup(t)
	pxetest.RequireCmd(t, "atftp", "atftp")
	pxetest.RequireCmd(t, "in.tftpd", "tftpd-hpa")
	rs, err := Run(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 10 {
		t.Fatalf("%d rows", len(rs))
	}
	for _, r := range rs {
		if r.Pxekit <= 0 || (r.Peer == tftpdHPA && r.PeerV <= 0) {
			t.Errorf("row without a figure: %+v", r)
		}
	}
}
