// Package qemubench is the comparison's QEMU part: one real VM per run —
// SeaBIOS with QEMU's iPXE ROM, and OVMF's own PXE → TFTP ipxe.efi → iPXE
// — against the dnsmasq + nginx baseline and against pxekit, interleaved
// (baseline, pxekit, baseline, pxekit, ...), with the same kernel,
// initramfs and kernel arguments, measuring power-on (QEMU started) to the
// console line the guest's /init prints first. Each boot gets a fresh
// namespace (bridge + tap), so no lease, ARP entry or server state carries
// over from the previous one.
package qemubench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/procfs"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
	"github.com/pxekit/pxekit/pxetest"
)

// bootTimeout bounds one boot: under TCG on a loaded machine a UEFI
// boot has been seen to take 75 s.
const bootTimeout = 3 * time.Minute

// partBudget bounds the whole part, meant to take about 8 minutes of a
// whole run; pairs that would start past it are skipped and said so.
const partBudget = 9 * time.Minute

// baseline is the classic stack pxekit is compared with.
const baseline = "dnsmasq+nginx"

// inputs are what every boot of the part shares.
type inputs struct {
	vmlinuz []byte
	initrd  []byte
	ipxe    map[ipxe.Binary]string // Debian's iPXE builds, for both stacks
}

// Run is the QEMU part: per firmware, interleaved pairs of boots
// (baseline, pxekit), within partBudget.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	return RunOn(ctx, h, pxetest.NetworkConfig{})
}

// RunOn is Run with every boot's lab network made as netCfg says (an
// impaired one, say); its rows are the same.
func RunOn(ctx context.Context, h *harness.Harness, netCfg pxetest.NetworkConfig) ([]report.Row, error) {
	// BIOS boots take half as long as UEFI ones: a third pair fits.
	reps := map[pxetest.Firmware]int{pxetest.BIOS: 3, pxetest.UEFIPXE: 2}
	return run(ctx, h, netCfg, []pxetest.Firmware{pxetest.BIOS, pxetest.UEFIPXE}, reps)
}

// Run6 is the IPv6 QEMU part: OVMF's PXE over IPv6 and its UEFI HTTP boot
// over IPv6, each through iPXE's own DHCPv6 to /init, on an IPv6-only lab
// (no IPv4 address on the link, no DHCPv4 server), against dnsmasq
// (DHCPv6, router advertisements, its TFTP) + nginx and against pxekit.
func Run6(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	reps := map[pxetest.Firmware]int{pxetest.UEFIPXE6: 2, pxetest.UEFIHTTP6: 2}
	return run(ctx, h, pxetest.NetworkConfig{}, []pxetest.Firmware{pxetest.UEFIPXE6, pxetest.UEFIHTTP6}, reps)
}

// noBaseline says why the baseline cannot boot a firmware path at all, so
// only pxekit's boots are measured there.
var noBaseline = map[pxetest.Firmware]string{
	// edk2's HTTP boot takes only an offer whose vendor class (option
	// 16) is enterprise number + "HTTPClient"; dnsmasq 2.90 writes option
	// 16 as length-prefixed strings without the enterprise number (the
	// offer's bytes are in its --log-dhcp output), so OVMF ignores its
	// offer. Only a string crafted so that its bytes land where edk2 reads
	// the class gets past that, which is no configuration people run.
	pxetest.UEFIHTTP6: "dnsmasq offers no usable UEFI HTTP boot over IPv6 (option 16 without an enterprise number; edk2 needs 343 + \"HTTPClient\"): pxekit alone",
}

// ipv6 says whether fw boots the IPv6-only lab.
func ipv6(fw pxetest.Firmware) bool { return fw == pxetest.UEFIPXE6 || fw == pxetest.UEFIHTTP6 }

// run boots reps[fw] interleaved pairs per firmware on networks made as
// netCfg says, within partBudget.
func run(ctx context.Context, h *harness.Harness, netCfg pxetest.NetworkConfig, fws []pxetest.Firmware, reps map[pxetest.Firmware]int) ([]report.Row, error) {
	if m := harness.Missing("qemu-system-x86_64", "dnsmasq", "nginx"); m != "" {
		return nil, fmt.Errorf("missing %s (packages qemu-system-x86, dnsmasq-base, nginx-light)", m)
	}
	for file, pkg := range map[string]string{
		"/usr/lib/ipxe/qemu/efi-virtio.rom": "ipxe-qemu",
		pxetest.OVMFImage:                   "ovmf",
		"/bin/busybox":                      "busybox-static",
	} {
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("missing %s (package %s)", file, pkg)
		}
	}
	vmlinuz, modules, err := guestKernel()
	if err != nil {
		return nil, err
	}
	var in inputs
	if in.vmlinuz, err = os.ReadFile(vmlinuz); err != nil {
		return nil, err
	}
	if in.initrd, err = (pxetest.Initramfs{ModulesDir: modules}).Bytes(); err != nil {
		return nil, err
	}
	if in.ipxe, err = ipxe.Locate(); err != nil && in.ipxe[ipxe.IPXEEFI] == "" {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, partBudget)
	defer cancel()
	if h.Quick {
		reps = map[pxetest.Firmware]int{}
		for _, fw := range fws {
			reps[fw] = 1
		}
	}
	deadline, _ := ctx.Deadline()
	var (
		rows []report.Row
		errs []error
	)
	for _, fw := range fws {
		var runs []bootRun
		pairTime := 2 * time.Minute // a guess until a pair has run
		for i := range reps[fw] {
			// A pair is both stacks or neither: half a pair would skew
			// the medians toward whichever ran.
			// Extra pairs only while the next firmware's pairs (about
			// 1.6× a BIOS pair each) still fit in the budget after them.
			if i >= 2 && time.Until(deadline) < 5*pairTime {
				h.Log.Info("qemu: skipping extra pair to stay in budget", "firmware", fw, "rep", i+1)
				break
			}
			pairStart := time.Now()
			stacks := []string{baseline, "pxekit"}
			if noBaseline[fw] != "" {
				stacks = stacks[1:]
			}
			for _, stack := range stacks {
				if ctx.Err() != nil {
					errs = append(errs, fmt.Errorf("%s %s #%d: not run: part budget %v used up", fw, stack, i+1, partBudget))
					continue
				}
				r, err := boot(ctx, h, netCfg, in, fw, stack, i+1)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s %s #%d: %w", fw, stack, i+1, err))
					continue
				}
				h.Log.Info("qemu boot", "firmware", fw, "stack", stack, "rep", i+1, "to /init", r.toInit.Round(100*time.Millisecond))
				runs = append(runs, r)
			}
			pairTime = time.Since(pairStart)
		}
		if len(runs) > 0 {
			fr := firmwareRows(fw, runs)
			if why := noBaseline[fw]; why != "" {
				for i := range fr {
					fr[i].Peer, fr[i].PeerV, fr[i].Target = "", 0, 0
					fr[i].Note = why + "; " + fr[i].Note
				}
			}
			rows = append(rows, fr...)
			if err := writePhases(h.Out, fw, runs); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return rows, errors.Join(errs...)
}

// guestKernel finds the Debian cloud kernel the tests boot: the same
// lookup as internal/testenv (which needs a testing.TB).
func guestKernel() (vmlinuz, modules string, err error) {
	var roots []string
	if d := os.Getenv("PXEKIT_KERNEL_DIR"); d != "" {
		roots = append(roots, d)
	} else if wd, err := os.Getwd(); err == nil {
		// The module root: the working directory or one above it.
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				roots = append(roots, filepath.Join(d, ".cache", "kernel"))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, r := range roots {
		dir := filepath.Join(r, "cloud")
		vm, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
		mods, _ := filepath.Glob(filepath.Join(dir, "lib", "modules", "*"))
		if len(vm) > 0 && len(mods) > 0 {
			return vm[0], mods[0], nil
		}
	}
	return "", "", fmt.Errorf("guest kernel not found (looked in %v/cloud): run `make testdeps` in the repository, which fetches it into .cache/kernel, or set PXEKIT_KERNEL_DIR", roots)
}

// stamp is one timestamped line of a boot's timeline: the guest's console,
// the servers' logs and pxekit's boot events, merged.
type stamp struct {
	t    time.Time
	src  string // console, dnsmasq, nginx, pxekit
	text string
}

// timeline collects stamps from several goroutines.
type timeline struct {
	mu     sync.Mutex
	stamps []stamp
}

func (tl *timeline) add(t time.Time, src, text string) {
	tl.mu.Lock()
	tl.stamps = append(tl.stamps, stamp{t, src, text})
	tl.mu.Unlock()
}

func (tl *timeline) sorted() []stamp {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	s := slices.Clone(tl.stamps)
	slices.SortStableFunc(s, func(a, b stamp) int { return a.t.Compare(b.t) })
	return s
}

// lineStamper is an io.Writer that adds each complete line it receives to
// a timeline, stamped with the time it arrived (dnsmasq's log has none).
type lineStamper struct {
	tl  *timeline
	src string
	mu  sync.Mutex
	buf []byte
}

func (w *lineStamper) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			break
		}
		w.tl.add(now, w.src, strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line without end must not grow forever
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// bootRun is one boot's outcome.
type bootRun struct {
	stack   string
	rep     int
	started time.Time
	toInit  time.Duration
	cmdline string
	// serverCPU is what the stack's processes burnt on the shared CPU
	// during the boot; qemuShare is QEMU's CPU time over the wall time:
	// under TCG the guest runs only as fast as QEMU gets a core.
	serverCPU time.Duration
	qemuShare float64
	marks     map[string]time.Duration // milestone → time since power-on
	log       string                   // the timeline, written to -out
}

// servers is a running boot server stack: stop ends it (idempotent);
// cpu is the CPU time its processes used since they started.
type servers struct {
	stop func()
	cpu  func() time.Duration
}

// boot powers one VM on against stack in a fresh namespace and waits
// for /init. QEMU, the servers and the namespace are gone when it returns.
func boot(ctx context.Context, h *harness.Harness, netCfg pxetest.NetworkConfig, in inputs, fw pxetest.Firmware, stack string, rep int) (r bootRun, err error) {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	ncfg := netCfg
	ncfg.Name = "pxkq"
	if ipv6(fw) {
		ncfg.Server6, ncfg.NoIPv4 = pxetest.DefaultServer6(), true
	}
	lnet, err := pxetest.NewNetwork(ncfg)
	if err != nil {
		return r, err
	}
	defer func() {
		if cerr := lnet.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	tap, err := lnet.AddTap()
	if err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp(h.Dir, "qemu-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // nginx workers read it
		return r, err
	}
	mac := pxetest.NewMAC()
	tl := &timeline{}
	var st *servers
	if stack == baseline {
		st, err = startBaseline(ctx, lnet, dir, in, fw, mac, tl)
	} else {
		st, err = startPxekit(ctx, h, lnet, dir, in, fw, stack, rep, tl)
	}
	if err != nil {
		return r, fmt.Errorf("starting %s: %w", stack, err)
	}
	defer st.stop()

	var initAt time.Time
	var mu sync.Mutex
	initRE := regexp.MustCompile(pxetest.MarkerStart + "$")
	vm, err := pxetest.StartVM(ctx, pxetest.VMConfig{NetNS: lnet.NS, Tap: tap, MAC: mac, Firmware: fw,
		OnLine: func(l string) {
			now := time.Now()
			tl.add(now, "console", l)
			if initRE.MatchString(l) {
				mu.Lock()
				if initAt.IsZero() {
					initAt = now
				}
				mu.Unlock()
			}
		}})
	if err != nil {
		return r, err
	}
	defer vm.Stop()
	r = bootRun{stack: stack, rep: rep, started: vm.Started()}
	fail := func(err error) (bootRun, error) {
		st.stop()
		vm.Stop()
		r.log = renderTimeline(r.started, tl.sorted())
		_ = os.WriteFile(filepath.Join(h.Out, timelineName(fw, stack, rep)), []byte(r.log), 0o644)
		return r, fmt.Errorf("%w (timeline in %s/%s; last lines: %s)", err, h.Out, timelineName(fw, stack, rep), harness.Tail(r.log, 600))
	}
	if _, err := vm.WaitFor(ctx, initRE); err != nil {
		return fail(err)
	}
	m, err := vm.WaitFor(ctx, pxetest.CmdlineRE)
	if err != nil {
		return fail(err)
	}
	r.serverCPU = st.cpu()
	if q, ok := qemuCPU(mac); ok {
		r.qemuShare = q.Seconds() / time.Since(r.started).Seconds()
	}
	// Measured: the rest of the guest (NIC modules, udhcpc, phone-home)
	// is not, so QEMU goes now rather than burn the shared CPU.
	vm.Stop()
	st.stop()
	mu.Lock()
	r.toInit = initAt.Sub(r.started)
	mu.Unlock()
	r.cmdline = strings.TrimSpace(m[1])
	stamps := tl.sorted()
	r.marks = milestones(r.started, stamps, fw)
	r.log = renderTimeline(r.started, stamps)
	if err := os.WriteFile(filepath.Join(h.Out, timelineName(fw, stack, rep)), []byte(r.log), 0o644); err != nil {
		return r, err
	}
	return r, nil
}

func timelineName(fw pxetest.Firmware, stack string, rep int) string {
	return fmt.Sprintf("qemu-%s-%s-%d.log", fw, strings.ReplaceAll(stack, "+", "-"), rep)
}

func renderTimeline(start time.Time, stamps []stamp) string {
	var b strings.Builder
	for _, s := range stamps {
		fmt.Fprintf(&b, "%8.3f %-7s %s\n", s.t.Sub(start).Seconds(), s.src, s.text)
	}
	return b.String()
}

// startBaseline runs the classic recipe: dnsmasq answers DHCP, chainloads
// iPXE (TFTP ipxe.efi for UEFI PXE; QEMU's BIOS ROM already is iPXE) and
// hands iPXE (user class "iPXE") the script's URL; nginx serves the script,
// kernel and initrd. The script is pxekit's own rendering of the same
// profile, so the guest gets byte-identical kernel arguments.
func startBaseline(ctx context.Context, lnet *pxetest.Network, dir string, in inputs, fw pxetest.Firmware, mac net.HardwareAddr, tl *timeline) (*servers, error) {
	host := serverHost(lnet)
	base := "http://" + host
	m := pxe.Machine{MAC: mac, Hostname: "qemu", Profile: "storm"}
	tftpRoot := filepath.Join(dir, "tftp")
	assets := filepath.Join(dir, "www", "assets")
	for _, d := range []string{tftpRoot, assets} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	efi, err := os.ReadFile(in.ipxe[ipxe.IPXEEFI])
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		filepath.Join(tftpRoot, "ipxe.efi"): efi,
		filepath.Join(assets, "vmlinuz"):    in.vmlinuz,
		filepath.Join(assets, "initrd.gz"):  in.initrd,
	}
	for name, fw := range map[string]ipxe.Firmware{"boot.ipxe": ipxe.BIOS, "boot-efi.ipxe": ipxe.EFI} {
		s, err := pxe.RenderScript(m, roles.StormProfile(), base, fw)
		if err != nil {
			return nil, err
		}
		files[filepath.Join(dir, "www", name)] = s
	}
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return nil, err
		}
	}
	ngCmd, err := peers.Nginx{Dir: dir, Listen: host + ":80", Root: filepath.Join(dir, "www"), AccessLog: true, PhoneHome: true}.Command()
	if err != nil {
		return nil, err
	}

	var procs []*harness.Proc
	st := &servers{cpu: func() time.Duration {
		var sum time.Duration
		for _, p := range procs {
			sum += procfs.TreeCPU(p.PID()) // nginx: master and workers
		}
		return sum
	}}
	var once sync.Once
	st.stop = func() {
		once.Do(func() {
			for _, p := range procs {
				p.Stop()
			}
			// nginx's log carries its own times ($msec: request end).
			if b, err := os.ReadFile(filepath.Join(dir, "access.log")); err == nil {
				for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					if t, rest, ok := parseMsec(l); ok {
						tl.add(t, "nginx", rest)
					}
				}
			}
		})
	}
	// dnsmasq as people run it for this: its ping check on, its own TFTP
	// server, every exchange logged (on stderr, for the timeline).
	dmCmd := peers.Dnsmasq{Interface: lnet.Bridge, Dir: dir, PoolStart: harness.PoolStart, PoolEnd: harness.PoolEnd, Ping: true, LogDHCP: true, TFTPRoot: tftpRoot,
		Boot: &peers.DnsmasqBoot{EFI: string(ipxe.IPXEEFI), BIOS: string(ipxe.UndionlyKPXE), Script: base + "/boot.ipxe", EFIScript: base + "/boot-efi.ipxe"}}.Command()
	ready := "TFTP root is"
	if ipv6(fw) {
		dmCmd = harness.Command{Name: "dnsmasq", Args: dnsmasq6Args(lnet.Bridge, dir, base, tftpRoot)}
		ready = "DHCPv6, IP range"
	}
	dmCmd.Log = &lineStamper{tl: tl, src: "dnsmasq"}
	dnsmasq, err := harness.Start(lnet.NS, dmCmd)
	if err != nil {
		return nil, err
	}
	procs = append(procs, dnsmasq)
	ngCmd.Log = &lineStamper{tl: tl, src: "nginx"}
	ng, err := harness.Start(lnet.NS, ngCmd)
	if err != nil {
		st.stop()
		return nil, err
	}
	procs = append(procs, ng)
	// Ready: nginx accepts, and dnsmasq has bound (its log says so).
	if err := harness.WaitReady(ctx, func() error {
		if !slices.ContainsFunc(tl.sorted(), func(s stamp) bool {
			return s.src == "dnsmasq" && strings.Contains(s.text, ready)
		}) {
			return errors.New("dnsmasq not ready")
		}
		return harness.DialTCP(lnet.NS, host+":80")()
	}, procs...); err != nil {
		st.stop()
		return nil, err
	}
	return st, nil
}

// parseMsec splits nginx's "$msec rest" line.
func parseMsec(l string) (time.Time, string, bool) {
	sec, rest, ok := strings.Cut(l, " ")
	if !ok {
		return time.Time{}, "", false
	}
	var s, ms int64
	if _, err := fmt.Sscanf(sec, "%d.%d", &s, &ms); err != nil {
		return time.Time{}, "", false
	}
	return time.Unix(s, ms*int64(time.Millisecond)), rest, true
}

// startPxekit runs pxekit's boot server as users deploy it: its own
// process (this binary's "pxe" role) inside the boot's namespace, serving
// Debian's iPXE builds and the kernel and initramfs from disk. (In-process
// with pxe.Config.NetNS would measure its single-port TFTP mode, which
// only exists for namespaced tests.) The server's boot events, read from
// its /events stream, go on the timeline.
func startPxekit(ctx context.Context, h *harness.Harness, lnet *pxetest.Network, dir string, in inputs, fw pxetest.Firmware, stack string, rep int, tl *timeline) (*servers, error) {
	assets := filepath.Join(dir, "assets")
	if err := os.MkdirAll(assets, 0o755); err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{"vmlinuz": in.vmlinuz, "initrd.gz": in.initrd} {
		if err := os.WriteFile(filepath.Join(assets, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	// pxekit answers iPXE's IPv6 router solicitation, as pxelab's demo
	// does on its isolated lab network; the baseline, as people run it,
	// has no RA.
	args := []string{"-iface", lnet.Bridge, "-dir", dir, "-ra"}
	switch fw {
	case pxetest.UEFIPXE6:
		args = append(args, "-ipv6", "pxe")
	case pxetest.UEFIHTTP6:
		args = append(args, "-ipv6", "http")
	}
	args = append(args, roles.CPUProfile(h.Options, strings.TrimSuffix(timelineName(fw, stack, rep), ".log"))...)
	px, err := h.StartSelf(lnet.NS, roles.PXE, args...)
	if err != nil {
		return nil, err
	}
	evCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	evDone := make(chan struct{})
	var once sync.Once
	st := &servers{
		cpu: func() time.Duration { return procfs.TreeCPU(px.PID()) },
		stop: func() {
			once.Do(func() {
				px.Stop()
				cancel()
				<-evDone
			})
		},
	}
	base := "http://" + serverHost(lnet)
	if err := harness.WaitReady(ctx, harness.DialTCP(lnet.NS, serverHost(lnet)+":80"), px); err != nil {
		close(evDone)
		st.stop()
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := lnet.NS.Do(func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}}
	req, err := http.NewRequestWithContext(evCtx, http.MethodGet, base+pxe.PathEvents, nil)
	if err != nil {
		close(evDone)
		st.stop()
		return nil, err
	}
	// The server subscribes before it sends the headers: once they are
	// here, no event of the boot can be missed.
	resp, err := client.Do(req)
	if err != nil {
		close(evDone)
		st.stop()
		return nil, fmt.Errorf("pxekit events: %w", err)
	}
	go func() {
		defer close(evDone)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var e pxe.Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				tl.add(e.Time, "pxekit", fmt.Sprintf("%s %s %s", e.Kind, e.MAC, e.Detail))
			}
		}
	}()
	return st, nil
}

// serverHost is the boot server's address as a URL's host: the IPv6
// literal in brackets on an IPv6-only lab.
func serverHost(lnet *pxetest.Network) string {
	if !lnet.Server.IsValid() {
		return "[" + lnet.ServerAddr6().String() + "]"
	}
	return lnet.ServerAddr().String()
}

// dnsmasq6Args are dnsmasq as people set it up for IPv6 PXE: a stateful
// DHCPv6 range, router advertisements (enable-ra: managed flag, the
// prefix on-link), firmware handed iPXE over dnsmasq's own TFTP server and
// iPXE (user class "iPXE") the script's URL (option 59), every exchange
// logged on stderr for the timeline.
func dnsmasq6Args(iface, dir, base, tftpRoot string) []string {
	return []string{"-k", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
		"--interface=" + iface, "--bind-interfaces", "--user=root", "--pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
		"--dhcp-range=" + roles.BootPoolStart6 + "," + roles.BootPoolEnd6 + ",64,1h", "--enable-ra",
		"--dhcp-leasefile=" + filepath.Join(dir, "dnsmasq.leases"), "--log-dhcp", "--log-facility=-",
		"--dhcp-userclass=set:ipxe,iPXE",
		"--dhcp-option=tag:ipxe,option6:bootfile-url," + base + "/boot-efi.ipxe",
		"--dhcp-option=tag:!ipxe,option6:bootfile-url,tftp://" + strings.TrimPrefix(base, "http://") + "/" + string(ipxe.IPXEEFI),
		"--enable-tftp", "--tftp-root=" + tftpRoot}
}
