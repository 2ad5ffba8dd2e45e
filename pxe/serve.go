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
	tftpConn, httpLns, err := s.listen()
	if err != nil {
		s.Close()
		return fmt.Errorf("pxe: %w", err)
	}
	httpsLn, err := s.listenHTTPS()
	if err != nil {
		tftpConn.Close()
		for _, ln := range httpLns {
			ln.Close()
		}
		s.closeDHCPConn()
		s.Close()
		return fmt.Errorf("pxe: %w", err)
	}
	tcfg := s.tftp
	tcfg.Conn = tftpConn
	t, err := tftp.New(tcfg)
	if err != nil { // New checked the same config
		tftpConn.Close()
		for _, ln := range httpLns {
			ln.Close()
		}
		if httpsLn != nil {
			httpsLn.Close()
		}
		s.closeDHCPConn()
		s.Close()
		return fmt.Errorf("pxe: %w", err)
	}
	s.tftpSrv.Store(t)
	// The lease file both DHCP servers share closes once both stopped.
	defer s.closeStore()
	g, gctx := errgroup.WithContext(ctx)
	go s.track(gctx)
	go func() { <-gctx.Done(); s.stopping.Store(true) }()
	if s.dhcp != nil {
		g.Go(func() error { return s.dhcp.Serve(gctx) })
	}
	if s.dhcp6 != nil {
		g.Go(func() error { return s.dhcp6.Serve(gctx) })
	}
	g.Go(func() error { return t.Serve(gctx) })
	if s.cfg.RouterAdvertisement {
		g.Go(func() error { return s.ra.Serve(gctx) })
	}
	s.serveHTTP(gctx, g, httpLns...)
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

// listen opens the TFTP socket and the HTTP listeners in the namespace:
// a socket belongs to the namespace it was opened in. With IPv6 the TFTP
// socket is dual-stack and HTTP listens on the IPv6 address too.
func (s *Server) listen() (tftpConn net.PacketConn, httpLns []net.Listener, err error) {
	tftpConn = s.cfg.TFTPConn
	if s.cfg.HTTPListener != nil {
		httpLns = append(httpLns, s.cfg.HTTPListener)
	}
	err = netnsrun.Run(s.cfg.NetNS, func() error {
		var err error
		if tftpConn == nil {
			if tftpConn, err = s.listenTFTP(); err != nil {
				return fmt.Errorf("tftp: %w", err)
			}
		}
		if s.cfg.HTTPListener != nil {
			return nil
		}
		for _, a := range []netip.Addr{s.addr, s.addr6} {
			if !a.IsValid() {
				continue
			}
			network := "tcp4"
			if a.Is6() {
				network = "tcp6"
			}
			ln, err := net.Listen(network, netip.AddrPortFrom(a, uint16(s.cfg.HTTPPort)).String())
			if err != nil {
				return fmt.Errorf("http: %w", err)
			}
			httpLns = append(httpLns, ln)
		}
		return nil
	})
	if err != nil {
		// Handed-in sockets are closed too: Serve owns them.
		if tftpConn != nil {
			tftpConn.Close()
		}
		for _, ln := range httpLns {
			ln.Close()
		}
		s.closeDHCPConn()
		return nil, nil, err
	}
	return tftpConn, httpLns, nil
}

// closeDHCPConn closes a handed-in DHCP socket when Serve fails before
// the DHCP server runs (which would have closed it).
func (s *Server) closeDHCPConn() {
	if s.cfg.DHCPConn != nil {
		s.cfg.DHCPConn.Close()
	}
	if s.cfg.DHCP6Conn != nil {
		s.cfg.DHCP6Conn.Close()
	}
}

// serveHTTP runs the HTTP server on lns in g until ctx is done, then
// shuts it down.
func (s *Server) serveHTTP(ctx context.Context, g *errgroup.Group, lns ...net.Listener) {
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
	// The fast path (http1.go) takes every listener and hands net/http
	// the connections it does not serve: one server, one Shutdown.
	next := newHandoffListener(lns[0].Addr())
	fast := newHTTP1Server(s, next, srv.ReadHeaderTimeout, srv.IdleTimeout)
	srv.RegisterOnShutdown(func() { fast.shutdown(s.cfg.ShutdownGrace) })
	s.runHTTP(ctx, g, srv, "http", func() error {
		errc := make(chan error, len(lns)+1)
		go func() { errc <- srv.Serve(next) }()
		for _, ln := range lns {
			go func() { errc <- fast.serve(ln) }()
		}
		// A failing listener ends Serve at once; a shutdown once every
		// fast-path connection is done too.
		for range len(lns) + 1 {
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
		}
		return http.ErrServerClosed
	})
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

// announceReady closes Ready once the DHCP servers (and the responder,
// when it runs) listen; TFTP and HTTP already do.
func (s *Server) announceReady(ctx context.Context) {
	var waits []<-chan struct{}
	if s.cfg.RouterAdvertisement {
		waits = append(waits, s.ra.Ready())
	}
	if s.dhcp != nil {
		waits = append(waits, s.dhcp.Ready())
	}
	if s.dhcp6 != nil {
		waits = append(waits, s.dhcp6.Ready())
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
	s.log.Info("boot server ready", "interface", s.cfg.Interface, "addr", s.addr, "addr6", s.addr6, "http", s.base)
	close(s.ready)
}
