package pxe

import (
	"net/http"
)

// finWithResponse sends the FIN right behind the response to a request
// that asked for Connection: close (each iPXE fetch of a new machine in a
// rack). net/http closes the socket only after the handler's goroutine
// unwinds, so a client that closes as soon as it has the body closed
// first and kept the TIME_WAIT itself: under a storm of new connections
// the client side ran out of ports and new connections stalled for
// seconds (a few thousand requests a second where nginx, whose FIN goes
// out at once, did tens of thousands). Only a response whose length is
// known is sent early: flushing one without it would switch it to chunked
// encoding, whose end would then come after the FIN.
func finWithResponse(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if !r.Close || r.ContentLength != 0 || w.Header().Get("Content-Length") == "" {
			return
		}
		// A *net.TCPConn, or one the fast path handed over (handoffConn).
		tc, ok := r.Context().Value(connKey{}).(interface{ CloseWrite() error })
		if !ok {
			return
		}
		if http.NewResponseController(w).Flush() != nil {
			return
		}
		_ = tc.CloseWrite()
	})
}
