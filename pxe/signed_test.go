package pxe

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pxekit/pxekit/ipxe"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// signingHandler is the test handler signing URLs with testKey for an
// hour, on a clock set by the returned pointer (1,900,000,000 s), with
// macA's profile carrying cfg={{.FileURL "config.yaml"}}.
func signingHandler(t *testing.T) (*handler, *Bus, *time.Time) {
	t.Helper()
	h, bus := testHandler(t, nil)
	now := time.Unix(1_900_000_000, 0)
	h.urlKey, h.urlTTL, h.now = testKey, time.Hour, func() time.Time { return now }
	_, p, _ := h.inv.Lookup(macA)
	p.Args = append(slices.Clone(p.Args), `cfg={{.FileURL "config.yaml"}}`)
	must(t, staticInv(h).SetProfile("create", p))
	return h, bus, &now
}

// A script rendered by a server with a URL key carries a signed config URL
// that opens the file to any requester until it expires; a tampered,
// foreign or expired one gets 403 and a denied event that does not leak the
// signature.
func TestSignedFileURL(t *testing.T) {
	h, bus, now := signingHandler(t)

	w := do(h, "GET", "/boot.ipxe?mac=52:54:00:6b:13:e2", "192.0.2.10:4000", nil)
	if w.Code != 200 {
		t.Fatalf("script: %d %s", w.Code, w.Body)
	}
	var signed string
	for _, f := range strings.Fields(w.Body.String()) {
		if v, ok := strings.CutPrefix(f, "cfg="); ok {
			signed = v
		}
	}
	u, err := url.Parse(signed)
	if err != nil || u.Path != "/machines/52:54:00:6b:13:e2/config.yaml" || u.Query().Get(ParamSignature) == "" {
		t.Fatalf("script's config URL %q is not a signed file URL", signed)
	}
	if exp := u.Query().Get(ParamExpires); exp != "1900003600" {
		t.Errorf("expires=%s, want now+1h", exp)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := bus.Subscribe(ctx)
	// From an address with no lease at all: the signature is enough.
	w = do(h, "GET", u.RequestURI(), "192.0.2.99:4000", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "token: s3cret") {
		t.Fatalf("signed URL from a stranger: %d %q", w.Code, w.Body)
	}
	if e := <-events; e.Kind != EventConfigServed {
		t.Fatalf("event %+v", e)
	}

	sig := u.Query().Get(ParamSignature)
	bad := []struct{ name, target string }{
		{"other machine's path", strings.Replace(u.RequestURI(), "6b:13:e2", "69:d5:92", 1)},
		{"tampered expiry", strings.Replace(u.RequestURI(), "1900003600", "1900099999", 1)},
		{"tampered signature", strings.Replace(u.RequestURI(), sig, sig[:len(sig)-2]+"AA", 1)},
		{"signature without expiry", "/machines/52:54:00:6b:13:e2/config.yaml?sig=" + sig},
	}
	for _, b := range bad {
		// Even the owner's own lease does not rescue a bad signature.
		w = do(h, "GET", b.target, "192.0.2.10:4000", nil)
		if w.Code != 403 || strings.Contains(w.Body.String(), "s3cret") {
			t.Errorf("%s: %d %q", b.name, w.Code, w.Body)
		}
		e := <-events
		if e.Kind != EventDenied || strings.Contains(e.Detail, sig) {
			t.Errorf("%s: event %+v", b.name, e)
		}
	}
	*now = now.Add(61 * time.Minute)
	w = do(h, "GET", u.RequestURI(), "192.0.2.99:4000", nil)
	if w.Code != 403 {
		t.Errorf("expired URL: %d", w.Code)
	}
	if e := <-events; e.Kind != EventDenied || !strings.Contains(e.Detail, ErrExpired.Error()) {
		t.Errorf("expired: event %+v", e)
	}
}

func TestVerifySignedPath(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	q, _ := url.ParseQuery(SignPath(testKey, "/machines/a/b", now.Add(time.Minute)))
	if err := VerifySignedPath(testKey, "/machines/a/b", q, now); err != nil {
		t.Fatalf("fresh: %v", err)
	}
	if err := VerifySignedPath([]byte("another key, also 32 bytes long!"), "/machines/a/b", q, now); err != ErrBadSignature {
		t.Errorf("other key: %v", err)
	}
	if err := VerifySignedPath(testKey, "/machines/a/b", url.Values{}, now); err != ErrNotSigned {
		t.Errorf("unsigned: %v", err)
	}
	if err := VerifySignedPath(testKey, "/machines/a/b", q, now.Add(2*time.Minute)); err != ErrExpired {
		t.Errorf("late: %v", err)
	}
}

// Without a key, FileURL is the plain lease-bound URL.
func TestFileURLUnsigned(t *testing.T) {
	m := Machine{MAC: macA, Profile: "p"}
	out, err := RenderScript(m, Profile{Kernel: "k", Args: []string{`c={{.FileURL "x.yaml"}}`}}, "http://192.0.2.1", ipxe.BIOS)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), " c=http://192.0.2.1/machines/52:54:00:6b:13:e2/x.yaml\n") {
		t.Errorf("script:\n%s", out)
	}
}

func TestNewRejectsShortURLKey(t *testing.T) {
	if _, err := New(Config{Interface: "lo", URLKey: []byte("short"), IPXE: fstest.MapFS{}}); err == nil || !strings.Contains(err.Error(), "urlKey: Invalid value") {
		t.Errorf("New with a 5-byte key: %v", err)
	}
}

func TestNewTFTPWindowSize(t *testing.T) {
	for _, c := range []struct {
		in, want int
		err      bool
	}{{0, DefaultTFTPWindowSize, false}, {-1, 0, false}, {64, 64, false}, {70000, 0, true}} {
		s, err := New(Config{Interface: "lo", TFTPWindowSize: c.in, IPXE: fstest.MapFS{}})
		if c.err {
			if err == nil || !strings.Contains(err.Error(), "tftpWindowSize: Invalid value") {
				t.Errorf("TFTPWindowSize %d: %v, want an error naming the field", c.in, err)
			}
			continue
		}
		if err != nil || s.cfg.TFTPWindowSize != c.want {
			t.Errorf("TFTPWindowSize %d: %v, window %d, want %d", c.in, err, s.cfg.TFTPWindowSize, c.want)
		}
	}
}
