package pxe

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/macaddr"
)

// In JSON an event's MAC is the colon form a dashboard or jq reads, "" for
// none, and reading it back gives the same event.
func TestEventJSON(t *testing.T) {
	e := Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Kind: EventAcked, MAC: macA, Detail: "192.0.2.10"}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"time":"2026-01-02T03:04:05Z","kind":"acked","mac":"52:54:00:6b:13:e2","detail":"192.0.2.10"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || !back.Time.Equal(e.Time) || back.Kind != e.Kind || !macaddr.Equal(back.MAC, e.MAC) || back.Detail != e.Detail {
		t.Errorf("read back %+v, %v", back, err)
	}
	b, _ = json.Marshal(Event{Kind: EventDenied})
	if !strings.Contains(string(b), `"mac":""`) {
		t.Errorf("no MAC: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"kind":"acked","mac":"not a mac"}`), &back); err == nil {
		t.Error("a bad MAC was read")
	}
}

// FuzzEventJSON: whatever JSON an /events consumer is handed, reading it
// never panics, and an event read writes back to JSON that reads as the
// same event.
func FuzzEventJSON(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-02T03:04:05Z","kind":"acked","mac":"52:54:00:6b:13:e2","detail":"x"}`))
	f.Add([]byte(`{"kind":"denied","mac":""}`))
	f.Add([]byte(`{"mac":"52-54-00-6B-13-E2"}`))
	f.Add([]byte(`{"mac":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if json.Unmarshal(b, &e) != nil {
			return
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("marshal %+v: %v", e, err)
		}
		var back Event
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s does not read back: %v", out, err)
		}
		if !back.Time.Equal(e.Time) || back.Kind != e.Kind || !macaddr.Equal(back.MAC, e.MAC) || back.Detail != e.Detail {
			t.Fatalf("round trip %+v -> %s -> %+v", e, out, back)
		}
	})
}
