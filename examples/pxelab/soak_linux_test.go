package main

import (
	"context"
	"testing"
	"time"

	"github.com/pxekit/pxekit/internal/soak"
	"github.com/pxekit/pxekit/pxetest"
)

// soakRSSBound is the resident memory the server may gain from the
// second sample of the short soak to its last. The soak makes about 1,600
// client operations in those 100 s (the test logs how many), each several
// packets (a TFTP download dozens): a leak of 5 KiB an operation would be
// over it. Two minutes is too short for the heap to reach its working
// size (a run grew 4.2 MiB here, where the 11-minute bench grew 2 MiB
// from its 2nd minute to its 11th); the bench part's bound is the finer one.
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
