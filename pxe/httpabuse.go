package pxe

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// maxHeaderBytes bounds a request's line and headers. Firmware and iPXE
// send a few hundred bytes; net/http's default (1 MiB) would let a 1 MB
// request line in. A larger request gets 431 and the connection closes.
const maxHeaderBytes = 64 << 10

// HTTPConnStats counts HTTP connections the boot server closed before it read
// a request from them: a request line or headers too large (answered 431),
// headers not finished within the header timeout (slowloris), or a client
// that connected and sent nothing.
type HTTPConnStats struct {
	Connections         uint64 // accepted
	ClosedBeforeRequest uint64 // closed before one request was read
	// OverClientLimit counts the connections in ClosedBeforeRequest closed
	// at once because their client address had Config.HTTPMaxConnsPerClient
	// open already.
	OverClientLimit uint64
}

// DefaultHTTPMaxConnsPerClient is Config.HTTPMaxConnsPerClient's default:
// far above what firmware, iPXE or an installer opens, far below a file
// descriptor limit.
const DefaultHTTPMaxConnsPerClient = 256

// connTracker follows each connection's states (http.Server.ConnState).
type connTracker struct {
	conns, early, overLimit atomic.Uint64
	// fast counts requests the fast path (http1.go) answered.
	fast atomic.Uint64
	// served holds connections that have read a request.
	served sync.Map // net.Conn → struct{}
}

func (c *connTracker) connState(conn net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		if _, ok := conn.(*handoffConn); !ok { // else counted when accepted
			c.conns.Add(1)
		}
	case http.StateClosed, http.StateHijacked:
		if _, ok := c.served.LoadAndDelete(conn); !ok {
			c.early.Add(1)
		}
	}
}

// handler marks the connection of each request that reached h as served
// (net/http reports a connection active as soon as it read a byte, so
// ConnState alone cannot tell a slow request line from a request).
func (c *connTracker) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conn, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			c.served.Store(conn, struct{}{})
		}
		h.ServeHTTP(w, r)
	})
}

// HTTPConns returns the HTTP connection counters.
func (s *Server) HTTPConns() HTTPConnStats {
	return HTTPConnStats{Connections: s.httpConns.conns.Load(), ClosedBeforeRequest: s.httpConns.early.Load(),
		OverClientLimit: s.httpConns.overLimit.Load()}
}
