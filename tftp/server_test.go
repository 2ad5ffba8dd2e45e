package tftp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/pxetest"
)

// testRoot writes the files a test serves: random contents of the given
// sizes, named by size ("1m", "32m", ...).
func testRoot(t testing.TB, sizes ...int) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	rng := rand.New(rand.NewChaCha8([32]byte{1, 2, 3}))
	for _, n := range sizes {
		b := make([]byte, n)
		for i := 0; i+8 <= len(b); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		name := strconv.Itoa(n>>20) + "m"
		if n < 1<<20 {
			name = strconv.Itoa(n) + "b"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return dir, files
}

// eventLog collects a server's events.
type eventLog struct {
	mu sync.Mutex
	ev []Event
	ch chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 1024)} }

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
	select {
	case l.ch <- e:
	default:
	}
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.ev...)
}

// wait returns the next event of kind k (a hang guard, not a timing check).
func (l *eventLog) wait(t *testing.T, k EventKind) Event {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case e := <-l.ch:
			if e.Kind == k {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event; got %+v", k, l.all())
		}
	}
}

type served struct {
	srv  *Server
	addr *net.UDPAddr
	ev   *eventLog
	stop func() // cancels and waits for Serve to return
	done chan error
}

// serve runs a Server on 127.0.0.1 with an ephemeral port until the test ends.
func serve(t *testing.T, cfg Config) *served {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveConn(t, cfg, conn)
}

func serveConn(t *testing.T, cfg Config, conn net.PacketConn) *served {
	t.Helper()
	ev := newEventLog()
	cfg.OnEvent = ev.add
	cfg.Conn = conn
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{srv: srv, addr: conn.LocalAddr().(*net.UDPAddr), ev: ev, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-s.done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(2 * time.Minute):
				t.Errorf("Serve did not return after cancel")
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// tftpHPA fetches name with tftp-hpa (which negotiates no options: 512-byte
// blocks). tftp-hpa exits 0 even on errors, so its output is returned too.
func tftpHPA(t *testing.T, addr *net.UDPAddr, name string) ([]byte, string) {
	t.Helper()
	pxetest.RequireCmd(t, "tftp", "tftp-hpa")
	out := filepath.Join(t.TempDir(), "got")
	cmd := exec.Command("tftp", "-m", "binary", addr.IP.String(), strconv.Itoa(addr.Port), "-c", "get", name, out)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tftp-hpa: %v: %s", err, msg)
	}
	b, _ := os.ReadFile(out)
	return b, string(msg)
}

// atftp fetches name with atftp and the given options ("blksize 1468",
// "tsize 0"); it returns the contents, the output and whether it succeeded.
func atftp(t *testing.T, addr *net.UDPAddr, name string, opts ...string) ([]byte, string, bool) {
	t.Helper()
	pxetest.RequireCmd(t, "atftp", "atftp")
	out := filepath.Join(t.TempDir(), "got")
	args := []string{"--get", "-r", name, "-l", out}
	for _, o := range opts {
		if strings.HasPrefix(o, "--") {
			args = append(args, o)
		} else {
			args = append(args, "--option", o)
		}
	}
	args = append(args, addr.IP.String(), strconv.Itoa(addr.Port))
	msg, err := exec.Command("atftp", args...).CombinedOutput()
	b, _ := os.ReadFile(out)
	return b, string(msg), err == nil
}

func TestRealClientsFetchIntact(t *testing.T) {
	dir, files := testRoot(t, 1<<20, 32<<20)
	root, r, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := serve(t, Config{Root: root, MACForIP: func(a netip.Addr) (net.HardwareAddr, bool) {
		if a == netip.MustParseAddr("127.0.0.1") {
			return net.HardwareAddr{0x52, 0x54, 0x00, 0x6b, 0x13, 0xe2}, true
		}
		return nil, false
	}})

	for _, name := range []string{"1m", "32m"} {
		t.Run("tftp-hpa/"+name, func(t *testing.T) {
			got, msg := tftpHPA(t, s.addr, name)
			if !bytes.Equal(got, files[name]) {
				t.Fatalf("got %d bytes, want %d identical ones; tftp said %q", len(got), len(files[name]), msg)
			}
			ev := s.ev.wait(t, EventSent)
			if ev.File != name || ev.Bytes != int64(len(files[name])) || ev.BlockSize != 512 {
				t.Errorf("event %+v, want %s, %d bytes, blksize 512", ev, name, len(files[name]))
			}
			if ev.MAC.String() != "52:54:00:6b:13:e2" || !ev.Peer.Addr().IsLoopback() {
				t.Errorf("event peer %v MAC %v, want 127.0.0.1 and the lease's MAC", ev.Peer, ev.MAC)
			}
		})
		for _, bs := range []int{512, 1468} {
			t.Run("atftp/"+name+"/blksize"+strconv.Itoa(bs), func(t *testing.T) {
				got, msg, ok := atftp(t, s.addr, name, "blksize "+strconv.Itoa(bs), "tsize 0")
				if !ok || !bytes.Equal(got, files[name]) {
					t.Fatalf("got %d bytes (ok=%v), want %d identical ones; atftp said %q", len(got), ok, len(files[name]), msg)
				}
				ev := s.ev.wait(t, EventSent)
				if ev.BlockSize != bs || ev.Bytes != int64(len(files[name])) || ev.Size != ev.Bytes {
					t.Errorf("event %+v, want blksize %d and %d bytes", ev, bs, len(files[name]))
				}
			})
		}
	}
	st := s.srv.Stats()
	if st.Sent != 6 || st.Failed != 0 || st.BytesSent != 3*(1<<20+32<<20) || st.Active != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The OACK is what a client sees of negotiation: tsize is the file size,
// blksize what was asked for or the server's cap.
func TestAtftpSeesOACK(t *testing.T) {
	dir, _ := testRoot(t, 100000)
	s := serve(t, Config{Root: os.DirFS(dir), MaxBlockSize: 1468})
	for _, c := range []struct{ ask, want string }{{"1024", "1024"}, {"8192", "1468"}} {
		_, msg, ok := atftp(t, s.addr, "100000b", "blksize "+c.ask, "tsize 0", "--trace")
		_ = ok
		want := "received OACK <tsize: 100000, blksize: " + c.want
		if !strings.Contains(msg, want) {
			t.Errorf("blksize %s: atftp trace lacks %q:\n%.600s", c.ask, want, msg)
		}
	}
}

func TestRefusals(t *testing.T) {
	dir, files := testRoot(t, 4096)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "boot", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "boot", "grub.cfg"), files["4096b"], 0o644))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "abs")))
	must(os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel")))
	must(os.Symlink("../../..", filepath.Join(dir, "boot", "sub", "up")))
	must(os.Symlink("4096b", filepath.Join(dir, "inside")))
	must(os.Symlink("../../4096b", filepath.Join(dir, "boot", "sub", "inside")))

	// os.DirFS follows links anywhere: the server's own check must stop them.
	for _, fsName := range []string{"DirFS", "Root"} {
		t.Run(fsName, func(t *testing.T) {
			var root fs.FS = os.DirFS(dir)
			if fsName == "Root" {
				var r *os.Root
				var err error
				root, r, err = Dir(dir)
				must(err)
				defer r.Close()
			}
			s := serve(t, Config{Root: root})
			for _, name := range []string{"../etc/passwd", "/../../etc/passwd", `..\..\etc\passwd`, "boot/../../x",
				"abs", "rel", "boot/sub/up/etc/passwd", "boot/sub/up"} {
				got, msg := tftpHPA(t, s.addr, name)
				if !strings.Contains(msg, "Error code 2") || len(got) != 0 {
					t.Errorf("%q: tftp-hpa got %d bytes and said %q; want error code 2 (access violation)", name, len(got), msg)
				}
			}
			if n := s.srv.Stats().Dropped[DropPathRefused]; n != 8 {
				t.Errorf("dropped %s = %d, want 8", DropPathRefused, n)
			}
			got, msg, ok := atftp(t, s.addr, "../../etc/passwd")
			if ok || len(got) != 0 || !strings.Contains(msg, `climbs out with ".."`) {
				t.Errorf("atftp traversal: ok=%v, %d bytes, %q", ok, len(got), msg)
			}
			_, msg = tftpHPA(t, s.addr, "missing")
			if !strings.Contains(msg, "Error code 1") {
				t.Errorf("missing file: %q, want error code 1", msg)
			}
			_, msg = tftpHPA(t, s.addr, "boot")
			if !strings.Contains(msg, "Error code 1") || !strings.Contains(msg, "not a regular file") {
				t.Errorf("directory: %q, want error code 1", msg)
			}
			// Leading slashes, backslashes and links that stay inside work.
			for _, name := range []string{"/4096b", `\boot\grub.cfg`, "inside", "boot/sub/inside"} {
				if got, msg := tftpHPA(t, s.addr, name); !bytes.Equal(got, files["4096b"]) {
					t.Errorf("%q: got %d bytes, %q", name, len(got), msg)
				}
			}
			var refused int
			for _, e := range s.ev.all() {
				if e.Kind == EventRefused {
					refused++
					if e.Err == nil || e.Code == 0 || e.Reason == "" {
						t.Errorf("refusal event without a reason: %+v", e)
					}
				}
			}
			if refused != 11 {
				t.Errorf("%d refusal events, want 11", refused)
			}
			if got := s.srv.Stats().ErrorsSent; got[ErrAccessViolation] != 9 || got[ErrFileNotFound] != 2 || len(got) != 2 {
				t.Errorf("ERROR packets sent by code %v, want 9 access violations and 2 file-not-found", got)
			}
		})
	}
}

func TestWriteRefused(t *testing.T) {
	pxetest.RequireCmd(t, "tftp", "tftp-hpa")
	dir, _ := testRoot(t)
	s := serve(t, Config{Root: os.DirFS(dir)})
	local := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(local, []byte("payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	msg, _ := exec.Command("tftp", "-m", "binary", "127.0.0.1", strconv.Itoa(s.addr.Port), "-c", "put", local, "upload").CombinedOutput()
	if !strings.Contains(string(msg), "Error code 2: write requests refused") {
		t.Errorf("tftp-hpa put said %q, want error code 2", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "upload")); err == nil {
		t.Error("the upload was written")
	}
	if st := s.srv.Stats(); st.Dropped[DropWriteRequest] != 1 {
		t.Errorf("stats %+v, want 1 write refused", st)
	}
}

// gateFS serves one file whose reads past the first blocks wait for open.
type gateFS struct {
	data    []byte
	open    chan struct{}
	blocked chan struct{} // receives once when a read first waits
}

func (g *gateFS) Open(name string) (fs.File, error) {
	if name != "slow" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &gateFile{g: g, r: bytes.NewReader(g.data)}, nil
}

type gateFile struct {
	g    *gateFS
	r    *bytes.Reader
	once sync.Once
}

func (f *gateFile) Stat() (fs.FileInfo, error) { return gateInfo(len(f.g.data)), nil }
func (f *gateFile) Close() error               { return nil }
func (f *gateFile) Read(p []byte) (int, error) {
	off := f.r.Size() - int64(f.r.Len())
	if off >= 4096 {
		f.once.Do(func() { f.g.blocked <- struct{}{} })
		<-f.g.open
	} else if int64(len(p)) > 4096-off {
		p = p[:4096-off] // stop at the gate even when the server reads ahead
	}
	return f.r.Read(p)
}

type gateInfo int

func (g gateInfo) Name() string       { return "slow" }
func (g gateInfo) Size() int64        { return int64(g) }
func (g gateInfo) Mode() fs.FileMode  { return 0o444 }
func (g gateInfo) ModTime() time.Time { return time.Time{} }
func (g gateInfo) IsDir() bool        { return false }
func (g gateInfo) Sys() any           { return nil }

func newGate(n int) *gateFS {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return &gateFS{data: data, open: make(chan struct{}), blocked: make(chan struct{}, 1)}
}

func TestShutdownLetsTransfersFinish(t *testing.T) {
	for _, mode := range []string{"socketPerTransfer", "singlePort", "windowed"} {
		t.Run(mode, func(t *testing.T) {
			g := newGate(64 << 10)
			s := serve(t, Config{Root: g, SinglePort: mode == "singlePort", MaxWindowSize: 8})
			type res struct {
				b   []byte
				msg string
				ok  bool
			}
			var opts []string
			if mode == "windowed" {
				opts = []string{"windowsize 8"}
			}
			rc := make(chan res, 1)
			go func() { b, msg, ok := atftp(t, s.addr, "slow", opts...); rc <- res{b, msg, ok} }()
			<-g.blocked
			stopped := make(chan struct{})
			go func() { s.stop(); close(stopped) }()
			// New requests are no longer taken while the transfer runs.
			waitFor(t, func() bool { return s.srv.Stats().Active == 1 })
			select {
			case <-stopped:
				t.Fatal("Serve returned while a transfer was running")
			default:
			}
			close(g.open)
			r := <-rc
			if !r.ok || !bytes.Equal(r.b, g.data) {
				t.Fatalf("transfer across shutdown: ok=%v, %d bytes, %q", r.ok, len(r.b), r.msg)
			}
			<-stopped
			if e := s.ev.wait(t, EventSent); e.File != "slow" {
				t.Errorf("event %+v", e)
			}
		})
	}
}

// logSignal is a slog handler that reports when a message is logged.
type logSignal struct {
	msg string
	ch  chan struct{}
}

func (l *logSignal) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSignal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == l.msg {
		select {
		case l.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
func (l *logSignal) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSignal) WithGroup(string) slog.Handler      { return l }

func TestShutdownGraceAborts(t *testing.T) {
	g := newGate(64 << 10)
	sig := &logSignal{msg: "tftp shutdown grace over: aborting transfers", ch: make(chan struct{}, 1)}
	s := serve(t, Config{Root: g, ShutdownGrace: time.Millisecond, Logger: slog.New(sig)})
	type res struct {
		msg string
		ok  bool
	}
	rc := make(chan res, 1)
	go func() { _, msg, ok := atftp(t, s.addr, "slow"); rc <- res{msg, ok} }()
	<-g.blocked
	go s.stop()
	<-sig.ch
	close(g.open)
	r := <-rc
	if r.ok || !strings.Contains(r.msg, "server shutting down") {
		t.Errorf("atftp ok=%v said %q; want the shutdown error", r.ok, r.msg)
	}
	if e := s.ev.wait(t, EventFailed); e.Err == nil || e.Bytes >= int64(len(g.data)) {
		t.Errorf("event %+v, want a failed, partial transfer", e)
	}
}

func TestMaxTransfersDropsAndRecovers(t *testing.T) {
	g := newGate(64 << 10)
	s := serve(t, Config{Root: g, MaxTransfers: 1})
	rc := make(chan bool, 1)
	go func() { b, _, ok := atftp(t, s.addr, "slow"); rc <- ok && bytes.Equal(b, g.data) }()
	<-g.blocked

	// A second client, raw: its request is dropped while the first runs.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := rrq("slow", "octet")
	if _, err := c.WriteTo(req, s.addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.srv.Stats().Dropped[DropBusy] == 1 })
	if e := s.ev.wait(t, EventBusy); e.File != "slow" {
		t.Errorf("busy event %+v", e)
	}
	close(g.open)
	if !<-rc {
		t.Fatal("first transfer failed")
	}
	waitFor(t, func() bool { return s.srv.Stats().Active == 0 })
	// The client's retransmitted request is served now.
	if _, err := c.WriteTo(req, s.addr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	n, err := c.Read(buf)
	if err != nil || n < 4 || Opcode(buf[1]) != OpDATA || buf[3] != 1 {
		t.Fatalf("after the first transfer: %v %x, want DATA block 1", err, buf[:n])
	}
}

// waitFor polls cond (a hang guard, not a timing check).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 12000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition never held")
}

func TestConfigValidate(t *testing.T) {
	bad := Config{MaxBlockSize: 100, Timeout: -1, MaxTransfers: -2}
	var fields []string
	for _, e := range bad.Validate() {
		fields = append(fields, e.Field)
	}
	if got := strings.Join(fields, " "); got != "root maxBlockSize timeout maxTransfers" {
		t.Errorf("Validate paths %q, want root maxBlockSize timeout maxTransfers", got)
	}
	if errs := (Config{Root: fstest.MapFS{}}).Validate(); len(errs) != 0 {
		t.Errorf("a Config with only Root: %v", errs)
	}
	_, err := New(bad)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"root: Required", "maxBlockSize: Invalid value: 100", "timeout: Invalid", "maxTransfers: Invalid"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}

// A nil Logger logs to slog.Default(), as the other servers of pxekit do.
func TestNilLoggerIsDefault(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	s := serve(t, Config{Root: fstest.MapFS{}})
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo(rrq("missing", "octet"), s.addr); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, _, err := c.ReadFrom(make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	s.stop() // the log is complete once Serve has returned
	if !strings.Contains(logs.String(), "tftp request refused") {
		t.Errorf("default logger got %q, want the refusal", logs.String())
	}
}

var _ io.Reader = (*abortReader)(nil)

// RFC 7440: atftp asks for a window; the server grants up to
// MaxWindowSize, and files arrive intact, also across block-number
// rollover (32 MB at 512 bytes is 65537 blocks).
func TestAtftpWindowSize(t *testing.T) {
	dir, files := testRoot(t, 100000, 1<<20, 32<<20)
	s := serve(t, Config{Root: os.DirFS(dir), MaxWindowSize: 32})
	_, msg, ok := atftp(t, s.addr, "100000b", "blksize 1468", "tsize 0", "windowsize 64", "timeout 3", "--trace")
	if !ok || !strings.Contains(msg, "received OACK <") {
		t.Fatalf("atftp: ok=%v %.800s", ok, msg)
	}
	oack := oackOf(msg)
	for _, want := range []string{"tsize: 100000", "blksize: 1468", "windowsize: 32", "timeout: 3"} {
		if !strings.Contains(oack, want) {
			t.Errorf("OACK %q lacks %q", oack, want)
		}
	}
	s.ev.wait(t, EventSent)
	for _, c := range []struct {
		name string
		bs   int
	}{{"1m", 1468}, {"32m", 512}, {"32m", 1468}} {
		got, msg, ok := atftp(t, s.addr, c.name, "blksize "+strconv.Itoa(c.bs), "windowsize 16")
		if !ok || !bytes.Equal(got, files[c.name]) {
			t.Fatalf("%s at %d: ok=%v, %d bytes, want %d identical ones: %.300s", c.name, c.bs, ok, len(got), len(files[c.name]), msg)
		}
		if ev := s.ev.wait(t, EventSent); ev.Bytes != int64(len(files[c.name])) || ev.BlockSize != c.bs || ev.WindowSize != 16 {
			t.Errorf("event %+v, want %d bytes, blksize %d, windowsize 16", ev, len(files[c.name]), c.bs)
		}
	}
	// Without windowsize the transfer is lock-step, and the client's
	// timeout is acknowledged too; windowsize is not.
	_, msg, _ = atftp(t, s.addr, "100000b", "blksize 1468", "timeout 3", "--trace")
	if oack := oackOf(msg); !strings.Contains(oack, "timeout: 3") || !strings.Contains(oack, "blksize: 1468") || strings.Contains(oack, "windowsize") {
		t.Errorf("lock-step OACK %q", oack)
	}
	if ev := s.ev.wait(t, EventSent); ev.WindowSize != 0 {
		t.Errorf("lock-step event has windowsize %d", ev.WindowSize)
	}
}

// oackOf returns the OACK line of an atftp trace.
func oackOf(trace string) string {
	i := strings.Index(trace, "received OACK <")
	if i < 0 {
		return ""
	}
	o := trace[i:]
	if j := strings.Index(o, ">"); j >= 0 {
		o = o[:j]
	}
	return o
}

// Loss on a windowed transfer, played by a raw client since loopback does
// not lose packets (and this kernel has no netem): an ACK in the middle of
// a window restarts the window after it; silence makes the server send the
// window again after its timeout.
func TestWindowRecovery(t *testing.T) {
	data := make([]byte, 10*512+100) // blocks 1..11, the last one short
	for i := range data {
		data[i] = byte(i)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := serve(t, Config{Root: os.DirFS(dir), MaxWindowSize: 4, Timeout: 200 * time.Millisecond})
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo(rrq("f", "octet", "windowsize", "4", "timeout", "1"), s.addr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	var server *net.UDPAddr
	recv := func() (Opcode, uint16, []byte) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // hang guard
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		server = from
		return Opcode(binary.BigEndian.Uint16(buf)), binary.BigEndian.Uint16(buf[2:]), append([]byte(nil), buf[4:n]...)
	}
	ack := func(b uint16) {
		t.Helper()
		if _, err := c.WriteTo([]byte{0, 4, byte(b >> 8), byte(b)}, server); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(blocks ...uint16) {
		t.Helper()
		for _, want := range blocks {
			op, blk, payload := recv()
			if op != OpDATA || blk != want {
				t.Fatalf("got %v block %d, want DATA %d", op, blk, want)
			}
			off := (int(want) - 1) * 512
			if !bytes.Equal(payload, data[off:min(off+512, len(data))]) {
				t.Fatalf("block %d carries the wrong bytes", want)
			}
		}
	}
	if op, _, _ := recv(); op != OpOACK {
		t.Fatalf("got %v, want OACK", op)
	}
	ack(0)
	expect(1, 2, 3, 4)
	ack(2) // 3 and 4 "lost"
	expect(3, 4, 5, 6)
	ack(6)
	expect(7, 8, 9, 10)
	// No ACK: after its timeout the server sends the window again.
	expect(7, 8, 9, 10)
	ack(10)
	expect(11)
	ack(11)
	ev := s.ev.wait(t, EventSent)
	if ev.Bytes != int64(len(data)) {
		t.Errorf("event %+v, want %d bytes", ev, len(data))
	}
	// Only the window that timed out counts as resent; 3 and 4 went again
	// because the client asked.
	if n := s.srv.Stats().Retransmitted; n != 4 {
		t.Errorf("Retransmitted = %d, want 4 (blocks 7-10 after their timeout)", n)
	}
}

// A socket closed under the server ends Serve with the error instead
// of spinning or hanging.
func TestSocketClosedUnderServer(t *testing.T) {
	for _, single := range []bool{false, true} {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{Conn: conn, Root: os.DirFS(t.TempDir()), SinglePort: single})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(context.Background()) }()
		// Let the server block in its read first (a request answers once it does).
		probe, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		_, _ = probe.WriteTo(rrq("missing", "octet"), conn.LocalAddr())
		_ = probe.SetReadDeadline(time.Now().Add(time.Minute))
		if _, _, err := probe.ReadFrom(make([]byte, 512)); err != nil {
			t.Fatal(err)
		}
		probe.Close()
		conn.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("singlePort=%v: Serve returned nil after its socket broke", single)
			}
		case <-time.After(time.Minute):
			t.Fatalf("singlePort=%v: Serve still running after its socket was closed", single)
		}
	}
}

func TestIPv6(t *testing.T) {
	conn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		pxetest.Missing(t, "IPv6 loopback (::1)", "enable IPv6 on lo")
	}
	dir, files := testRoot(t, 1<<20)
	s := serveConn(t, Config{Root: os.DirFS(dir), MaxWindowSize: 16}, conn)
	for _, opts := range [][]string{{"blksize 1468", "tsize 0"}, {"blksize 1468", "windowsize 16"}} {
		got, msg, ok := atftp(t, s.addr, "1m", opts...)
		if !ok || !bytes.Equal(got, files["1m"]) {
			t.Fatalf("%v: ok=%v, %d bytes: %.300s", opts, ok, len(got), msg)
		}
		if ev := s.ev.wait(t, EventSent); ev.Peer.Addr() != netip.IPv6Loopback() || ev.BlockSize != 1468 {
			t.Errorf("event %+v", ev)
		}
	}
	if _, msg, ok := atftp(t, s.addr, "../1m"); ok || !strings.Contains(msg, "climbs out") {
		t.Errorf("traversal over IPv6: ok=%v %q", ok, msg)
	}
}

// UEFI firmware asks for tsize, reads the OACK, and ends the transfer with
// an ERROR before asking again for the file: that is an abort by the
// client, not a failure, on both send paths.
func TestClientAbortAfterOACK(t *testing.T) {
	dir, _ := testRoot(t, 100000)
	s := serve(t, Config{Root: os.DirFS(dir), MaxWindowSize: 8})
	for i, opts := range [][]string{{"tsize", "0", "blksize", "1468"}, {"tsize", "0", "windowsize", "8"}} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WriteTo(rrq(append([]string{"100000b", "octet"}, opts...)...), s.addr); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1024)
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		if Opcode(binary.BigEndian.Uint16(buf)) != OpOACK || !bytes.Contains(buf[:n], []byte("tsize\x00100000\x00")) {
			t.Fatalf("got %q, want an OACK with tsize 100000", buf[:n])
		}
		if _, err := c.WriteTo(AppendError(nil, ErrOptionRefused, "aborted"), from); err != nil {
			t.Fatal(err)
		}
		ev := s.ev.wait(t, EventAborted)
		if ev.Bytes != 0 || ev.Err == nil || !strings.Contains(ev.Err.Error(), "aborted") {
			t.Errorf("event %+v", ev)
		}
		if st := s.srv.Stats(); st.Aborted != uint64(i+1) || st.Failed != 0 {
			t.Errorf("stats %+v", st)
		}
	}
}

// netascii (tftp-hpa's "ascii" mode): line ends travel as CR LF and come
// back as the file had them.
func TestNetascii(t *testing.T) {
	pxetest.RequireCmd(t, "tftp", "tftp-hpa")
	dir := t.TempDir()
	text := []byte("#!ipxe\nchain http://192.0.2.1/boot.ipxe\r\nboot\n")
	if err := os.WriteFile(filepath.Join(dir, "boot.txt"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	s := serve(t, Config{Root: os.DirFS(dir)})
	out := filepath.Join(t.TempDir(), "got")
	msg, err := exec.Command("tftp", "-m", "ascii", "127.0.0.1", strconv.Itoa(s.addr.Port), "-c", "get", "boot.txt", out).CombinedOutput()
	if err != nil || len(msg) != 0 {
		t.Fatalf("tftp-hpa: %v %s", err, msg)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, text) {
		t.Errorf("got %q, want %q", got, text)
	}
	if ev := s.ev.wait(t, EventSent); ev.Size != int64(len(text)) || ev.Bytes <= ev.Size {
		t.Errorf("event %+v: want the file size and the larger netascii byte count", ev)
	}
}

// Edge sizes: empty, and an exact multiple of the block size (the last
// DATA is empty), on both send paths.
func TestEdgeSizes(t *testing.T) {
	dir := t.TempDir()
	sizes := map[string]int{"empty": 0, "exact": 4 * 512, "one": 1}
	for name, n := range sizes {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{7}, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := serve(t, Config{Root: os.DirFS(dir), MaxWindowSize: 4})
	for name, n := range sizes {
		for _, opts := range [][]string{nil, {"tsize 0"}, {"windowsize 4", "tsize 0"}} {
			got, msg, ok := atftp(t, s.addr, name, opts...)
			if !ok || len(got) != n {
				t.Errorf("%s %v: ok=%v, %d bytes, want %d: %s", name, opts, ok, len(got), n, msg)
				continue
			}
			if ev := s.ev.wait(t, EventSent); ev.Bytes != int64(n) {
				t.Errorf("%s %v: event %+v", name, opts, ev)
			}
		}
	}
}

// Many clients at once, mixing both send paths, all get intact files.
func TestConcurrentClients(t *testing.T) {
	dir, files := testRoot(t, 1<<20)
	s := serve(t, Config{Root: os.DirFS(dir), MaxWindowSize: 16})
	const n = 16
	errs := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := []string{"blksize 1468"}
			switch i % 3 {
			case 1:
				opts = []string{"blksize 512", "tsize 0"}
			case 2:
				opts = append(opts, "windowsize 16")
			}
			got, msg, ok := atftp(t, s.addr, "1m", opts...)
			if !ok || !bytes.Equal(got, files["1m"]) {
				errs <- fmt.Sprintf("client %d %v: ok=%v, %d bytes: %.200s", i, opts, ok, len(got), msg)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	waitFor(t, func() bool { return s.srv.Stats().Sent == n })
	if st := s.srv.Stats(); st.Active != 0 || st.Failed != 0 || st.BytesSent != n<<20 {
		t.Errorf("stats %+v", st)
	}
}

// A client may ask for a 255 s timeout and then go silent: when the
// shutdown grace runs out, the windowed transfer ends at once instead of
// waiting out the client's timeout.
func TestShutdownGraceCutsClientTimeout(t *testing.T) {
	dir, _ := testRoot(t, 100000)
	s := serve(t, Config{Root: os.DirFS(dir), MaxWindowSize: 4, ShutdownGrace: time.Millisecond})
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo(rrq("100000b", "octet", "windowsize", "4", "timeout", "255"), s.addr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, _, err := c.ReadFrom(buf); err != nil || Opcode(buf[1]) != OpOACK {
		t.Fatalf("want an OACK: %v %x", err, buf[:4])
	}
	// No ACK. Stop the server: the hang guard (a minute) is far below 255 s.
	s.stop()
	if ev := s.ev.wait(t, EventFailed); ev.Err == nil || !strings.Contains(ev.Err.Error(), "shutting down") {
		t.Errorf("event %+v", ev)
	}
}

// A client that leaves once it has the last block, its final ACK lost,
// got the whole file: the transfer counts as sent with FinalACKLost. One
// that leaves before the last block was sent is a failure.
func TestClientGoneAfterLastBlock(t *testing.T) {
	data := make([]byte, 3*512+10) // blocks 1..4
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		ackTo  uint16 // the client acknowledges blocks 1..ackTo, then closes its port
		window string
		want   EventKind
	}{
		{"lock-step, final ACK lost", 3, "", EventSent},
		{"window, final ACK lost", 0, "4", EventSent},
		{"lock-step, gone mid-file", 1, "", EventFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, Config{Root: os.DirFS(dir), MaxWindowSize: 4, Timeout: 100 * time.Millisecond, Retries: 5})
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := rrq("f", "octet")
			if tc.window != "" {
				req = rrq("f", "octet", "windowsize", tc.window)
			}
			if _, err := c.WriteTo(req, s.addr); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2048)
			for blk := uint16(0); ; {
				_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // hang guard
				n, from, err := c.ReadFromUDP(buf)
				if err != nil {
					t.Fatal(err)
				}
				op := Opcode(binary.BigEndian.Uint16(buf))
				if op == OpDATA {
					blk = binary.BigEndian.Uint16(buf[2:])
				}
				if (op == OpDATA && n < 4+512) || (tc.window == "" && blk > tc.ackTo) {
					break // leave without acknowledging this block
				}
				if tc.window == "" || op == OpOACK {
					if _, err := c.WriteTo([]byte{0, 4, byte(blk >> 8), byte(blk)}, from); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.Close()
			ev := s.ev.wait(t, tc.want)
			if tc.want == EventSent && (!ev.FinalACKLost || ev.Bytes != int64(len(data))) {
				t.Errorf("event %+v, want FinalACKLost and %d bytes", ev, len(data))
			}
			st := s.srv.Stats()
			if tc.want == EventSent && (st.Sent != 1 || st.FinalACKLost != 1 || st.Failed != 0) {
				t.Errorf("stats %+v, want 1 sent, its final ACK lost", st)
			}
			if tc.want == EventFailed && (st.Sent != 0 || st.Failed != 1) {
				t.Errorf("stats %+v, want 1 failed", st)
			}
		})
	}
}

// TestRefusalBudget: an address that has had RefusalBurst requests
// refused has its next requests dropped unread and counted, while another
// address is still answered; the budget refills at RefusalRate. A
// request longer than any TFTP request is refused as malformed.
func TestRefusalBudget(t *testing.T) {
	dir, _ := testRoot(t, 4096)
	s := serve(t, Config{Root: os.DirFS(dir), RefusalRate: 0.5, RefusalBurst: 3}) // a token every 2 s
	ask := func(ip net.IP, pkt []byte) (Opcode, bool) {
		t.Helper()
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WriteTo(pkt, s.addr); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 1024)
		n, _, err := c.ReadFrom(buf)
		if err != nil || n < 2 {
			return 0, false
		}
		return Opcode(binary.BigEndian.Uint16(buf)), true
	}
	flooder, other := net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)
	for i := range 3 {
		if op, ok := ask(flooder, rrq(fmt.Sprintf("missing%d", i), "octet")); !ok || op != OpERROR {
			t.Fatalf("refusal %d of a burst of 3: answered %v (%v), want ERROR", i, op, ok)
		}
	}
	// Over budget, even a request for a file that exists goes unanswered.
	if op, ok := ask(flooder, rrq("4096b", "octet")); ok {
		t.Errorf("over the refusal budget: answered %v, want no answer", op)
	}
	if op, ok := ask(other, rrq("missing", "octet")); !ok || op != OpERROR {
		t.Errorf("another address: answered %v (%v), want ERROR", op, ok)
	}
	if n := s.srv.Stats().Dropped[DropRefusalRate]; n != 1 {
		t.Errorf("%d requests dropped over the refusal budget, want 1", n)
	}
	time.Sleep(2 * time.Second) // a token back
	if op, ok := ask(flooder, rrq("4096b", "octet")); !ok || op != OpDATA {
		t.Errorf("after the budget refilled: answered %v (%v), want DATA", op, ok)
	}
	long := rrq("4096b", "octet", "x", strings.Repeat("y", 3000))
	if op, ok := ask(other, long); !ok || op != OpERROR || s.srv.Stats().Dropped[DropMalformed] != 1 {
		t.Errorf("a %d-byte request: answered %v (%v), want ERROR (malformed)", len(long), op, ok)
	}
	if err := (Config{Root: os.DirFS(dir), RefusalBurst: -1}).Validate(); len(err) != 1 || !strings.Contains(err.ToAggregate().Error(), "refusalBurst") {
		t.Errorf("Validate of a negative refusalBurst: %v", err)
	}
}
