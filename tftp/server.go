package tftp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pin "github.com/pin/tftp/v3"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Defaults for a zero Config.
const (
	DefaultAddr          = ":69"
	DefaultTimeout       = 2 * time.Second
	DefaultRetries       = 5
	DefaultMaxTransfers  = 512
	DefaultShutdownGrace = 30 * time.Second
)

// Config configures a Server. Only Root is required.
type Config struct {
	// Root is the tree served read-only. Prefer Dir (an os.Root) over
	// os.DirFS: both are checked for symbolic links leaving the root, but an
	// os.Root also enforces it in the kernel lookup.
	Root fs.FS
	// Addr is the UDP address Serve listens on; DefaultAddr when empty.
	// ServeConn ignores it.
	Addr string
	// MaxBlockSize caps the negotiated blksize. Zero means the link MTU of
	// the interface the request came in on is the only cap.
	MaxBlockSize int
	// Timeout is how long a block waits for its ACK before it is sent again
	// (DefaultTimeout when zero). A client's RFC 2349 timeout option
	// overrides it for its transfer, except in SinglePort mode.
	Timeout time.Duration
	// Retries is how many times a block is sent before the transfer fails
	// (DefaultRetries when zero).
	Retries int
	// MaxTransfers bounds concurrent transfers (DefaultMaxTransfers when
	// zero). A request beyond it is dropped and counted: the client sends
	// it again after its own timeout, which spreads a boot storm.
	MaxTransfers int
	// ShutdownGrace is how long in-flight transfers may run after the
	// context is cancelled before they are aborted with an ERROR packet
	// (DefaultShutdownGrace when zero, negative for no limit; a transfer
	// whose client went silent still ends after Timeout × Retries).
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
	// Logger receives one record per transfer and per refused request;
	// nothing is logged when nil.
	Logger *slog.Logger
	// OnEvent, when set, is called for every transfer and refused request,
	// from the serving goroutines: it must be safe for concurrent use and
	// must not block.
	OnEvent func(Event)
	// MACForIP, when set, gives the MAC address the DHCP lease knows for a
	// peer, so events carry it.
	MACForIP func(netip.Addr) (net.HardwareAddr, bool)
}

// Validate reports every invalid field of c.
func (c Config) Validate() error {
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
	return errs.ToAggregate()
}

// EventKind says what happened to a request.
type EventKind string

// Event kinds.
const (
	EventSent    EventKind = "sent"    // the whole file was acknowledged
	EventFailed  EventKind = "failed"  // a transfer started and did not finish
	EventRefused EventKind = "refused" // the request got an ERROR packet
	EventBusy    EventKind = "busy"    // dropped: MaxTransfers reached
	// EventAborted: the client ended the transfer with an ERROR packet.
	// UEFI firmware does so after the OACK when it only wanted the size
	// (tsize), before asking again for the file.
	EventAborted EventKind = "aborted"
)

// Event describes one request: a finished or failed transfer, or a refusal.
type Event struct {
	Time      time.Time
	Kind      EventKind
	Peer      netip.AddrPort
	MAC       net.HardwareAddr // from Config.MACForIP; nil when unknown
	File      string           // the cleaned path, or the name as sent when refused before cleaning
	Size      int64            // file size
	Bytes     int64            // bytes sent (on the wire: more than Size in netascii)
	BlockSize int              // negotiated block size
	// WindowSize is the RFC 7440 window granted; 0 for a lock-step transfer.
	WindowSize int
	Duration   time.Duration
	Code       ErrorCode // the code of the ERROR packet sent (EventRefused)
	Err        error     // why it failed or was refused
}

// Stats are counters since the Server was created.
type Stats struct {
	Requests     uint64 // RRQ and WRQ packets seen on the listening socket
	Sent         uint64 // transfers completed
	Failed       uint64 // transfers started but not completed
	Aborted      uint64 // transfers the client ended with an ERROR packet
	BytesSent    uint64
	WriteRefused uint64 // WRQs refused
	PathRefused  uint64 // traversal, control characters, symlinks out of the root
	NotFound     uint64 // no such file, or not a regular file
	Malformed    uint64 // request packets that do not parse
	Busy         uint64 // requests dropped at MaxTransfers or while shutting down
	Duplicate    uint64 // retransmitted requests for a transfer already running
	Stray        uint64 // non-request packets on the listening socket
	Active       int64  // transfers running now
}

type counters struct {
	requests, sent, failed, aborted, bytes, write, path, notFound, malformed, busy, dup, stray atomic.Uint64
	active                                                                                     atomic.Int64
}

// Server is a read-only TFTP server. Create it with New; it may serve
// several sockets at once, sharing its limits and counters.
type Server struct {
	cfg Config
	log *slog.Logger
	c   counters
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log}, nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.c
	return Stats{
		Requests: c.requests.Load(), Sent: c.sent.Load(), Failed: c.failed.Load(), Aborted: c.aborted.Load(),
		BytesSent: c.bytes.Load(), WriteRefused: c.write.Load(), PathRefused: c.path.Load(),
		NotFound: c.notFound.Load(), Malformed: c.malformed.Load(), Busy: c.busy.Load(),
		Duplicate: c.dup.Load(), Stray: c.stray.Load(), Active: c.active.Load(),
	}
}

// Serve listens on Config.Addr and serves until ctx is cancelled; see
// ServeConn.
func (s *Server) Serve(ctx context.Context) error {
	conn, err := net.ListenPacket("udp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.ServeConn(ctx, conn)
}

// ServeConn serves requests arriving on conn, a UDP socket, until ctx is
// cancelled, then stops taking requests, lets running transfers finish for
// up to Config.ShutdownGrace, and returns nil once they are all done. It
// closes conn before returning.
func (s *Server) ServeConn(ctx context.Context, conn net.PacketConn) error {
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

// loop reads the listening socket until it breaks or the server drains.
func (f *front) loop() error {
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
		if src == nil || n < 2 {
			f.s.c.stray.Add(1)
			continue
		}
		op := Opcode(binary.BigEndian.Uint16(f.buf))
		if op != OpRRQ && op != OpWRQ {
			f.s.c.stray.Add(1)
			continue
		}
		f.admit(f.buf[:n], src, dst, ifIndex, 0)
	}
}

func (f *front) isDraining() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.draining
}

// servePin serves in single-port mode, through pin/tftp.
func (f *front) servePin(ctx context.Context) error {
	defer func() { f.stopGrace() }()
	s := f.s
	ps := pin.NewServer(f.handleRead, nil)
	ps.SetHook(pinHook{f})
	ps.SetTimeout(s.cfg.Timeout)
	ps.SetRetries(s.cfg.Retries)
	// pin/tftp sleeps up to a second before each retransmission by default;
	// the ACK timeout already spaced it.
	ps.SetBackoff(func(int) time.Duration { return 0 })
	// The front end clamps blksize to the link MTU itself (pin/tftp's own
	// clamp forgets the 4-byte DATA header and swaps the IPv4/IPv6
	// overheads in single-port mode).
	ps.SetBlockSizeNegotiation(false)
	ps.EnableSinglePort()
	// Single-port mode reads every packet into a buffer of this size, so
	// keep it no larger than what may be negotiated.
	ps.SetBlockSize(f.maxBlock())
	errc := make(chan error, 1)
	go func() { errc <- ps.Serve(f) }()

	select {
	case err := <-errc:
		f.closeConn()
		return err
	case <-f.dead:
		// Close first: in single-port mode pin/tftp's Shutdown does not,
		// and its loop waits in ReadFrom for the close.
		f.closeConn()
		ps.Shutdown()
		<-errc
		return f.deadErr
	case <-ctx.Done():
	}

	f.drain()
	f.graceTimer()
	ps.Shutdown()
	<-errc
	f.closeConn()
	return nil
}

// pinHook receives pin/tftp's failure reports. Transfer outcomes are taken
// from the read handler instead; what matters here is a request pin/tftp
// could not start (zero stats), so its slot is released.
type pinHook struct{ f *front }

// OnSuccess ignores pin/tftp's success report: handleRead emits the event.
func (h pinHook) OnSuccess(pin.TransferStats) {}

// OnFailure releases a request pin/tftp could not start.
func (h pinHook) OnFailure(st pin.TransferStats, err error) {
	if st.Filename == "" {
		h.f.handoverFailed(err)
	}
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

// ReadFrom is what pin/tftp's loop reads in single-port mode: admitted
// requests (rewritten) and the ACKs of running transfers.
func (f *front) ReadFrom(p []byte) (int, net.Addr, error) {
	f.mu.Lock()
	f.handed = nil
	f.mu.Unlock()
	for {
		n, src, ifIndex, dst, err := f.read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return 0, nil, err // pin/tftp's single-port shutdown relies on it
			}
			select {
			case <-f.closed:
				return 0, nil, err
			default:
			}
			// The socket broke under us: let ServeConn stop pin/tftp, and
			// do not let its loop spin on the error meanwhile.
			f.deadOnce.Do(func() { f.deadErr = err; close(f.dead) })
			<-f.closed
			return 0, nil, err
		}
		if src == nil || n < 2 {
			f.s.c.stray.Add(1)
			continue
		}
		op := Opcode(binary.BigEndian.Uint16(f.buf))
		if op != OpRRQ && op != OpWRQ {
			return copy(p, f.buf[:n]), src, nil
		}
		if pkt, ok := f.admit(f.buf[:n], src, dst, ifIndex, len(p)); ok {
			return copy(p, pkt), src, nil
		}
	}
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

// admit checks a request and returns the packet pin/tftp should see, or
// refuses it (ERROR packet or drop) and returns false.
func (f *front) admit(pkt []byte, src *net.UDPAddr, dst net.IP, ifIndex, room int) ([]byte, bool) {
	s := f.s
	s.c.requests.Add(1)
	peer := src.AddrPort()
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	key := src.String()

	req, err := ParseRequest(pkt)
	if err != nil {
		s.c.malformed.Add(1)
		f.refuse(src, peer, "", ErrIllegalOperation, fmt.Errorf("malformed request: %w", err))
		return nil, false
	}
	if req.Op == OpWRQ {
		s.c.write.Add(1)
		f.refuse(src, peer, req.Filename, ErrAccessViolation, errors.New("write requests refused: read-only server"))
		return nil, false
	}
	f.mu.Lock()
	draining := f.draining
	_, dup := f.active[key]
	f.mu.Unlock()
	if draining {
		s.c.busy.Add(1)
		return nil, false
	}
	if dup {
		// The client sent its request again before our first packet came
		// back; the running transfer answers it.
		s.c.dup.Add(1)
		return nil, false
	}
	name, err := CleanPath(req.Filename)
	if err == nil {
		err = checkSymlinks(s.cfg.Root, name)
	}
	if err != nil {
		s.c.path.Add(1)
		f.refuse(src, peer, req.Filename, ErrAccessViolation, err)
		return nil, false
	}
	if !f.acquire() {
		s.c.busy.Add(1)
		s.log.Warn("tftp request dropped: too many transfers", "peer", peer, "file", name, "max", s.cfg.MaxTransfers)
		f.emit(Event{Kind: EventBusy, Peer: peer, File: name, Err: errors.New("too many transfers")})
		return nil, false
	}
	file, size, code, err := f.open(name)
	if err != nil {
		f.release()
		if code == ErrFileNotFound {
			s.c.notFound.Add(1)
		} else {
			s.c.path.Add(1)
		}
		f.refuse(src, peer, name, code, err)
		return nil, false
	}

	if !f.single {
		window := 0 // not negotiated: lock-step
		if win, ok := req.WindowSize(); ok && s.cfg.MaxWindowSize > 1 && req.Mode == "octet" {
			window = min(win, s.cfg.MaxWindowSize)
		}
		f.startSender(req, src, dst, ifIndex, &transfer{key: key, peer: peer, name: name, file: file, size: size, mode: req.Mode}, window)
		return nil, false
	}

	blksize := DefaultBlockSize
	var opts []Option
	if want, ok := req.BlockSize(); ok {
		n := min(want, f.linkLimit(ifIndex, src))
		// pin/tftp cannot send blocks under 512 bytes; leaving the option
		// out makes both sides use 512, which RFC 2347 allows.
		if n >= DefaultBlockSize {
			blksize = n
			opts = append(opts, Option{Name: "blksize", Value: strconv.Itoa(n)})
		}
	}
	if _, ok := req.TransferSize(); ok {
		opts = append(opts, Option{Name: "tsize", Value: "0"}) // the handler sets the size
	}
	out, err := Request{Op: OpRRQ, Filename: name, Mode: req.Mode, Options: opts}.AppendBinary(f.out[:0])
	if err == nil && len(out) > room {
		err = fmt.Errorf("request of %d bytes does not fit pin/tftp's %d-byte buffer", len(out), room)
	}
	if err != nil {
		file.Close()
		f.release()
		s.c.malformed.Add(1)
		f.refuse(src, peer, name, ErrIllegalOperation, err)
		return nil, false
	}
	f.out = out
	t := &transfer{key: key, peer: peer, name: name, file: file, size: size, blksize: blksize, mode: req.Mode}
	f.mu.Lock()
	f.active[key] = t
	f.handed = t
	f.mu.Unlock()
	return out, true
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

// handoverFailed runs when pin/tftp could not start the request just
// handed to it (it reports that with empty stats, before reading again).
func (f *front) handoverFailed(err error) {
	f.mu.Lock()
	t := f.handed
	f.handed = nil
	if t == nil || t.started {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.finish(t)
	f.s.c.failed.Add(1)
	f.s.log.Error("tftp transfer could not start", "peer", t.peer, "file", t.name, "err", err)
	f.emit(Event{Kind: EventFailed, Peer: t.peer, File: t.name, Size: t.size, BlockSize: t.blksize, Err: err})
}

// handleRead is pin/tftp's read handler: it sends the file the front end
// opened for this peer.
func (f *front) handleRead(filename string, rf io.ReaderFrom) error {
	ot, ok := rf.(pin.OutgoingTransfer)
	if !ok {
		return errors.New("pin/tftp transfer without a remote address")
	}
	ra := ot.RemoteAddr()
	f.mu.Lock()
	t := f.active[ra.String()]
	if t != nil {
		t.started = true
	}
	f.mu.Unlock()
	if t == nil || t.name != filename {
		return fmt.Errorf("no admitted request for %s from %s", filename, ra.String())
	}
	defer f.finish(t)
	ot.SetSize(t.size)
	start := time.Now()
	// Buffer file reads: one read(2) per 64 KB instead of one per block.
	r := bufio.NewReaderSize(t.file, 64<<10)
	n, err := rf.ReadFrom(&abortReader{r: r, abort: f.abort})
	ev := Event{Peer: t.peer, File: t.name, Size: t.size, Bytes: n, BlockSize: t.blksize, Duration: time.Since(start)}
	f.s.c.bytes.Add(uint64(n))
	// In netascii, n counts the bytes on the wire (CR LF for LF).
	if err == nil && t.mode == "octet" && n != t.size {
		err = fmt.Errorf("sent %d of %d bytes: the file changed", n, t.size)
	}
	f.report(ev, err)
	// pin/tftp already sent the ERROR packet for a failed transfer;
	// returning nil keeps it from reporting the failure twice.
	return nil
}

func (f *front) refuse(src *net.UDPAddr, peer netip.AddrPort, file string, code ErrorCode, err error) {
	pkt := AppendError(nil, code, err.Error())
	if _, werr := f.conn.WriteTo(pkt, src); werr != nil {
		f.s.log.Debug("tftp error packet not sent", "peer", peer, "err", werr)
	}
	f.s.log.Warn("tftp request refused", "peer", peer, "file", file, "code", int(code), "err", err)
	f.emit(Event{Kind: EventRefused, Peer: peer, File: file, Code: code, Err: err})
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

// The rest makes front a net.PacketConn for pin/tftp.

// WriteTo sends on the listening socket (single-port mode's transfers).
func (f *front) WriteTo(p []byte, addr net.Addr) (int, error) { return f.conn.WriteTo(p, addr) }

// Close is called by pin/tftp's Shutdown.
func (f *front) Close() error { f.closeConn(); return nil }

// LocalAddr is the listening address.
func (f *front) LocalAddr() net.Addr { return f.conn.LocalAddr() }

// SetDeadline passes through to the socket.
func (f *front) SetDeadline(t time.Time) error { return f.conn.SetDeadline(t) }

// SetReadDeadline passes through to the socket.
func (f *front) SetReadDeadline(t time.Time) error { return f.conn.SetReadDeadline(t) }

// SetWriteDeadline passes through to the socket.
func (f *front) SetWriteDeadline(t time.Time) error { return f.conn.SetWriteDeadline(t) }

// errShuttingDown aborts transfers still running when ShutdownGrace ends.
var errShuttingDown = errors.New("server shutting down")

// abortReader ends a transfer once the shutdown grace period is over.
type abortReader struct {
	r     io.Reader
	abort <-chan struct{}
}

// Read fails once the grace period is over, else reads on.
func (a *abortReader) Read(p []byte) (int, error) {
	select {
	case <-a.abort:
		return 0, errShuttingDown
	default:
	}
	return a.r.Read(p)
}

// report counts, logs and emits the outcome of a transfer.
func (f *front) report(ev Event, err error, attrs ...any) {
	attrs = append([]any{"peer", ev.Peer, "file", ev.File, "bytes", ev.Bytes, "blksize", ev.BlockSize}, attrs...)
	switch {
	case err == nil:
		f.s.c.sent.Add(1)
		ev.Kind = EventSent
		f.s.log.Info("tftp sent", append(attrs, "duration", ev.Duration)...)
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
