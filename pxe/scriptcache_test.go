package pxe

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func scriptFor(t *testing.T, h *handler, target string) (int, string) {
	t.Helper()
	w := do(h, "GET", target, "192.0.2.99:4000", nil)
	return w.Code, w.Body.String()
}

// Scripts are rendered once per machine and firmware, and every kind of
// inventory change is served on the very next fetch: a changed profile, a
// changed machine, a machine moved to another profile, one removed (then
// denied), the default profile set for it, and that profile changed.
func TestScriptCacheFollowsInventory(t *testing.T) {
	h, _ := testHandler(t, nil)
	inv := staticInv(h)
	const bios, efi = "/boot.ipxe?mac=52:54:00:6b:13:e2", "/boot.ipxe?mac=52:54:00:6b:13:e2&fw=efi"
	want := func(step, target string, code int, has, hasNot string) {
		t.Helper()
		for i := range 2 { // the second fetch is the kept one
			c, body := scriptFor(t, h, target)
			if c != code || !strings.Contains(body, has) || (hasNot != "" && strings.Contains(body, hasNot)) {
				t.Fatalf("%s, fetch %d of %s: %d %q, want %d with %q and without %q", step, i+1, target, c, body, code, has, hasNot)
			}
		}
	}
	want("first", bios, 200, "console=ttyS0", "initrd=")
	want("first", efi, 200, "initrd=initrd.gz", "")
	want("first", bios, 200, "console=ttyS0", "initrd=") // BIOS and EFI are kept apart

	_, p, _ := inv.Lookup(macA)
	p.Args = append(slices.Clone(p.Args), "changed=1")
	must(t, inv.SetProfile("create", p))
	want("profile changed", bios, 200, "changed=1", "")
	want("profile changed", efi, 200, "changed=1", "")

	m, _, _ := inv.Lookup(macA)
	p.Args = append(p.Args, "token={{.Vars.token}}")
	must(t, inv.SetProfile("create", p))
	want("template reads a var", bios, 200, "token=s3cret", "")
	m.Vars = map[string]string{"token": "third"}
	must(t, inv.SetMachine(m))
	want("machine's var changed", bios, 200, "token=third", "token=s3cret")

	m.Profile = "join"
	must(t, inv.SetMachine(m))
	want("machine moved to another profile", bios, 200, "mode=join", "token=")

	inv.RemoveMachine(macA)
	want("machine removed", bios, 403, "Forbidden", "")
	must(t, inv.SetDefault("join"))
	want("default profile", bios, 200, "mode=join", "")
	_, jp, _ := inv.Lookup(macA)
	jp.Script = strings.Replace(jp.Script, "mode=join", "mode=rejoin", 1)
	must(t, inv.SetProfile("join", jp))
	want("default profile changed", bios, 200, "mode=rejoin", "mode=join")
}

// A script with signed URLs is signed anew for every request: a kept copy
// would hand out a signature that expires from the first request on.
func TestScriptSignedNotKept(t *testing.T) {
	h, _, now := signingHandler(t)
	for _, exp := range []string{"1900003600", "1900007200"} {
		_, body := scriptFor(t, h, "/boot.ipxe?mac=52:54:00:6b:13:e2")
		var got string
		for _, f := range strings.Fields(body) {
			if v, ok := strings.CutPrefix(f, "cfg="); ok {
				u, err := url.Parse(v)
				if err != nil {
					t.Fatal(err)
				}
				got = u.Query().Get(ParamExpires)
			}
		}
		if got != exp {
			t.Fatalf("expires=%q, want %s (now %v)", got, exp, *now)
		}
		*now = now.Add(time.Hour)
	}
}

// Many machines fetching at once while the inventory changes: once a
// change is made, no fetch that starts after it gets the old script.
func TestScriptCacheConcurrentChange(t *testing.T) {
	h, _ := testHandler(t, nil)
	inv := staticInv(h)
	must(t, inv.SetDefault("create"))
	_, p, _ := inv.Lookup(macA)
	var wg sync.WaitGroup
	for gen := range 5 {
		p.Args = append(slices.Clone(p.Args[:4]), fmt.Sprintf("gen=%d", gen))
		must(t, inv.SetProfile("create", p))
		for w := range 4 {
			wg.Go(func() {
				for i := range 50 {
					target := fmt.Sprintf("/boot.ipxe?mac=52:54:00:01:%02x:%02x", w, i)
					if c, body := scriptFor(t, h, target); c != 200 || !strings.Contains(body, fmt.Sprintf("gen=%d", gen)) {
						t.Errorf("generation %d, %s: %d %q", gen, target, c, body)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// queryParam reads what url.Values.Get reads.
func FuzzQueryParam(f *testing.F) {
	for _, s := range []string{"mac=52:54:00:6b:13:e2&fw=efi", "fw=EFI&mac=a", "m%61c=x", "mac=%zz&mac=b", "mac;=1&mac=2", "mac=a+b%20c", "&&mac&fw=", "mac=1;fw=efi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		for _, k := range []string{"mac", "fw"} {
			if got, want := queryParam(raw, k), q.Get(k); got != want {
				t.Fatalf("queryParam(%q, %q) = %q, url.Values.Get says %q", raw, k, got, want)
			}
		}
	})
}
