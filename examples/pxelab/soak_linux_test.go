package main

import (
	"context"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/soak"
	"github.com/pxekit/pxekit/pxetest"
)

// soakRSSBound is the resident memory the server may gain from the
// second sample of the short soak to its last. The soak makes some
// thousands of requests in those 100 s (the test logs how many): a leak
// of 4 KiB a request would be well over it, while the Go heap's own
// swing between collections at this load stays under it.
const soakRSSBound = 8 << 20

// soakDuration is the short soak's length (the bench part runs the long
// one).
const soakDuration = 2 * time.Minute

// The short soak: two minutes of DHCP churn (relayed simulated clients,
// udhcpc and dhclient), TFTP (tftp-hpa, atftp) and HTTP (curl) through
// the lab, against pxelab serve -c running as a process; memory,
// goroutines and files sampled every 10 s. Every operation must succeed
// within its retries, no address may go to two MACs at once, and the
// server must come back to its baseline after the load.
func TestSoak(t *testing.T) {
	pxetest.RequireRoot(t)
	for _, c := range soak.Commands() {
		pxetest.RequireCmd(t, c[0], c[1])
	}
	bin, err := pxelabBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cfg := soak.Config{
		Pxelab:   bin,
		Dir:      t.TempDir(),
		Duration: soakDuration,
		Sample:   10 * time.Second,
		Network:  soak.LabNetwork(),
		Log:      pxetest.Logger(t, 0),
		OnSample: func(s soak.Sample) {
			t.Logf("soak sample at %v: RSS %d KiB, %d goroutines, %d fds, %d leases, %d ops, %d failures",
				s.At.Round(time.Second), s.RSS>>10, s.Goroutines, s.FDs, s.Leases, s.Ops, s.Failures)
		},
	}
	res, err := soak.Run(ctx, cfg)
	if err != nil {
		if res != nil {
			t.Logf("server log:\n%s", res.ServerLog)
		}
		t.Fatal(err)
	}
	t.Logf("soak:\n%s", soak.SamplesTable(res))
	for _, p := range res.Problems(cfg, soakRSSBound) {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", res.ServerLog)
	}
}
