package pxe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/macaddr"
)

// HTTP paths the boot server answers.
const (
	PathScript    = "/boot.ipxe" // ?mac=...&fw=efi: the machine's iPXE script
	PathAssets    = "/assets/"   // kernels, initrds, images (Range, ETag)
	PathIPXE      = "/ipxe/"     // iPXE binaries, for UEFI HTTP boot
	PathMachines  = "/machines/" // /machines/<mac>/<file>: per-machine files, that machine only
	PathPhoneHome = "/phonehome" // ?mac=...: the booted OS reports back
	PathEvents    = "/events"    // boot events: JSON lines, or SSE with Accept: text/event-stream; ?mac=, ?for=30s, ?until=KIND
)

// handler serves the boot server's HTTP side. It is separate from Server so
// callers can mount it in their own mux (Server.Handler).
type handler struct {
	inv     Inventory
	assets  fs.FS
	ipxe    fs.FS
	bus     *Bus
	baseURL string
	// baseURL6 is the HTTP root for requests that came over IPv6 ("":
	// no IPv6).
	baseURL6 string
	// macForIP maps a requester to the MAC its DHCP lease names; nil or
	// false when unknown.
	macForIP func(netip.Addr) (net.HardwareAddr, bool)
	log      *slog.Logger
	// urlKey signs per-machine file URLs in scripts (nil: unsigned);
	// urlTTL is their lifetime.
	urlKey []byte
	urlTTL time.Duration
	// done, when closed, ends the event streams (the server is stopping).
	done <-chan struct{}
	// now is the clock for signatures (time.Now when nil).
	now func() time.Time
	// tmpl keeps the profiles' parsed templates across requests.
	tmpl templateCache
	// scripts keeps rendered scripts for the inventory's revision.
	scripts scriptCache
	// assetFiles and ipxeFiles keep small files of assets and ipxe in
	// memory.
	assetFiles, ipxeFiles smallFiles

	// Secure Boot and HTTPS (secureboot.go, tls.go).
	sb *sbState
	// httpsBaseURL is the HTTPS root ("" without HTTPS); filesHTTPSOnly
	// refuses per-machine files over plain HTTP.
	httpsBaseURL   string
	filesHTTPSOnly bool
}

func (h *handler) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == PathScript:
		h.script(w, r)
	case strings.HasPrefix(p, PathAssets):
		h.asset(w, r, h.assets, &h.assetFiles, strings.TrimPrefix(p, PathAssets))
	case strings.HasPrefix(p, PathIPXE):
		h.asset(w, r, h.ipxe, &h.ipxeFiles, strings.TrimPrefix(p, PathIPXE))
	case strings.HasPrefix(p, PathMachines):
		h.machineFile(w, r, strings.TrimPrefix(p, PathMachines))
	case strings.HasPrefix(p, PathSecureBoot), strings.HasPrefix(p, PathGRUB), strings.HasPrefix(p, PathReport):
		h.secureBoot(w, r)
	case p == PathPhoneHome:
		h.phoneHome(w, r)
	case p == PathEvents:
		h.events(w, r)
	default:
		http.NotFound(w, r)
	}
}

// requester returns the client's address and the MAC its lease names.
func (h *handler) requester(r *http.Request) (netip.Addr, net.HardwareAddr) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, nil
	}
	return h.requesterAt(ap.Addr().Unmap())
}

// requesterAt is requester for a client at ip (unmapped).
func (h *handler) requesterAt(ip netip.Addr) (netip.Addr, net.HardwareAddr) {
	if h.macForIP != nil {
		if mac, ok := h.macForIP(ip); ok {
			return ip, mac
		}
	}
	return ip, nil
}

// machineMAC is the MAC a request speaks for: ?mac= (iPXE's ${net0/mac}),
// else the requester's lease.
// q is the request's parsed query (parsed once per request).
func (h *handler) machineMAC(r *http.Request, q url.Values) (net.HardwareAddr, error) {
	if s := q.Get("mac"); s != "" {
		return macaddr.Parse(s)
	}
	if _, mac := h.requester(r); mac != nil {
		return mac, nil
	}
	return nil, fmt.Errorf("no mac parameter and no DHCP lease for %s", r.RemoteAddr)
}

func (h *handler) script(w http.ResponseWriter, r *http.Request) {
	mac, err := h.scriptMAC(r)
	if err != nil {
		h.deny(w, nil, http.StatusBadRequest, "script: "+err.Error())
		return
	}
	fw := scriptFirmware(r.URL.RawQuery)
	base := h.baseFor(r)
	client, _ := h.requester(r)
	s, err := h.scriptFor(mac, fw, base != h.baseURL, client)
	if err != nil {
		var le *lookupError
		if errors.As(err, &le) {
			h.deny(w, mac, http.StatusForbidden, "script: "+le.err.Error())
			return
		}
		h.log.Error("render script", "mac", mac.String(), "err", err)
		h.bus.publishMAC(mac, EventDenied, "script: "+err.Error())
		http.Error(w, "cannot render the boot script", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Set here, so a Connection: close request gets its FIN at once
	// (finWithResponse).
	w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
	_, _ = w.Write(s.body)
	h.bus.Publish(Event{Kind: EventScriptServed, MAC: mac, Detail: s.detail, Firmware: s.firmware})
}

// scriptFirmware is the firmware ?fw= names: EFI for "efi", else BIOS.
func scriptFirmware(rawQuery string) ipxe.Firmware {
	if strings.EqualFold(queryParam(rawQuery, "fw"), "efi") {
		return ipxe.EFI
	}
	return ipxe.BIOS
}

// lookupError is an inventory lookup that refused a machine (answered
// 403), as opposed to a script that failed to render (500).
type lookupError struct{ err error }

func (e *lookupError) Error() string { return e.err.Error() }

// scriptFor returns mac's script for a request over IPv6 (v6) or IPv4 from
// client: the one kept for the inventory's revision, else rendered now
// (and kept unless it is signed). It has no other effect, so both HTTP
// paths (net/http and http1) can ask it and answer a failure themselves.
func (h *handler) scriptFor(mac net.HardwareAddr, fw ipxe.Firmware, v6 bool, client netip.Addr) (*renderedScript, error) {
	base := h.baseURL
	if v6 {
		base = h.baseURL6
	}
	// The revision is read before the lookup, so what is kept under it is
	// never older than it.
	rev := h.inv.Revision()
	// The script names the server by the address family the request came
	// in on, and may name the client's own address (ip6=…): both are part
	// of what is kept.
	key, keyed := scriptKey{fw: fw, ipv6: v6, client: client}, len(mac) == 6
	if keyed {
		key.mac = [6]byte(mac)
		if s := h.scripts.get(rev, key); s != nil {
			return s, nil
		}
	}
	s, err := h.renderScript(mac, fw, base, client)
	if err != nil {
		return nil, err
	}
	if keyed && !s.signed {
		h.scripts.put(rev, key, s)
	}
	return s, nil
}

// scriptMAC is machineMAC for the script, reading ?mac= without parsing
// the whole query.
func (h *handler) scriptMAC(r *http.Request) (net.HardwareAddr, error) {
	if s := queryParam(r.URL.RawQuery, "mac"); s != "" {
		return macaddr.Parse(s)
	}
	if _, mac := h.requester(r); mac != nil {
		return mac, nil
	}
	return nil, fmt.Errorf("no mac parameter and no DHCP lease for %s", r.RemoteAddr)
}

// renderScript renders mac's script for a request to base from client.
// A machine the inventory refuses is a *lookupError.
func (h *handler) renderScript(mac net.HardwareAddr, fw ipxe.Firmware, base string, client netip.Addr) (*renderedScript, error) {
	m, p, err := h.inv.Lookup(mac)
	if err != nil {
		return nil, &lookupError{err}
	}
	data := h.scriptData(m, fw)
	signed := false
	if sign := data.sign; sign != nil {
		data.sign = func(path string) string { signed = true; return sign(path) }
	}
	data.BaseURL = base
	if client.IsValid() {
		data.ClientAddr = client.String()
	}
	out, err := renderScript(&h.tmpl, m, p, data, fw)
	if err != nil {
		return nil, err
	}
	return &renderedScript{body: out, detail: "profile=" + m.Profile + " firmware=" + fw.String(), firmware: fw.String(), signed: signed}, nil
}

// scriptData is what m's templates see from this server: its roots, and
// FileURL signing (Config.URLKey) and HTTPS (Config.FilesHTTPSOnly) as
// configured.
func (h *handler) scriptData(m Machine, fw ipxe.Firmware) ScriptData {
	data := newScriptData(m, h.baseURL, fw)
	data.HTTPSBaseURL = h.httpsBaseURL
	if h.filesHTTPSOnly {
		data.fileBase = h.httpsBaseURL
	}
	if len(h.urlKey) > 0 {
		exp := h.clock().Add(h.urlTTL)
		data.sign = func(path string) string { return SignPath(h.urlKey, path, exp) }
	}
	return data
}

func (h *handler) asset(w http.ResponseWriter, r *http.Request, fsys fs.FS, small *smallFiles, name string) {
	if fsys == nil {
		http.NotFound(w, r)
		return
	}
	ip, mac := h.requester(r)
	n, status := serveFile(w, r, cachedFS{fsys, small}, name)
	if r.Method == http.MethodHead {
		return
	}
	switch {
	case status == http.StatusOK || status == http.StatusPartialContent:
		detail := fmt.Sprintf("%s %d bytes (status %d)", r.URL.Path, n, status)
		if mac == nil && ip.IsValid() {
			detail += " to " + ip.String() // no lease names the requester
		}
		h.bus.Publish(Event{Kind: EventAssetSent, MAC: mac, Detail: detail, Path: r.URL.Path})
	case status == http.StatusForbidden || status == http.StatusBadRequest:
		h.bus.publishMAC(mac, EventDenied, fmt.Sprintf("%s (status %d)", r.URL.Path, status))
	}
}

// machineFile serves /machines/<mac>/<name> only to the machine it belongs
// to: the requester's DHCP lease must name that MAC, or the URL carries a
// valid, unexpired signature (Config.URLKey). Installer configs carry tokens
// and passwords; another machine on the segment must not read them.
func (h *handler) machineFile(w http.ResponseWriter, r *http.Request, rest string) {
	macStr, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		http.NotFound(w, r)
		return
	}
	mac, err := macaddr.Parse(macStr)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ip, reqMAC := h.requester(r)
	if h.filesHTTPSOnly && r.TLS == nil {
		h.deny(w, mac, http.StatusForbidden, fmt.Sprintf("file %s requested by %s over plain HTTP: per-machine files are served over HTTPS only", name, ip))
		return
	}
	q := r.URL.Query()
	if q.Has(ParamSignature) || q.Has(ParamExpires) {
		// A signed URL stands on its own: a bad one is refused even when
		// the lease would have matched, so a stale link fails loudly.
		if err := VerifySignedPath(h.urlKey, r.URL.Path, q, h.clock()); err != nil {
			h.deny(w, mac, http.StatusForbidden, fmt.Sprintf("file %s requested by %s: %v", name, ip, err))
			return
		}
	} else if reqMAC == nil || !macaddr.Equal(reqMAC, mac) {
		// The event names the machine whose file was asked for, and who
		// asked, never the content.
		h.deny(w, mac, http.StatusForbidden, fmt.Sprintf("file %s requested by %s (lease MAC %v)", name, ip, reqMAC))
		return
	}
	m, p, err := h.inv.Lookup(mac)
	if err != nil {
		h.deny(w, mac, http.StatusForbidden, "file "+name+": "+err.Error())
		return
	}
	data := h.scriptData(m, ipxe.BIOS)
	data.BaseURL = h.baseFor(r)
	out, err := renderFile(&h.tmpl, m, p, name, data)
	if err != nil {
		h.log.Warn("machine file", "mac", mac.String(), "file", name, "err", err)
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
	h.bus.Publish(Event{Kind: EventConfigServed, MAC: mac, Detail: name, Path: r.URL.Path})
}

func (h *handler) phoneHome(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mac, err := h.machineMAC(r, q)
	if err != nil {
		h.deny(w, nil, http.StatusBadRequest, "phone home: "+err.Error())
		return
	}
	ip, leaseMAC := h.requester(r)
	detail := "from " + ip.String()
	if s := q.Get("status"); s != "" {
		detail += " status=" + s
	}
	h.bus.publishMAC(mac, EventPhonedHome, detail)
	report := PhoneHomeReport{Time: h.clock(), MAC: mac, Addr: ip, LeaseMAC: leaseMAC, Status: q.Get("status")}
	if !h.handlePhoneHome(w, r, report) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (h *handler) deny(w http.ResponseWriter, mac net.HardwareAddr, code int, detail string) {
	h.log.Info("denied", "mac", macString(mac), "detail", detail)
	h.bus.publishMAC(mac, EventDenied, detail)
	http.Error(w, http.StatusText(code), code)
}

// events streams boot events as JSON lines, or as server-sent events when
// the client asks for text/event-stream, until the client goes away. Two
// parameters end it sooner, for a client that wants a stream that ends (a
// script waiting for a machine, a headless browser): ?for= a Go duration
// such as 30s, and ?until= an event kind, after the first event of that
// kind (of the ?mac= machine, if given) is sent.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	var filter net.HardwareAddr
	q := r.URL.Query()
	if s := q.Get("mac"); s != "" {
		var err error
		if filter, err = macaddr.Parse(s); err != nil {
			http.Error(w, "mac: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	var until <-chan time.Time
	if s := q.Get("for"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			http.Error(w, "for: want a positive duration such as 30s, got "+strconv.Quote(s), http.StatusBadRequest)
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		until = t.C
	}
	untilKind := EventKind(q.Get("until"))
	if untilKind != "" && !slices.Contains(EventKinds(), untilKind) {
		http.Error(w, fmt.Sprintf("until: %q is not an event kind (%v)", untilKind, EventKinds()), http.StatusBadRequest)
		return
	}
	// Subscribe before the headers go out: a client that publishes (or
	// triggers a boot) as soon as it sees the response must not miss events.
	events := h.bus.Subscribe(r.Context())
	flusher, _ := w.(http.Flusher)
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	for {
		var e Event
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			e = ev
		case <-h.done:
			return
		case <-until:
			return
		}
		if filter != nil && !macaddr.Equal(filter, e.MAC) {
			continue
		}
		if sse {
			if _, err := fmt.Fprintf(w, "event: %s\ndata: ", e.Kind); err != nil {
				return
			}
		}
		if err := enc.Encode(e); err != nil {
			return
		}
		if sse {
			if _, err := w.Write([]byte("\n")); err != nil {
				return
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if untilKind != "" && e.Kind == untilKind {
			return
		}
	}
}

// Bounds of a smallFiles cache: files up to maxSmallFile bytes (menus,
// scripts, kickstart and Debian installer answer files), maxSmallFiles bytes in all. Larger
// files keep going to the socket with sendfile.
const (
	maxSmallFile  = 64 << 10
	maxSmallFiles = 8 << 20
	// smallFileSettle is how old a file's modification time must be before
	// it is kept: a file still being written in place could change again
	// within the file system's timestamp granularity without its size or
	// time changing, and a copy taken mid-write would then never be
	// refreshed.
	smallFileSettle = 2 * time.Second
)

// smallFiles keeps small asset files in memory. Opening, reading, seeking
// back and closing a small file took most of the time of serving one;
// a stat now decides whether the kept copy is still the file (same size,
// modification time and mode, which the ETag is made of too). The zero
// value is ready.
type smallFiles struct {
	mu    sync.RWMutex
	files map[string]*smallFile
	bytes int64
}

type smallFile struct {
	info fs.FileInfo
	data []byte
	// head and tail are the fields of a 200 response with this file as
	// ServeContent writes them, before and after Date, for the fast path
	// (http1).
	head, tail []byte
}

// newSmallFile keeps data, the content of the file info describes.
func newSmallFile(info fs.FileInfo, data []byte) *smallFile {
	ctype := mime.TypeByExtension(path.Ext(info.Name()))
	if ctype == "" {
		ctype = http.DetectContentType(data[:min(len(data), 512)])
	}
	head := fmt.Appendf(nil, "Accept-Ranges: bytes\r\nContent-Length: %d\r\nContent-Type: %s\r\n", len(data), ctype)
	// The fields after Date, in net/http's (sorted) order.
	tail := fmt.Appendf(nil, "Etag: %s\r\n", etag(info))
	if mt := info.ModTime(); !mt.IsZero() && !mt.Equal(time.Unix(0, 0)) {
		tail = fmt.Appendf(tail, "Last-Modified: %s\r\n", mt.UTC().Format(http.TimeFormat))
	}
	return &smallFile{info: info, data: data, head: head, tail: tail}
}

func sameFile(a, b fs.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}

func (c *smallFiles) get(name string, st fs.FileInfo) *smallFile {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if f := c.files[name]; f != nil && sameFile(f.info, st) {
		return f
	}
	return nil
}

func (c *smallFiles) put(name string, f *smallFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.files[name]
	grow := int64(len(f.data))
	if old != nil {
		grow -= int64(len(old.data))
	}
	if c.bytes+grow > maxSmallFiles {
		return // full: the file is served from disk, as before
	}
	if c.files == nil {
		c.files = make(map[string]*smallFile)
	}
	c.files[name] = f
	c.bytes += grow
}

func (c *smallFiles) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.files[name]; old != nil {
		c.bytes -= int64(len(old.data))
		delete(c.files, name)
	}
}

// cachedFS is fsys with its small regular files served from c. An fsys
// that cannot stat without opening gains nothing and is used as it is.
type cachedFS struct {
	fsys fs.FS
	c    *smallFiles
}

func (c cachedFS) Open(name string) (fs.File, error) {
	sfs, ok := c.fsys.(fs.StatFS)
	if !ok {
		return c.fsys.Open(name)
	}
	st, err := sfs.Stat(name)
	if err != nil {
		c.c.drop(name) // gone (or unreadable): do not keep a copy alive
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxSmallFile {
		return c.fsys.Open(name)
	}
	if f := c.c.get(name, st); f != nil {
		return &memFile{Reader: bytes.NewReader(f.data), info: f.info}, nil
	}
	file, err := c.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() || info.Size() > maxSmallFile {
		// Replaced between the stat and the open: serve it from disk.
		return c.fsys.Open(name)
	}
	data, err := io.ReadAll(io.LimitReader(file, maxSmallFile+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != info.Size() {
		// Being written right now: keep nothing, serve from disk.
		return c.fsys.Open(name)
	}
	f := newSmallFile(info, data)
	if time.Since(info.ModTime()) >= smallFileSettle {
		c.c.put(name, f)
	}
	return &memFile{Reader: bytes.NewReader(f.data), info: f.info}, nil
}

// memFile is a kept small file, opened: it seeks, so ServeContent serves
// ranges from it like from the file on disk.
type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.info, nil }
func (m *memFile) Close() error               { return nil }
