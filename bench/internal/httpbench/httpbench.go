// Package httpbench is the comparison's HTTP part: pxekit's boot server
// against nginx, the same clients on both — curl for a 100 MB asset, wrk
// for the iPXE script (rendered per machine by pxekit, a static copy on
// nginx) and a small static file.
package httpbench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
	"github.com/pxekit/pxekit/bench/internal/procfs"
	"github.com/pxekit/pxekit/bench/internal/report"
	"github.com/pxekit/pxekit/bench/internal/roles"
	"github.com/pxekit/pxekit/bench/internal/stats"
)

// Ports of the two HTTP servers: both run at once, so the fetches can be
// interleaved and a burst of load from another process hits both alike.
const (
	pxeHTTP   = harness.ServerIP + ":80" // the pxe role's fixed port
	nginxHTTP = harness.ServerIP + ":8080"
)

// scriptMAC is the MAC the n-th simulated machine of the script case uses;
// the wrk Lua script below generates the same family.
func scriptMAC(n int) string {
	return fmt.Sprintf("52:54:00:00:%02x:%02x", (n>>8)&0xff, n&0xff)
}

// curlOnce fetches url once and returns MB/s (10^6); it must bring size
// bytes.
func curlOnce(ctx context.Context, h *harness.Harness, url string, size int64) (float64, error) {
	out, err := harness.Run(ctx, h.Cli, "curl", "-s", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url)
	if err != nil {
		return 0, fmt.Errorf("curl %s: %v: %s", url, err, harness.Tail(out, 300))
	}
	v, err := parseCurl(out, size)
	if err != nil {
		return 0, fmt.Errorf("curl %s: %w", url, err)
	}
	return v, nil
}

// parseCurl reads curl's -w "%{size_download} %{time_total}" and returns
// MB/s (10^6); the download must be size bytes.
func parseCurl(out string, size int64) (float64, error) {
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, fmt.Errorf("%q is not size and time", out)
	}
	n, err1 := strconv.ParseInt(f[0], 10, 64)
	t, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || n != size || !(t > 0) {
		return 0, fmt.Errorf("%q bytes in %q s, want %d bytes", f[0], f[1], size)
	}
	return float64(n) / t / 1e6, nil
}

// curlBody fetches url and returns the body.
func curlBody(ctx context.Context, h *harness.Harness, url string) (string, error) {
	out, err := harness.Run(ctx, h.Cli, "curl", "-s", "-S", "-f", url)
	if err != nil {
		return "", fmt.Errorf("curl %s: %v: %s", url, err, harness.Tail(out, 300))
	}
	return out, nil
}

// wrkResult is what one wrk run reports.
type wrkResult struct {
	rps     float64 // requests/s
	p50     float64 // ms
	p99     float64 // ms
	non2xx  int64   // "Non-2xx or 3xx responses"
	sockErr int64   // connect+read+write+timeout errors
	reqs    int64
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reReqs    = regexp.MustCompile(`(\d+) requests in`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reLatPct  = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// parseWrk reads wrk --latency output.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := reRPS.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("no Requests/sec in wrk output")
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reReqs.FindStringSubmatch(out); m != nil {
		r.reqs, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reSockErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.sockErr += n
		}
	}
	for _, m := range reLatPct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, errors.New("no latency distribution in wrk output")
	}
	return r, nil
}

// wrkMACs makes every request of a wrk run name another machine (one of
// 4,096 per thread, threads apart), as a rack of iPXE clients would. nginx
// ignores the query on a static file, so the same script drives both
// servers.
const wrkMACs = `local nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end
local n = 0
function request()
  n = n + 1
  local m = (tid * 4096 + n % 4096) % 65536
  return wrk.format("GET", string.format("%s?mac=52:54:00:00:%02x:%02x", wrk.path, math.floor(m / 256), m % 256))
end
`

// wrkRun runs wrk from the client namespace against url.
// With closeConn every request asks for Connection: close, so wrk opens a
// connection per request.
func wrkRun(ctx context.Context, h *harness.Harness, url, lua string, conns int, d time.Duration, closeConn bool) (wrkResult, error) {
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency", "--timeout", "5s"}
	if closeConn {
		args = append(args, "-H", "Connection: close")
	}
	if lua != "" {
		args = append(args, "-s", lua)
	}
	args = append(args, url)
	out, err := harness.Run(ctx, h.Cli, "wrk", args...)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v: %s", url, err, harness.Tail(out, 500))
	}
	r, err := parseWrk(out)
	if err != nil {
		return r, fmt.Errorf("wrk %s: %v: %s", url, err, harness.Tail(out, 500))
	}
	return r, nil
}

// Run is the HTTP part.
func Run(ctx context.Context, h *harness.Harness) ([]report.Row, error) {
	if m := harness.Missing("curl", "nginx", "wrk"); m != "" {
		return nil, fmt.Errorf("missing %s (packages curl, nginx-light, wrk)", m)
	}
	dir := filepath.Join(h.Dir, "http")
	assets := filepath.Join(dir, "assets")
	if err := os.MkdirAll(assets, 0o755); err != nil {
		return nil, err
	}
	const size = 100 << 20
	b := make([]byte, size)
	_, _ = rand.Read(b)
	if err := os.WriteFile(filepath.Join(assets, "big.bin"), b, 0o644); err != nil {
		return nil, err
	}
	b = nil
	reps, wrkReps, wrkDur := 40, 2, 5*time.Second
	if h.Quick {
		reps, wrkReps, wrkDur = 4, 1, 2*time.Second
	}

	// nginx serves the same files at the same paths, from the same
	// directory, on another port.
	ngCmd, err := peers.Nginx{Dir: dir, Listen: nginxHTTP, Root: dir, KeepaliveRequests: 1000000}.Command()
	if err != nil {
		return nil, err
	}
	ng, err := harness.Start(h.Srv, ngCmd)
	if err != nil {
		return nil, err
	}
	defer ng.Stop()
	if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, nginxHTTP), ng); err != nil {
		return nil, err
	}
	args := []string{"-iface", h.SrvIf, "-dir", dir}
	args = append(args, roles.CPUProfile(h.Options, "http")...)
	px, err := h.StartSelf(h.Srv, roles.PXE, args...)
	if err != nil {
		return nil, err
	}
	defer px.Stop()
	if err := harness.WaitReady(ctx, harness.DialTCP(h.Cli, pxeHTTP), px); err != nil {
		return nil, err
	}

	// Large asset: fetches alternate between the servers (and which goes
	// first), so both see the same machine; the median of each side's
	// fetches is robust to a burst from another process.
	var ngV, pxV, ngCPU, pxCPU []float64
	for i := range reps {
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, isPx := range order {
			addr, pid := nginxHTTP, ng.PID()
			if isPx {
				addr, pid = pxeHTTP, px.PID()
			}
			cpu0 := procfs.TreeCPU(pid)
			v, err := curlOnce(ctx, h, "http://"+addr+"/assets/big.bin", size)
			if err != nil {
				return nil, err
			}
			cpu := float64(procfs.TreeCPU(pid)-cpu0) / 1e6
			if isPx {
				pxV, pxCPU = append(pxV, v), append(pxCPU, cpu)
			} else {
				ngV, ngCPU = append(ngV, v), append(ngCPU, cpu)
			}
		}
	}
	h.Log.Info("http asset", "nginx MB/s", int(stats.Median(ngV)), "pxekit MB/s", int(stats.Median(pxV)))
	rows := []report.Row{{Group: "HTTP", Case: "100 MB asset, curl", Unit: "MB/s", Peer: "nginx", PeerV: stats.Median(ngV), Pxekit: stats.Median(pxV), Target: 0.9,
		Note: fmt.Sprintf("median of %d fetches each, alternating; nginx %.0f–%.0f, pxekit %.0f–%.0f; pxekit = the pxe boot server (DHCP+TFTP+HTTP)",
			reps, slices.Min(ngV), slices.Max(ngV), slices.Min(pxV), slices.Max(pxV))},
		{Group: "HTTP", Case: "100 MB asset, server CPU", Unit: "ms", Lower: true, Peer: "nginx", PeerV: stats.Median(ngCPU), Pxekit: stats.Median(pxCPU),
			Note: "CPU time of the server's processes per fetch (schedstat, median): what the throughput costs, less sensitive to other load; it includes the kernel's TCP work for the veth"}}
	h.Log.Info("http asset CPU", "nginx ms", stats.Median(ngCPU), "pxekit ms", stats.Median(pxCPU))

	// Small scripts. nginx gets, as a static file, exactly what pxekit
	// renders, so both send the same bytes.
	script, err := curlBody(ctx, h, "http://"+pxeHTTP+"/boot.ipxe?mac="+scriptMAC(1))
	if err != nil {
		return rows, err
	}
	if !strings.HasPrefix(script, "#!ipxe") || !strings.Contains(script, "/assets/vmlinuz") {
		return rows, fmt.Errorf("pxekit's script for %s is not the storm profile's: %q", scriptMAC(1), harness.Tail(script, 300))
	}
	for _, p := range []string{filepath.Join(dir, "boot.ipxe"), filepath.Join(assets, "boot.ipxe")} {
		if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
			return rows, err
		}
	}
	if got, err := curlBody(ctx, h, "http://"+nginxHTTP+"/boot.ipxe?mac="+scriptMAC(1)); err != nil || got != script {
		return rows, fmt.Errorf("nginx does not serve the script copy: %v %q", err, harness.Tail(got, 200))
	}
	lua := filepath.Join(dir, "macs.lua")
	if err := os.WriteFile(lua, []byte(wrkMACs), 0o644); err != nil {
		return rows, err
	}
	const conns = 64
	cases := []struct {
		name, nginxPath, pxePath, lua, note string
		close                               bool
	}{
		{"iPXE script, wrk", "/boot.ipxe", "/boot.ipxe", lua,
			"pxekit renders /boot.ipxe?mac= per machine (8,192 MACs); nginx serves the same bytes as a static file", false},
		{"iPXE script, new connection each, wrk", "/boot.ipxe", "/boot.ipxe", lua,
			"as above, but every request on a new TCP connection, as each machine of a rack is", true},
		{"small static asset, wrk", "/assets/boot.ipxe", "/assets/boot.ipxe", "",
			"the same script file under /assets/ from both", false},
	}
	for _, c := range cases {
		var ngR, pxR []wrkResult
		for i := range wrkReps {
			order := []bool{false, true}
			if i%2 == 1 {
				order = []bool{true, false}
			}
			for _, isPx := range order {
				url := "http://" + nginxHTTP + c.nginxPath
				if isPx {
					url = "http://" + pxeHTTP + c.pxePath
				}
				r, err := wrkRun(ctx, h, url, c.lua, conns, wrkDur, c.close)
				if err != nil {
					return rows, err
				}
				if isPx {
					pxR = append(pxR, r)
				} else {
					ngR = append(ngR, r)
				}
			}
		}
		if err := px.Exited(); err != nil {
			return rows, err
		}
		agg := func(rs []wrkResult, f func(wrkResult) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return stats.Median(v)
		}
		bad := func(rs []wrkResult) (n int64) {
			for _, r := range rs {
				n += r.non2xx + r.sockErr
			}
			return n
		}
		rps := func(r wrkResult) float64 { return r.rps }
		p99 := func(r wrkResult) float64 { return r.p99 }
		pxBad, ngBad := bad(pxR), bad(ngR)
		conn := "keep-alive"
		if c.close {
			conn = "Connection: close"
		}
		note := fmt.Sprintf("%s; %s, %d connections, 2 threads, %d × %s each, alternating, median", c.note, conn, conns, wrkReps, wrkDur)
		rows = append(rows,
			report.Row{Group: "HTTP", Case: c.name, Unit: "req/s", Peer: "nginx", PeerV: agg(ngR, rps), Pxekit: agg(pxR, rps),
				Note: note, Failed: pxBad > 0},
			report.Row{Group: "HTTP", Case: c.name + ", p99 latency", Unit: "ms", Lower: true, Peer: "nginx", PeerV: agg(ngR, p99), Pxekit: agg(pxR, p99),
				Note: fmt.Sprintf("wrk --latency; errors or non-2xx: pxekit %d, nginx %d", pxBad, ngBad), Failed: pxBad > 0})
		h.Log.Info("http "+c.name, "nginx req/s", int(agg(ngR, rps)), "pxekit req/s", int(agg(pxR, rps)),
			"nginx p99 ms", agg(ngR, p99), "pxekit p99 ms", agg(pxR, p99), "pxekit errors", pxBad)
	}
	return rows, nil
}
