package pxe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/dhcp"
	"github.com/pxekit/pxekit/grub"
	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/strictyaml"
)

// The config file's apiVersion and kind.
const (
	ConfigAPIVersion = "pxekit/v1alpha1"
	ConfigKind       = "BootServer"
)

// ConfigFile is the boot server's config file: one YAML document, decoded
// strictly (ParseConfig, LoadConfig) and turned into a Config with
// ConfigFile.Config. Relative file and directory names are relative to the
// file's own directory. The schema is documented field by field here and
// in examples/pxelab/config/.
type ConfigFile struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`

	// Interface is the link to serve on; NetNS a network namespace (a name
	// from ip netns list, or a path) to serve in; Address the server's
	// address on Interface (default its first IPv4 address).
	Interface string     `json:"interface"`
	NetNS     string     `json:"netns,omitempty"`
	Address   netip.Addr `json:"address,omitzero"`

	// ProxyDHCP serves boot information only, beside a DHCP server that
	// owns the addresses; RouterAdvertisement answers iPXE's IPv6 router
	// solicitations (Config.RouterAdvertisement).
	ProxyDHCP           bool `json:"proxyDHCP,omitempty"`
	RouterAdvertisement bool `json:"routerAdvertisement,omitempty"`
	// RouterLifetime names this host the link's default router in its
	// advertisements, with DHCPv6 served (Config.RouterLifetime).
	RouterLifetime Duration `json:"routerLifetime,omitzero"`

	HTTP HTTPSpec `json:"http,omitzero"`
	TFTP TFTPSpec `json:"tftp,omitzero"`

	// Subnets are the networks DHCP serves: the interface's own (prefix
	// may be left out for it) and relayed ones.
	Subnets      []SubnetSpec      `json:"subnets,omitempty"`
	Reservations []ReservationSpec `json:"reservations,omitempty"`

	// Directories holds the assets (kernels, initrds) and the iPXE builds.
	Directories DirectoriesSpec `json:"directories,omitzero"`

	// Profiles by name, the machines, and the profile of machines not
	// listed (empty: they get an address but nothing to boot).
	Profiles       map[string]ProfileSpec `json:"profiles,omitempty"`
	Machines       []MachineSpec          `json:"machines,omitempty"`
	DefaultProfile string                 `json:"defaultProfile,omitempty"`

	URLSigning *URLSigningSpec `json:"urlSigning,omitempty"`
	TLS        *TLSSpec        `json:"tls,omitempty"`
	Store      StoreSpec       `json:"store,omitzero"`

	// SecureBootHTTP is what UEFI HTTP boot gets for a Secure Boot profile:
	// "image" (the default) or "shim" (Config.SecureBootHTTP).
	SecureBootHTTP SecureBootHTTP `json:"secureBootHTTP,omitempty"`

	// ShutdownGrace bounds a graceful stop (Config.ShutdownGrace).
	ShutdownGrace Duration `json:"shutdownGrace,omitzero"`
	// Metrics turns /metrics on (default on); Log sets the log output.
	Metrics *bool   `json:"metrics,omitempty"`
	Log     LogSpec `json:"log,omitzero"`

	// IPv6 (configfile6.go). Subnets6 are the networks DHCPv6 serves
	// (Config.Subnets6): with them TFTP and HTTP listen on IPv6 too and
	// router advertisements (routerAdvertisement) say M; without subnets
	// the server is IPv6-only. Reservations6 pin clients by DUID or MAC;
	// Address6 is the server's IPv6 address (default the interface's first
	// global one).
	Subnets6      []Subnet6Spec      `json:"subnets6,omitempty"`
	Reservations6 []Reservation6Spec `json:"reservations6,omitempty"`
	Address6      netip.Addr         `json:"address6,omitzero"`

	// file is where the file was read from, dir resolves relative names,
	// lines maps field paths to lines.
	file, dir string
	lines     *strictyaml.LineIndex
}

// HTTPSpec is the HTTP side.
type HTTPSpec struct {
	Port int `json:"port,omitempty"` // default 80
}

// TFTPSpec is the TFTP side.
type TFTPSpec struct {
	Port int `json:"port,omitempty"` // default 69
	// WindowSize is the largest RFC 7440 window granted (0: the default,
	// -1: lock-step only).
	WindowSize int `json:"windowSize,omitempty"`
}

// SubnetSpec is one DHCP subnet (dhcp.Subnet).
type SubnetSpec struct {
	Prefix     netip.Prefix `json:"prefix,omitzero"`
	Pools      []PoolSpec   `json:"pools,omitempty"`
	Routers    []netip.Addr `json:"routers,omitempty"`
	DNS        []netip.Addr `json:"dns,omitempty"`
	DomainName string       `json:"domainName,omitempty"`
	LeaseTime  Duration     `json:"leaseTime,omitzero"`
	MTU        uint16       `json:"mtu,omitempty"`
	ServerID   netip.Addr   `json:"serverID,omitzero"`
}

// PoolSpec is a dynamic range, both ends included.
type PoolSpec struct {
	Start netip.Addr `json:"start"`
	End   netip.Addr `json:"end"`
}

// ReservationSpec pins a MAC to an address.
type ReservationSpec struct {
	MAC      string     `json:"mac"`
	IP       netip.Addr `json:"ip"`
	Hostname string     `json:"hostname,omitempty"`
}

// DirectoriesSpec names the served directories.
type DirectoriesSpec struct {
	// Assets is served under /assets/ (kernels, initrds, images).
	Assets string `json:"assets,omitempty"`
	// IPXE holds undionly.kpxe, ipxe.efi, ... (default: Debian's ipxe
	// package).
	IPXE string `json:"ipxe,omitempty"`
	// SecureBoot holds the signed shimx64.efi and grubx64.efi (default:
	// Debian's shim-signed and grub-efi-amd64-signed).
	SecureBoot string `json:"secureBoot,omitempty"`
}

// ProfileSpec is a Profile.
type ProfileSpec struct {
	Kernel string            `json:"kernel,omitempty"`
	Initrd string            `json:"initrd,omitempty"`
	Args   []string          `json:"args,omitempty"`
	Script string            `json:"script,omitempty"`
	Files  map[string]string `json:"files,omitempty"`
	// Kind is "ipxe" (the default) or "secureboot" (Profile.Kind).
	Kind ProfileKind `json:"kind,omitempty"`
}

// MachineSpec is a Machine.
type MachineSpec struct {
	MAC      string            `json:"mac"`
	Hostname string            `json:"hostname,omitempty"`
	Profile  string            `json:"profile"`
	Vars     map[string]string `json:"vars,omitempty"`
}

// URLSigningSpec signs per-machine file URLs (Config.URLKey, URLTTL).
type URLSigningSpec struct {
	// KeyFile holds the key (at least MinURLKeyLen bytes; surrounding
	// white space is not part of it).
	KeyFile string   `json:"keyFile"`
	TTL     Duration `json:"ttl,omitzero"`
}

// LogSpec is the log output of the program that serves.
type LogSpec struct {
	Level  string `json:"level,omitempty"`  // debug, info (default), warn, error
	Format string `json:"format,omitempty"` // text (default) or json
}

// Duration is a time.Duration written as Go writes one ("90s", "1h").
type Duration struct{ time.Duration }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\" or \"1h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\" or \"1h\"", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// ParseConfig decodes a config file strictly and validates it, returning
// every problem at once: unknown fields with where they belong, values of
// the wrong type, duplicate keys, syntax errors, and what Validate finds.
// The file's directory for relative names is the working directory;
// LoadConfig sets it to the file's.
func ParseConfig(data []byte) (*ConfigFile, field.ErrorList) {
	f := &ConfigFile{lines: strictyaml.IndexLines(data)}
	switch docs := strictyaml.SplitDocuments(data); {
	case len(docs) == 0:
		return f, field.ErrorList{field.Required(field.NewPath("interface"), "the config file is empty")}
	case len(docs) > 1:
		e := field.Forbidden(nil, fmt.Sprintf("line %d: a config file is one YAML document; another starts here", docs[1].Line))
		e.Origin = strictyaml.OriginSyntax
		return f, field.ErrorList{e}
	}
	errs := strictyaml.Decode(data, f)
	for _, e := range errs {
		if e.Origin == strictyaml.OriginSyntax {
			return f, errs // nothing decoded to validate
		}
	}
	// What decoded is validated too, so every problem shows at once; a
	// value that did not decode is not reported again as missing.
	decoded := slices.Clone(errs)
	for _, e := range f.Validate() {
		if !slices.ContainsFunc(decoded, func(d *field.Error) bool { return e.Field == d.Field || strings.HasPrefix(e.Field, d.Field+".") }) {
			errs = append(errs, e)
		}
	}
	return f, errs
}

// LoadConfig reads and checks the config file at path; its errors are a
// *ConfigError naming each problem's line.
func LoadConfig(path string) (*ConfigFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, errs := ParseConfig(data)
	f.file, f.dir = path, filepath.Dir(path)
	if len(errs) > 0 {
		return nil, f.errorf(path, errs)
	}
	return f, nil
}

// ConfigError is a config file's problems, each with its line.
type ConfigError struct {
	File   string
	Errors field.ErrorList
	lines  *strictyaml.LineIndex
}

// Error prints one problem per line as FILE:LINE: PATH: MESSAGE.
func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if n := e.Line(fe); n > 0 {
			fmt.Fprintf(&b, ":%d", n)
		}
		b.WriteString(": ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Line is the line of the file an error is about (0 when unknown).
func (e *ConfigError) Line(fe *field.Error) int {
	if e.lines == nil {
		return 0
	}
	return e.lines.ErrorLine(fe)
}

func (f *ConfigFile) errorf(file string, errs field.ErrorList) error {
	return &ConfigError{File: file, Errors: errs, lines: f.lines}
}

// Validate checks everything the file says that can be checked without
// looking at the host: every problem at once, under its field path.
func (f *ConfigFile) Validate() field.ErrorList {
	var errs field.ErrorList
	if f.APIVersion != ConfigAPIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), f.APIVersion, []string{ConfigAPIVersion}))
	}
	if f.Kind != ConfigKind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), f.Kind, []string{ConfigKind}))
	}
	cfg, convErrs := f.convert()
	errs = append(errs, convErrs...)
	// What Config.Validate checks, under the file's names.
	rename := map[string]string{"httpPort": "http.port", "tftpPort": "tftp.port", "tftpWindowSize": "tftp.windowSize",
		"addr": "address", "addr6": "address6", "urlTTL": "urlSigning.ttl", "urlKey": "urlSigning.keyFile",
		"httpsPort": "tls.port", "httpsBoot": "tls.httpsBoot", "filesHTTPSOnly": "tls.filesHTTPSOnly"}
	for _, e := range cfg.Validate() {
		if covered6(e, convErrs) {
			continue
		}
		head, rest, _ := strings.Cut(e.Field, ".")
		// The tls section's own shape (TLSSpec.Validate: certFile with
		// keyFile, or labCA; the port's range) is judged there, once.
		if head == "tlsKeyFile" || head == "tlsLabCA" || (head == "httpsPort" && e.Type == field.ErrorTypeInvalid) {
			continue
		}
		if n, ok := rename[head]; ok {
			e.Field = n
			if rest != "" {
				e.Field += "." + rest
			}
		}
		errs = append(errs, e)
	}
	spec := f.inventorySpec()
	for _, e := range spec.Validate() {
		if e.Field == "default" {
			e.Field = "defaultProfile"
		}
		errs = append(errs, e)
	}
	if f.TLS != nil {
		errs = append(errs, prefixed("tls", f.TLS.Validate())...)
	}
	errs = append(errs, prefixed("store", f.Store.Validate())...)
	if f.Store.BBolt != nil && f.ProxyDHCP {
		errs = append(errs, field.Forbidden(field.NewPath("store", "bbolt"), "proxyDHCP hands out no leases to store"))
	}
	if f.URLSigning != nil && f.URLSigning.KeyFile == "" {
		errs = append(errs, field.Required(field.NewPath("urlSigning", "keyFile"), "the file holding the signing key"))
	}
	if l := f.Log.Level; l != "" && !slices.Contains([]string{"debug", "info", "warn", "error"}, l) {
		errs = append(errs, field.NotSupported(field.NewPath("log", "level"), l, []string{"debug", "info", "warn", "error"}))
	}
	if l := f.Log.Format; l != "" && l != "text" && l != "json" {
		errs = append(errs, field.NotSupported(field.NewPath("log", "format"), l, []string{"text", "json"}))
	}
	return errs
}

func prefixed(p string, errs field.ErrorList) field.ErrorList {
	for _, e := range errs {
		e.Field = p + "." + e.Field
	}
	return errs
}

// convert is the part of Config the file states directly, and the MACs
// that do not parse.
func (f *ConfigFile) convert() (Config, field.ErrorList) {
	var errs field.ErrorList
	cfg := Config{
		Interface:           f.Interface,
		NetNS:               f.netnsPath(),
		Addr:                f.Address,
		ProxyDHCP:           f.ProxyDHCP,
		RouterAdvertisement: f.RouterAdvertisement,
		RouterLifetime:      f.RouterLifetime.Duration,
		HTTPPort:            f.HTTP.Port,
		TFTPPort:            f.TFTP.Port,
		TFTPWindowSize:      f.TFTP.WindowSize,
		ShutdownGrace:       f.ShutdownGrace.Duration,
	}
	for _, s := range f.Subnets {
		sn := dhcp.Subnet{Prefix: s.Prefix, Routers: s.Routers, DNS: s.DNS, DomainName: s.DomainName,
			LeaseTime: s.LeaseTime.Duration, MTU: s.MTU, ServerID: s.ServerID}
		for _, p := range s.Pools {
			sn.Pools = append(sn.Pools, dhcp.Range{Start: p.Start, End: p.End})
		}
		cfg.Subnets = append(cfg.Subnets, sn)
	}
	for i, r := range f.Reservations {
		mac, err := macaddr.ParseUnicast(r.MAC)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), strconv.Quote(r.MAC)+": ")
			errs = append(errs, field.Invalid(field.NewPath("reservations").Index(i).Child("mac"), r.MAC, msg))
			continue
		}
		cfg.Reservations = append(cfg.Reservations, dhcp.Reservation{MAC: mac, IP: r.IP, Hostname: r.Hostname})
	}
	if f.URLSigning != nil {
		cfg.URLTTL = f.URLSigning.TTL.Duration
	}
	errs = append(errs, f.convert6(&cfg)...)
	if b := f.Store.BBolt; b != nil {
		cfg.LeaseFile = f.path(b.Path)
	}
	// The HTTPS side (tls.go) and the Secure Boot loaders (secureboot.go).
	if t := f.TLS; t != nil {
		cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSLabCA = f.path(t.CertFile), f.path(t.KeyFile), f.path(t.LabCA)
		cfg.HTTPSPort, cfg.HTTPSBoot, cfg.FilesHTTPSOnly = t.Port, t.HTTPSBoot, t.FilesHTTPSOnly
	}
	cfg.SecureBootHTTP = f.SecureBootHTTP
	return cfg, errs
}

// netnsPath turns a namespace name into its path.
func (f *ConfigFile) netnsPath() string {
	if f.NetNS != "" && !strings.Contains(f.NetNS, "/") {
		return "/var/run/netns/" + f.NetNS
	}
	return f.NetNS
}

// inventorySpec is the inventory the file lists. A machine whose MAC does
// not parse is kept with no MAC, so InventorySpec.Validate reports it at
// its path.
func (f *ConfigFile) inventorySpec() InventorySpec {
	spec := InventorySpec{Profiles: make(map[string]Profile, len(f.Profiles)), Default: f.DefaultProfile}
	for name, p := range f.Profiles {
		spec.Profiles[name] = Profile{Kernel: p.Kernel, Initrd: p.Initrd, Args: p.Args, Script: p.Script, Files: p.Files, Kind: p.Kind}
	}
	for _, m := range f.Machines {
		mac, _ := macaddr.Parse(m.MAC)
		spec.Machines = append(spec.Machines, Machine{MAC: mac, Hostname: m.Hostname, Profile: m.Profile, Vars: m.Vars})
	}
	return spec
}

// path resolves a name from the file against the file's directory.
func (f *ConfigFile) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.dir, p)
}

// Path resolves a file name the file states (a TLS or etcd file, say)
// the way Config does: relative to the file's directory.
func (f *ConfigFile) Path(p string) string { return f.path(p) }

// Config turns the file into a boot server Config: it opens the
// directories (the assets through an os.Root, so no link leads out of
// them), locates the iPXE builds, reads the URL signing key and builds a
// StaticInventory. It checks that every file the file names (TLS and etcd
// files too) exists. Logger, Metrics, the TLS side and an etcd store are
// left to the program that serves. release closes what Config opened,
// once the server no longer serves from it.
func (f *ConfigFile) Config() (cfg Config, release func(), err error) {
	cfg, errs := f.convert()
	var roots []*os.Root
	release = func() {
		for _, r := range roots {
			r.Close()
		}
	}
	if d := f.Directories.Assets; d != "" {
		r, err := os.OpenRoot(f.path(d))
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("directories", "assets"), d, err.Error()))
		} else {
			roots = append(roots, r)
			cfg.Assets = r.FS()
		}
	}
	var found map[ipxe.Binary]string
	if d := f.Directories.IPXE; d != "" {
		found, err = ipxe.Locate(f.path(d))
	} else {
		found, err = ipxe.Locate()
	}
	if len(found) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("directories", "ipxe"), f.Directories.IPXE, fmt.Sprintf("no iPXE builds: %v", err)))
	} else {
		cfg.IPXE = ipxe.BinaryFS(found)
	}
	if d := f.Directories.SecureBoot; d != "" {
		found, err := grub.Locate(f.path(d))
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("directories", "secureBoot"), d, err.Error()))
		} else {
			cfg.SecureBoot = grub.BinaryFS(found)
		}
	}
	if s := f.URLSigning; s != nil {
		key, err := os.ReadFile(f.path(s.KeyFile))
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("urlSigning", "keyFile"), s.KeyFile, err.Error()))
		} else {
			cfg.URLKey = bytes.TrimSpace(key)
		}
	}
	files := map[string]string{}
	if f.TLS != nil {
		for k, v := range f.TLS.files() {
			files["tls."+k] = v
		}
	}
	for k, v := range f.Store.files() {
		files["store."+k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(files)) {
		if v := files[k]; v != "" {
			if _, err := os.Stat(f.path(v)); err != nil {
				errs = append(errs, field.Invalid(field.NewPath(k), v, err.Error()))
			}
		}
	}
	if b := f.Store.BBolt; b != nil {
		if st, err := os.Stat(filepath.Dir(f.path(b.Path))); err != nil || !st.IsDir() {
			errs = append(errs, field.Invalid(field.NewPath("store", "bbolt", "path"), b.Path, "its directory does not exist"))
		}
	}
	inv, err := NewStaticInventory(f.inventorySpec())
	if err != nil {
		errs = append(errs, field.Invalid(field.NewPath("machines"), "", err.Error()))
	}
	cfg.Inventory = inv
	if len(errs) > 0 {
		release()
		return Config{}, func() {}, f.errorf(f.name(), errs)
	}
	return cfg, release, nil
}

// name is how errors name the file.
func (f *ConfigFile) name() string {
	if f.file == "" {
		return "config"
	}
	return f.file
}
