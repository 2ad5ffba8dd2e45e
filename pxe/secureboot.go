package pxe

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/grub"
	"github.com/pxekit/pxekit/internal/fatimg"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/tftp"
)

// ProfileKind says how a profile's machines boot.
type ProfileKind string

// Profile kinds.
const (
	// ProfileIPXE (or "") boots through iPXE: undionly.kpxe or ipxe.efi,
	// then the machine's boot.ipxe.
	ProfileIPXE ProfileKind = "ipxe"
	// ProfileSecureBoot boots x86-64 UEFI machines through the signed
	// chain that UEFI Secure Boot admits: shim, GRUB beside it, the
	// machine's grub.cfg rendered from the same kernel, initrd and
	// arguments as its boot.ipxe, and a kernel that must be signed by a
	// key shim trusts (Debian's shim: Debian's kernels). BIOS machines of
	// the profile, which have no Secure Boot, keep booting through iPXE.
	ProfileSecureBoot ProfileKind = "secureboot"
)

// SecureBootHTTP says what UEFI HTTP boot clients of a Secure Boot profile
// download.
type SecureBootHTTP string

// What UEFI HTTP boot downloads for a Secure Boot profile.
const (
	// SecureBootDiskImage (the default) is a FAT disk image,
	// PathSecureBoot<mac>.img, holding shim as \EFI\BOOT\BOOTX64.EFI,
	// GRUB beside it, the machine's grub.cfg, its kernel and its initrd.
	// The firmware boots it as a RAM disk, and GRUB reads everything from
	// the disk: Debian 12's signed GRUB has no http module, so it could
	// not read a file over HTTP(S) itself.
	SecureBootDiskImage SecureBootHTTP = "image"
	// SecureBootShim is shim itself (PathSecureBoot shimx64.efi), which
	// fetches GRUB from beside it. GRUB then reads /grub/grub.cfg over
	// HTTP, which only a GRUB with the http module can: Debian 12's stops
	// at its prompt.
	SecureBootShim SecureBootHTTP = "shim"
)

// Paths of the Secure Boot chain, over HTTP and, without the leading
// slash, over TFTP.
const (
	// PathSecureBoot serves shimx64.efi and grubx64.efi (also as
	// "//grubx64.efi": shim joins its directory and "/grubx64.efi"), and
	// <mac>.img, the machine's disk image (SecureBootDiskImage).
	PathSecureBoot = "/secureboot/"
	// PathGRUB serves grub.cfg, the one file the network GRUB reads from
	// its server (its built-in prefix is /grub), which reads the
	// machine's own <mac>.cfg.
	PathGRUB = "/grub/"
	// PathReport is where a machine's grub.cfg reports why GRUB did not
	// boot: <mac>/<grub.Failure>. The server publishes it as EventDenied.
	PathReport = "/pxekit/report/"
)

// validateKind checks a profile's kind; a Secure Boot profile boots a
// kernel that the server itself serves (GRUB reads it over TFTP or from
// the disk image, never over HTTP).
func (p Profile) validateKind(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch p.Kind {
	case "", ProfileIPXE:
	case ProfileSecureBoot:
		if p.Kernel == "" {
			errs = append(errs, field.Required(path.Child("kernel"), "a Secure Boot profile boots a kernel (GRUB does not run an iPXE script)"))
		}
		for _, f := range []struct{ name, v string }{{"kernel", p.Kernel}, {"initrd", p.Initrd}} {
			if isURL(f.v) {
				errs = append(errs, field.Invalid(path.Child(f.name), f.v, "a Secure Boot profile's files must be assets: GRUB reads them over TFTP or from the disk image, not from a URL"))
			}
		}
	default:
		errs = append(errs, field.NotSupported(path.Child("kind"), p.Kind, []string{string(ProfileIPXE), string(ProfileSecureBoot)}))
	}
	return errs
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// grubDispatcher is /grub/grub.cfg: the network GRUB reads only this file
// (it tries no per-MAC names), so it reads the machine's own from here.
// $net_default_mac is the MAC of the NIC GRUB booted from, lower case
// with colons, as MachineFilePath names machines.
func grubDispatcher() []byte {
	return []byte(`# pxekit: the network GRUB reads only this file from its boot server;
# each machine's own configuration is /grub/<its MAC>.cfg.
if [ -n "$net_default_mac" ]; then
	source "` + PathGRUB + `${net_default_mac}.cfg"
fi
echo ` + grub.Quote("pxekit: GRUB knows no network MAC ($net_default_mac is empty): no machine configuration to read") + `
sleep 5
exit
`)
}

// grubLayout is where a machine's grub.cfg finds its files.
type grubLayout struct {
	kernel  string
	initrd  string // "" without initrd
	report  string
	prepare [][]string
}

// networkLayout is the layout of a GRUB loaded over the network: files
// relative to $root, the server GRUB came from (TFTP, or HTTP for a GRUB
// that has http), which serves the assets under PathAssets.
func networkLayout(mac net.HardwareAddr, p Profile) grubLayout {
	l := grubLayout{kernel: PathAssets + strings.TrimPrefix(p.Kernel, "/"), report: PathReport + mac.String() + "/"}
	if p.Initrd != "" {
		l.initrd = PathAssets + strings.TrimPrefix(p.Initrd, "/")
	}
	return l
}

// Names of the files in a disk image (8.3, as FAT stores them).
const (
	imageShim   = "EFI/BOOT/BOOTX64.EFI" // the removable-media boot path UEFI boots a disk by
	imageGRUB   = "EFI/BOOT/GRUBX64.EFI"
	imageConfig = "GRUB/GRUB.CFG" // the network GRUB's prefix is /grub, on the disk it came from
	imageKernel = "VMLINUZ"
	imageInitrd = "INITRD"
)

// imageLayout is the layout of a GRUB started from the machine's disk
// image: files on the disk; a report needs GRUB's network configured
// first (net_bootp), then goes to the server over TFTP.
func imageLayout(mac net.HardwareAddr, p Profile, server netip.Addr) grubLayout {
	l := grubLayout{kernel: "/" + imageKernel, report: "(tftp," + server.String() + ")" + PathReport + mac.String() + "/",
		prepare: [][]string{{"net_bootp"}}}
	if p.Initrd != "" {
		l.initrd = "/" + imageInitrd
	}
	return l
}

// RenderGRUB renders the grub.cfg machine m boots profile p with from a
// server at baseURL, as the server serves it at PathGRUB<mac>.cfg: the
// kernel and initrd from PathAssets on the server GRUB came from, the
// profile's arguments (each checked by ipxe.Cmdline and grub.ValidateArg),
// and, if the kernel is refused, a report to PathReport.
func RenderGRUB(m Machine, p Profile, baseURL string) ([]byte, error) {
	return renderGRUB(nil, m, p, newScriptData(m, baseURL, ipxe.EFI), networkLayout(m.MAC, p))
}

func renderGRUB(c *templateCache, m Machine, p Profile, data ScriptData, l grubLayout) ([]byte, error) {
	if p.Kernel == "" {
		return nil, fmt.Errorf("profile %s: no kernel for GRUB to boot", m.Profile)
	}
	if isURL(p.Kernel) || isURL(p.Initrd) {
		return nil, fmt.Errorf("profile %s: GRUB reads the kernel and initrd from the boot server's assets, not from a URL", m.Profile)
	}
	data.EFI, data.Firmware, data.SecureBoot = true, "efi", true
	cmd, err := profileCmdline(c, m, p, data)
	if err != nil {
		return nil, err
	}
	var args []string
	for _, a := range cmd.Args() {
		args = append(args, a.String())
	}
	linux := grub.Linux{Kernel: l.kernel, Args: args, Report: l.report, Prepare: l.prepare}
	if l.initrd != "" {
		linux.Initrds = []string{l.initrd}
	}
	who := m.MAC.String()
	if m.Hostname != "" {
		who = m.Hostname + " (" + who + ")"
	}
	out, err := grub.NewConfig().
		Comment("pxekit: "+who+", profile "+m.Profile).
		Set("timeout", "0").
		Echo("pxekit: booting " + who + ", profile " + m.Profile).
		Linux(linux).
		// A refused kernel leaves GRUB: the firmware goes on to its next
		// boot option, as when iPXE fails.
		Sleep(5).Exit().
		Build()
	if err != nil {
		return nil, fmt.Errorf("profile %s: grub.cfg: %w", m.Profile, err)
	}
	return out, nil
}

// sbState is the Secure Boot side of the HTTP handler and the TFTP root,
// shared by every handler a Reload builds.
type sbState struct {
	// loaders holds grub.Shim and grub.GRUB; nil when none were found.
	loaders fs.FS
	// server is the server's address, for (tftp,ADDR) in disk images.
	server netip.Addr
	// files is asset()'s cache for the loaders (they are larger than
	// what it keeps, so it stays empty).
	files smallFiles
	// warned is set once a Secure Boot client was turned to shim while
	// there is none, and logged.
	warned atomic.Bool
}

// machineOf parses the MAC in a PathGRUB or PathSecureBoot name such as
// "52:54:00:12:34:56.cfg".
func machineOf(name, ext string) (net.HardwareAddr, bool) {
	s, ok := strings.CutSuffix(name, ext)
	if !ok || strings.Contains(s, "/") {
		return nil, false
	}
	mac, err := macaddr.Parse(s)
	return mac, err == nil
}

// parseReport reads "<mac>/<failure>" under PathReport.
func parseReport(rest string) (net.HardwareAddr, grub.Failure, bool) {
	macStr, what, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, "", false
	}
	mac, err := macaddr.Parse(macStr)
	if err != nil || !slices.Contains(grub.Failures(), grub.Failure(what)) {
		return nil, "", false
	}
	return mac, grub.Failure(what), true
}

// reportAnswer is what GRUB reads back (and runs) from a report path.
func reportAnswer(f grub.Failure) []byte {
	return []byte("echo " + grub.Quote("pxekit: the boot server recorded "+string(f)) + "\n")
}

// reportDetail is the EventDenied detail of a report.
func reportDetail(f grub.Failure, m Machine, p Profile, via string) string {
	what := map[grub.Failure]string{
		grub.FailureKernel: "GRUB refused the kernel " + p.Kernel + " (under Secure Boot: no signature shim trusts; or it could not be read)",
		grub.FailureInitrd: "GRUB could not load the initrd " + p.Initrd,
		grub.FailureBoot:   "GRUB's boot of " + p.Kernel + " returned",
	}[f]
	return fmt.Sprintf("secure boot: %s: %s, profile %s (reported over %s)", f, what, m.Profile, via)
}

// grubConfigFor renders the network grub.cfg of the machine with this MAC.
func (h *handler) grubConfigFor(mac net.HardwareAddr) ([]byte, Machine, error) {
	m, p, err := h.inv.Lookup(mac)
	if err != nil {
		return nil, m, err
	}
	out, err := renderGRUB(&h.tmpl, m, p, h.scriptData(m, ipxe.EFI), networkLayout(mac, p))
	return out, m, err
}

// secureBoot serves PathSecureBoot, PathGRUB and PathReport.
func (h *handler) secureBoot(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, PathSecureBoot):
		// shim asks for <its directory>//grubx64.efi.
		rest := strings.TrimLeft(strings.TrimPrefix(p, PathSecureBoot), "/")
		if mac, ok := machineOf(rest, ".img"); ok {
			h.diskImage(w, r, mac)
			return
		}
		if rest != string(grub.Shim) && rest != string(grub.GRUB) {
			http.NotFound(w, r)
			return
		}
		if h.sb.loaders == nil {
			h.deny(w, nil, http.StatusNotFound, "secure boot: no shim and GRUB to serve (apt-get install shim-signed grub-efi-amd64-signed, or set Config.SecureBoot)")
			return
		}
		h.asset(w, r, h.sb.loaders, &h.sb.files, rest)
	case strings.HasPrefix(p, PathGRUB):
		rest := strings.TrimPrefix(p, PathGRUB)
		if rest == "grub.cfg" {
			writeText(w, r, grubDispatcher())
			return
		}
		mac, ok := machineOf(rest, ".cfg")
		if !ok {
			http.NotFound(w, r)
			return
		}
		out, m, err := h.grubConfigFor(mac)
		if err != nil {
			h.deny(w, mac, http.StatusForbidden, "grub.cfg: "+err.Error())
			return
		}
		writeText(w, r, out)
		if r.Method != http.MethodHead {
			h.bus.publishMAC(mac, EventScriptServed, "grub.cfg profile="+m.Profile+" over http")
		}
	default:
		mac, f, ok := parseReport(strings.TrimPrefix(p, PathReport))
		if !ok {
			http.NotFound(w, r)
			return
		}
		m, prof, _ := h.inv.Lookup(mac)
		writeText(w, r, reportAnswer(f))
		if r.Method != http.MethodHead {
			h.bus.publishMAC(mac, EventDenied, reportDetail(f, m, prof, "http"))
		}
	}
}

func writeText(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// imageConfigSize is the space the grub.cfg takes in a disk image, padded
// with newlines: the firmware asks for the image's size (HEAD) before it
// downloads it, and a grub.cfg rendered again for the download (a signed
// URL with a later expiry) must not change that size.
const imageConfigSize = 16 << 10

// diskImage serves the machine's Secure Boot disk image (SecureBootDiskImage).
func (h *handler) diskImage(w http.ResponseWriter, r *http.Request, mac net.HardwareAddr) {
	m, p, err := h.inv.Lookup(mac)
	if err != nil {
		h.deny(w, mac, http.StatusForbidden, "disk image: "+err.Error())
		return
	}
	if h.sb.loaders == nil {
		h.deny(w, mac, http.StatusNotFound, "secure boot: no shim and GRUB for the disk image (apt-get install shim-signed grub-efi-amd64-signed, or set Config.SecureBoot)")
		return
	}
	cfg, err := renderGRUB(&h.tmpl, m, p, h.scriptData(m, ipxe.EFI), imageLayout(mac, p, h.sb.server))
	if err != nil {
		h.log.Error("render grub.cfg", "mac", mac.String(), "err", err)
		h.bus.publishMAC(mac, EventDenied, "disk image: "+err.Error())
		http.Error(w, "cannot render the boot configuration", http.StatusInternalServerError)
		return
	}
	if len(cfg) < imageConfigSize {
		cfg = append(cfg, bytes.Repeat([]byte("\n"), imageConfigSize-len(cfg))...)
	}
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	files := []fatimg.File{{Path: imageConfig, Size: int64(len(cfg)), Data: bytes.NewReader(cfg)}}
	tag := sha256.New()
	tag.Write(cfg)
	var mod time.Time
	for _, src := range []struct {
		fsys       fs.FS
		name, path string
	}{
		{h.sb.loaders, string(grub.Shim), imageShim},
		{h.sb.loaders, string(grub.GRUB), imageGRUB},
		{h.assets, p.Kernel, imageKernel},
		{h.assets, p.Initrd, imageInitrd},
	} {
		if src.name == "" {
			continue
		}
		f, info, ra, err := openReaderAt(src.fsys, strings.TrimPrefix(src.name, "/"))
		if err != nil {
			h.deny(w, mac, http.StatusNotFound, fmt.Sprintf("disk image: %s: %v", src.name, err))
			return
		}
		closers = append(closers, f)
		files = append(files, fatimg.File{Path: src.path, Size: info.Size(), Data: ra, ModTime: info.ModTime()})
		fmt.Fprintf(tag, "%s %s\n", src.path, etag(info))
		if info.ModTime().After(mod) {
			mod = info.ModTime()
		}
	}
	img, err := fatimg.New("PXEKIT", files)
	if err != nil {
		h.deny(w, mac, http.StatusInternalServerError, "disk image: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/vnd.efi-img")
	w.Header().Set("Etag", `"`+hex.EncodeToString(tag.Sum(nil)[:16])+`"`)
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	cw.conn, _ = r.Context().Value(connKey{}).(syscall.Conn)
	http.ServeContent(cw, r, "boot.img", mod, io.NewSectionReader(img, 0, img.Size()))
	if r.Method == http.MethodHead {
		return
	}
	if cw.status == http.StatusOK || cw.status == http.StatusPartialContent {
		h.bus.publishMAC(mac, EventScriptServed, "grub.cfg profile="+m.Profile+" in the disk image "+r.URL.Path)
		h.bus.publishMAC(mac, EventAssetSent, fmt.Sprintf("%s %d bytes (status %d)", r.URL.Path, cw.n, cw.status))
	}
}

// openReaderAt opens name in fsys for reading at offsets: directly when
// the file can (os.File, fstest.MapFS), through Seek and Read otherwise.
func openReaderAt(fsys fs.FS, name string) (fs.File, fs.FileInfo, io.ReaderAt, error) {
	if fsys == nil {
		return nil, nil, nil, fs.ErrNotExist
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, nil, err
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = errors.New("not a regular file")
		}
		return nil, nil, nil, err
	}
	if ra, ok := f.(io.ReaderAt); ok {
		return f, info, ra, nil
	}
	if rs, ok := f.(io.ReadSeeker); ok {
		return f, info, &seekReaderAt{rs: rs}, nil
	}
	f.Close()
	return nil, nil, nil, errors.New("the asset store can neither seek nor read at offsets")
}

// seekReaderAt reads at offsets from a file that can only seek.
type seekReaderAt struct {
	mu sync.Mutex
	rs io.ReadSeeker
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(s.rs, p)
}

// tftpRoot is the TFTP server's tree: the iPXE builds and the loaders at
// the root, grub/grub.cfg and grub/<mac>.cfg, the report paths, and the
// assets under assets/ (GRUB reads the kernel and initrd over TFTP), from
// the configuration the server serves now.
type tftpRoot struct{ s *Server }

// Open opens name (already cleaned by the TFTP server).
func (t tftpRoot) Open(name string) (fs.File, error) {
	h := t.s.http.Load()
	switch {
	case name == strings.TrimPrefix(PathGRUB, "/")+"grub.cfg":
		return newMemFile(name, grubDispatcher()), nil
	case strings.HasPrefix(name, strings.TrimPrefix(PathGRUB, "/")):
		mac, ok := machineOf(strings.TrimPrefix(name, strings.TrimPrefix(PathGRUB, "/")), ".cfg")
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		out, _, err := h.grubConfigFor(mac)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: %v", fs.ErrPermission, err)}
		}
		return newMemFile(name, out), nil
	case strings.HasPrefix(name, strings.TrimPrefix(PathReport, "/")):
		_, f, ok := parseReport(strings.TrimPrefix(name, strings.TrimPrefix(PathReport, "/")))
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return newMemFile(name, reportAnswer(f)), nil
	case strings.HasPrefix(name, strings.TrimPrefix(PathAssets, "/")):
		if h.assets == nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return h.assets.Open(strings.TrimPrefix(name, strings.TrimPrefix(PathAssets, "/")))
	case (name == string(grub.Shim) || name == string(grub.GRUB)) && h.sb.loaders != nil:
		return h.sb.loaders.Open(name)
	}
	return t.s.cfg.IPXE.Open(name)
}

// newMemFile is an in-memory file for TFTP.
func newMemFile(name string, b []byte) *memFile {
	return &memFile{Reader: bytes.NewReader(b), info: memInfo{name: path.Base(name), size: int64(len(b))}}
}

type memInfo struct {
	name string
	size int64
}

// Name, Size, Mode, ModTime, IsDir and Sys describe a rendered file.
func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// optionalProbe reports files the chain asks for that a boot server need
// not have: shim's revocation and certificate add-ons, GRUB's module lists.
// Their absence is the normal case, not a refusal worth an event.
func optionalProbe(name string) bool {
	base := path.Base(name)
	switch {
	case base == "revocations_sku.efi", base == "revocations_sbat.efi",
		strings.HasPrefix(base, "shim_certificate_") && strings.HasSuffix(base, ".efi"):
		return true
	case strings.HasPrefix(name, "grub/x86_64-efi/"):
		return true
	}
	return false
}

// tftpSecureBootEvent publishes the TFTP transfers of the Secure Boot
// chain as what they are (a grub.cfg served, a failure reported, a probe
// for an optional file), and says whether it did.
func (s *Server) tftpSecureBootEvent(e tftp.Event) bool {
	inv := s.live.Load().Inventory
	grubDir, reportDir := strings.TrimPrefix(PathGRUB, "/"), strings.TrimPrefix(PathReport, "/")
	switch e.Kind {
	case tftp.EventSent:
		if rest, ok := strings.CutPrefix(e.File, reportDir); ok {
			mac, f, ok := parseReport(rest)
			if !ok {
				return false
			}
			m, p, _ := inv.Lookup(mac)
			s.bus.Publish(Event{Time: e.Time, Kind: EventDenied, MAC: mac, Detail: reportDetail(f, m, p, "tftp")})
			return true
		}
		if rest, ok := strings.CutPrefix(e.File, grubDir); ok {
			if mac, ok := machineOf(rest, ".cfg"); ok {
				m, _, _ := inv.Lookup(mac)
				s.bus.Publish(Event{Time: e.Time, Kind: EventScriptServed, MAC: mac, Detail: "grub.cfg profile=" + m.Profile + " over tftp"})
				return true
			}
		}
	case tftp.EventRefused:
		if e.Reason == tftp.DropNotFound && optionalProbe(e.File) {
			s.log.Debug("tftp: optional file not served", "file", e.File, "mac", macString(e.MAC))
			return true
		}
	}
	return false
}

// secureBootURL is what UEFI HTTP boot clients of a Secure Boot profile
// get: their disk image or shim, on the HTTPS root with Config.HTTPSBoot.
func (s *Server) secureBootURL() string {
	base := s.base
	if s.cfg.HTTPSBoot {
		base = s.httpsBase
	}
	if s.cfg.SecureBootHTTP == SecureBootShim {
		return base + PathSecureBoot + string(grub.Shim)
	}
	return base + PathSecureBoot + "{mac}.img"
}

// setupSecureBoot finds the loaders when Config.SecureBoot is nil. Without
// them the server still serves iPXE profiles; why Secure Boot ones cannot
// boot is logged when the first such machine asks.
func (s *Server) setupSecureBoot() {
	loaders := s.cfg.SecureBoot
	if loaders == nil {
		found, err := grub.Locate()
		if err == nil {
			loaders = grub.BinaryFS(found)
		} else {
			s.sbMissing = err
		}
	}
	s.sb = &sbState{loaders: loaders, server: s.addr}
}

// secureBootDecision is the Secure Boot chain's first stage for c, and
// whether c is a client it serves (x86-64 UEFI).
func (s *Server) secureBootDecision(c dhcp.Client) (dhcp.BootDecision, bool) {
	d, ok := dhcp.SecureBootPolicy{TFTPServer: s.addr, HTTPBootURL: s.secureBootURL()}.Decide(c)
	if ok && s.sb.loaders == nil && s.sb.warned.CompareAndSwap(false, true) {
		s.log.Warn("a Secure Boot profile's machine asks to boot, but there is no shim and GRUB to serve", "mac", c.MAC.String(), "err", s.sbMissing)
	}
	return d, ok
}
