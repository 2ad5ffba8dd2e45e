package grub

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

// LintOption adjusts what Lint expects of a configuration.
type LintOption func(*lintConfig)

type lintConfig struct {
	secureBoot bool
	commands   map[string]bool
}

// ForSecureBoot also reports insmod of a module the signed GRUB does not
// have built in: under Secure Boot GRUB loads no module from elsewhere
// ("prohibited by secure boot policy").
func ForSecureBoot() LintOption { return func(c *lintConfig) { c.secureBoot = true } }

// WithCommands accepts commands that another GRUB build has, beside those
// of Debian 12's signed grubnetx64.efi.
func WithCommands(names ...string) LintOption {
	return func(c *lintConfig) {
		for _, n := range names {
			c.commands[n] = true
		}
	}
}

// Modules are the modules built into Debian 12's signed network GRUB
// (grubnetx64.efi.signed of grub-efi-amd64-signed 1+2.06+13+deb12u2, read
// from its module list). It has tftp, but no http: it cannot read files
// over HTTP.
func Modules() []string {
	return strings.Fields(`video video_fb video_cirrus video_bochs efi_uga efi_gop all_video boot zstd
	diskfilter raid6rec crypto lzopio gcry_crc gzio btrfs extcmd cat bufio datetime priority_queue net
	efinet chain terminal gettext normal configfile echo efifwsetup fshelp ext2 fat font f2fs trig bitmap
	bitmap_scale video_colors gfxterm gfxmenu gfxterm_background mmap acpi halt help hfsplus iso9660 jpeg
	keystatus disk loadenv loopback relocator linux ls lsefi lsefimmap lsefisystab lssal memdisk minicmd
	part_apple part_msdos part_gpt gcry_sha512 pbkdf2 password_pbkdf2 png probe reboot regexp search_label
	search_fs_file search_fs_uuid search terminfo serial sleep smbios xzio squash4 test true xfs zfs
	gcry_sha1 gcry_rijndael zfscrypt zfsinfo cpuid linuxefi play tpm tftp`)
}

// commands are what GRUB's core, its script engine and the modules above
// provide.
func commands() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`set unset ls insmod export break continue shift setparams return
	menuentry submenu normal normal_exit authenticate clear boot cat net_add_addr net_add_dns net_add_route
	net_bootp net_bootp6 net_del_addr net_del_dns net_del_route net_get_dhcp_option net_ipv6_autoconf
	net_ls_addr net_ls_cards net_ls_dns net_ls_routes net_nslookup net_dhcp chainloader terminal_input
	terminal_output gettext configfile source extract_entries_configfile extract_entries_source . echo
	fwsetup loadfont lsfonts background_image background_color badram cutmem acpi halt help keystatus
	load_env save_env list_env loopback linux initrd linuxefi initrdefi lsefi lsefimmap lsefisystab lssal
	dump rmmod lsmod exit password_pbkdf2 probe reboot regexp search search.file search.fs_uuid
	search.fs_label terminfo serial sleep smbios test [ true false zfsinfo zfs-bootfs cpuid play`) {
		m[c] = true
	}
	return m
}

// keywords of GRUB's script syntax, at the start of a command.
var keywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "fi": true, "for": true,
	"in": true, "do": true, "done": true, "while": true, "until": true, "function": true, "!": true}

// bootCommands hand control to what a machine boots.
var bootCommands = map[string]bool{"linux": true, "linuxefi": true, "chainloader": true, "configfile": true,
	"source": true, ".": true, "menuentry": true, "normal": true}

// Lint checks a grub.cfg the way Debian 12's signed network GRUB would fail
// on it: unterminated quotes, "|", "&", "<" or ">" outside quotes (GRUB
// reserves them), if/then/else/fi, for/while/do/done and braces that do not
// match, commands it does not have, paths on (http,...) or (https,...)
// (it has no http module), linux or initrd without a path, initrd before
// any linux, initrd= among the kernel arguments (GRUB loads initrds
// itself; the EFI stub would look for that file on the boot device), and
// nothing that boots. ForSecureBoot adds insmod of modules not built in.
func Lint(cfg string, opts ...LintOption) []Problem {
	lc := lintConfig{commands: commands()}
	for _, o := range opts {
		o(&lc)
	}
	var probs []Problem
	add := func(line int, format string, a ...any) {
		probs = append(probs, Problem{Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	toks, err := Words(cfg)
	if err != nil {
		var line int
		if _, scanErr := fmt.Sscanf(err.Error(), "line %d:", &line); scanErr != nil {
			line = 1
		}
		// The rest cannot be read the way GRUB would read it.
		return []Problem{{Line: line, Msg: strings.TrimPrefix(err.Error(), fmt.Sprintf("line %d: ", line))}}
	}
	funcs := map[string]bool{}
	// Functions may be called before the line that defines them runs.
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].Kind == TokenWord && !toks[i].Quoted && toks[i].Text == "function" && toks[i+1].Kind == TokenWord {
			funcs[toks[i+1].Text] = true
		}
	}
	type open struct {
		what string // "if", "loop", "{"
		line int
	}
	var stack []open
	top := func() string {
		if len(stack) == 0 {
			return ""
		}
		return stack[len(stack)-1].what
	}
	pop := func(what string, line int, word string) {
		if top() != what {
			add(line, "%q without a matching %s", word, map[string]string{"if": "if", "loop": "for, while or until", "{": "{"}[what])
			return
		}
		stack = stack[:len(stack)-1]
	}
	booted, linuxSeen := false, false
	modules := map[string]bool{}
	for _, m := range Modules() {
		modules[m] = true
	}
	var cmd []Token
	// expectBrace: the last command was a menuentry, submenu or function
	// whose "{" is on a later line.
	expectBrace := false
	var flush func()
	// rest checks the command after a keyword (if true, then echo).
	rest := func(args []Token) {
		if len(args) > 0 {
			cmd = args
			flush()
		}
	}
	flush = func() {
		defer func() { cmd = nil }()
		if len(cmd) == 0 {
			return
		}
		name := cmd[0]
		args := cmd[1:]
		if name.Kind != TokenWord {
			if name.Kind == TokenReserved {
				add(name.Line, "%q is reserved in GRUB scripts: quote it", name.Text)
			}
			return
		}
		for _, a := range args {
			if a.Kind == TokenReserved {
				add(a.Line, "%q is reserved in GRUB scripts: quote it", a.Text)
			}
			if a.Kind == TokenWord && (strings.Contains(a.Text, "(http,") || strings.Contains(a.Text, "(https,")) {
				add(a.Line, "%s: Debian 12's signed GRUB has no http module and cannot read over HTTP", a.Text)
			}
		}
		if !name.Quoted {
			switch name.Text {
			case "if", "while", "until":
				if name.Text == "if" {
					stack = append(stack, open{"if", name.Line})
				} else {
					stack = append(stack, open{"loop", name.Line})
				}
				rest(args)
				return
			case "then", "else", "elif":
				if top() != "if" {
					add(name.Line, "%q without a matching if", name.Text)
				}
				rest(args)
				return
			case "fi":
				pop("if", name.Line, "fi")
				return
			case "for":
				stack = append(stack, open{"loop", name.Line})
				return
			case "do":
				if top() != "loop" {
					add(name.Line, "\"do\" without a matching for, while or until")
				}
				rest(args)
				return
			case "done":
				pop("loop", name.Line, "done")
				return
			case "function":
				if len(args) == 0 || args[0].Kind != TokenWord {
					add(name.Line, "function without a name")
				}
				expectBrace = true
				return
			case "!":
				rest(args)
				return
			}
		}
		word := name.Text
		if strings.Contains(word, "=") && validName(word[:strings.Index(word, "=")]) && !name.Quoted {
			return // a variable assignment
		}
		if name.Expands {
			return // a command chosen at run time
		}
		if !lc.commands[word] && !funcs[word] {
			add(name.Line, "unknown command %q: Debian 12's signed GRUB does not have it, and under Secure Boot it loads no modules", word)
			return
		}
		if bootCommands[word] {
			booted = true
		}
		switch word {
		case "menuentry", "submenu":
			if len(args) == 0 || args[0].Kind != TokenWord {
				add(name.Line, "%s without a title", word)
			}
			expectBrace = true
		case "linux", "linuxefi":
			linuxSeen = true
			paths := positional(args)
			if len(paths) == 0 {
				add(name.Line, "%s without a kernel", word)
			}
			for _, a := range paths[min(1, len(paths)):] {
				if strings.HasPrefix(a, "initrd=") {
					add(name.Line, "%s: GRUB loads the initrd itself; the EFI stub would look for that file on the boot device", a)
				}
			}
		case "initrd", "initrdefi":
			if len(positional(args)) == 0 {
				add(name.Line, "%s without an image", word)
			}
			if !linuxSeen {
				add(name.Line, "%s before any linux: there is no kernel to give it to", word)
			}
		case "insmod":
			if lc.secureBoot {
				for _, a := range args {
					if a.Kind == TokenWord && !modules[strings.TrimSuffix(a.Text, ".mod")] {
						add(name.Line, "insmod %s: not built into the signed GRUB, and under Secure Boot it loads no modules", a.Text)
					}
				}
			}
		}
	}
	blockOpener := func(ts []Token) bool {
		return len(ts) > 0 && ts[0].Kind == TokenWord && !ts[0].Quoted &&
			(ts[0].Text == "menuentry" || ts[0].Text == "submenu" || ts[0].Text == "function")
	}
	for _, t := range toks {
		switch t.Kind {
		case TokenNewline, TokenSemicolon:
			flush()
		case TokenLBrace:
			switch {
			case blockOpener(cmd):
				flush()
				stack = append(stack, open{"{", t.Line})
			case len(cmd) == 0 && expectBrace:
				stack = append(stack, open{"{", t.Line})
			default:
				add(t.Line, "\"{\" outside a menuentry, submenu or function")
			}
			expectBrace = false
		case TokenRBrace:
			flush()
			expectBrace = false
			pop("{", t.Line, "}")
		default:
			expectBrace = false
			cmd = append(cmd, t)
		}
	}
	flush()
	for _, o := range slices.Backward(stack) {
		want := map[string]string{"if": "fi", "loop": "done", "{": "}"}[o.what]
		add(o.line, "%s opened here is never closed with %q", map[string]string{"if": "if", "loop": "loop", "{": "{"}[o.what], want)
	}
	lastLine := strings.Count(cfg, "\n") + 1
	if !booted {
		add(lastLine, "nothing boots: no linux, chainloader, configfile, source or menuentry")
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

// positional drops options such as "--unrestricted" or "--class x".
func positional(args []Token) []string {
	var out []string
	for _, a := range args {
		if a.Kind != TokenWord {
			continue
		}
		if strings.HasPrefix(a.Text, "--") && !a.Quoted {
			continue
		}
		out = append(out, a.Text)
	}
	return out
}
