package vmspec

import (
	"fmt"
	"net/netip"
	"strings"

	k8sv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// CloudConfig is cloud-init user data in #cloud-config form with the fields
// OpenShift Virtualization's manifests use (the web console's cloud-init fields:
// hostname, authorized SSH keys; the RHEL template's user, password and
// chpasswd). Render it with [CloudConfig.Render].
type CloudConfig struct {
	// Hostname sets the guest's hostname.
	Hostname string
	// User is the default user cloud-init creates or unlocks (cloud-user
	// on RHEL, fedora on Fedora).
	User string
	// Password is the user's password.
	Password string
	// ExpirePassword, when false, keeps the password from expiring at first
	// login (chpasswd: {expire: false}, as the RHEL template writes). Nil
	// leaves cloud-init's default.
	ExpirePassword *bool
	// SSHAuthorizedKeys are public keys copied to the user's
	// ~/.ssh/authorized_keys.
	SSHAuthorizedKeys []string
	// RunCmd are commands run once at first boot, in order.
	RunCmd []string
}

// Render validates the user data and returns it as a "#cloud-config"
// document. Errors name the field (userData.hostname).
func (c CloudConfig) Render() (string, error) {
	p := field.NewPath("userData")
	var errs field.ErrorList
	if c.Hostname != "" {
		for _, msg := range validation.IsDNS1123Subdomain(c.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), c.Hostname, msg))
		}
	}
	if c.Password != "" && c.User == "" {
		errs = append(errs, field.Required(p.Child("user"), "a password needs the user it belongs to"))
	}
	if strings.ContainsAny(c.User, " :\n\t") {
		errs = append(errs, field.Invalid(p.Child("user"), c.User, "must not contain spaces, ':' or newlines"))
	}
	for i, k := range c.SSHAuthorizedKeys {
		if !sshKeyLooksValid(k) {
			errs = append(errs, field.Invalid(p.Child("ssh_authorized_keys").Index(i), k, "must be one OpenSSH public key line: TYPE BASE64 [COMMENT], TYPE ssh-*, ecdsa-* or sk-*"))
		}
	}
	for i, cmd := range c.RunCmd {
		if strings.TrimSpace(cmd) == "" {
			errs = append(errs, field.Required(p.Child("runcmd").Index(i), "empty command"))
		}
	}
	if len(errs) > 0 {
		return "", errs.ToAggregate()
	}
	doc := map[string]any{}
	if c.Hostname != "" {
		doc["hostname"] = c.Hostname
	}
	if c.User != "" {
		doc["user"] = c.User
	}
	if c.Password != "" {
		doc["password"] = c.Password
	}
	if c.ExpirePassword != nil {
		doc["chpasswd"] = map[string]any{"expire": *c.ExpirePassword}
	}
	if len(c.SSHAuthorizedKeys) > 0 {
		doc["ssh_authorized_keys"] = c.SSHAuthorizedKeys
	}
	if len(c.RunCmd) > 0 {
		doc["runcmd"] = c.RunCmd
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("vmspec: rendering cloud-config: %w", err)
	}
	return "#cloud-config\n" + string(out), nil
}

func sshKeyLooksValid(k string) bool {
	if strings.ContainsAny(k, "\n\r") {
		return false
	}
	f := strings.Fields(k)
	if len(f) < 2 {
		return false
	}
	t := f[0]
	return strings.HasPrefix(t, "ssh-") || strings.HasPrefix(t, "ecdsa-") || strings.HasPrefix(t, "sk-")
}

// ShellScript returns user data that cloud-init runs as a script, as the
// PXE template does (#!/bin/bash, then echo "fedora" | passwd fedora --stdin).
// script is the body; a missing shebang line gets #!/bin/bash.
func ShellScript(script string) string {
	if strings.HasPrefix(script, "#!") {
		return script
	}
	return "#!/bin/bash\n" + script
}

// NetworkData is cloud-init network configuration version 2 (netplan
// form), one entry per guest interface: dhcp4 and static
// address examples and its dual-stack pod network.
type NetworkData struct {
	// Ethernets are the guest interfaces, in order (eth0, eth1, ...).
	Ethernets []Ethernet
}

// Ethernet configures one guest interface.
type Ethernet struct {
	// Name is the interface name inside the guest, e.g. eth1.
	Name string
	// DHCP4 asks a DHCPv4 server for an address (on the pod network,
	// KubeVirt's own DHCP server answers).
	DHCP4 bool
	// DHCP6 asks a DHCPv6 server for an address.
	DHCP6 bool
	// Addresses are static addresses with their prefix length.
	Addresses []netip.Prefix
	// Gateway4 and Gateway6 are default gateways (zero: none).
	Gateway4, Gateway6 netip.Addr
	// Nameservers are DNS servers for this interface.
	Nameservers []netip.Addr
}

// Validate checks the network data: every interface named once, with
// DHCP or at least one address, gateways of the right family and
// reachable through one of the interface's addresses when it has any.
func (n NetworkData) Validate() field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("networkData", "ethernets")
	seen := map[string]bool{}
	for i, e := range n.Ethernets {
		ep := p.Index(i)
		switch {
		case e.Name == "":
			errs = append(errs, field.Required(ep.Child("name"), "the interface name inside the guest, e.g. eth1"))
		case seen[e.Name]:
			errs = append(errs, field.Duplicate(ep.Child("name"), e.Name))
		case len(e.Name) > 15 || strings.ContainsAny(e.Name, "/: \t\n"):
			errs = append(errs, field.Invalid(ep.Child("name"), e.Name, "not a Linux interface name (at most 15 bytes, no '/', ':' or spaces)"))
		}
		seen[e.Name] = true
		if !e.DHCP4 && !e.DHCP6 && len(e.Addresses) == 0 {
			errs = append(errs, field.Required(ep, "needs dhcp4, dhcp6 or static addresses"))
		}
		for j, a := range e.Addresses {
			if !a.IsValid() {
				errs = append(errs, field.Invalid(ep.Child("addresses").Index(j), a.String(), "not an address with a prefix length"))
			}
		}
		errs = append(errs, checkGateway(ep.Child("gateway4"), e.Gateway4, e.Addresses, true)...)
		errs = append(errs, checkGateway(ep.Child("gateway6"), e.Gateway6, e.Addresses, false)...)
	}
	return errs
}

func checkGateway(p *field.Path, gw netip.Addr, addrs []netip.Prefix, v4 bool) field.ErrorList {
	if !gw.IsValid() {
		return nil
	}
	if gw.Is4() != v4 {
		fam := "IPv6"
		if v4 {
			fam = "IPv4"
		}
		return field.ErrorList{field.Invalid(p, gw.String(), "must be an "+fam+" address")}
	}
	same := false
	for _, a := range addrs {
		if a.Addr().Is4() != v4 {
			continue
		}
		same = true
		if a.Masked().Contains(gw) {
			return nil
		}
	}
	if same {
		return field.ErrorList{field.Invalid(p, gw.String(), "is in none of the interface's static subnets")}
	}
	return nil
}

// Render validates the network data and returns it as YAML for a
// cloudInitNoCloud networkData field.
func (n NetworkData) Render() (string, error) {
	if errs := n.Validate(); len(errs) > 0 {
		return "", errs.ToAggregate()
	}
	eths := map[string]any{}
	for _, e := range n.Ethernets {
		m := map[string]any{}
		if e.DHCP4 {
			m["dhcp4"] = true
		}
		if e.DHCP6 {
			m["dhcp6"] = true
		}
		if len(e.Addresses) > 0 {
			as := make([]string, len(e.Addresses))
			for i, a := range e.Addresses {
				as[i] = a.String()
			}
			m["addresses"] = as
		}
		if e.Gateway4.IsValid() {
			m["gateway4"] = e.Gateway4.String()
		}
		if e.Gateway6.IsValid() {
			m["gateway6"] = e.Gateway6.String()
		}
		if len(e.Nameservers) > 0 {
			ns := make([]string, len(e.Nameservers))
			for i, a := range e.Nameservers {
				ns[i] = a.String()
			}
			m["nameservers"] = map[string]any{"addresses": ns}
		}
		eths[e.Name] = m
	}
	out, err := yaml.Marshal(map[string]any{"version": 2, "ethernets": eths})
	if err != nil {
		return "", fmt.Errorf("vmspec: rendering networkData: %w", err)
	}
	return string(out), nil
}

// DefaultVMIPv6NetworkCIDR is KubeVirt's default for a pod network's
// vmIPv6NetworkCIDR (spec.networks[].pod.vmIPv6NetworkCIDR). OpenShift's
// documentation prints it as fd10:0:2::2/120, the VM's address in it; both name
// the same /120.
const DefaultVMIPv6NetworkCIDR = "fd10:0:2::/120"

// PodIPv6 returns the static IPv6 address (with its prefix length) and the
// gateway a masquerade VM uses on a dual-stack pod network with the given
// vmIPv6NetworkCIDR ("" for the default): virt-launcher takes the
// network's first address as gateway and gives the VM the second, so
// fd10:0:2::/120 (or fd10:0:2::2/120) gives fd10:0:2::2/120 via fd10:0:2::1.
func PodIPv6(cidr string) (addr netip.Prefix, gateway netip.Addr, err error) {
	if cidr == "" {
		cidr = DefaultVMIPv6NetworkCIDR
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("vmspec: vmIPv6NetworkCIDR %q: %w", cidr, err)
	}
	if !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("vmspec: vmIPv6NetworkCIDR %q: not an IPv6 prefix", cidr)
	}
	if p.Bits() > 126 {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("vmspec: vmIPv6NetworkCIDR %q: a /%d has no room for a gateway and a VM address (at most /126)", cidr, p.Bits())
	}
	gateway = p.Masked().Addr().Next()
	return netip.PrefixFrom(gateway.Next(), p.Bits()), gateway, nil
}

// DualStackNetworkData is the dual-stack masquerade configuration
// for the guest interface iface (eth0 when ""): IPv4 by DHCP from
// KubeVirt, plus the static IPv6 address and gateway [PodIPv6] derives
// from vmIPv6NetworkCIDR.
func DualStackNetworkData(iface, vmIPv6NetworkCIDR string) (NetworkData, error) {
	if iface == "" {
		iface = "eth0"
	}
	addr, gw, err := PodIPv6(vmIPv6NetworkCIDR)
	if err != nil {
		return NetworkData{}, err
	}
	return NetworkData{Ethernets: []Ethernet{{Name: iface, DHCP4: true, Addresses: []netip.Prefix{addr}, Gateway6: gw}}}, nil
}

// Keys of a cloud-init Secret KubeVirt reads (it also takes userData and
// networkData).
const (
	SecretKeyUserData    = "userdata"
	SecretKeyNetworkData = "networkdata"
)

// CloudInitNoCloudSource returns a cloudInitNoCloud volume source carrying
// userData and networkData inline when each fits KubeVirt's 2048-byte
// limit. When one does not, that one moves to a Secret called secretName
// (returned, to be created beside the VM) referenced by secretRef or
// networkDataSecretRef; without a secretName that is an error.
func CloudInitNoCloudSource(userData, networkData, secretName string) (*kubevirtv1.CloudInitNoCloudSource, *k8sv1.Secret, error) {
	src := &kubevirtv1.CloudInitNoCloudSource{UserData: userData, NetworkData: networkData}
	bigUser, bigNet := len(userData) > CloudInitMaxLen, len(networkData) > CloudInitMaxLen
	if !bigUser && !bigNet {
		return src, nil, nil
	}
	if secretName == "" {
		return nil, nil, fmt.Errorf("vmspec: cloud-init data of %d/%d bytes exceeds the %d-byte inline limit; give a Secret name to hold it", len(userData), len(networkData), CloudInitMaxLen)
	}
	for _, msg := range validation.IsDNS1123Subdomain(secretName) {
		return nil, nil, fmt.Errorf("vmspec: Secret name %q: %s", secretName, msg)
	}
	sec := &k8sv1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: secretName},
		Type:       k8sv1.SecretTypeOpaque,
		Data:       map[string][]byte{},
	}
	ref := &k8sv1.LocalObjectReference{Name: secretName}
	if bigUser {
		sec.Data[SecretKeyUserData] = []byte(userData)
		src.UserData, src.UserDataSecretRef = "", ref
	}
	if bigNet {
		sec.Data[SecretKeyNetworkData] = []byte(networkData)
		src.NetworkData, src.NetworkDataSecretRef = "", ref
	}
	return src, sec, nil
}

// WithCloudInitSource adds a cloud-init NoCloud disk with a prepared
// source (from [CloudInitNoCloudSource]).
func (b *Builder[T]) WithCloudInitSource(name string, src *kubevirtv1.CloudInitNoCloudSource, opts ...DiskOption) *Builder[T] {
	if src == nil {
		src = &kubevirtv1.CloudInitNoCloudSource{}
	}
	b.addDisk(name, kubevirtv1.VolumeSource{CloudInitNoCloud: src.DeepCopy()}, opts)
	b.cloudInitName = name
	return b
}
