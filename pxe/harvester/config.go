package harvester

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/macaddr"
)

// Mode is the installation mode: build a new cluster or join one.
type Mode string

// Installation modes.
const (
	ModeCreate Mode = "create" // first node: creates the cluster and holds the VIP
	ModeJoin   Mode = "join"   // further nodes: join the cluster at server_url
)

// VIPMode says how the cluster's virtual IP is obtained.
type VIPMode string

// VIP modes.
const (
	VIPStatic VIPMode = "static" // install.vip is the address
	VIPDHCP   VIPMode = "dhcp"   // the VIP is leased by DHCP for install.vip_hw_addr
)

// Config is a Harvester installation config (the file the installer fetches
// from harvester.install.config_url), with the keys Harvester's
// configuration reference documents. It holds credentials (Token,
// OS.Password): see Redacted.
type Config struct {
	// SchemeVersion is the config format version; Harvester reads 1.
	SchemeVersion int `json:"scheme_version,omitempty"`
	// ServerURL is the cluster to join (https://VIP:443). Required in
	// JOIN mode.
	ServerURL string `json:"server_url,omitempty"`
	// Token is the cluster secret shared by every node. Secret.
	Token string `json:"token,omitempty"`
	// OS configures the installed system.
	OS OS `json:"os"`
	// Install configures the installation itself.
	Install Install `json:"install"`
}

// OS is the os section of a Harvester config.
type OS struct {
	// Hostname of the node; may be omitted when DHCP provides one.
	Hostname string `json:"hostname,omitempty"`
	// SSHAuthorizedKeys are public keys (or github:USER) for the rancher user.
	SSHAuthorizedKeys []string `json:"ssh_authorized_keys,omitempty"`
	// Password of the rancher user. Secret.
	Password string `json:"password,omitempty"`
	// NTPServers are time servers (host names or addresses).
	NTPServers []string `json:"ntp_servers,omitempty"`
	// DNSNameservers are resolver addresses.
	DNSNameservers []string `json:"dns_nameservers,omitempty"`
	// Labels are node labels, e.g. topology.kubernetes.io/zone.
	Labels map[string]string `json:"labels,omitempty"`
	// Environment holds variables such as http_proxy for the installed system.
	Environment map[string]string `json:"environment,omitempty"`
	// Modules are kernel modules to load at boot.
	Modules []string `json:"modules,omitempty"`
	// Sysctls are kernel parameters to set at boot.
	Sysctls map[string]string `json:"sysctls,omitempty"`
}

// Install is the install section of a Harvester config.
type Install struct {
	// Mode is create or join.
	Mode Mode `json:"mode"`
	// ManagementInterface is the management network (Harvester ≥ 1.1).
	ManagementInterface *Network `json:"management_interface,omitempty"`
	// Device is the target disk, e.g. /dev/sda. Required.
	Device string `json:"device,omitempty"`
	// DataDisk is a separate disk for VM data, e.g. /dev/sdb.
	DataDisk string `json:"data_disk,omitempty"`
	// ISOURL is the Harvester ISO the installer fetches; required for a
	// PXE installation.
	ISOURL string `json:"iso_url,omitempty"`
	// TTY is the console for hosts without VGA, e.g. ttyS1,115200n8.
	TTY string `json:"tty,omitempty"`
	// VIP is the cluster's management address (CREATE mode).
	VIP string `json:"vip,omitempty"`
	// VIPMode is static or dhcp (CREATE mode).
	VIPMode VIPMode `json:"vip_mode,omitempty"`
	// VIPHwAddr is the MAC DHCP leases the VIP to; only with vip_mode dhcp.
	VIPHwAddr string `json:"vip_hw_addr,omitempty"`
	// ForceEFI, Silent, PowerOff, NoFormat, Debug, SkipChecks and ForceMBR
	// are the installer's switches of the same names.
	ForceEFI   bool `json:"force_efi,omitempty"`
	Silent     bool `json:"silent,omitempty"`
	PowerOff   bool `json:"poweroff,omitempty"`
	NoFormat   bool `json:"no_format,omitempty"`
	Debug      bool `json:"debug,omitempty"`
	SkipChecks bool `json:"skipchecks,omitempty"`
	ForceMBR   bool `json:"force_mbr,omitempty"`
}

// Network is the management interface: its links, how it is addressed,
// and its bond.
type Network struct {
	// Interfaces are the links bonded into the management interface.
	Interfaces []NetworkInterface `json:"interfaces"`
	// Method is dhcp or static.
	Method string `json:"method,omitempty"`
	// IP, SubnetMask and Gateway are required with method static.
	IP         string `json:"ip,omitempty"`
	SubnetMask string `json:"subnet_mask,omitempty"`
	Gateway    string `json:"gateway,omitempty"`
	// DefaultRoute makes this network the default route.
	DefaultRoute bool `json:"default_route,omitempty"`
	// BondOptions configure the bond over Interfaces.
	BondOptions *BondOptions `json:"bond_options,omitempty"`
	// MTU of the management interface (0: the default 1500).
	MTU int `json:"mtu,omitempty"`
	// VlanID tags the management network (0: untagged).
	VlanID int `json:"vlan_id,omitempty"`
}

// NetworkInterface is one link, by name and/or hardware address.
type NetworkInterface struct {
	Name   string `json:"name,omitempty"`   // e.g. ens5
	HwAddr string `json:"hwAddr,omitempty"` // e.g. B8:CA:3A:6A:64:7C
}

// BondOptions are the Linux bonding options Harvester passes on.
type BondOptions struct {
	// Mode is a Linux bonding mode, e.g. balance-tlb or active-backup.
	Mode string `json:"mode,omitempty"`
	// Miimon is the link monitoring interval in milliseconds.
	Miimon int `json:"miimon,omitempty"`
}

// Parse decodes a Harvester config from YAML. Unknown keys are errors
// (a misspelt key would otherwise be dropped and the installer would use a
// default); the result is not validated: call Validate.
func Parse(data []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("harvester config: %w", err)
	}
	return &c, nil
}

// YAML renders the config as the installer reads it.
func (c *Config) YAML() ([]byte, error) { return yaml.Marshal(c) }

// Redacted is a copy with the token and password replaced by "REDACTED",
// for printing and logging.
func (c Config) Redacted() Config {
	if c.Token != "" {
		c.Token = Redaction
	}
	if c.OS.Password != "" {
		c.OS.Password = Redaction
	}
	return c
}

// Redaction replaces a secret in Redacted configs.
const Redaction = "REDACTED"

// Secrets lists the config's secret values (token, password), for callers
// that must check that none leaks into their own output.
func (c *Config) Secrets() []string {
	var s []string
	for _, v := range []string{c.Token, c.OS.Password} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

var bondModes = map[string]bool{
	"balance-rr": true, "active-backup": true, "balance-xor": true, "broadcast": true,
	"802.3ad": true, "balance-tlb": true, "balance-alb": true,
}

// Validate checks c the way Harvester's installer does, and returns every
// problem under its YAML path (install.vip_mode, os.dns_nameservers[1], ...).
func (c *Config) Validate() field.ErrorList {
	var errs field.ErrorList
	if c.SchemeVersion != 0 && c.SchemeVersion != 1 {
		errs = append(errs, field.NotSupported(field.NewPath("scheme_version"), c.SchemeVersion, []string{"1"}))
	}
	if c.Token == "" {
		errs = append(errs, field.Required(field.NewPath("token"), "every node needs the cluster token"))
	}
	errs = append(errs, c.OS.validate(field.NewPath("os"))...)
	in := field.NewPath("install")
	switch c.Install.Mode {
	case ModeCreate:
		errs = append(errs, c.Install.validateVIP(in)...)
		if c.ServerURL != "" {
			errs = append(errs, validateURL(field.NewPath("server_url"), c.ServerURL, "https")...)
		}
	case ModeJoin:
		if c.ServerURL == "" {
			errs = append(errs, field.Required(field.NewPath("server_url"), "JOIN mode needs the cluster's URL, https://<VIP>:443"))
		} else {
			errs = append(errs, validateURL(field.NewPath("server_url"), c.ServerURL, "https")...)
		}
		// A joining node takes the cluster's VIP; one of its own would
		// be ignored at best.
		for _, f := range []struct{ name, v string }{{"vip", c.Install.VIP}, {"vip_mode", string(c.Install.VIPMode)}, {"vip_hw_addr", c.Install.VIPHwAddr}} {
			if f.v != "" {
				errs = append(errs, field.Forbidden(in.Child(f.name), "only the CREATE node sets the VIP"))
			}
		}
	case "":
		errs = append(errs, field.Required(in.Child("mode"), "create or join"))
	default:
		errs = append(errs, field.NotSupported(in.Child("mode"), c.Install.Mode, []string{string(ModeCreate), string(ModeJoin)}))
	}
	errs = append(errs, validateDisk(in.Child("device"), c.Install.Device, true)...)
	errs = append(errs, validateDisk(in.Child("data_disk"), c.Install.DataDisk, false)...)
	if c.Install.DataDisk != "" && c.Install.DataDisk == c.Install.Device {
		errs = append(errs, field.Invalid(in.Child("data_disk"), c.Install.DataDisk, "must differ from install.device"))
	}
	if c.Install.ISOURL == "" {
		errs = append(errs, field.Required(in.Child("iso_url"), "a PXE installation fetches the ISO from this URL"))
	} else {
		errs = append(errs, validateURL(in.Child("iso_url"), c.Install.ISOURL, "http", "https")...)
	}
	if c.Install.ManagementInterface != nil {
		errs = append(errs, c.Install.ManagementInterface.validate(in.Child("management_interface"))...)
	}
	return errs
}

func (o *OS) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if o.Hostname != "" {
		if strings.ToLower(o.Hostname) != o.Hostname || !isDNSLabel(o.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), o.Hostname, "must be a lower-case DNS label (a-z, 0-9, '-', at most 63 characters)"))
		}
	}
	for i, k := range o.SSHAuthorizedKeys {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, "\n\r") {
			errs = append(errs, field.Invalid(p.Child("ssh_authorized_keys").Index(i), k, "must be one public key line or github:USER"))
		}
	}
	if o.Password == "" {
		errs = append(errs, field.Required(p.Child("password"), "the rancher user's password"))
	}
	for i, s := range o.DNSNameservers {
		if _, err := netip.ParseAddr(s); err != nil {
			errs = append(errs, field.Invalid(p.Child("dns_nameservers").Index(i), s, "must be an IP address"))
		}
	}
	for i, s := range o.NTPServers {
		if s == "" || strings.ContainsAny(s, " \t/") {
			errs = append(errs, field.Invalid(p.Child("ntp_servers").Index(i), s, "must be a host name or address"))
		}
	}
	return errs
}

func (in *Install) validateVIP(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch in.VIPMode {
	case VIPStatic:
		if in.VIP == "" {
			errs = append(errs, field.Required(p.Child("vip"), "vip_mode static needs the VIP address"))
		}
		if in.VIPHwAddr != "" {
			errs = append(errs, field.Forbidden(p.Child("vip_hw_addr"), "leave empty with vip_mode static"))
		}
	case VIPDHCP:
		if in.VIPHwAddr == "" {
			errs = append(errs, field.Required(p.Child("vip_hw_addr"), "vip_mode dhcp leases the VIP for this MAC"))
		}
	case "":
		errs = append(errs, field.Required(p.Child("vip_mode"), "CREATE mode needs static or dhcp"))
	default:
		errs = append(errs, field.NotSupported(p.Child("vip_mode"), in.VIPMode, []string{string(VIPStatic), string(VIPDHCP)}))
	}
	if in.VIP != "" {
		if a, err := netip.ParseAddr(in.VIP); err != nil || !a.Is4() {
			errs = append(errs, field.Invalid(p.Child("vip"), in.VIP, "must be an IPv4 address"))
		}
	}
	if in.VIPHwAddr != "" {
		if _, err := macaddr.Parse(in.VIPHwAddr); err != nil {
			errs = append(errs, field.Invalid(p.Child("vip_hw_addr"), in.VIPHwAddr, "must be a MAC address like 52:54:00:ec:0e:0b"))
		}
	}
	return errs
}

func (n *Network) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(n.Interfaces) == 0 {
		errs = append(errs, field.Required(p.Child("interfaces"), "at least one interface"))
	}
	for i, ifc := range n.Interfaces {
		ip := p.Child("interfaces").Index(i)
		if ifc.Name == "" && ifc.HwAddr == "" {
			errs = append(errs, field.Required(ip, "name or hwAddr"))
		}
		if ifc.Name != "" && (len(ifc.Name) > 15 || strings.ContainsAny(ifc.Name, " /:\t")) {
			errs = append(errs, field.Invalid(ip.Child("name"), ifc.Name, "must be a Linux interface name (at most 15 characters, no '/', ':' or spaces)"))
		}
		if ifc.HwAddr != "" {
			if _, err := macaddr.Parse(ifc.HwAddr); err != nil {
				errs = append(errs, field.Invalid(ip.Child("hwAddr"), ifc.HwAddr, "must be a MAC address"))
			}
		}
	}
	switch n.Method {
	case "dhcp":
		for _, f := range []struct{ name, v string }{{"ip", n.IP}, {"subnet_mask", n.SubnetMask}, {"gateway", n.Gateway}} {
			if f.v != "" {
				errs = append(errs, field.Forbidden(p.Child(f.name), "only with method static"))
			}
		}
	case "static":
		for _, f := range []struct{ name, v string }{{"ip", n.IP}, {"subnet_mask", n.SubnetMask}, {"gateway", n.Gateway}} {
			if f.v == "" {
				errs = append(errs, field.Required(p.Child(f.name), "method static needs it"))
			} else if a, err := netip.ParseAddr(f.v); err != nil || !a.Is4() {
				errs = append(errs, field.Invalid(p.Child(f.name), f.v, "must be an IPv4 address"))
			}
		}
		if n.SubnetMask != "" {
			if a, err := netip.ParseAddr(n.SubnetMask); err == nil && a.Is4() {
				b := a.As4()
				if _, bits := net.IPMask(b[:]).Size(); bits == 0 {
					errs = append(errs, field.Invalid(p.Child("subnet_mask"), n.SubnetMask, "must be a contiguous netmask such as 255.255.255.0"))
				}
			}
		}
	case "":
		errs = append(errs, field.Required(p.Child("method"), "dhcp or static"))
	default:
		errs = append(errs, field.NotSupported(p.Child("method"), n.Method, []string{"dhcp", "static"}))
	}
	if b := n.BondOptions; b != nil {
		if b.Mode != "" && !bondModes[b.Mode] {
			errs = append(errs, field.NotSupported(p.Child("bond_options", "mode"), b.Mode, []string{"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"}))
		}
		if b.Miimon < 0 {
			errs = append(errs, field.Invalid(p.Child("bond_options", "miimon"), b.Miimon, "must not be negative"))
		}
	}
	if n.MTU != 0 && (n.MTU < 576 || n.MTU > 9216) {
		errs = append(errs, field.Invalid(p.Child("mtu"), n.MTU, "must be between 576 and 9216"))
	}
	if n.VlanID < 0 || n.VlanID > 4094 {
		errs = append(errs, field.Invalid(p.Child("vlan_id"), n.VlanID, "must be between 1 and 4094 (0: untagged)"))
	}
	return errs
}

func validateDisk(p *field.Path, dev string, required bool) field.ErrorList {
	if dev == "" {
		if required {
			return field.ErrorList{field.Required(p, "the target disk, e.g. /dev/sda")}
		}
		return nil
	}
	if !strings.HasPrefix(dev, "/dev/") || path.Clean(dev) != dev || strings.ContainsAny(dev, " \t\n") {
		return field.ErrorList{field.Invalid(p, dev, "must be a device path under /dev/")}
	}
	return nil
}

// validateURL wants an absolute URL with one of schemes and a host.
func validateURL(p *field.Path, s string, schemes ...string) field.ErrorList {
	u, err := url.Parse(s)
	if err != nil {
		return field.ErrorList{field.Invalid(p, s, "not a URL: "+err.Error())}
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		return field.ErrorList{field.Invalid(p, s, "scheme must be "+strings.Join(schemes, " or "))}
	}
	if u.Host == "" || u.Hostname() == "" {
		return field.ErrorList{field.Invalid(p, s, "needs a host")}
	}
	if strings.ContainsAny(s, " \t\n\"'") {
		return field.ErrorList{field.Invalid(p, s, "must not contain spaces or quotes")}
	}
	return nil
}

func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
