package ipxe

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Problem is one finding of Lint, at a 1-based line.
type Problem struct {
	Line int
	Msg  string
}

// String renders "line N: message".
func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Msg) }

// LintOption adjusts what Lint expects of a script.
type LintOption func(*lintConfig)

type lintConfig struct {
	initrd bool
	efi    bool
}

// ExpectInitrd reports a kernel that is not followed by an initrd, for
// profiles whose kernel cannot boot without one.
func ExpectInitrd() LintOption { return func(c *lintConfig) { c.initrd = true } }

// ForEFI reports an initrd that is not named on the kernel command line as
// initrd=<name>, which UEFI clients need.
func ForEFI() LintOption { return func(c *lintConfig) { c.efi = true } }

// commands are iPXE's commands (https://ipxe.org/cmd), including aliases.
var commands = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`autoboot ifstat ifopen ifclose ifconf dhcp iflinkwait route nstat
	ipstat vcreate vdestroy imgstat chain imgexec boot imgfetch module initrd kernel imgselect imgload
	imgfree imgargs imgtrust imgverify imgextract imgmem imgdecrypt sanhook sanboot sanunhook fcstat
	fcels config show set clear read inc login isset iseq goto exit prompt menu item choose form
	present param params echo sleep shell help reboot poweroff cpuid sync nslookup ping time ntp
	certstat certstore certfree console colour cpair lotest pciscan profstat neighbour ibstat pxebs
	nvo dhcpv6 ipv6 vlan cpuinfo fdt shim`) {
		m[c] = true
	}
	return m
}()

// bootCommands hand control to something else. exit hands it back to the
// firmware, which boots the next device of its boot order: the script of
// a machine that boots from its disk.
var bootCommands = map[string]bool{"boot": true, "chain": true, "imgexec": true, "sanboot": true, "autoboot": true, "exit": true}

// Lint checks an iPXE script the way it would fail on a machine: no
// "#!ipxe" magic line, unknown commands, goto to a missing label, a kernel,
// initrd or chain without its argument, nothing that boots, and (with
// options) a kernel without initrd or, for EFI, without initrd= arguments.
func Lint(script string, opts ...LintOption) []Problem {
	var cfg lintConfig
	for _, o := range opts {
		o(&cfg)
	}
	var probs []Problem
	add := func(line int, format string, a ...any) {
		probs = append(probs, Problem{Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	lines := strings.Split(strings.ReplaceAll(script, "\r\n", "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "#!ipxe" {
		if len(lines) > 0 && strings.TrimSpace(lines[0]) == "#!gpxe" {
			add(1, "legacy \"#!gpxe\" magic line: use \"#!ipxe\"")
		} else {
			add(1, "missing \"#!ipxe\" magic line: iPXE will not run this as a script")
		}
	}
	labels := map[string]bool{}
	type gotoRef struct {
		line  int
		label string
	}
	var gotos []gotoRef
	booted := false
	kernelLine, kernelArgs := 0, []string(nil)
	var initrds []string
	checkKernel := func() {
		if kernelLine == 0 {
			return
		}
		if cfg.initrd && len(initrds) == 0 {
			add(kernelLine, "kernel without an initrd, but this profile expects one")
		}
		if cfg.efi {
			for _, n := range initrds {
				if !slices.Contains(kernelArgs, "initrd="+n) {
					add(kernelLine, "kernel lacks initrd=%s: UEFI clients load only the initrds named on the command line", n)
				}
			}
		}
		kernelLine, kernelArgs, initrds = 0, nil, nil
	}
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, ":") {
			labels[strings.Fields(line[1:] + " ")[0]] = true
			continue
		}
		for _, cmd := range splitOperators(strings.Fields(line)) {
			if len(cmd) == 0 {
				add(n, "'||' or '&&' without a command")
				continue
			}
			name, args := cmd[0], positional(cmd[1:])
			if strings.HasPrefix(name, "#") {
				break // the rest of the line is a comment
			}
			if !commands[name] {
				add(n, "unknown command %q", name)
				continue
			}
			switch name {
			case "kernel", "imgselect", "imgload":
				checkKernel()
				if len(args) == 0 {
					add(n, "%s without an image", name)
				}
				kernelLine = n
				if len(args) > 1 {
					kernelArgs = args[1:]
				}
			case "initrd", "imgfetch", "module":
				if len(args) == 0 {
					add(n, "%s without an image", name)
				} else {
					initrds = append(initrds, ImageName(args[0]))
				}
			case "chain", "imgexec":
				if len(args) == 0 && name == "chain" {
					add(n, "chain without an image")
				}
			case "goto":
				if len(args) == 0 {
					add(n, "goto without a label")
				} else if !strings.Contains(args[0], "${") {
					gotos = append(gotos, gotoRef{n, args[0]})
				}
			}
			if bootCommands[name] {
				checkKernel()
				booted = true
			}
		}
	}
	checkKernel()
	for _, g := range gotos {
		if !labels[g.label] {
			add(g.line, "goto %q: no such label", g.label)
		}
	}
	if !booted {
		add(len(lines), "nothing boots: no boot, chain, imgexec, sanboot, autoboot or exit command")
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

// splitOperators splits words at the iPXE operators "||" and "&&".
func splitOperators(words []string) [][]string {
	var out [][]string
	var cur []string
	for _, w := range words {
		if w == "||" || w == "&&" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, w)
	}
	return append(out, cur)
}

// flagOptions are iPXE image options that take no value.
var flagOptions = map[string]bool{"--autofree": true, "-a": true, "--replace": true, "-r": true, "--keep": true, "-k": true}

// positional drops leading options such as "--name x", "--timeout 5000"
// or "--autofree".
func positional(args []string) []string {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if flagOptions[args[0]] || strings.Contains(args[0], "=") || len(args) == 1 {
			args = args[1:]
			continue
		}
		args = args[2:]
	}
	return args
}
