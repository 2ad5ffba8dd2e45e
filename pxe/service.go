package pxe

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/dhcp6"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/ra"
	"github.com/pxekit/pxekit/tftp"
)

// Operational paths Serve mounts beside Handler's boot routes.
const (
	PathDashboard      = "/"                // the live boot dashboard (HTML)
	PathDashboardState = "/dashboard/state" // what the dashboard shows, as JSON
	PathHealthz        = "/healthz"         // 200 while the process serves HTTP
	PathReadyz         = "/readyz"          // 200 once every listener is up and the leases are loaded
	PathMetrics        = "/metrics"         // Config.Metrics (package pxe/metrics), 404 without it
)

//go:embed dashboard.html
var dashboardPage string

// dashboardStateMarker is where the page carries its first state, so it
// shows the machines without waiting for a request of its own.
const dashboardStateMarker = "/*PXEKIT-STATE*/null"

// ServiceHandler is everything Serve answers over HTTP: Handler's boot
// routes, and beside them the dashboard at PathDashboard with its state at
// PathDashboardState, PathHealthz, PathReadyz and Config.Metrics at
// PathMetrics. Every request is counted in HTTPStats by route and status.
// Mount it to serve the boot server's HTTP side from another server.
func (s *Server) ServiceHandler() http.Handler { return s.service }

// newServiceHandler builds ServiceHandler's handler.
func (s *Server) newServiceHandler() http.Handler {
	boot := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.http.Load().ServeHTTP(w, r) })
	return s.httpStats.counted(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathDashboard:
			if !readOnly(w, r) {
				return
			}
			s.dashboard(w)
		case PathDashboardState:
			if !readOnly(w, r) {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(s.DashboardState())
		case PathHealthz:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		case PathReadyz:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if why := s.notReady(); why != "" {
				http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		case PathMetrics:
			if s.cfg.Metrics == nil {
				http.Error(w, "no metrics configured (pxe.Config.Metrics)", http.StatusNotFound)
				return
			}
			s.cfg.Metrics.ServeHTTP(w, r)
		default:
			boot.ServeHTTP(w, r)
		}
	}))
}

// readOnly answers a method other than GET or HEAD with 405.
func readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "the dashboard is read-only: use GET", http.StatusMethodNotAllowed)
	return false
}

// IsReady reports what PathReadyz answers: true once every listener is up
// and the leases are loaded, false before and once Serve is stopping.
func (s *Server) IsReady() bool { return s.notReady() == "" }

// notReady says what is missing before the server is ready, "" once it
// is.
func (s *Server) notReady() string {
	select {
	case <-s.ready:
	default:
		return "listeners starting"
	}
	if s.stopping.Load() {
		return "stopping"
	}
	return ""
}

func (s *Server) dashboard(w http.ResponseWriter) {
	state, err := json.Marshal(s.DashboardState()) // escapes <, > and &: safe inside <script>
	if err != nil {
		http.Error(w, "dashboard state: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	kinds, _ := json.Marshal(EventKinds())
	page := strings.Replace(dashboardPage, dashboardStateMarker, string(state), 1)
	page = strings.Replace(page, "/*PXEKIT-KINDS*/[]", string(kinds), 1)
	_, _ = w.Write([]byte(page))
}

// DashboardState is what the dashboard shows.
type DashboardState struct {
	Server   ServerInfo      `json:"server"`
	Machines []MachineStatus `json:"machines"`
	Denials  []Event         `json:"denials"`
	Counters Counters        `json:"counters"`
}

// ServerInfo identifies the boot server on the dashboard.
type ServerInfo struct {
	Interface string    `json:"interface"`
	BaseURL   string    `json:"baseURL"`
	Ready     bool      `json:"ready"`
	Now       time.Time `json:"now"`
}

// Counters are the servers' counters.
type Counters struct {
	DHCP dhcp.Stats  `json:"dhcp"`
	TFTP tftp.Stats  `json:"tftp"`
	RA   ra.Stats    `json:"ra"`
	HTTP []HTTPCount `json:"http"`
	// EventsDropped counts events slow subscribers missed.
	EventsDropped uint64 `json:"eventsDropped"`
	// DHCP6 is the DHCPv6 server's, nil when it does not run.
	DHCP6 *dhcp6.Stats `json:"dhcp6,omitempty"`
}

// DashboardState returns the machines (every one the inventory lists,
// when it can list them, and every one seen booting), the latest
// refusals and the counters.
func (s *Server) DashboardState() DashboardState {
	st := DashboardState{
		Server:   ServerInfo{Interface: s.cfg.Interface, BaseURL: s.base, Ready: s.notReady() == "", Now: time.Now()},
		Machines: s.tracker.Machines(),
		Denials:  s.tracker.Denials(),
		Counters: s.Counters(),
	}
	if l, ok := s.Inventory().(InventoryLister); ok {
		seen := map[string]bool{}
		for _, m := range st.Machines {
			seen[m.MAC] = true
		}
		for _, m := range l.Machines() {
			if !seen[m.MAC.String()] {
				st.Machines = append(st.Machines, MachineStatus{MAC: m.MAC.String(), Hostname: m.Hostname, Profile: m.Profile})
			}
		}
	}
	for i, m := range st.Machines {
		if !m.Address.IsValid() {
			if mac, err := macaddr.Parse(m.MAC); err == nil {
				if l, ok := s.leaseByMAC(mac); ok {
					st.Machines[i].Address = l.IP
				}
			}
		}
	}
	return st
}

// Counters returns a snapshot of every counter the boot server keeps.
func (s *Server) Counters() Counters {
	c := Counters{RA: s.ra.Stats(), HTTP: s.HTTPStats(), EventsDropped: s.bus.Dropped()}
	if s.dhcp != nil {
		c.DHCP = s.dhcp.Stats()
	}
	if s.dhcp6 != nil {
		st := s.dhcp6.Stats()
		c.DHCP6 = &st
	}
	if t := s.tftpSrv.Load(); t != nil {
		c.TFTP = t.Stats()
	}
	return c
}

// HTTPStats returns the HTTP requests answered so far, by route and
// status, with the bytes of their bodies.
func (s *Server) HTTPStats() []HTTPCount { return s.httpStats.snapshot() }

// Inventory returns the inventory the server answers from now (Reload
// may have replaced it).
func (s *Server) Inventory() Inventory { return s.live.Load().Inventory }

// Machines returns what the server has seen of each machine's latest
// boot: its phase, address, profile, firmware and timeline.
func (s *Server) Machines() []MachineStatus { return s.tracker.Machines() }
