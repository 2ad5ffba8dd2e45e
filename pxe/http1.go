package pxe

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pxekit/pxekit/macaddr"
)

// http1Server answers the requests a boot storm is made of — machines'
// scripts and small assets kept in memory — itself, on the plain HTTP
// listeners, and hands every other connection to net/http.
//
// net/http's per-request cost (a request object, header maps, a context,
// two reads per request through the poller, a sorted header write) was
// most of a script request's CPU: nginx answered two to four times as many
// requests. Here a request costs one read and one write, with nothing
// allocated for the head; pipelined requests are answered with one write.
//
// A Connection: close request is answered here too, then the connection
// is closed. Whatever the fast path does not answer — another path or
// method, a conditional or ranged asset request, a large file, anything
// malformed or unusual, any error — goes to net/http with the bytes read so far,
// before anything was written, and the connection stays there: net/http
// then answers exactly as it did before (its limits, 431, 400, sendfile).
type http1Server struct {
	s    *Server
	next *handoffListener
	// headerTimeout bounds the wait for a request's head once its first
	// byte came; idleTimeout the wait for the next request.
	headerTimeout, idleTimeout time.Duration
	date                       dateCache

	mu      sync.Mutex
	closing bool
	lns     map[net.Listener]struct{}
	conns   map[*http1Conn]struct{}
	wg      sync.WaitGroup
	// perClient counts each client address's open connections, the fast
	// path's and those handed to net/http, up to maxPerClient (≤ 0: no
	// bound).
	perClient    map[netip.Addr]int
	maxPerClient int
}

// http1Conn is a connection the fast path is serving.
type http1Conn struct {
	c       *net.TCPConn
	remote  netip.Addr // unmapped
	local6  bool       // reached the server over IPv6
	reading bool       // blocked in a read, under http1Server.mu
}

func newHTTP1Server(s *Server, next *handoffListener, headerTimeout, idleTimeout time.Duration) *http1Server {
	return &http1Server{s: s, next: next, headerTimeout: headerTimeout, idleTimeout: idleTimeout,
		lns: map[net.Listener]struct{}{}, conns: map[*http1Conn]struct{}{},
		perClient: map[netip.Addr]int{}, maxPerClient: s.cfg.HTTPMaxConnsPerClient}
}

// release forgets one closed connection of a.
func (l *http1Server) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perClient[a]--; l.perClient[a] <= 0 {
		delete(l.perClient, a)
	}
}

// serve accepts on ln until shutdown; it returns http.ErrServerClosed
// then, once the connections it serves are done.
func (l *http1Server) serve(ln net.Listener) error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	l.lns[ln] = struct{}{}
	l.mu.Unlock()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			l.mu.Lock()
			closing := l.closing
			l.mu.Unlock()
			if closing {
				l.wg.Wait()
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of descriptors for a moment: as net/http does, wait
				// a little rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		tc, ok := c.(*net.TCPConn)
		if !ok {
			if !l.next.give(c) {
				c.Close()
			}
			continue
		}
		l.s.httpConns.conns.Add(1)
		hc := &http1Conn{c: tc}
		if ap, err := netip.ParseAddrPort(tc.RemoteAddr().String()); err == nil {
			hc.remote = ap.Addr().Unmap()
		}
		if ap, err := netip.ParseAddrPort(tc.LocalAddr().String()); err == nil {
			hc.local6 = ap.Addr().Is6() && !ap.Addr().Is4In6()
		}
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			tc.Close()
			l.s.httpConns.early.Add(1)
			continue
		}
		if l.maxPerClient > 0 && l.perClient[hc.remote] >= l.maxPerClient {
			l.mu.Unlock()
			l.s.httpConns.early.Add(1) // counted before the client sees it
			l.s.httpConns.overLimit.Add(1)
			_ = tc.SetLinger(0) // a reset: no FIN_WAIT state kept for it
			tc.Close()
			continue
		}
		l.perClient[hc.remote]++
		l.conns[hc] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.serveConn(hc)
	}
}

// shutdown stops accepting and closes every connection waiting for a
// request; one being answered closes once its answer is out, or when
// grace runs out for a client that does not read it.
func (l *http1Server) shutdown(grace time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for ln := range l.lns {
		ln.Close()
	}
	for c := range l.conns {
		if c.reading {
			c.c.Close()
		} else if grace > 0 {
			_ = c.c.SetWriteDeadline(time.Now().Add(grace))
		}
	}
}

// startRead marks c as waiting for bytes; false when the server is
// closing (the caller closes c).
func (l *http1Server) startRead(c *http1Conn, on bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.reading = on
	return !l.closing
}

func (l *http1Server) serveConn(c *http1Conn) {
	defer l.wg.Done()
	served, handed := false, false
	defer func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		if handed {
			return // released when net/http closes it
		}
		c.c.Close()
		l.release(c.remote)
		if !served {
			l.s.httpConns.early.Add(1)
		}
	}()
	store := make([]byte, 4<<10)
	buf := store[:0]
	var out []byte
	var reqStart time.Time // when the first byte of the pending head came
	for {
		// Answer every complete request buffered (pipelining), into one
		// write.
		for len(buf) > 0 {
			req, n, v := parseHTTP1(buf)
			if v == http1More {
				break
			}
			var ok bool
			if v == http1OK {
				out, ok = l.answer(out, c, &req)
			}
			if !ok {
				if len(out) > 0 && !write(c.c, &out) {
					return
				}
				handed = l.handoff(c, buf, served)
				return
			}
			served = true
			l.s.httpConns.fast.Add(1)
			if req.close {
				// The answer, then the close (the deferred Close sends a
				// FIN after it). Requests pipelined behind this one are
				// not answered, as net/http does not; their bytes are
				// drained for a moment first, since closing with unread
				// bytes would send a reset that can reach the client
				// before it read the answer.
				if write(c.c, &out) && len(buf) > n {
					drainClose(c.c)
				}
				return
			}
			buf = buf[n:]
			reqStart = time.Time{}
		}
		if len(out) > 0 && !write(c.c, &out) {
			return
		}
		// Read more: for the next request within the idle timeout, or for
		// the rest of this head within the header timeout of its start.
		if len(buf) == 0 {
			buf = store[:0]
			_ = c.c.SetReadDeadline(time.Now().Add(l.idleTimeout))
		} else {
			buf = store[:copy(store, buf)] // the pending head to the front
			if reqStart.IsZero() {
				reqStart = time.Now()
				_ = c.c.SetReadDeadline(reqStart.Add(l.headerTimeout))
			}
		}
		if len(buf) == len(store) {
			store = append(store, make([]byte, len(store))...)
			buf = store[:len(buf)]
		}
		if !l.startRead(c, true) {
			return
		}
		n, err := c.c.Read(store[len(buf):])
		l.startRead(c, false)
		if err != nil {
			return // closed, reset, or a timeout: as net/http, no answer
		}
		if len(buf) == 0 {
			reqStart = time.Now()
			_ = c.c.SetReadDeadline(reqStart.Add(l.headerTimeout))
		}
		buf = store[:len(buf)+n]
	}
}

// drainClose half-closes c and reads what the client still sends, for
// up to half a second (net/http's wait before it closes such a connection).
func drainClose(c *net.TCPConn) {
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var b [4 << 10]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			return
		}
	}
}

// write sends out in one write(2) and empties it.
func write(c *net.TCPConn, out *[]byte) bool {
	_, err := c.Write(*out)
	*out = (*out)[:0]
	return err == nil
}

// handoff gives c, with the bytes buffered so far, to net/http. served:
// the fast path answered requests on it already.
func (l *http1Server) handoff(c *http1Conn, buf []byte, served bool) bool {
	_ = c.c.SetDeadline(time.Time{})
	hc := &handoffConn{TCPConn: c.c, pre: append([]byte(nil), buf...), release: func() { l.release(c.remote) }}
	if served {
		l.s.httpConns.served.Store(net.Conn(hc), struct{}{})
	}
	if !l.next.give(hc) {
		l.s.httpConns.served.Delete(net.Conn(hc))
		return false // serveConn closes and releases it
	}
	return true
}

// answer appends req's response to out; false when net/http must answer
// it instead (nothing was appended then).
func (l *http1Server) answer(out []byte, c *http1Conn, req *http1Request) ([]byte, bool) {
	h := l.s.http.Load()
	if req.path == PathScript {
		return l.script(out, h, c, req)
	}
	fsys, small, name := h.assets, &h.assetFiles, strings.TrimPrefix(req.path, PathAssets)
	if !strings.HasPrefix(req.path, PathAssets) {
		fsys, small, name = h.ipxe, &h.ipxeFiles, strings.TrimPrefix(req.path, PathIPXE)
	}
	return l.asset(out, h, c, req, fsys, small, name)
}

func (l *http1Server) script(out []byte, h *handler, c *http1Conn, req *http1Request) ([]byte, bool) {
	var mac net.HardwareAddr
	if s := queryParam(req.rawQuery, "mac"); s != "" {
		var err error
		if mac, err = macaddr.Parse(s); err != nil {
			return out, false
		}
	} else if _, mac = h.requesterAt(c.remote); mac == nil {
		return out, false
	}
	// As baseFor: the IPv6 root for a request that came over IPv6.
	v6 := h.baseURL6 != "" && c.local6
	s, err := h.scriptFor(mac, scriptFirmware(req.rawQuery), v6, c.remote)
	if err != nil {
		return out, false
	}
	out = append(out, "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(s.body)), 10)
	out = append(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n"...)
	out = l.endHead(out, req.close)
	if !req.head {
		out = append(out, s.body...)
	}
	// As net/http counts it: a HEAD's body is written and discarded.
	l.s.httpStats.add(RouteScript, http.StatusOK, int64(len(s.body)))
	h.bus.Publish(Event{Kind: EventScriptServed, MAC: mac, Detail: s.detail, Firmware: s.firmware})
	return out, true
}

// asset answers a request for a small file of fsys kept in small, as
// serveFile would; a file not kept is read and kept first.
func (l *http1Server) asset(out []byte, h *handler, c *http1Conn, req *http1Request, fsys fs.FS, small *smallFiles, name string) ([]byte, bool) {
	if fsys == nil || req.cond || name == "" || !fs.ValidPath(name) || strings.TrimPrefix(path.Clean("/"+name), "/") != name {
		return out, false
	}
	sfs, ok := fsys.(fs.StatFS)
	if !ok {
		return out, false
	}
	st, err := sfs.Stat(name)
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxSmallFile {
		return out, false
	}
	f := small.get(name, st)
	if f == nil {
		// Read it the way net/http's path would, which keeps it when it
		// may be kept.
		if file, err := (cachedFS{fsys, small}).Open(name); err == nil {
			file.Close()
		}
		if f = small.get(name, st); f == nil {
			return out, false
		}
	}
	out = append(out, "HTTP/1.1 200 OK\r\n"...)
	out = append(out, f.head...)
	out = l.date.append(out)
	out = append(out, f.tail...)
	if req.close {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, "\r\n"...)
	route := routeOf(req.path)
	if req.head {
		l.s.httpStats.add(route, http.StatusOK, 0)
		return out, true
	}
	out = append(out, f.data...)
	l.s.httpStats.add(route, http.StatusOK, int64(len(f.data)))
	ip, mac := h.requesterAt(c.remote)
	detail := fmt.Sprintf("%s %d bytes (status %d)", req.path, len(f.data), http.StatusOK)
	if mac == nil && ip.IsValid() {
		detail += " to " + ip.String()
	}
	h.bus.Publish(Event{Kind: EventAssetSent, MAC: mac, Detail: detail, Path: req.path})
	return out, true
}

// endHead appends the Date field, Connection: close when the client asked
// for it, and the end of the head.
func (l *http1Server) endHead(out []byte, close bool) []byte {
	out = l.date.append(out)
	if close {
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, "\r\n"...)
}

// dateCache keeps the Date field of the current second: formatting it
// per response was a visible part of a small response's cost.
type dateCache struct {
	v atomic.Pointer[dateField]
}

type dateField struct {
	sec   int64
	field []byte
}

func (d *dateCache) append(out []byte) []byte {
	now := time.Now()
	f := d.v.Load()
	if f == nil || f.sec != now.Unix() {
		b := append([]byte("Date: "), now.UTC().AppendFormat(nil, http.TimeFormat)...)
		f = &dateField{sec: now.Unix(), field: append(b, "\r\n"...)}
		d.v.Store(f)
	}
	return append(out, f.field...)
}

// handoffConn is a connection handed to net/http with the bytes the fast
// path had read from it. It embeds the *net.TCPConn so net/http still
// finds sendfile (ReadFrom) and CloseWrite on it, and the cork its
// SyscallConn.
type handoffConn struct {
	*net.TCPConn
	pre []byte
	// release, once, when net/http closes it: its client's count.
	release func()
	once    sync.Once
}

// Close closes the connection and gives its place back to its client.
func (c *handoffConn) Close() error {
	if c.release != nil {
		c.once.Do(c.release)
	}
	return c.TCPConn.Close()
}

// Read returns the bytes read before the handoff first.
func (c *handoffConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.TCPConn.Read(p)
}

// handoffListener is the listener net/http serves: it accepts the
// connections the fast path hands over.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to net/http; false once the listener is closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// Accept returns the next connection handed over.
func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept.
func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the first listener's address.
func (l *handoffListener) Addr() net.Addr { return l.addr }
