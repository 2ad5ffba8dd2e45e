package pxe

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// HTTPRoute names a group of the server's HTTP paths, for counting.
type HTTPRoute string

// The routes HTTPStats counts by.
const (
	RouteScript         HTTPRoute = "script"
	RouteAssets         HTTPRoute = "assets"
	RouteIPXE           HTTPRoute = "ipxe"
	RouteMachines       HTTPRoute = "machines"
	RoutePhoneHome      HTTPRoute = "phonehome"
	RouteEvents         HTTPRoute = "events"
	RouteDashboard      HTTPRoute = "dashboard"
	RouteDashboardState HTTPRoute = "dashboard-state"
	RouteHealth         HTTPRoute = "healthz"
	RouteReady          HTTPRoute = "readyz"
	RouteMetrics        HTTPRoute = "metrics"
	RouteOther          HTTPRoute = "other" // anything else: answered 404
)

// routeOf groups a request path.
func routeOf(p string) HTTPRoute {
	switch {
	case p == PathScript:
		return RouteScript
	case strings.HasPrefix(p, PathAssets):
		return RouteAssets
	case strings.HasPrefix(p, PathIPXE):
		return RouteIPXE
	case strings.HasPrefix(p, PathMachines):
		return RouteMachines
	case p == PathPhoneHome:
		return RoutePhoneHome
	case p == PathEvents:
		return RouteEvents
	case p == PathDashboard:
		return RouteDashboard
	case p == PathDashboardState:
		return RouteDashboardState
	case p == PathHealthz:
		return RouteHealth
	case p == PathReadyz:
		return RouteReady
	case p == PathMetrics:
		return RouteMetrics
	}
	return RouteOther
}

// HTTPCount is the requests of one route answered with one status.
type HTTPCount struct {
	Route    HTTPRoute
	Status   int
	Requests uint64
	// Bytes counts the response bodies sent.
	Bytes uint64
}

// httpCounters counts requests by route and status; the set of pairs is
// small and stops growing, so a read lock guards the hot path.
type httpCounters struct {
	mu sync.RWMutex
	m  map[routeStatus]*httpCount
}

type routeStatus struct {
	route  HTTPRoute
	status int
}

type httpCount struct{ requests, bytes atomic.Uint64 }

func (c *httpCounters) add(route HTTPRoute, status int, n int64) {
	k := routeStatus{route, status}
	c.mu.RLock()
	hc := c.m[k]
	c.mu.RUnlock()
	if hc == nil {
		c.mu.Lock()
		if c.m == nil {
			c.m = map[routeStatus]*httpCount{}
		}
		if hc = c.m[k]; hc == nil {
			hc = &httpCount{}
			c.m[k] = hc
		}
		c.mu.Unlock()
	}
	hc.requests.Add(1)
	if n > 0 {
		hc.bytes.Add(uint64(n))
	}
}

func (c *httpCounters) snapshot() []HTTPCount {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]HTTPCount, 0, len(c.m))
	for k, v := range c.m {
		out = append(out, HTTPCount{Route: k.route, Status: k.status, Requests: v.requests.Load(), Bytes: v.bytes.Load()})
	}
	slices.SortFunc(out, func(a, b HTTPCount) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Status, b.Status))
	})
	return out
}

// counted wraps h so each request is counted under its route once it is
// answered (a stream, when it ends).
func (c *httpCounters) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(cw, r)
		c.add(routeOf(r.URL.Path), cw.status, cw.n)
	})
}
