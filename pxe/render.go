package pxe

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"

	"github.com/pxekit/pxekit/ipxe"
)

// ScriptData is what a profile's templates (Script, Files, and each of Args)
// see.
type ScriptData struct {
	// MAC is the machine's address, aa:bb:cc:dd:ee:ff.
	MAC      string
	Hostname string
	Profile  string
	// Vars are the machine's free-form values.
	Vars map[string]string
	// BaseURL is the boot server's HTTP root, e.g. http://192.0.2.1:8080.
	BaseURL string
	// EFI is true for UEFI clients (their kernels need initrd=).
	EFI bool
	// Firmware is "efi" or "bios".
	Firmware string
	// ClientAddr is the address the script was asked for from: the one
	// the machine's iPXE holds (its DHCP or DHCPv6 lease), e.g.
	// 2001:db8::105. A guest with no DHCPv6 client of its own can take it
	// over from the kernel command line (ip6={{.ClientAddr}}/64): the
	// lease is the machine's, whichever stage holds it. Empty in files.
	ClientAddr string
	// HTTPSBaseURL is the server's HTTPS root (https://192.0.2.1:8443)
	// when it serves HTTPS, else empty.
	HTTPSBaseURL string
	// SecureBoot is true in the grub.cfg of a Secure Boot profile (GRUB,
	// not iPXE, reads the kernel arguments).
	SecureBoot bool

	// fileBase, when set, is the root FileURL uses instead of BaseURL
	// (HTTPSBaseURL when per-machine files are served over HTTPS only).
	fileBase string

	// sign, when set, turns a path into a signed, expiring query (the
	// server's Config.URLKey); FileURL uses it.
	sign func(path string) string
}

// FileURL is the URL of the machine's per-profile file name, e.g.
// {{.FileURL "config-create.yaml"}}. When the server signs URLs
// (Config.URLKey) it carries an expiring signature, so the installer may
// fetch it from any address; otherwise it is served only to the requester
// whose DHCP lease names this machine's MAC.
func (d ScriptData) FileURL(name string) string {
	p := MachineFilePath(d.MAC, name)
	base := d.BaseURL
	if d.fileBase != "" {
		base = d.fileBase
	}
	if d.sign != nil {
		return base + p + "?" + d.sign(p)
	}
	return base + p
}

func newScriptData(m Machine, baseURL string, fw ipxe.Firmware) ScriptData {
	d := ScriptData{
		MAC:      m.MAC.String(),
		Hostname: m.Hostname,
		Profile:  m.Profile,
		Vars:     m.Vars,
		BaseURL:  baseURL,
		EFI:      fw == ipxe.EFI,
		Firmware: "bios",
	}
	if d.EFI {
		d.Firmware = "efi"
	}
	if d.Vars == nil {
		d.Vars = map[string]string{}
	}
	return d
}

// execTemplate renders one template; missing keys are errors so a typo in a
// profile fails loudly instead of rendering "<no value>" into a kernel line.
func execTemplate(name, text string, data ScriptData) (string, error) {
	return (*templateCache)(nil).exec(name, text, data)
}

// exec is execTemplate keeping the parsed template in c (when not nil) for
// the next request.
func (c *templateCache) exec(name, text string, data ScriptData) (string, error) {
	if isPlainText(text) {
		return text, nil
	}
	t, err := c.get(name, text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// isPlainText reports a template without actions or comments: it renders
// to itself. Most kernel arguments ("console=ttyS0") are like this.
func isPlainText(text string) bool { return !strings.Contains(text, "{{") }

// maxCachedTemplates bounds a templateCache. The templates come from the
// inventory's profiles, so a server holds a few dozen; the bound only
// guards against an inventory that grows without limit.
const maxCachedTemplates = 4096

// templateCache holds parsed templates by name and text, so a boot storm
// does not re-parse the same profile for every machine: parsing was most of
// the cost of rendering a script. A parsed template is safe for concurrent
// Execute. The zero value is ready; a nil cache parses every time.
type templateCache struct {
	m sync.Map // templateKey → *template.Template
	n atomic.Int64
}

// templateKey includes the name because it is part of every error message.
type templateKey struct{ name, text string }

func (c *templateCache) get(name, text string) (*template.Template, error) {
	if c != nil {
		if t, ok := c.m.Load(templateKey{name, text}); ok {
			return t.(*template.Template), nil
		}
	}
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err // not cached: a broken profile is rare and must keep failing loudly
	}
	if c != nil && c.n.Load() < maxCachedTemplates {
		if _, loaded := c.m.LoadOrStore(templateKey{name, text}, t); !loaded {
			c.n.Add(1)
		}
	}
	return t, nil
}

// assetURL resolves a profile's kernel or initrd reference.
func assetURL(baseURL, ref string) string {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		return ref
	}
	return baseURL + "/assets/" + strings.TrimPrefix(ref, "/")
}

// RenderScript renders the iPXE script for machine m booting with profile p
// from a server at baseURL. Every kernel argument goes through ipxe.Cmdline,
// so values from the inventory cannot inject iPXE commands or extra kernel
// arguments.
func RenderScript(m Machine, p Profile, baseURL string, fw ipxe.Firmware) ([]byte, error) {
	return renderScript(nil, m, p, newScriptData(m, baseURL, fw), fw)
}

func renderScript(c *templateCache, m Machine, p Profile, data ScriptData, fw ipxe.Firmware) ([]byte, error) {
	baseURL := data.BaseURL
	if p.Script != "" {
		out, err := c.exec("profile "+m.Profile, p.Script, data)
		if err != nil {
			return nil, fmt.Errorf("profile %s: script: %w", m.Profile, err)
		}
		if problems := ipxe.Lint(out); len(problems) > 0 {
			return nil, fmt.Errorf("profile %s: rendered script: %v", m.Profile, problems)
		}
		return []byte(out), nil
	}
	cmd, err := profileCmdline(c, m, p, data)
	if err != nil {
		return nil, err
	}
	l := ipxe.Linux{Kernel: assetURL(baseURL, p.Kernel), Cmdline: cmd}
	if p.Initrd != "" {
		l.Initrds = []string{assetURL(baseURL, p.Initrd)}
	}
	out, err := ipxe.NewScript().Linux(l, fw).Build()
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", m.Profile, err)
	}
	return out, nil
}

// profileCmdline renders p's kernel arguments for m, each template
// executed and every argument checked by ipxe.Cmdline: boot.ipxe and
// grub.cfg pass the same arguments.
func profileCmdline(c *templateCache, m Machine, p Profile, data ScriptData) (*ipxe.Cmdline, error) {
	cmd := ipxe.NewCmdline()
	for i, a := range p.Args {
		v := a
		if !isPlainText(a) { // named only when it is a template: most are not
			var err error
			if v, err = c.exec(fmt.Sprintf("profile %s args[%d]", m.Profile, i), a, data); err != nil {
				return nil, fmt.Errorf("profile %s: args[%d]: %w", m.Profile, i, err)
			}
		}
		if name, value, ok := strings.Cut(v, "="); ok {
			cmd.Set(name, value)
		} else {
			cmd.Flag(v)
		}
	}
	return cmd, nil
}

// RenderFile renders the per-machine file name of profile p for machine m.
func RenderFile(m Machine, p Profile, name, baseURL string) ([]byte, error) {
	return renderFile(nil, m, p, name, newScriptData(m, baseURL, ipxe.BIOS))
}

func renderFile(c *templateCache, m Machine, p Profile, name string, data ScriptData) ([]byte, error) {
	text, ok := p.Files[name]
	if !ok {
		return nil, fmt.Errorf("profile %s has no file %q", m.Profile, name)
	}
	out, err := c.exec(fmt.Sprintf("profile %s file %s", m.Profile, name), text, data)
	if err != nil {
		return nil, fmt.Errorf("profile %s: file %s: %w", m.Profile, name, err)
	}
	return []byte(out), nil
}
