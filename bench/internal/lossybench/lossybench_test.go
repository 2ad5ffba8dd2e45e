package lossybench

import (
	"context"
	"strings"
	"testing"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/pxetest"
)

func TestMain(m *testing.M) { roles.RunTests(m) }

// The part, quick: every row has both servers' impaired figures (the
// windowed TFTP row only pxekit's) and the relay's counts show it lost
// frames.
func TestRun(t *testing.T) {
	h := harness.Setup(t)
	for _, c := range [][2]string{{"atftp", "atftp"}, {"in.tftpd", "tftpd-hpa"}, {"udhcpc", "udhcpc"}, {"dnsmasq", "dnsmasq"}} {
		pxetest.RequireCmd(t, c[0], c[1])
	}
	rs, err := Run(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rs), rs)
	}
	for i, r := range rs {
		t.Logf("%s: pxekit %.3f %s %.3f; %s", r.Case, r.Pxekit, r.Peer, r.PeerV, r.Note)
		if r.Pxekit <= 0 || (i != 1 && r.PeerV <= 0) || !strings.Contains(r.Note, "baseline") {
			t.Errorf("row without its figures: %+v", r)
		}
	}
}
