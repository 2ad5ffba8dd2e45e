package clusterbench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pxekit/pxekit/bench/internal/harness"
	"github.com/pxekit/pxekit/bench/internal/peers"
)

// Kea's hooks, as Debian's kea-dhcp4-server ships them.
const (
	keaHooks    = "/usr/lib/x86_64-linux-gnu/kea/hooks"
	haHook      = keaHooks + "/libdhcp_ha.so"
	leaseCmds   = keaHooks + "/libdhcp_lease_cmds.so"
	haPortFirst = 8001
)

// The HA timers, the fast-failover settings Kea's HA documentation
// describes for hot-standby: a heartbeat every second
// (heartbeat-delay 1000 ms), the partner declared down when no heartbeat
// answered for max-response-delay (2000 ms; Kea's default is 60 s), without
// waiting for clients to go unanswered first (max-unacked-clients 0, so
// max-ack-delay does not delay the takeover).
const (
	haHeartbeatDelay   = 1000
	haMaxResponseDelay = 2000
)

// keaHA is one server of a Kea HA hot-standby pair: names and addresses
// of both, this one's index.
func keaHA(h *harness.Harness, dir string, ips []string, me int) (harness.Command, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return harness.Command{}, err
	}
	// Kea 2.2's HA commands go through kea-ctrl-agent unless the hook
	// runs its own HTTP listener, which it does only with multi-threading
	// on (HA+MT, http-dedicated-listener): two packet threads, as
	// pxekit's workers use both cores.
	base, err := peers.Kea{Interface: h.SrvIf + "/" + ips[me], Dir: dir, Subnet: harness.Prefix, PoolStart: harness.PoolStart, PoolEnd: harness.PoolEnd, Threads: 2}.Config()
	if err != nil {
		return harness.Command{}, err
	}
	var conf map[string]map[string]any
	if err := json.Unmarshal(base, &conf); err != nil {
		return harness.Command{}, err
	}
	names := []string{"server1", "server2"}
	roles := []string{"primary", "standby"}
	var ps []any
	for i, ip := range ips {
		ps = append(ps, map[string]any{"name": names[i], "url": fmt.Sprintf("http://%s:%d/", ip, haPortFirst+i), "role": roles[i], "auto-failover": true})
	}
	conf["Dhcp4"]["hooks-libraries"] = []any{
		map[string]any{"library": leaseCmds},
		map[string]any{"library": haHook, "parameters": map[string]any{"high-availability": []any{map[string]any{
			"this-server-name":    names[me],
			"mode":                "hot-standby",
			"heartbeat-delay":     haHeartbeatDelay,
			"max-response-delay":  haMaxResponseDelay,
			"max-ack-delay":       1000,
			"max-unacked-clients": 0,
			"multi-threading":     map[string]any{"enable-multi-threading": true, "http-dedicated-listener": true, "http-listener-threads": 1, "http-client-threads": 1},
			"peers":               ps,
		}}}},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return harness.Command{}, err
	}
	path := filepath.Join(dir, "kea-ha.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return harness.Command{}, err
	}
	return harness.Command{Name: "kea-dhcp4", Args: []string{"-c", path}, Label: "kea-ha-" + names[me],
		Env: []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}}, nil
}

// haState asks the server at ip (index i) for its HA state through the
// hook's own listener.
func haState(ctx context.Context, h *harness.Harness, ip string, i int) string {
	out, err := harness.Run(ctx, h.Srv, "curl", "-s", "-m", "2", "-H", "Content-Type: application/json",
		"-d", `{"command":"ha-heartbeat","service":["dhcp4"]}`, fmt.Sprintf("http://%s:%d/", ip, haPortFirst+i))
	if err != nil {
		return ""
	}
	var r []struct {
		Arguments struct {
			State string `json:"state"`
		} `json:"arguments"`
	}
	if json.Unmarshal([]byte(out), &r) != nil || len(r) == 0 {
		return strings.TrimSpace(out)
	}
	return r[0].Arguments.State
}

// keaHAPair starts the hot-standby pair and waits until both are in the
// hot-standby state (the standby synchronised).
func keaHAPair(ctx context.Context, h *harness.Harness, dir string, ips []string) ([2]*harness.Proc, func(), error) {
	var ps [2]*harness.Proc
	stop := func() {
		for _, p := range ps {
			if p != nil {
				p.Stop()
			}
		}
	}
	for i := range ips {
		cmd, err := keaHA(h, filepath.Join(dir, fmt.Sprintf("kea%d", i+1)), ips, i)
		if err != nil {
			stop()
			return ps, nil, err
		}
		if ps[i], err = harness.Start(h.Srv, cmd); err != nil {
			stop()
			return ps, nil, err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		s0, s1 := haState(ctx, h, ips[0], 0), haState(ctx, h, ips[1], 1)
		if s0 == "hot-standby" && s1 == "hot-standby" {
			return ps, stop, nil
		}
		for _, p := range ps {
			if err := p.Exited(); err != nil {
				stop()
				return ps, nil, fmt.Errorf("%s: %v: %s", p.Name(), err, harness.Tail(p.Output(), 600))
			}
		}
		if time.Now().After(deadline) {
			stop()
			return ps, nil, fmt.Errorf("kea HA pair not in hot-standby after 60 s (states %q, %q): %s", s0, s1, harness.Tail(ps[1].Output(), 600))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
