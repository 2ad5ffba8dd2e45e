package harvester

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/macaddr"
	"github.com/pxekit/pxekit/pxe"
)

// ZoneLabel is the node label Harvester spreads management nodes over.
const ZoneLabel = "topology.kubernetes.io/zone"

// Cluster describes a whole Harvester cluster to install over PXE: the
// release, the settings every node shares, and the nodes by MAC. It is the
// cluster.yaml of examples/harvester-pxe.
type Cluster struct {
	// Version of the Harvester release, e.g. v1.6.0.
	Version string `json:"version"`
	// AssetDir is where the release's files are on the boot server's disk.
	AssetDir string `json:"assetDir,omitempty"`
	// VIP, VIPMode and VIPHwAddr go to the CREATE node's install section;
	// joiners get server_url https://<VIP>:443.
	VIP       string  `json:"vip"`
	VIPMode   VIPMode `json:"vipMode,omitempty"`
	VIPHwAddr string  `json:"vipHwAddr,omitempty"`
	// ServerURL overrides the joiners' server_url (default https://<VIP>:443).
	ServerURL string `json:"serverURL,omitempty"`
	// Token and Password are the cluster's secrets.
	Token    string `json:"token"`
	Password string `json:"password"`
	// SSHAuthorizedKeys, NTPServers, DNSNameservers: os.* of every node.
	SSHAuthorizedKeys []string `json:"sshAuthorizedKeys,omitempty"`
	NTPServers        []string `json:"ntpServers,omitempty"`
	DNSNameservers    []string `json:"dnsNameservers,omitempty"`
	// Device, DataDisk, TTY: install.* of every node.
	Device   string `json:"device"`
	DataDisk string `json:"dataDisk,omitempty"`
	TTY      string `json:"tty,omitempty"`
	// ISOURL overrides where nodes fetch the ISO (default: the boot
	// server's /assets/<iso>).
	ISOURL string `json:"isoURL,omitempty"`
	// ManagementInterface of every node.
	ManagementInterface *Network `json:"managementInterface,omitempty"`
	// Boot are the kernel argument options of every node.
	Boot ClusterBoot `json:"boot,omitempty"`
	// Nodes in installation order: the first creates the cluster.
	Nodes []Node `json:"nodes"`
}

// ClusterBoot is BootOptions in cluster.yaml form.
type ClusterBoot struct {
	DHCPRetry     int      `json:"dhcpRetry,omitempty"`     // rd.net.dhcp.retry=<n>
	BootInterface string   `json:"bootInterface,omitempty"` // ip=<iface>:dhcp instead of ip=dhcp
	ModeArg       bool     `json:"modeArg,omitempty"`       // add harvester.install.mode=<mode>
	Extra         []string `json:"extra,omitempty"`         // further kernel arguments
	// SecureBoot boots the nodes' UEFI firmware through the signed chain
	// (pxe.ProfileSecureBoot: shim, GRUB, grub.cfg with the same
	// arguments) instead of iPXE. The kernel must be signed by a key the
	// served shim trusts: Harvester's kernel by SUSE's, with SUSE's shim
	// and GRUB as pxe.Config.SecureBoot.
	SecureBoot bool `json:"secureBoot,omitempty"`
}

// Node is one machine of the cluster. Fields left empty take the
// cluster's value.
type Node struct {
	Hostname            string            `json:"hostname"`                      // os.hostname, and the node's profile name
	MAC                 string            `json:"mac"`                           // the NIC it PXE-boots from
	Labels              map[string]string `json:"labels,omitempty"`              // os.labels
	Device              string            `json:"device,omitempty"`              // install.device
	NTPServers          []string          `json:"ntpServers,omitempty"`          // os.ntp_servers
	DNSNameservers      []string          `json:"dnsNameservers,omitempty"`      // os.dns_nameservers
	ManagementInterface *Network          `json:"managementInterface,omitempty"` // install.management_interface
}

// ParseCluster decodes a cluster.yaml; unknown keys are errors.
func ParseCluster(data []byte) (*Cluster, error) {
	var c Cluster
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &c, nil
}

// Role is what a node becomes in the cluster.
type Role string

// Node roles after installation.
const (
	RoleManagement Role = "management" // control plane (the first three nodes)
	RoleWorker     Role = "worker"
)

// PlannedNode is one node with its mode, predicted role and config.
type PlannedNode struct {
	Node
	MACAddr net.HardwareAddr // Node.MAC, parsed
	Mode    Mode             // create for the first node, join for the rest
	Role    Role             // what Harvester will make of it
	Config  Config           // its installation config (holds the secrets)
	// ConfigFile is the name the config is served under
	// (config-create.yaml or config-join.yaml, as in the Harvester PXE
	// install guide).
	ConfigFile string
}

// Plan is a validated cluster: every node's config and boot.
type Plan struct {
	Release Release       // the files every node boots
	Boot    BootOptions   // kernel argument options of every node
	Nodes   []PlannedNode // in installation order
	// modeArg adds harvester.install.mode=<mode> to each node's arguments.
	modeArg bool
	// kind is the kind of every node's profile (pxe.ProfileSecureBoot
	// with boot.secureBoot).
	kind pxe.ProfileKind
}

// BaseURLPlaceholder stands for the boot server's HTTP root in planned
// configs (the default iso_url) until the server renders them with its
// real address. The .invalid TLD (RFC 2606) never resolves, so a config
// that escaped unrendered fails loudly.
const BaseURLPlaceholder = "http://pxekit-boot-server.invalid"

// Plan checks the cluster and plans it: the first node CREATEs the cluster
// with the VIP, every other node JOINs at https://<VIP>:443. Harvester
// promotes the first two joiners to management nodes (three in all, for
// HA); when nodes carry topology.kubernetes.io/zone labels it promotes one
// per zone instead, so at least three zones are then required.
func (c *Cluster) Plan() (*Plan, error) {
	var errs field.ErrorList
	r := Release{Version: c.Version}
	if err := r.Validate(); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("version"), c.Version, err.Error()))
	}
	plan := &Plan{Release: r, Boot: BootOptions{DHCPRetry: c.Boot.DHCPRetry, BootInterface: c.Boot.BootInterface, Extra: c.Boot.Extra}}
	if _, err := KernelArgs("http://x/r", "http://x/c", plan.Boot); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("boot"), c.Boot, err.Error()))
	}
	serverURL := c.ServerURL
	if serverURL == "" && c.VIP != "" {
		if a, err := netip.ParseAddr(c.VIP); err == nil {
			serverURL = "https://" + netip.AddrPortFrom(a, 443).String()
		}
	}
	iso := c.ISOURL
	if iso == "" {
		iso = BaseURLPlaceholder + pxe.PathAssets + r.ISO()
	}
	np := field.NewPath("nodes")
	if len(c.Nodes) == 0 {
		errs = append(errs, field.Required(np, "at least the node that creates the cluster"))
	}
	seenMAC, seenHost := map[string]int{}, map[string]int{}
	zones := map[string]bool{}
	zoned := false
	for i, n := range c.Nodes {
		p := np.Index(i)
		mac, err := macaddr.Parse(n.MAC)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("mac"), n.MAC, "must be an Ethernet MAC like 52:54:00:6b:13:e2"))
		} else if j, dup := seenMAC[mac.String()]; dup {
			errs = append(errs, field.Duplicate(p.Child("mac"), fmt.Sprintf("%s (also nodes[%d])", n.MAC, j)))
		} else {
			seenMAC[mac.String()] = i
		}
		if n.Hostname == "" {
			errs = append(errs, field.Required(p.Child("hostname"), "names the node and its boot profile"))
		} else if j, dup := seenHost[n.Hostname]; dup {
			errs = append(errs, field.Duplicate(p.Child("hostname"), fmt.Sprintf("%s (also nodes[%d])", n.Hostname, j)))
		} else {
			seenHost[n.Hostname] = i
		}
		if z, ok := n.Labels[ZoneLabel]; ok {
			zoned = true
			zones[z] = true
		}
		pn := PlannedNode{Node: n, MACAddr: mac, Mode: ModeJoin, Role: RoleWorker}
		if i == 0 {
			pn.Mode = ModeCreate
		}
		pn.ConfigFile = "config-" + string(pn.Mode) + ".yaml"
		cfg := Config{
			SchemeVersion: 1,
			Token:         c.Token,
			OS: OS{
				Hostname:          n.Hostname,
				SSHAuthorizedKeys: c.SSHAuthorizedKeys,
				Password:          c.Password,
				NTPServers:        orList(n.NTPServers, c.NTPServers),
				DNSNameservers:    orList(n.DNSNameservers, c.DNSNameservers),
				Labels:            n.Labels,
			},
			Install: Install{
				Mode:                pn.Mode,
				ManagementInterface: c.ManagementInterface,
				Device:              orString(n.Device, c.Device),
				DataDisk:            c.DataDisk,
				ISOURL:              iso,
				TTY:                 c.TTY,
			},
		}
		if n.ManagementInterface != nil {
			cfg.Install.ManagementInterface = n.ManagementInterface
		}
		if pn.Mode == ModeCreate {
			cfg.Install.VIP, cfg.Install.VIPMode, cfg.Install.VIPHwAddr = c.VIP, c.VIPMode, c.VIPHwAddr
		} else {
			cfg.ServerURL = serverURL
			if serverURL == "" {
				errs = append(errs, field.Required(field.NewPath("vip"), "joiners need the VIP (or serverURL) to join at"))
			}
		}
		for _, e := range cfg.Validate() {
			// Report under the cluster field the value came from
			// when it is per node, so users know where to fix it.
			e.Field = p.Child("config").String() + "." + e.Field
			errs = append(errs, e)
		}
		pn.Config = cfg
		plan.Nodes = append(plan.Nodes, pn)
	}
	if zoned && len(zones) < 3 {
		errs = append(errs, field.Invalid(np, zoneList(zones), "nodes use "+ZoneLabel+" labels: Harvester then needs at least three zones to place management nodes"))
	}
	plan.assignRoles(zoned)
	if len(errs) > 0 {
		return nil, dedupe(errs).ToAggregate()
	}
	if c.Boot.ModeArg {
		plan.modeArg = true
	}
	if c.Boot.SecureBoot {
		plan.kind = pxe.ProfileSecureBoot
	}
	return plan, nil
}

// assignRoles predicts Harvester's promotion: the CREATE node is
// management; then the earliest joiners until there are three, one per
// not-yet-covered zone when zones are in use.
func (p *Plan) assignRoles(zoned bool) {
	covered := map[string]bool{}
	count := 0
	for i := range p.Nodes {
		n := &p.Nodes[i]
		z := n.Labels[ZoneLabel]
		if count < 3 && (!zoned || !covered[z]) {
			n.Role = RoleManagement
			covered[z] = true
			count++
		}
	}
}

// Node returns the planned node with this MAC.
func (p *Plan) Node(mac net.HardwareAddr) (PlannedNode, bool) {
	for _, n := range p.Nodes {
		if macaddr.Equal(n.MACAddr, mac) {
			return n, true
		}
	}
	return PlannedNode{}, false
}

// RenderConfig returns node n's config as served from a boot server at
// baseURL: the placeholder iso_url resolved. With redact, the token and
// password are replaced by REDACTED.
func RenderConfig(n PlannedNode, baseURL string, redact bool) ([]byte, error) {
	cfg := n.Config
	if redact {
		cfg = cfg.Redacted()
	}
	cfg.Install.ISOURL = strings.Replace(cfg.Install.ISOURL, BaseURLPlaceholder, baseURL, 1)
	return cfg.YAML()
}

// Inventory turns the plan into the boot server's inventory: one profile
// per node (named after its hostname) booting the release's kernel and
// initrd from /assets/, with the Harvester PXE install's kernel arguments,
// and the node's config served at /machines/<mac>/config-<mode>.yaml to
// that machine only (or through a signed URL when the server has a
// URLKey).
func (p *Plan) Inventory() (*pxe.StaticInventory, error) {
	inv := pxe.InventorySpec{Profiles: map[string]pxe.Profile{}}
	for _, n := range p.Nodes {
		o := p.Boot
		if p.modeArg {
			o.Mode = n.Mode
		}
		// Placeholders pass ipxe's checks; they become template
		// actions below.
		const rootPH, cfgPH = "http://rootfs.invalid/r", "http://config.invalid/c"
		args, err := KernelArgs(rootPH, cfgPH, o)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Hostname, err)
		}
		var out []string
		for _, a := range args.Args() {
			s := literal(a.String())
			switch {
			case a.Name == "root":
				s = "root=live:{{.BaseURL}}" + pxe.PathAssets + p.Release.RootFS()
			case a.Name == "harvester.install.config_url":
				s = "harvester.install.config_url={{.FileURL " + strconv.Quote(n.ConfigFile) + "}}"
			}
			out = append(out, s)
		}
		yml, err := n.Config.YAML()
		if err != nil {
			return nil, err
		}
		// The config is a template for the boot server: every byte of it
		// is a quoted literal except the server's address, so a password
		// with "{{" in it stays a password.
		parts := strings.Split(string(yml), BaseURLPlaceholder)
		var tmpl strings.Builder
		for i, part := range parts {
			if i > 0 {
				tmpl.WriteString("{{.BaseURL}}")
			}
			if part != "" {
				tmpl.WriteString("{{" + strconv.Quote(part) + "}}")
			}
		}
		inv.Profiles[n.Hostname] = pxe.Profile{
			Kind:   p.kind,
			Kernel: p.Release.Kernel(),
			Initrd: p.Release.Initrd(),
			Args:   out,
			Files:  map[string]string{n.ConfigFile: tmpl.String()},
		}
		inv.Machines = append(inv.Machines, pxe.Machine{MAC: n.MACAddr, Hostname: n.Hostname, Profile: n.Hostname})
	}
	return pxe.NewStaticInventory(inv)
}

// RenderScript is node n's iPXE script from a boot server at baseURL, as
// pxe serves it.
func (p *Plan) RenderScript(n PlannedNode, baseURL string, fw ipxe.Firmware) ([]byte, error) {
	m, prof, err := p.lookup(n)
	if err != nil {
		return nil, err
	}
	return pxe.RenderScript(m, prof, baseURL, fw)
}

// lookup is node n's machine and profile in the plan's inventory.
func (p *Plan) lookup(n PlannedNode) (pxe.Machine, pxe.Profile, error) {
	inv, err := p.Inventory()
	if err != nil {
		return pxe.Machine{}, pxe.Profile{}, err
	}
	return inv.Lookup(n.MACAddr)
}

// RenderGRUB is node n's grub.cfg from a boot server at baseURL, as pxe
// serves it to a node whose profile is of kind pxe.ProfileSecureBoot
// (boot.secureBoot): the same kernel, initrd and arguments as its iPXE
// script, read by GRUB.
func (p *Plan) RenderGRUB(n PlannedNode, baseURL string) ([]byte, error) {
	m, prof, err := p.lookup(n)
	if err != nil {
		return nil, err
	}
	return pxe.RenderGRUB(m, prof, baseURL)
}

// literal keeps a value that looks like a template action from being
// executed: it becomes a quoted string constant.
func literal(s string) string {
	if strings.Contains(s, "{{") || strings.Contains(s, "}}") {
		return "{{" + strconv.Quote(s) + "}}"
	}
	return s
}

func orList(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

func orString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func zoneList(z map[string]bool) string {
	var l []string
	for k := range z {
		l = append(l, k)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

// dedupe drops repeated identical errors (a cluster-wide setting is
// checked once per node).
func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	var out field.ErrorList
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}
