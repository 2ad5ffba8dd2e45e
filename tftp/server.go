package tftp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/internal/dropcount"
	"github.com/pxekit/pxekit/internal/ratelimit"
)

// Defaults for a zero Config.
const (
	DefaultAddr          = ":69"
	DefaultTimeout       = 2 * time.Second
	DefaultRetries       = 5
	DefaultMaxTransfers  = 512
	DefaultShutdownGrace = 30 * time.Second
	// DefaultRefusalRate and DefaultRefusalBurst bound the requests one
	// client address may have refused (ERROR packets) a second. Boot
	// loaders probe for files that may not exist (PXELINUX tries a dozen
	// configuration names in a row), so the burst leaves room for that.
	DefaultRefusalRate  = 20
	DefaultRefusalBurst = 64
)

// Config configures a Server. Only Root is required.
type Config struct {
	// Root is the tree served read-only. Prefer Dir (an os.Root) over
	// os.DirFS: both are checked for symbolic links leaving the root, but an
	// os.Root also enforces it in the kernel lookup.
	Root fs.FS
	// Addr is the UDP address Serve listens on; DefaultAddr when empty.
	// Ignored when Conn is set.
	Addr string
	// Conn, when set, is the UDP socket Serve reads requests on instead of
	// listening on Addr: the caller chooses where it listens (a socket
	// opened in another network namespace, socket activation, tests). On
	// Linux per-transfer sockets are opened in Conn's namespace. Serve
	// sets its receive buffer to 4 MB (a flood's burst fits while the
	// reader waits its turn) and closes it when it returns.
	Conn net.PacketConn
	// MaxBlockSize caps the negotiated blksize. Zero means the link MTU of
	// the interface the request came in on is the only cap.
	MaxBlockSize int
	// Timeout is how long a block waits for its ACK before it is sent again
	// (DefaultTimeout when zero); each resend to a silent client doubles
	// the wait, up to 8 times Timeout (RFC 1123's exponential backoff),
	// while one heard repeating an older ACK is answered at Timeout
	// (pin/tftp in SinglePort mode backs off either way). A client's RFC 2349
	// timeout option overrides it for its transfer, except in SinglePort
	// mode.
	Timeout time.Duration
	// Retries is how many times a block is sent again before the transfer
	// fails (DefaultRetries when zero): with the defaults a silent client
	// is given up after 2+4+8+16+16+16 = 62 s.
	Retries int
	// MaxTransfers bounds concurrent transfers (DefaultMaxTransfers when
	// zero). A request beyond it is dropped and counted: the client sends
	// it again after its own timeout, which spreads a boot storm.
	MaxTransfers int
	// ShutdownGrace is how long in-flight transfers may run after the
	// context is cancelled before they are aborted with an ERROR packet
	// (DefaultShutdownGrace when zero, negative for no limit; a transfer
	// whose client went silent still ends when its retries run out).
	ShutdownGrace time.Duration
	// MaxWindowSize is the largest RFC 7440 windowsize granted; 0 or 1
	// leaves the option unanswered and every transfer lock-step. Not in
	// SinglePort mode, and only for octet transfers; a window is also
	// bounded to 1 MB of blocks in memory.
	MaxWindowSize int
	// SinglePort serves every transfer through the listening socket instead
	// of one new socket per transfer, with github.com/pin/tftp's
	// single-port mode: for a firewall that lets only port 69 out. It is
	// not needed for a socket opened in another network namespace (on
	// Linux, per-transfer sockets are opened in the listening socket's
	// namespace), and it is slower per block. In this mode blksize is
	// capped at 8968 (a jumbo frame) unless MaxBlockSize says otherwise,
	// windowsize and timeout are not negotiated, and a blksize under 512
	// is not granted.
	SinglePort bool
	// RefusalRate and RefusalBurst bound the refused requests (ERROR
	// packets: no such file, a path refused, a malformed request, a write
	// request) per client address a second (DefaultRefusalRate and
	// DefaultRefusalBurst when zero; a negative rate means no limit). An
	// address over it has its requests dropped unread, counted as
	// DropRefusalRate, until the budget refills: a flood of requests for
	// names that do not exist then costs the server a read and a hash per
	// request, not a file lookup and a reply, and clients at other
	// addresses keep their rate. Transfers never spend the budget.
	RefusalRate  float64
	RefusalBurst int
	// Logger receives one record per transfer and per refused request
	// (default slog.Default(); slog.New(slog.DiscardHandler) silences it).
	Logger *slog.Logger
	// OnEvent, when set, is called for every transfer and refused request,
	// from the serving goroutines: it must be safe for concurrent use and
	// must not block.
	OnEvent func(Event)
	// MACForIP, when set, gives the MAC address the DHCP lease knows for a
	// peer, so events carry it.
	MACForIP func(netip.Addr) (net.HardwareAddr, bool)
}

// Validate reports every invalid field of c with its field path.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.Root == nil {
		errs = append(errs, field.Required(field.NewPath("root"), "a file system to serve"))
	}
	if c.MaxBlockSize != 0 && (c.MaxBlockSize < DefaultBlockSize || c.MaxBlockSize > MaxBlockSize) {
		errs = append(errs, field.Invalid(field.NewPath("maxBlockSize"), c.MaxBlockSize,
			fmt.Sprintf("must be 0 or between %d and %d", DefaultBlockSize, MaxBlockSize)))
	}
	if c.Timeout < 0 {
		errs = append(errs, field.Invalid(field.NewPath("timeout"), c.Timeout.String(), "must not be negative"))
	}
	if c.Retries < 0 {
		errs = append(errs, field.Invalid(field.NewPath("retries"), c.Retries, "must not be negative"))
	}
	if c.MaxWindowSize < 0 || c.MaxWindowSize > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("maxWindowSize"), c.MaxWindowSize, "must be between 0 and 65535"))
	}
	if c.MaxTransfers < 0 {
		errs = append(errs, field.Invalid(field.NewPath("maxTransfers"), c.MaxTransfers, "must not be negative"))
	}
	if c.RefusalBurst < 0 {
		errs = append(errs, field.Invalid(field.NewPath("refusalBurst"), c.RefusalBurst, "must not be negative"))
	}
	return errs
}

// Server is a read-only TFTP server. Create it with New, run it with
// Serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	c       counters
	started atomic.Bool
	// pace limits refusal log lines under a flood.
	pace logPacer
	// refusals is each client address's refusal budget.
	refusals *ratelimit.Keyed
}

// New checks cfg and returns a Server. It opens no socket: Serve does.
func New(cfg Config) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("tftp: invalid config: %w", errs.ToAggregate())
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.MaxTransfers == 0 {
		cfg.MaxTransfers = DefaultMaxTransfers
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RefusalRate == 0 {
		cfg.RefusalRate = DefaultRefusalRate
	}
	if cfg.RefusalBurst == 0 {
		cfg.RefusalBurst = DefaultRefusalBurst
	}
	// 4096 slots: addresses that share one share a budget, which only
	// makes the limit stricter for them.
	s := &Server{cfg: cfg, log: cfg.Logger, refusals: ratelimit.New(cfg.RefusalRate, cfg.RefusalBurst, 4096)}
	s.c.dropped = dropcount.New(dropReasons()...)
	return s, nil
}

// Serve serves requests arriving on Config.Conn, or on a socket it opens on
// Config.Addr, until ctx is cancelled; then it stops taking requests, lets
// running transfers finish for up to Config.ShutdownGrace, and returns nil
// once they are all done. It closes the socket before returning. It can
// run once.
func (s *Server) Serve(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("tftp: Serve called twice")
	}
	conn := s.cfg.Conn
	if conn == nil {
		var err error
		if conn, err = net.ListenPacket("udp", s.cfg.Addr); err != nil {
			return fmt.Errorf("tftp: %w", err)
		}
	}
	f := newFront(s, conn)
	if !s.cfg.SinglePort {
		return f.serve(ctx)
	}
	return f.servePin(ctx)
}

// serve reads requests on the listening socket and sends each admitted one
// from its own goroutine and socket (sender).
func (f *front) serve(ctx context.Context) error {
	defer func() { f.stopGrace() }()
	errc := make(chan error, 1)
	go func() { errc <- f.loop() }()
	select {
	case err := <-errc:
		// The socket broke under us; transfers already running go on.
		f.closeConn()
		f.wg.Wait()
		return err
	case <-ctx.Done():
	}
	f.drain()
	f.graceTimer()
	err := <-errc // the drain wakes the loop, which then returns nil
	f.wg.Wait()
	f.closeConn()
	return err
}

// graceTimer aborts running transfers once ShutdownGrace is over.
func (f *front) graceTimer() {
	if f.s.cfg.ShutdownGrace > 0 {
		t := time.AfterFunc(f.s.cfg.ShutdownGrace, func() {
			f.s.log.Warn("tftp shutdown grace over: aborting transfers", "active", f.s.c.active.Load())
			f.abortAll()
		})
		f.stopGrace = func() { t.Stop() }
	}
}

// loop reads the listening socket until it breaks or the server drains:
// many requests per system call (recvmmsg) where the socket gives the
// interface and destination of each, one at a time otherwise.
func (f *front) loop() error {
	if f.pc4 != nil || f.pc6 != nil {
		return f.loopBatch()
	}
	for {
		n, src, ifIndex, dst, err := f.read()
		if f.isDraining() {
			return nil
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		f.request(f.buf[:n], src, ifIndex, dst, time.Now())
	}
}

// readBatch is how many datagrams one recvmmsg may return, and
// requestBuffer the room for each: RFC 2347 keeps a request within 512
// bytes, and one longer than the buffer is dropped as malformed.
const (
	readBatch     = 32
	requestBuffer = 2048
)

func (f *front) loopBatch() error {
	ms := make([]ipv4.Message, readBatch) // ipv6.Message is the same type
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, requestBuffer)}
		if f.pc4 != nil {
			ms[i].OOB = ipv4.NewControlMessage(ipv4.FlagInterface | ipv4.FlagDst)
		} else {
			ms[i].OOB = ipv6.NewControlMessage(ipv6.FlagInterface | ipv6.FlagDst)
		}
	}
	for {
		var n int
		var err error
		if f.pc4 != nil {
			n, err = f.pc4.ReadBatch(ms, 0)
		} else {
			n, err = f.pc6.ReadBatch(ms, 0)
		}
		if f.isDraining() {
			return nil
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		now := time.Now() // one clock read per system call
		for i := range ms[:n] {
			m := &ms[i]
			var ifIndex int
			var dst net.IP
			if f.pc4 != nil {
				var cm ipv4.ControlMessage
				if cm.Parse(m.OOB[:m.NN]) == nil {
					ifIndex, dst = cm.IfIndex, cm.Dst
				}
			} else {
				var cm ipv6.ControlMessage
				if cm.Parse(m.OOB[:m.NN]) == nil {
					ifIndex, dst = cm.IfIndex, cm.Dst
				}
			}
			m.OOB = m.OOB[:cap(m.OOB)]
			src, _ := m.Addr.(*net.UDPAddr)
			f.request(m.Buffers[0][:m.N], src, ifIndex, dst, now)
		}
	}
}

// request handles one datagram read from the listening socket.
func (f *front) request(pkt []byte, src *net.UDPAddr, ifIndex int, dst net.IP, now time.Time) {
	if src == nil || len(pkt) < 2 {
		f.s.c.drop(DropStray)
		return
	}
	op := Opcode(binary.BigEndian.Uint16(pkt))
	if op != OpRRQ && op != OpWRQ {
		f.s.c.drop(DropStray)
		return
	}
	if f.overRefusals(src, now) {
		return
	}
	if len(pkt) >= requestBuffer {
		// It filled the buffer: possibly cut off, so not parsed.
		f.s.c.requests.Add(1)
		peer := src.AddrPort()
		f.refuse(src, netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()), "", ErrIllegalOperation, DropMalformed,
			fmt.Errorf("request of %d bytes or more: longer than a TFTP request", requestBuffer))
		return
	}
	f.admit(pkt, src, dst, ifIndex, 0)
}

// refusalKey is a client address as the refusal budget knows it.
func refusalKey(src *net.UDPAddr) [16]byte {
	var k [16]byte
	copy(k[:], src.IP.To16())
	return k
}

// overRefusals drops and counts a request from an address with no refusal
// budget left. It takes none: refuse spends it.
func (f *front) overRefusals(src *net.UDPAddr, now time.Time) bool {
	k := refusalKey(src)
	if _, ok := f.s.refusals.Peek(k[:], now); ok {
		return false
	}
	f.s.c.requests.Add(1)
	f.s.c.drop(DropRefusalRate)
	if held, ok := f.s.pace.allow(DropRefusalRate); ok {
		f.s.log.Warn("tftp requests dropped: the client had too many refused", "peer", src,
			"rate", f.s.cfg.RefusalRate, "burst", f.s.cfg.RefusalBurst, "suppressed", held)
	}
	return true
}

func (f *front) isDraining() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.draining
}

// transfer is a request the front end admitted: path checked, file open.
type transfer struct {
	key     string
	peer    netip.AddrPort
	name    string
	file    fs.File
	size    int64
	blksize int
	mode    string
	started bool
	done    bool
}

// front sits between the socket and pin/tftp: it parses and checks every
// request itself (paths, writes, limits, MTU), answers refusals with the
// right ERROR code, and hands pin/tftp only clean read requests rewritten
// with the options it should honour.
type front struct {
	s      *Server
	conn   net.PacketConn
	pc4    *ipv4.PacketConn
	pc6    *ipv6.PacketConn
	single bool
	buf    []byte
	out    []byte

	netns    sockNetns      // where per-transfer sockets are opened
	wg       sync.WaitGroup // senders
	mu       sync.Mutex
	active   map[string]*transfer
	senders  map[*sender]struct{}
	handed   *transfer // pin/tftp's request in hand (single-port mode)
	draining bool
	aborting bool

	abort     chan struct{} // closed when ShutdownGrace ran out
	stopGrace func()
	closed    chan struct{}
	closeOnce sync.Once
	dead      chan struct{}
	deadOnce  sync.Once
	deadErr   error
}

func newFront(s *Server, conn net.PacketConn) *front {
	f := &front{
		s: s, conn: conn, single: s.cfg.SinglePort,
		buf:    make([]byte, 65536),
		active: make(map[string]*transfer), senders: make(map[*sender]struct{}),
		abort: make(chan struct{}), stopGrace: func() {},
		closed: make(chan struct{}), dead: make(chan struct{}),
	}
	if !f.single {
		f.netns = newSockNetns(conn)
	}
	deepenQueue(conn)
	if uc, ok := conn.(*net.UDPConn); ok {
		// The interface a request came in on gives the MTU that bounds
		// blksize.
		if la, ok := uc.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
			f.pc4 = ipv4.NewPacketConn(uc)
			if f.pc4.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true) != nil {
				f.pc4 = nil
			}
		} else {
			f.pc6 = ipv6.NewPacketConn(uc)
			if f.pc6.SetControlMessage(ipv6.FlagInterface|ipv6.FlagDst, true) != nil {
				f.pc6 = nil
			}
		}
	}
	return f
}

// jumboBlockSize fills a 9000-byte jumbo frame.
const jumboBlockSize = 9000 - 20 - 8 - tftpHeader

func (f *front) maxBlock() int {
	if f.s.cfg.MaxBlockSize > 0 {
		return f.s.cfg.MaxBlockSize
	}
	if f.single {
		// pin/tftp's single-port loop allocates a buffer this large for
		// every packet it reads; jumbo frames are the largest real links.
		return jumboBlockSize
	}
	return MaxBlockSize
}

func (f *front) read() (int, *net.UDPAddr, int, net.IP, error) {
	var (
		n     int
		src   net.Addr
		ifidx int
		dst   net.IP
		err   error
	)
	switch {
	case f.pc4 != nil:
		var cm *ipv4.ControlMessage
		n, cm, src, err = f.pc4.ReadFrom(f.buf)
		if cm != nil {
			ifidx, dst = cm.IfIndex, cm.Dst
		}
	case f.pc6 != nil:
		var cm *ipv6.ControlMessage
		n, cm, src, err = f.pc6.ReadFrom(f.buf)
		if cm != nil {
			ifidx, dst = cm.IfIndex, cm.Dst
		}
	default:
		n, src, err = f.conn.ReadFrom(f.buf)
	}
	if err != nil {
		return 0, nil, 0, nil, err
	}
	ua, _ := src.(*net.UDPAddr) // pin/tftp needs *net.UDPAddr
	return n, ua, ifidx, dst, nil
}

// linkLimit is the largest blksize whose DATA packet fits the MTU of the
// interface the request came in on.
func (f *front) linkLimit(ifIndex int, src *net.UDPAddr) int {
	limit := f.maxBlock()
	if ifIndex <= 0 {
		// No interface information: assume Ethernet, the common case.
		return min(limit, 1500-20-8-tftpHeader)
	}
	mtu, ok := linkMTU(f.conn, ifIndex)
	if !ok {
		return min(limit, 1500-20-8-tftpHeader)
	}
	overhead := 20 + 8 + tftpHeader // IPv4 + UDP + TFTP DATA header
	if src.IP.To4() == nil {
		overhead = 40 + 8 + tftpHeader
	}
	return max(DefaultBlockSize, min(limit, mtu-overhead))
}

// admit checks a request and opens its file. Outside single-port mode it
// starts the transfer's sender and returns false; in single-port mode it
// returns the packet pin/tftp should see. A request that fails a check is
// refused (ERROR packet) or dropped, and counted by reason.
func (f *front) admit(pkt []byte, src *net.UDPAddr, dst net.IP, ifIndex, room int) ([]byte, bool) {
	f.s.c.requests.Add(1)
	req, t, ok := f.accept(pkt, src)
	if !ok {
		return nil, false
	}
	if f.single {
		return f.handOver(req, t, src, ifIndex, room)
	}
	window := 0 // not negotiated: lock-step
	if win, ok := req.WindowSize(); ok && f.s.cfg.MaxWindowSize > 1 && req.Mode == "octet" {
		window = min(win, f.s.cfg.MaxWindowSize)
	}
	f.startSender(req, src, dst, ifIndex, t, window)
	return nil, false
}

// accept parses and checks a request, takes a transfer slot and opens the
// file.
func (f *front) accept(pkt []byte, src *net.UDPAddr) (Request, *transfer, bool) {
	s := f.s
	peer := src.AddrPort()
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	key := src.String()

	req, err := ParseRequest(pkt)
	if err != nil {
		f.refuse(src, peer, "", ErrIllegalOperation, DropMalformed, fmt.Errorf("malformed request: %w", err))
		return req, nil, false
	}
	if req.Op == OpWRQ {
		f.refuse(src, peer, req.Filename, ErrAccessViolation, DropWriteRequest, errors.New("write requests refused: read-only server"))
		return req, nil, false
	}
	f.mu.Lock()
	draining := f.draining
	_, dup := f.active[key]
	f.mu.Unlock()
	if draining {
		s.c.drop(DropBusy)
		return req, nil, false
	}
	if dup {
		// The client sent its request again before our first packet came
		// back; the running transfer answers it.
		s.c.drop(DropDuplicate)
		return req, nil, false
	}
	name, err := CleanPath(req.Filename)
	if err == nil {
		err = checkSymlinks(s.cfg.Root, name)
	}
	if err != nil {
		f.refuse(src, peer, req.Filename, ErrAccessViolation, DropPathRefused, err)
		return req, nil, false
	}
	if !f.acquire() {
		s.c.drop(DropBusy)
		if held, ok := s.pace.allow(DropBusy); ok {
			s.log.Warn("tftp request dropped: too many transfers", "peer", peer, "file", name, "max", s.cfg.MaxTransfers, "suppressed", held)
		}
		f.emit(Event{Kind: EventBusy, Peer: peer, File: name, Reason: DropBusy, Err: errors.New("too many transfers")})
		return req, nil, false
	}
	file, size, code, err := f.open(name)
	if err != nil {
		f.release()
		why := DropPathRefused
		if code == ErrFileNotFound {
			why = DropNotFound
		}
		f.refuse(src, peer, name, code, why, err)
		return req, nil, false
	}
	return req, &transfer{key: key, peer: peer, name: name, file: file, size: size, mode: req.Mode}, true
}

func (f *front) open(name string) (fs.File, int64, ErrorCode, error) {
	file, err := f.s.cfg.Root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, 0, ErrAccessViolation, fmt.Errorf("%w: %v", ErrPathRefused, err)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, ErrFileNotFound, fmt.Errorf("file not found: %s", name)
		}
		// os.Root refuses links out of the tree with an error of its own.
		return nil, 0, ErrAccessViolation, fmt.Errorf("%w: %v", ErrPathRefused, err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, ErrFileNotFound, fmt.Errorf("stat %s: %v", name, err)
	}
	if !fi.Mode().IsRegular() {
		file.Close()
		return nil, 0, ErrFileNotFound, fmt.Errorf("not a regular file: %s", name)
	}
	return file, fi.Size(), 0, nil
}

func (f *front) acquire() bool {
	c := &f.s.c.active
	for {
		n := c.Load()
		if n >= int64(f.s.cfg.MaxTransfers) {
			return false
		}
		if c.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (f *front) release() { f.s.c.active.Add(-1) }

// finish releases an admitted transfer exactly once.
func (f *front) finish(t *transfer) {
	f.mu.Lock()
	if t.done {
		f.mu.Unlock()
		return
	}
	t.done = true
	if f.active[t.key] == t {
		delete(f.active, t.key)
	}
	f.mu.Unlock()
	t.file.Close()
	f.release()
}

// refuse answers a request with an ERROR packet, and counts and reports
// it.
func (f *front) refuse(src *net.UDPAddr, peer netip.AddrPort, file string, code ErrorCode, why DropReason, err error) {
	f.s.c.drop(why)
	k := refusalKey(src)
	f.s.refusals.Allow(k[:], time.Now())
	pkt := AppendError(nil, code, err.Error())
	if _, werr := f.conn.WriteTo(pkt, src); werr != nil {
		f.s.log.Debug("tftp error packet not sent", "peer", peer, "err", werr)
	} else {
		f.s.c.sentError(code)
	}
	if held, ok := f.s.pace.allow(why); ok {
		f.s.log.Warn("tftp request refused", "peer", peer, "file", file, "code", int(code), "err", err, "suppressed", held)
	}
	f.emit(Event{Kind: EventRefused, Peer: peer, File: file, Code: code, Reason: why, Err: err})
}

func (f *front) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if f.s.cfg.MACForIP != nil && ev.MAC == nil {
		if mac, ok := f.s.cfg.MACForIP(ev.Peer.Addr()); ok {
			ev.MAC = mac
		}
	}
	if f.s.cfg.OnEvent != nil {
		f.s.cfg.OnEvent(ev)
	}
}

// drain stops admitting requests and wakes a read blocked on the socket.
func (f *front) drain() {
	f.mu.Lock()
	f.draining = true
	f.mu.Unlock()
	if !f.single {
		_ = f.conn.SetReadDeadline(time.Now())
	}
}

func (f *front) closeConn() {
	f.closeOnce.Do(func() {
		close(f.closed)
		f.conn.Close()
		f.netns.close()
	})
}

// errShuttingDown aborts transfers still running when ShutdownGrace ends.
var errShuttingDown = errors.New("server shutting down")

// report counts, logs and emits the outcome of a transfer.
func (f *front) report(ev Event, err error, attrs ...any) {
	attrs = append([]any{"peer", ev.Peer, "file", ev.File, "bytes", ev.Bytes, "blksize", ev.BlockSize}, attrs...)
	switch {
	case err == nil:
		f.s.c.sent.Add(1)
		ev.Kind = EventSent
		attrs = append(attrs, "duration", ev.Duration)
		if ev.FinalACKLost {
			attrs = append(attrs, "final_ack", "lost")
		}
		f.s.log.Info("tftp sent", attrs...)
	case clientAborted(err):
		f.s.c.aborted.Add(1)
		ev.Kind, ev.Err = EventAborted, err
		f.s.log.Info("tftp transfer ended by the client", append(attrs, "err", err)...)
	default:
		f.s.c.failed.Add(1)
		ev.Kind, ev.Err = EventFailed, err
		f.s.log.Warn("tftp transfer failed", append(attrs, "err", err)...)
	}
	f.emit(ev)
}

// clientAborted tells whether a transfer ended on the client's ERROR
// packet: errPeer from the windowed sender, or pin/tftp's
// "sending block N: code=C, error: ..." (it has no error type for it).
func clientAborted(err error) bool {
	var pe *errPeer
	if errors.As(err, &pe) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "sending block ") && strings.Contains(msg, ": code=")
}
