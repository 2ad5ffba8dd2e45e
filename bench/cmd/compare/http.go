package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// curlMBps fetches url reps times with curl and returns MB/s (10^6) over
// all of them; every fetch must bring size bytes.
func (h *harness) curlMBps(ctx context.Context, url string, size int64, reps int) (float64, error) {
	var bytes, secs float64
	for range reps {
		out, err := h.runIn(ctx, h.cli, "curl", "-s", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url)
		if err != nil {
			return 0, fmt.Errorf("curl %s: %v: %s", url, err, tail(out, 300))
		}
		f := strings.Fields(out)
		if len(f) != 2 {
			return 0, fmt.Errorf("curl %s: %q", url, out)
		}
		n, _ := strconv.ParseFloat(f[0], 64)
		t, _ := strconv.ParseFloat(f[1], 64)
		if int64(n) != size || t <= 0 {
			return 0, fmt.Errorf("curl %s: %v bytes in %v s, want %d bytes", url, n, t, size)
		}
		bytes += n
		secs += t
	}
	return bytes / secs / 1e6, nil
}

func benchHTTP(ctx context.Context, h *harness) ([]Row, error) {
	if m := missing("curl", "nginx"); m != "" {
		return nil, fmt.Errorf("missing %s (packages curl, nginx-light)", m)
	}
	dir := filepath.Join(h.dir, "http")
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
	reps := 5
	if h.o.quick {
		reps = 2
	}

	// nginx serves the same file at the same path.
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path %[1]s/body;
  server { listen %[2]s:80; root %[1]s; }
}
`, dir, serverIP)
	cpath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cpath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	ng, err := h.start(h.srv, "nginx", "-c", cpath, "-p", dir)
	if err != nil {
		return nil, err
	}
	if err := h.waitTCP(ctx, ng, serverIP+":80"); err != nil {
		ng.stop()
		return nil, err
	}
	ngV, err := h.curlMBps(ctx, "http://"+serverIP+"/assets/big.bin", size, reps)
	ng.stop()
	if err != nil {
		return nil, err
	}

	args := []string{"-iface", h.srvIf, "-dir", dir}
	if h.o.pprof {
		args = append(args, "-cpuprofile", filepath.Join(h.o.out, "http.cpu.pprof"))
	}
	px, err := h.startSelf(h.srv, "pxe", args...)
	if err != nil {
		return nil, err
	}
	if err := h.waitTCP(ctx, px, serverIP+":80"); err != nil {
		px.stop()
		return nil, err
	}
	pxV, err := h.curlMBps(ctx, "http://"+serverIP+"/assets/big.bin", size, reps)
	px.stop()
	if err != nil {
		return nil, err
	}
	h.log.Info("http", "nginx MB/s", int(ngV), "pxekit MB/s", int(pxV))
	return []Row{{Group: "HTTP", Case: "100 MB asset, curl", Unit: "MB/s", Peer: "nginx", PeerV: ngV, Pxekit: pxV, Target: 0.9,
		Note: fmt.Sprintf("%d sequential fetches each; pxekit = the pxe boot server (DHCP+TFTP+HTTP)", reps)}}, nil
}
