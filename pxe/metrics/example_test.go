package metrics_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/pxekit/pxekit/pxe/metrics"
)

// The registry serves in Prometheus' text format from the start; the boot
// server's own metrics appear once Start attaches it (see the package
// documentation).
func Example() {
	m := metrics.New()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), "go_goroutines"))
	// Output: 200 true
}
