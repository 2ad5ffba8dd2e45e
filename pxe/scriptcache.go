package pxe

import (
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pxekit/pxekit/ipxe"
)

// maxCachedScripts bounds a scriptCache: a rack room's machines, with room
// to spare. Past it scripts are rendered per request, as without a cache,
// so a client asking for endless made-up MACs (the default profile answers
// any) cannot grow the server's memory.
const maxCachedScripts = 1 << 16

// scriptCache keeps each machine's rendered script for one inventory
// revision. Rendering (templates, the ipxe package's checks of every
// argument) was most of a script request's CPU in a boot storm, and a
// machine's script only changes when the inventory does: Revision moves
// on every change, and the first request that sees a new revision starts
// an empty generation, so a change is served on the very next fetch. The
// zero value is ready.
type scriptCache struct {
	gen atomic.Pointer[scriptGen]
}

// scriptGen is the scripts rendered at one inventory revision.
type scriptGen struct {
	rev uint64
	m   sync.Map // scriptKey → *renderedScript
	n   atomic.Int64
}

// scriptKey is what a script depends on besides the inventory: the
// machine, its firmware, the address family it asked over (the server's
// IPv4 or IPv6 base URL; both are fixed per handler, and a reload builds a
// new handler) and the address it asked from.
type scriptKey struct {
	mac    [6]byte
	fw     ipxe.Firmware
	ipv6   bool
	client netip.Addr
}

// renderedScript is a script as sent, with what its event says.
type renderedScript struct {
	body     []byte
	detail   string // the EventScriptServed detail
	firmware string
	// signed: it carries signed URLs, which expire, so it is never kept
	// (each request signs anew).
	signed bool
}

// get returns the script kept for key at rev, or nil.
func (c *scriptCache) get(rev uint64, key scriptKey) *renderedScript {
	g := c.gen.Load()
	if g == nil || g.rev != rev {
		return nil
	}
	if v, ok := g.m.Load(key); ok {
		return v.(*renderedScript)
	}
	return nil
}

// put keeps s for key at rev. The caller read rev before it looked the
// machine up, so s is at least as new as rev: a change that lands in
// between moves the revision, and the next request misses.
func (c *scriptCache) put(rev uint64, key scriptKey, s *renderedScript) {
	g := c.gen.Load()
	if g == nil || g.rev != rev {
		if g != nil && g.rev > rev {
			return // a newer generation exists: s may be stale for it
		}
		ng := &scriptGen{rev: rev}
		if !c.gen.CompareAndSwap(g, ng) {
			return // another request started a generation; keep nothing this time
		}
		g = ng
	}
	if g.n.Load() >= maxCachedScripts {
		return
	}
	if _, loaded := g.m.LoadOrStore(key, s); !loaded {
		g.n.Add(1)
	}
}

// queryParam is url.Values.Get of the raw query without building the map:
// the first value of key, unescaped; "" when absent or unreadable. A
// pair with a semicolon is skipped, as url.ParseQuery refuses it.
func queryParam(rawQuery, key string) string {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		}
		if !strings.ContainsAny(v, "%+") {
			return v
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			continue // ParseQuery drops the pair too
		}
		return uv
	}
	return ""
}
