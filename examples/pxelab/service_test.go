package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pxekit/pxekit/pxetest"
)

// pxelabBinary is pxelab built once for the tests that run it as systemd
// would: a child process handed its sockets and a notify socket.
var pxelabBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pxelab-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pxelab")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := pxelabBinary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// serviceLab is a config directory for serve -c: assets, iPXE builds, the
// file itself.
type serviceLab struct {
	dir, file       string
	ipxe, kernel    []byte // the TFTP file and the HTTP asset, random
	httpPort        int
	shutdownGrace   string
	dhcpConn        net.PacketConn
	tftpConn        net.PacketConn
	httpLn          net.Listener
	notify          *net.UnixConn
	notifyPath      string
	notes           notes
	proc            *pxetest.Process
	stderr, stdout  pxetest.Buffer
	httpURL         string
	dhcpAddr, tftpA *net.UDPAddr
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func newServiceLab(t *testing.T, ipxeSize, kernelSize int) *serviceLab {
	t.Helper()
	l := &serviceLab{dir: t.TempDir(), ipxe: randomBytes(t, ipxeSize), kernel: randomBytes(t, kernelSize), shutdownGrace: "20s"}
	for name, data := range map[string][]byte{"ipxe/undionly.kpxe": l.ipxe, "assets/vmlinuz": l.kernel, "assets/initrd.gz": []byte("initrd")} {
		p := filepath.Join(l.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	// The sockets systemd would bind (pxekit-*.socket), on loopback.
	if l.dhcpConn, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if l.tftpConn, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if l.httpLn, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.dhcpConn.Close(); l.tftpConn.Close(); l.httpLn.Close() })
	l.httpPort = l.httpLn.Addr().(*net.TCPAddr).Port
	l.httpURL = "http://" + l.httpLn.Addr().String()
	l.dhcpAddr = l.dhcpConn.LocalAddr().(*net.UDPAddr)
	l.tftpA = l.tftpConn.LocalAddr().(*net.UDPAddr)
	l.file = filepath.Join(l.dir, "pxekit.yaml")
	l.notifyPath = filepath.Join(l.dir, "notify.sock")
	if l.notify, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: l.notifyPath, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.notify.Close() })
	go l.notes.read(l.notify)
	return l
}

// notes are the sd_notify messages received, read as systemd reads them:
// at once, so the sender never waits.
type notes struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notes) read(c *net.UnixConn) {
	buf := make([]byte, 4096)
	for {
		k, err := c.Read(buf)
		if err != nil {
			return
		}
		n.mu.Lock()
		n.msgs = append(n.msgs, string(buf[:k]))
		n.mu.Unlock()
	}
}

func (n *notes) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// config is the lab's config file: cmdline names the profile's marker
// argument, poolEnd the last pool address. http.port is left at 1: the
// command line's --http-port overrides it.
func (l *serviceLab) config(cmdline string, poolEnd int) string {
	return fmt.Sprintf(`apiVersion: pxekit/v1alpha1
kind: BootServer
interface: lo
address: 127.0.0.1
http: {port: 1}
subnets:
  - prefix: 192.0.2.0/24
    dns: [192.0.2.%d]
    pools: [{start: 192.0.2.10, end: 192.0.2.%d}]
directories: {assets: assets, ipxe: ipxe}
profiles:
  lab: {kernel: vmlinuz, initrd: initrd.gz, args: [console=ttyS0, %s]}
defaultProfile: lab
store: {bbolt: {path: leases.db}}
shutdownGrace: %s
`, poolEnd, poolEnd, cmdline, l.shutdownGrace)
}

func (l *serviceLab) write(t *testing.T, content string) {
	t.Helper()
	// As an editor saves: a new file renamed over the old.
	tmp := l.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, l.file); err != nil {
		t.Fatal(err)
	}
}

// start runs pxelab serve -c as systemd would start pxekit.service with
// its sockets: fds 3-5 named by LISTEN_FDNAMES, LISTEN_PID the process's
// own (set by the shell that execs it, as systemd sets it after fork), and
// NOTIFY_SOCKET.
func (l *serviceLab) start(t *testing.T) {
	t.Helper()
	bin, err := pxelabBinary()
	if err != nil {
		t.Fatal(err)
	}
	files := make([]*os.File, 0, 3)
	for _, c := range []interface{ File() (*os.File, error) }{l.dhcpConn.(*net.UDPConn), l.tftpConn.(*net.UDPConn), l.httpLn.(*net.TCPListener)} {
		f, err := c.File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "serve", "-c", l.file, "--http-port", strconv.Itoa(l.httpPort))
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), "LISTEN_FDS=3", "LISTEN_FDNAMES=dhcp:tftp:http", "NOTIFY_SOCKET="+l.notifyPath)
	cmd.Stdout, cmd.Stderr = &l.stdout, &l.stderr
	l.proc = pxetest.Start(t, nil, cmd)
	if got := l.waitNotify(t, "READY=1"); !strings.Contains(got, "STATUS=serving "+l.httpURL) {
		t.Errorf("READY message %q does not say where it serves", got)
	}
}

// waitNotify waits for an sd_notify message with line want and returns
// it.
func (l *serviceLab) waitNotify(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, msg := range l.notes.all() {
			if slices.Contains(strings.Split(msg, "\n"), want) {
				return msg
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s from pxelab (got %q)\nstderr:\n%s", want, l.notes.all(), l.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpGet(url string) ([]byte, int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

// script returns the lab machine's script.
func (l *serviceLab) script(t *testing.T) string {
	t.Helper()
	b, code, err := httpGet(l.httpURL + "/boot.ipxe?mac=52:54:00:aa:00:01")
	if err != nil || code != 200 {
		t.Fatalf("script: %d %v %s", code, err, b)
	}
	return string(b)
}

// waitScript waits until the script carries want (a reload applied).
func (l *serviceLab) waitScript(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(l.script(t), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the script never carried %q; stderr:\n%s", want, l.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// labLink is the link the relayed clients are on: the file's subnet.
var labLink = netip.MustParseAddr("192.0.2.0")

// The boot server as a service, in the middle of a storm: DHCP clients
// taking and renewing leases, tftp-hpa and curl downloading over and over,
// while the config file is rewritten and reloaded (by the file watch and by
// SIGHUP) a dozen times, once with errors. Nothing is lost: every lease is
// renewed as it was, every transfer completes intact, the bad file is
// refused with its errors while the old config keeps serving. Then SIGTERM
// stops it gracefully: a download in flight finishes, systemd hears
// STOPPING=1 and the process exits 0.
func TestServiceReloadDuringStorm(t *testing.T) {
	tftpCmd := pxetest.RequireCmd(t, "tftp", "tftp-hpa")
	curl := pxetest.RequireCmd(t, "curl", "curl")
	pxetest.RequireCmd(t, "go", "golang")
	l := newServiceLab(t, 1<<20, 4<<20)
	l.write(t, l.config("pxekit.rev=0", 250))
	l.start(t)
	l.waitScript(t, "pxekit.rev=0")
	if b, code, _ := httpGet(l.httpURL + "/readyz"); code != 200 {
		t.Fatalf("readyz: %d %s", code, b)
	}

	// The clients run until the last reload is applied: every one of
	// their exchanges and transfers overlaps the reloads.
	const dhcpWorkers, dhcpMax, tftpWorkers, httpWorkers = 4, 50, 3, 3
	var (
		reloading                 atomic.Bool
		wg                        sync.WaitGroup
		leases, renewed, dhcpFail atomic.Int64
		tftpOK, tftpFail          atomic.Int64
		httpOK, httpFail          atomic.Int64
		failMu                    sync.Mutex
		failures                  []string
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	reloading.Store(true)
	acks := make([][]*dhcpv4.DHCPv4, dhcpWorkers)
	for w := range dhcpWorkers {
		c := pxetest.NewRelayClient(t, l.dhcpAddr)
		wg.Go(func() {
			for i := 0; i < dhcpMax && reloading.Load(); i++ {
				_, ack, err := c.DORA(net.HardwareAddr{0x52, 0x54, 0x00, 0xbb, byte(w), byte(i)}, labLink)
				if err != nil {
					dhcpFail.Add(1)
					fail("dhcp: %v", err)
					continue
				}
				leases.Add(1)
				acks[w] = append(acks[w], ack)
				time.Sleep(80 * time.Millisecond) // spread over the reloads
			}
		})
	}
	want := sum(l.ipxe)
	for w := range tftpWorkers {
		wg.Go(func() {
			dir := t.TempDir()
			for i := 0; reloading.Load(); i++ {
				out := filepath.Join(dir, fmt.Sprintf("got-%d", i))
				cmd := exec.Command(tftpCmd, "127.0.0.1", strconv.Itoa(l.tftpA.Port), "-m", "binary", "-c", "get", "undionly.kpxe", out)
				msg, err := cmd.CombinedOutput()
				got, rerr := os.ReadFile(out)
				if err != nil || rerr != nil || sum(got) != want {
					tftpFail.Add(1)
					fail("tftp worker %d get %d: %v %s (%d bytes)", w, i, err, msg, len(got))
					continue
				}
				tftpOK.Add(1)
			}
		})
	}
	wantKernel := sum(l.kernel)
	for w := range httpWorkers {
		wg.Go(func() {
			for i := 0; reloading.Load(); i++ {
				// 4 MB at 16 MB/s: each download spans a reload or two.
				cmd := exec.Command(curl, "-sS", "--fail", "--limit-rate", "16M", l.httpURL+"/assets/vmlinuz")
				var body, msg bytes.Buffer
				cmd.Stdout, cmd.Stderr = &body, &msg
				err := cmd.Run()
				if err != nil || sum(body.Bytes()) != wantKernel {
					httpFail.Add(1)
					fail("http worker %d download %d: %v %s (%d bytes)", w, i, err, msg.String(), body.Len())
					continue
				}
				httpOK.Add(1)
			}
		})
	}
	// The reloads: rewrite the file every 250 ms (new kernel argument, a
	// larger pool, another DNS server), every other one announced with
	// SIGHUP, the others found by the file watch; the sixth file is broken.
	reloads, refusedAt, hups := 12, 6, 0
	var sent []string
	for i := 1; i <= reloads; i++ {
		time.Sleep(250 * time.Millisecond)
		if i == refusedAt {
			l.write(t, l.config("pxekit.rev=bad", 250)+"bogus: true\nprofiles: {}\n")
			l.proc.Signal(syscall.SIGHUP)
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(l.stderr.String(), "config reload refused") {
				if time.Now().After(deadline) {
					t.Fatalf("the broken file was not refused; stderr:\n%s", l.stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if s := l.script(t); !strings.Contains(s, sent[len(sent)-1]) {
				t.Errorf("after a refused reload the script is\n%s\nwant the last good config's %s", s, sent[len(sent)-1])
			}
			continue
		}
		rev := "pxekit.rev=" + strconv.Itoa(i)
		l.write(t, l.config(rev, 250-i))
		if i%2 == 0 {
			l.proc.Signal(syscall.SIGHUP)
			hups++
		}
		l.waitScript(t, rev)
		sent = append(sent, rev)
	}
	reloading.Store(false)
	wg.Wait()

	// Every lease taken during the storm is still its client's.
	c := pxetest.NewRelayClient(t, l.dhcpAddr)
	for _, list := range acks {
		for _, ack := range list {
			renew, err := dhcpv4.NewRenewFromAck(ack)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Exchange(renew, labLink)
			if err != nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(ack.YourIPAddr) {
				fail("renewal of %s for %s after the reloads: %v %v", ack.YourIPAddr, ack.ClientHWAddr, r, err)
				continue
			}
			renewed.Add(1)
		}
	}
	applied := strings.Count(l.stderr.String(), "config reloaded")
	refused := strings.Count(l.stderr.String(), "config reload refused")
	var took []string
	for _, m := range regexp.MustCompile(`config reloaded.*took=(\S+)`).FindAllStringSubmatch(l.stderr.String(), -1) {
		took = append(took, m[1])
	}
	t.Logf("storm with reloads: DHCP %d leases (%d failed), %d renewed unchanged; TFTP %d × 1 MiB intact (%d failed); HTTP %d × 4 MiB intact (%d failed); reloads applied %d, refused %d; reload took %v",
		leases.Load(), dhcpFail.Load(), renewed.Load(), tftpOK.Load(), tftpFail.Load(), httpOK.Load(), httpFail.Load(), applied, refused, took)
	for _, f := range failures {
		t.Error(f)
	}
	if dhcpFail.Load()+tftpFail.Load()+httpFail.Load() > 0 || renewed.Load() != leases.Load() {
		t.Errorf("something was lost in the storm (counts above)")
	}
	if leases.Load() < dhcpWorkers*5 || tftpOK.Load() < tftpWorkers*5 || httpOK.Load() < httpWorkers*5 {
		t.Errorf("the storm was too thin to say anything: fewer than 5 exchanges per client (counts above)")
	}
	// Every file is read once by the watch or the SIGHUP; a SIGHUP that
	// lands after the watch already read the file reads it again (a
	// SIGHUP always reloads, as nginx's does, since it may be about the
	// files the config names), so the announced ones may count twice.
	if good := reloads - 1; applied < good || applied > good+hups || refused < 1 || refused > 2 {
		t.Errorf("%d reloads applied and %d refused, want %d–%d and 1–2", applied, refused, good, good+hups)
	}
	if !strings.Contains(l.stderr.String(), "bogus") {
		t.Errorf("the refused reload's log does not name the unknown field:\n%s", l.stderr.String())
	}

	// A graceful stop: a download started before SIGTERM completes.
	slow := exec.Command(curl, "-sS", "--fail", "--limit-rate", "2M", l.httpURL+"/assets/vmlinuz")
	body := l.stopDuring(t, slow)
	l.waitNotify(t, "STOPPING=1")
	if err := slow.Wait(); err != nil || sum([]byte(body.String())) != wantKernel {
		t.Errorf("a download in flight at SIGTERM: %v, %d of %d bytes", err, body.Len(), len(l.kernel))
	}
	if err := l.proc.Wait(); err != nil {
		t.Errorf("pxelab after SIGTERM: %v\nstderr:\n%s", err, l.stderr.String())
	}
}

// stopDuring starts download, waits for its first bytes and sends pxelab
// SIGTERM; the download's output collects in the buffer returned.
func (l *serviceLab) stopDuring(t *testing.T, download *exec.Cmd) *pxetest.Buffer {
	t.Helper()
	body := &pxetest.Buffer{}
	download.Stdout = body
	if err := download.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); body.Len() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the download never started")
		}
	}
	l.proc.Signal(syscall.SIGTERM)
	return body
}

// The stop is bounded: a download slower than shutdownGrace is cut off
// once the grace has passed, and the process still exits cleanly.
func TestServiceStopIsBounded(t *testing.T) {
	curl := pxetest.RequireCmd(t, "curl", "curl")
	pxetest.RequireCmd(t, "go", "golang")
	l := newServiceLab(t, 4096, 1)
	// More than loopback's socket buffers hold, so the server is still
	// sending when the grace ends.
	l.kernel = bytes.Repeat([]byte("pxekit"), 32<<20/6)
	if err := os.WriteFile(filepath.Join(l.dir, "assets", "vmlinuz"), l.kernel, 0o644); err != nil {
		t.Fatal(err)
	}
	l.shutdownGrace = "1s"
	l.write(t, l.config("pxekit.rev=0", 250))
	l.start(t)
	// Another iPXE directory needs a restart: the reload is refused.
	if err := os.CopyFS(filepath.Join(l.dir, "ipxe2"), os.DirFS(filepath.Join(l.dir, "ipxe"))); err != nil {
		t.Fatal(err)
	}
	l.write(t, strings.Replace(l.config("pxekit.rev=1", 250), "ipxe: ipxe", "ipxe: ipxe2", 1))
	l.proc.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(l.stderr.String(), "directories.ipxe: Forbidden: cannot change while serving"); {
		if time.Now().After(deadline) {
			t.Fatalf("a new iPXE directory was not refused:\n%s", l.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := l.script(t); !strings.Contains(s, "pxekit.rev=0") {
		t.Errorf("after the refused reload the script is\n%s\nwant the running config's", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	slow := exec.CommandContext(ctx, curl, "-sS", "--limit-rate", "100K", l.httpURL+"/assets/vmlinuz")
	body := l.stopDuring(t, slow)
	if err := l.proc.Wait(); err != nil {
		t.Errorf("pxelab after SIGTERM with a download still running: %v\nstderr:\n%s", err, l.stderr.String())
	}
	cancel() // curl would drain what loopback buffered, slowly
	slow.Wait()
	if body.Len() >= len(l.kernel) {
		t.Errorf("a 5-minute download finished within a 1 s grace (%d bytes)", body.Len())
	}
	if !strings.Contains(l.stderr.String(), "cut off") {
		t.Errorf("the log does not say the download was cut off:\n%s", l.stderr.String())
	}
}

// A config file with errors is refused at start with every error and its
// line; flags that describe an inventory are refused with -c.
func TestServeConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pxekit.yaml")
	os.WriteFile(file, []byte("apiVersion: pxekit/v1alpha1\nkind: BootServer\ninterface: lo\nhttp: {port: 99999}\nprofiles: {a: {kernel: k}}\ndefaultProfile: b\n"), 0o644)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "-c", file}, &out, &errb)
	for _, want := range []string{file + ":4: http.port", file + ":6: defaultProfile"} {
		if code != 2 || !strings.Contains(errb.String(), want) {
			t.Errorf("serve -c with a bad file: exit %d, stderr:\n%s\nwant exit 2 and %q", code, errb.String(), want)
		}
	}
	errb.Reset()
	code = run(context.Background(), []string{"serve", "-c", file, "--kernel", "/boot/vmlinuz"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--kernel: with -c the config file holds") {
		t.Errorf("serve -c --kernel: exit %d, %q", code, errb.String())
	}
}
