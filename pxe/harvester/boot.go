package harvester

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/pxekit/pxekit/ipxe"
	"github.com/pxekit/pxekit/pxe"
)

// Release names the files of one Harvester release as its release page
// ships them. The PXE install guide's scripts say rootfs.squashfs and
// harvester-<version>-vmlinuz while the files it tells you to download are
// harvester-<version>-rootfs-amd64.squashfs and
// harvester-<version>-vmlinuz-amd64; every URL here is derived from these
// names so a script never points at a file that is not there.
type Release struct {
	// Version as in the file names, e.g. v1.6.0.
	Version string
	// Arch is the architecture suffix (default amd64).
	Arch string
}

var versionRE = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+){1,2}([-+][0-9A-Za-z.\-]+)?$`)

// Validate checks that the version can be part of a file name and URL.
func (r Release) Validate() error {
	if !versionRE.MatchString(r.Version) {
		return fmt.Errorf("harvester release version %q: want e.g. v1.6.0", r.Version)
	}
	if r.Arch != "" && r.Arch != "amd64" && r.Arch != "arm64" {
		return fmt.Errorf("harvester release arch %q: want amd64 or arm64", r.Arch)
	}
	return nil
}

func (r Release) arch() string {
	if r.Arch == "" {
		return "amd64"
	}
	return r.Arch
}

// Kernel is the kernel's file name: harvester-<version>-vmlinuz-<arch>.
func (r Release) Kernel() string { return "harvester-" + r.Version + "-vmlinuz-" + r.arch() }

// Initrd is the initrd's file name: harvester-<version>-initrd-<arch>.
func (r Release) Initrd() string { return "harvester-" + r.Version + "-initrd-" + r.arch() }

// RootFS is the root squashfs: harvester-<version>-rootfs-<arch>.squashfs.
func (r Release) RootFS() string {
	return "harvester-" + r.Version + "-rootfs-" + r.arch() + ".squashfs"
}

// ISO is the installation image: harvester-<version>-<arch>.iso.
func (r Release) ISO() string { return "harvester-" + r.Version + "-" + r.arch() + ".iso" }

// Files lists every file of the release a PXE install serves.
func (r Release) Files() []string { return []string{r.ISO(), r.Kernel(), r.Initrd(), r.RootFS()} }

// BootOptions are the optional kernel arguments the PXE install guide
// describes.
type BootOptions struct {
	// DHCPRetry adds rd.net.dhcp.retry=<n>: dracut retries DHCP n times
	// instead of failing the boot.
	DHCPRetry int
	// BootInterface replaces ip=dhcp with ip=<iface>:dhcp, to configure
	// only the interface the node boots from.
	BootInterface string
	// Mode adds harvester.install.mode=<mode>, which takes precedence over
	// the config file's install.mode.
	Mode Mode
	// Extra are further kernel arguments (name or name=value). A second
	// ip= is refused: Harvester supports only one.
	Extra []string
}

// KernelArgs returns the kernel arguments of the PXE install guide's scripts for a root
// filesystem and a config at these URLs, with the options applied.
func KernelArgs(rootfsURL, configURL string, o BootOptions) (*ipxe.Cmdline, error) {
	var errs field.ErrorList
	p := field.NewPath("boot")
	c := ipxe.NewCmdline()
	ip := "dhcp"
	if o.BootInterface != "" {
		if len(o.BootInterface) > 15 || strings.ContainsAny(o.BootInterface, ":/ \t=") {
			errs = append(errs, field.Invalid(p.Child("bootInterface"), o.BootInterface, "must be an interface name"))
		}
		ip = o.BootInterface + ":dhcp"
	}
	c.Set("ip", ip).Set("net.ifnames", "1").Flag("rd.cos.disable").Flag("rd.noverifyssl").Set("console", "tty1")
	if o.DHCPRetry < 0 {
		errs = append(errs, field.Invalid(p.Child("dhcpRetry"), o.DHCPRetry, "must not be negative"))
	} else if o.DHCPRetry > 0 {
		c.SetInt("rd.net.dhcp.retry", o.DHCPRetry)
	}
	c.Set("root", "live:"+rootfsURL)
	c.Set("harvester.install.automatic", "true")
	c.Set("harvester.install.config_url", configURL)
	switch o.Mode {
	case "":
	case ModeCreate, ModeJoin:
		c.Set("harvester.install.mode", string(o.Mode))
	default:
		errs = append(errs, field.NotSupported(p.Child("mode"), o.Mode, []string{string(ModeCreate), string(ModeJoin)}))
	}
	for i, a := range o.Extra {
		name, value, hasValue := strings.Cut(a, "=")
		if name == "ip" || name == "initrd" || name == "root" || strings.HasPrefix(name, "harvester.install.config_url") {
			// Harvester supports only one ip= (its install guide says so); initrd= and
			// root= are derived from the release.
			errs = append(errs, field.Duplicate(p.Child("extra").Index(i), a))
			continue
		}
		if hasValue {
			c.Set(name, value)
		} else {
			c.Flag(name)
		}
	}
	if err := c.Err(); err != nil {
		errs = append(errs, field.Invalid(p, c.String(), err.Error()))
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return c, nil
}

// ScriptOptions place a standalone iPXE script in an HTTP tree such as
// the PXE install guide's nginx layout.
type ScriptOptions struct {
	// AssetURL is where the release's files are served, e.g.
	// http://10.100.0.10/harvester. The kernel and initrd are named
	// relative to the script (iPXE resolves them against the script's URL,
	// as the guide does) unless AbsoluteAssets is set.
	AssetURL string
	// ConfigURL is the node's Harvester config.
	ConfigURL string
	// AbsoluteAssets names the kernel and initrd by full URL.
	AbsoluteAssets bool
	BootOptions
}

// Script renders the PXE install guide's iPXE script for a release: kernel with the
// Harvester arguments, initrd, boot. For UEFI (fw == ipxe.EFI) the kernel
// line also names the initrd (initrd=<name>), without which UEFI's Linux
// stub boots with no initrd.
func Script(r Release, fw ipxe.Firmware, o ScriptOptions) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if o.AssetURL == "" || o.ConfigURL == "" {
		return nil, errors.New("harvester script: AssetURL and ConfigURL are required")
	}
	base := strings.TrimSuffix(o.AssetURL, "/")
	args, err := KernelArgs(base+"/"+r.RootFS(), o.ConfigURL, o.BootOptions)
	if err != nil {
		return nil, err
	}
	kernel, initrd := r.Kernel(), r.Initrd()
	if o.AbsoluteAssets {
		kernel, initrd = base+"/"+kernel, base+"/"+initrd
	}
	return ipxe.NewScript().Linux(ipxe.Linux{Kernel: kernel, Initrds: []string{initrd}, Cmdline: args}, fw).Build()
}

// ServerURL points a boot file name from the PXE install guide's dhcpd.conf at a pxe
// boot server, for pxe.Config.Boot with pxe/iscdhcp: the node's script
// (.../ipxe-create, .../ipxe-join-efi, ...) becomes the server's per-machine
// script, .../ipxe.efi its iPXE binary for UEFI HTTP boot; TFTP names stay.
func ServerURL(filename string) string {
	if !strings.Contains(filename, "://") {
		return filename
	}
	base := filename[strings.LastIndex(filename, "/")+1:]
	switch {
	case base == "ipxe.efi":
		return "{base}" + pxe.PathIPXE + "ipxe.efi"
	case strings.HasSuffix(base, "-efi"):
		return "{base}" + pxe.PathScript + "?mac={mac}&fw=efi"
	}
	return "{base}" + pxe.PathScript + "?mac={mac}"
}
