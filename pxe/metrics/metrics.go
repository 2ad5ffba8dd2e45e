// Package metrics exports a pxe boot server's counters to Prometheus: a
// prometheus.Collector over the DHCP, TFTP, router-advertisement and HTTP
// counters the servers keep (their Stats), and histograms of how long each
// boot phase took per firmware, fed from the boot event stream. It is its
// own package so that embedding pxe does not pull in client_golang: pxe,
// dhcp, tftp and ra depend on no metrics library.
//
// Every name has the pxekit_ prefix and follows Prometheus' conventions:
// counters end in _total, durations are in seconds, sizes in bytes.
//
//	m := metrics.New()
//	cfg.Metrics = m // served at /metrics
//	srv, err := pxe.New(cfg)
//	...
//	m.Start(ctx, srv)
//	srv.Serve(ctx)
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/pxe"
)

// PhaseBuckets returns the boot phase histograms' upper bounds, in
// seconds: from a DHCP exchange's tenth of a second to an installer's ten
// minutes.
func PhaseBuckets() []float64 {
	return []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}
}

// Metrics is the boot server's Prometheus registry and its /metrics
// handler. Create it with New, hand it to pxe.Config.Metrics, and attach
// the server with Watch.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	srv     atomic.Pointer[pxe.Server]
	phases  *prometheus.HistogramVec
	events  *prometheus.CounterVec
}

// New returns a registry with the boot server's collector, the boot phase
// histograms and the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.phases = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "pxekit_boot_phase_duration_seconds",
		Help:    "How long each phase of a network boot took (dhcp: DISCOVER to ACK; script: to iPXE's script; kernel, initrd: to their downloads; phone-home: to the booted system's report), by the firmware that started the boot.",
		Buckets: PhaseBuckets(),
	}, []string{"phase", "firmware"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pxekit_boot_events_total",
		Help: "Boot events published, by kind.",
	}, []string{"kind"})
	m.reg.MustRegister(collector{m}, m.phases, m.events,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Registry is where the metrics are registered, for a program that adds
// its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP serves the metrics in Prometheus' text format (or what the
// scraper negotiates); only GET and HEAD.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "metrics are read with GET", http.StatusMethodNotAllowed)
		return
	}
	m.handler.ServeHTTP(w, r)
}

// Start attaches srv: its counters are collected from now on, and every
// boot event it publishes after Start returns is counted and feeds the
// phase histograms, in a goroutine, until ctx is done. The subscription is
// made before Start returns so that a server started next misses none of
// its first events; the returned channel is closed when counting stops.
func (m *Metrics) Start(ctx context.Context, srv *pxe.Server) <-chan struct{} {
	m.srv.Store(srv)
	tracker := pxe.NewBootTracker(srv.Inventory)
	events := srv.Subscribe(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range events {
			m.Observe(tracker, e)
		}
	}()
	return done
}

// Watch is Start that blocks until ctx is done and counting has stopped.
func (m *Metrics) Watch(ctx context.Context, srv *pxe.Server) { <-m.Start(ctx, srv) }

// Observe counts one event and feeds the phase it completes, if any, into
// the histograms; Watch calls it for every event.
func (m *Metrics) Observe(t *pxe.BootTracker, e pxe.Event) {
	m.events.WithLabelValues(string(e.Kind)).Inc()
	for _, p := range t.Observe(e) {
		fw := p.Firmware
		if fw == "" {
			fw = "unknown"
		}
		m.phases.WithLabelValues(string(p.Phase), fw).Observe(p.Duration.Seconds())
	}
}

// collector reads the attached server's counters at each scrape.
type collector struct{ m *Metrics }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("pxekit_"+name, help, labels, nil)
}

var (
	descReady         = desc("ready", "1 once every listener is up and the leases are loaded, 0 before and while stopping.")
	descDHCPReceived  = desc("dhcp_packets_received_total", "DHCP packets read from the sockets.")
	descDHCPRequests  = desc("dhcp_requests_total", "DHCP requests decoded, by message type.", "type")
	descDHCPReplies   = desc("dhcp_replies_total", "DHCP replies sent, by message type (offer, ack, nak, and ack to an inform).", "type")
	descDHCPDropped   = desc("dhcp_dropped_total", "DHCP packets that got no answer, by reason.", "reason")
	descDHCPPool      = desc("dhcp_pool_addresses", "Dynamic pool addresses of a subnet.", "subnet")
	descDHCPPoolFree  = desc("dhcp_pool_free_addresses", "Pool addresses free now (not leased, offered, reserved or quarantined).", "subnet")
	descDHCPLeases    = desc("dhcp_active_leases", "Bound, unexpired leases in a subnet.", "subnet")
	descDHCPCommits   = desc("dhcp_store_commits_total", "Lease store commits (each one transaction, one fsync for bbolt).")
	descDHCPWrites    = desc("dhcp_store_lease_writes_total", "Lease records written by the commits.")
	descDHCPCommitLat = desc("dhcp_store_commit_duration_seconds", "How long each lease store commit took.")
	descTFTPRequests  = desc("tftp_requests_total", "TFTP read and write requests received.")
	descTFTPXfers     = desc("tftp_transfers_total", "TFTP transfers that ended, by outcome (sent: acknowledged whole; failed; aborted by the client).", "outcome")
	descTFTPActive    = desc("tftp_active_transfers", "TFTP transfers running now.")
	descTFTPBytes     = desc("tftp_sent_bytes_total", "File bytes acknowledged by TFTP clients.")
	descTFTPRetrans   = desc("tftp_retransmitted_packets_total", "TFTP packets sent again after their ACK timed out.")
	descTFTPErrors    = desc("tftp_errors_sent_total", "TFTP ERROR packets sent, by error code.", "code")
	descTFTPDropped   = desc("tftp_dropped_total", "TFTP requests that started no transfer, by reason.", "reason")
	descHTTPRequests  = desc("http_requests_total", "HTTP requests answered, by route and status code.", "route", "code")
	descHTTPBytes     = desc("http_response_bytes_total", "HTTP response body bytes sent, by route and status code.", "route", "code")
	descRASolicit     = desc("ra_solicitations_total", "IPv6 router solicitations received.")
	descRAReplies     = desc("ra_replies_total", "Router solicitations answered with an advertisement.")
	descRAAdverts     = desc("ra_advertisements_total", "Router advertisements sent.")
	descRADropped     = desc("ra_dropped_total", "Router solicitations not answered, by reason.", "reason")
	descEventsDropped = desc("events_dropped_total", "Boot events slow subscribers missed.")
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReady, descDHCPReceived, descDHCPRequests, descDHCPReplies, descDHCPDropped,
		descDHCPPool, descDHCPPoolFree, descDHCPLeases, descDHCPCommits, descDHCPWrites, descDHCPCommitLat,
		descTFTPRequests, descTFTPXfers, descTFTPActive, descTFTPBytes, descTFTPRetrans, descTFTPErrors, descTFTPDropped,
		descHTTPRequests, descHTTPBytes, descRASolicit, descRAReplies, descRAAdverts, descRADropped, descEventsDropped} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	srv := c.m.srv.Load()
	if srv == nil {
		return // not attached yet: nothing to report
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ready := 0.0
	if srv.IsReady() {
		ready = 1
	}
	gauge(descReady, ready)
	st := srv.Counters()

	d := st.DHCP
	counter(descDHCPReceived, d.Received)
	for t, n := range d.Requests {
		counter(descDHCPRequests, n, t)
	}
	counter(descDHCPReplies, d.Offers, "offer")
	counter(descDHCPReplies, d.Acks, "ack")
	counter(descDHCPReplies, d.Naks, "nak")
	counter(descDHCPReplies, d.Informs, "inform-ack")
	for r, n := range d.Dropped {
		counter(descDHCPDropped, n, string(r))
	}
	for _, sn := range d.Subnets {
		p := sn.Prefix.String()
		gauge(descDHCPPool, float64(sn.PoolSize), p)
		gauge(descDHCPPoolFree, float64(sn.PoolFree), p)
		gauge(descDHCPLeases, float64(sn.ActiveLeases), p)
	}
	counter(descDHCPCommits, d.Commits)
	counter(descDHCPWrites, d.LeaseWrites)
	ch <- commitHistogram(d.CommitLatency)

	t := st.TFTP
	counter(descTFTPRequests, t.Requests)
	counter(descTFTPXfers, t.Sent, "sent")
	counter(descTFTPXfers, t.Failed, "failed")
	counter(descTFTPXfers, t.Aborted, "aborted")
	gauge(descTFTPActive, float64(t.Active))
	counter(descTFTPBytes, t.BytesSent)
	counter(descTFTPRetrans, t.Retransmitted)
	for code, n := range t.ErrorsSent {
		counter(descTFTPErrors, n, strconv.Itoa(int(code)))
	}
	for r, n := range t.Dropped {
		counter(descTFTPDropped, n, string(r))
	}

	for _, h := range st.HTTP {
		code := strconv.Itoa(h.Status)
		counter(descHTTPRequests, h.Requests, string(h.Route), code)
		counter(descHTTPBytes, h.Bytes, string(h.Route), code)
	}

	r := st.RA
	counter(descRASolicit, r.Solicitations)
	counter(descRAReplies, r.Answered)
	counter(descRAAdverts, r.Advertisements)
	for reason, n := range r.Dropped {
		counter(descRADropped, n, string(reason))
	}
	counter(descEventsDropped, st.EventsDropped)
}

// commitHistogram turns the DHCP server's commit latencies into a
// Prometheus histogram (cumulative buckets, in seconds).
func commitHistogram(h dhcp.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	if h.Bounds == nil {
		for _, b := range dhcp.CommitBuckets() {
			buckets[b.Seconds()] = 0
		}
	}
	return prometheus.MustNewConstHistogram(descDHCPCommitLat, h.Count, h.Sum.Seconds(), buckets)
}
