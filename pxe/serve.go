package pxe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pxekit/pxekit/internal/netnsrun"
	"github.com/pxekit/pxekit/tftp"
)

// Serve opens the TFTP and HTTP sockets (inside Config.NetNS) and runs
// DHCP, TFTP, HTTP and, when Config.RouterAdvertisement is on, the
// router-advertisement responder until ctx is cancelled; then it stops
// them gracefully. An error from any of them stops all. It can run once.
func (s *Server) Serve(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("pxe: Serve called twice")
	}
	tftpConn, httpLn, err := s.listen()
	if err != nil {
		s.dhcp.Close()
		return fmt.Errorf("pxe: %w", err)
	}
	httpsLn, err := s.listenHTTPS()
	if err != nil {
		tftpConn.Close()
		httpLn.Close()
		s.closeDHCPConn()
		s.dhcp.Close()
		return fmt.Errorf("pxe: %w", err)
	}
	tcfg := s.tftp
	tcfg.Conn = tftpConn
	t, err := tftp.New(tcfg)
	if err != nil { // New checked the same config
		tftpConn.Close()
		httpLn.Close()
		if httpsLn != nil {
			httpsLn.Close()
		}
		s.closeDHCPConn()
		s.dhcp.Close()
		return fmt.Errorf("pxe: %w", err)
	}
	s.tftpSrv.Store(t)
	g, gctx := errgroup.WithContext(ctx)
	go s.track(gctx)
	go func() { <-gctx.Done(); s.stopping.Store(true) }()
	g.Go(func() error { return s.dhcp.Serve(gctx) })
	g.Go(func() error { return t.Serve(gctx) })
	if s.cfg.RouterAdvertisement {
		g.Go(func() error { return s.ra.Serve(gctx) })
	}
	s.serveHTTP(gctx, g, httpLn)
	if httpsLn != nil {
		s.serveHTTPS(gctx, g, httpsLn)
	}
	go s.announceReady(gctx)
	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// listen opens the TFTP socket and the HTTP listener in the namespace:
// a socket belongs to the namespace it was opened in.
func (s *Server) listen() (tftpConn net.PacketConn, httpLn net.Listener, err error) {
	tftpConn, httpLn = s.cfg.TFTPConn, s.cfg.HTTPListener
	err = netnsrun.Run(s.cfg.NetNS, func() error {
		var err error
		if tftpConn == nil {
			tftpConn, err = net.ListenPacket("udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(s.cfg.TFTPPort)).String())
			if err != nil {
				return fmt.Errorf("tftp: %w", err)
			}
		}
		if httpLn == nil {
			httpLn, err = net.Listen("tcp4", netip.AddrPortFrom(s.addr, uint16(s.cfg.HTTPPort)).String())
			if err != nil {
				return fmt.Errorf("http: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		// Handed-in sockets are closed too: Serve owns them.
		if tftpConn != nil {
			tftpConn.Close()
		}
		if httpLn != nil {
			httpLn.Close()
		}
		s.closeDHCPConn()
		return nil, nil, err
	}
	return tftpConn, httpLn, nil
}

// closeDHCPConn closes a handed-in DHCP socket when Serve fails before
// the DHCP server runs (which would have closed it).
func (s *Server) closeDHCPConn() {
	if s.cfg.DHCPConn != nil {
		s.cfg.DHCPConn.Close()
	}
}

// serveHTTP runs the HTTP server on ln in g until ctx is done, then shuts
// it down.
func (s *Server) serveHTTP(ctx context.Context, g *errgroup.Group, ln net.Listener) {
	// IdleTimeout closes keep-alive connections that firmware left open
	// once it jumped into the kernel; without it each booted machine
	// would hold one until the server stops.
	srv := &http.Server{Handler: s.httpConns.handler(finWithResponse(s.service)), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnContext: connContext,
		// Abuse bounds: see maxHeaderBytes and HTTPConnStats.
		MaxHeaderBytes: maxHeaderBytes, ConnState: s.httpConns.connState}
	// Downloads in flight get the grace to finish; event streams never
	// would, so they end as the shutdown begins.
	srv.RegisterOnShutdown(func() { close(s.streamsDone) })
	s.runHTTP(ctx, g, srv, "http", func() error { return srv.Serve(ln) })
}

// runHTTP runs srv in g (serve is its Serve or ServeTLS) until ctx is
// done, then shuts it down within the shutdown grace.
func (s *Server) runHTTP(ctx context.Context, g *errgroup.Group, srv *http.Server, name string, serve func() error) {
	g.Go(func() error {
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			s.log.Warn(name+": requests still running after the shutdown grace were cut off", "grace", s.cfg.ShutdownGrace)
			return srv.Close()
		}
		return nil
	})
}

// track feeds the boot tracker from the event stream until ctx is done.
func (s *Server) track(ctx context.Context) {
	for e := range s.bus.Subscribe(ctx) {
		s.tracker.Observe(e)
	}
}

// announceReady closes Ready once the DHCP server (and the responder, when
// it runs) listens; TFTP and HTTP already do.
func (s *Server) announceReady(ctx context.Context) {
	if s.cfg.RouterAdvertisement {
		select {
		case <-s.ra.Ready():
		case <-ctx.Done():
			return
		}
	}
	select {
	case <-s.dhcp.Ready():
		s.log.Info("boot server ready", "interface", s.cfg.Interface, "addr", s.addr, "http", s.base)
		close(s.ready)
	case <-ctx.Done():
	}
}
