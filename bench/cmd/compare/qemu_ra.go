package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/pxekit/pxekit/internal/lab"
	"github.com/pxekit/pxekit/ra"
)

// qemuStartRA runs pxekit's router-advertisement responder (package ra,
// what pxe.Config.RouterAdvertisement runs beside DHCP/TFTP/HTTP) on the
// boot's bridge for the pxekit stack, until the returned stop (idempotent)
// is called.
// It runs in this harness process, in the boot's namespace, because the
// "pxe" role (roles.go, not this part's file) does not set
// RouterAdvertisement yet; once it does, this goes. Its answers go on the
// timeline like pxekit's boot events.
func qemuStartRA(ctx context.Context, lnet *lab.Network, tl *qemuTimeline) (stop func(), err error) {
	r, err := ra.New(ra.Config{
		Interface: lnet.Bridge,
		NetNS:     filepath.Join("/var/run/netns", lnet.NS.Name()),
		OnEvent: func(e ra.Event) {
			tl.add(e.Time, "pxekit", fmt.Sprintf("router-advert %s solicited by %s answered=%v %s",
				e.Solicitation.LinkAddr, e.Solicitation.Source, e.Answered, e.Reason))
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	select {
	case <-r.Ready():
	case err := <-done:
		cancel()
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }, nil
}
