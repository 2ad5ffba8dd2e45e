package ra

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// TestRouterLifetime: the lifetime is bytes 6–7 of the advertisement, in
// seconds; Validate refuses what RFC 4861 does not allow.
func TestRouterLifetime(t *testing.T) {
	b := advert{lifetime: 1800}.encode(macA)
	if got := binary.BigEndian.Uint16(b[6:]); got != 1800 {
		t.Errorf("router lifetime %d, want 1800", got)
	}
	if got := binary.BigEndian.Uint16(advertisement(macA)[6:]); got != 0 {
		t.Errorf("default router lifetime %d, want 0", got)
	}
	for _, c := range []struct {
		life time.Duration
		ok   bool
	}{{0, true}, {1800 * time.Second, true}, {MaxRouterLifetime, true}, {MaxRouterLifetime + time.Second, false}, {-time.Second, false}, {1500 * time.Millisecond, false}} {
		errs := Config{Interface: "br0", RouterLifetime: c.life}.Validate()
		if (len(errs) == 0) != c.ok {
			t.Errorf("RouterLifetime %v: errors %v, want ok=%v", c.life, errs, c.ok)
		}
		if len(errs) > 0 && !strings.Contains(errs.ToAggregate().Error(), "routerLifetime") {
			t.Errorf("RouterLifetime %v: %v does not name the field", c.life, errs)
		}
	}
}
