package grub

import (
	"encoding/binary"
	"strings"
	"testing"
)

func words(t *testing.T, script string) []Token {
	t.Helper()
	toks, err := Words(script)
	if err != nil {
		t.Fatalf("Words(%q): %v", script, err)
	}
	return toks
}

// texts is the values of the word tokens of the first line.
func firstLine(toks []Token) []string {
	var out []string
	for _, t := range toks {
		if t.Kind == TokenNewline {
			break
		}
		out = append(out, t.Text)
	}
	return out
}

func TestQuoteIsOneLiteralWord(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", "''", `a\b`, `$prefix`, "${root}", "a b\tc", "x; halt", "{ }", "#not a comment",
		`"dq"`, "line\nbreak", "| & < >", `\'`, "tail\\"} {
		toks := words(t, "echo "+Quote(s)+"\n")
		got := firstLine(toks)
		if len(got) != 2 || got[1] != s {
			t.Errorf("echo %s splits into %q, want [echo %q]", Quote(s), got, s)
		}
		if toks[1].Expands {
			t.Errorf("%s expands a variable", Quote(s))
		}
	}
}

func TestWordsGRUBSyntax(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{`linux /vmlinuz console=ttyS0`, []string{"linux", "/vmlinuz", "console=ttyS0"}},
		{`echo "a \$b \"c\" \\ \x"`, []string{"echo", `a $b "c" \ \x`}},
		{`echo a\ b`, []string{"echo", "a b"}},
		{"echo one \\\n two", []string{"echo", "one", "two"}},
		{`echo ${net_default_mac}.cfg`, []string{"echo", "${net_default_mac}.cfg"}},
		{`set root=(tftp,192.0.2.1)`, []string{"set", "root=(tftp,192.0.2.1)"}},
		{`echo a#b # comment`, []string{"echo", "a#b"}},
		{`menuentry 'x y' {`, []string{"menuentry", "x y", "{"}},
		{`if true; then`, []string{"if", "true", ";", "then"}},
	} {
		got := firstLine(words(t, tt.in))
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	toks := words(t, `source "$prefix/grub.cfg"`)
	if !toks[1].Expands || toks[0].Expands {
		t.Errorf("expansion flags: %+v", toks)
	}
	for _, bad := range []string{"echo 'open", `echo "open`, "echo ok\necho 'x"} {
		if _, err := Words(bad); err == nil || !strings.Contains(err.Error(), "unterminated") {
			t.Errorf("Words(%q) = %v, want an unterminated quote", bad, err)
		}
	}
	if _, err := Words("echo ok\necho 'x"); !strings.HasPrefix(err.Error(), "line 2:") {
		t.Errorf("error %v does not name line 2", err)
	}
}

func TestConfigLinux(t *testing.T) {
	cfg, err := NewConfig().
		Comment("pxekit: node1 (52:54:00:12:34:56)").
		Set("timeout", "0").
		Echo("booting node1").
		Linux(Linux{Kernel: "/assets/vmlinuz", Initrds: []string{"/assets/initrd.gz"},
			Args: []string{"console=ttyS0", "ip=dhcp", "rd.cos.disable"}, Report: "/pxekit/report/52:54:00:12:34:56/"}).
		Sleep(5).Exit().Build()
	if err != nil {
		t.Fatal(err)
	}
	want := `# pxekit: node1 (52:54:00:12:34:56)
set timeout='0'
echo 'booting node1'
if linux '/assets/vmlinuz' 'console=ttyS0' 'ip=dhcp' 'rd.cos.disable' ; then
	if initrd '/assets/initrd.gz' ; then
		boot
		echo 'boot of /assets/vmlinuz failed'
		source '/pxekit/report/52:54:00:12:34:56/boot-failed'
	else
		echo 'cannot load the initrd /assets/initrd.gz'
		source '/pxekit/report/52:54:00:12:34:56/initrd-failed'
	fi
else
	echo 'GRUB refused the kernel /assets/vmlinuz: no signature shim trusts under Secure Boot, or it cannot be read'
	source '/pxekit/report/52:54:00:12:34:56/kernel-refused'
fi
sleep 5
exit
`
	if string(cfg) != want {
		t.Errorf("grub.cfg:\n%s\nwant:\n%s", cfg, want)
	}
	if probs := Lint(string(cfg), ForSecureBoot()); len(probs) > 0 {
		t.Errorf("Lint of the built config: %v", probs)
	}
}

func TestConfigRefusesWhatWouldChange(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build func(*Config) *Config
		field string
		msg   string
	}{
		{"newline in echo", func(c *Config) *Config { return c.Echo("a\nhalt") }, "lines[0].echo", "one line"},
		{"control in echo", func(c *Config) *Config { return c.Echo("a\x1b[2J") }, "lines[0].echo", "control character"},
		{"bad variable", func(c *Config) *Config { return c.Set("a b", "x") }, "lines[0].set.name", "variable name"},
		{"space in path", func(c *Config) *Config { return c.Source("/a b") }, "lines[0].source.path", "whitespace"},
		{"space in argument", func(c *Config) *Config {
			return c.Linux(Linux{Kernel: "/k", Args: []string{"a=b c"}})
		}, "lines[0].linux.args[0]", "two arguments"},
		{"quote in argument", func(c *Config) *Config {
			return c.Linux(Linux{Kernel: "/k", Args: []string{"a='b'"}})
		}, "lines[0].linux.args[0]", "escaped by GRUB"},
		{"backslash in argument", func(c *Config) *Config {
			return c.Linux(Linux{Kernel: "/k", Args: []string{`a=\n`}})
		}, "lines[0].linux.args[0]", "escaped by GRUB"},
		{"dash name", func(c *Config) *Config { return c.Linux(Linux{Kernel: "/k", Args: []string{"--", "init=/bin/sh"}}) }, "lines[0].linux.args[0]", "'-'"},
		{"no kernel", func(c *Config) *Config { return c.Linux(Linux{}) }, "lines[0].linux.kernel", "Required"},
		{"negative sleep", func(c *Config) *Config { return c.Sleep(-1) }, "lines[0].sleep", "negative"},
	} {
		_, err := tt.build(NewConfig()).Build()
		if err == nil || !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: Build error %v, want %s and %q", tt.name, err, tt.field, tt.msg)
		}
	}
	// What GRUB would otherwise run stays text.
	cfg, err := NewConfig().Echo("x'; halt; echo '").Set("v", "$(reboot)").Build()
	if err != nil {
		t.Fatal(err)
	}
	toks := words(t, string(cfg))
	var cmds []string
	start := true
	for _, tk := range toks {
		if start && tk.Kind == TokenWord {
			cmds = append(cmds, tk.Text)
		}
		start = tk.Kind == TokenNewline || tk.Kind == TokenSemicolon
	}
	if strings.Join(cmds, " ") != "echo set" {
		t.Errorf("commands in %q: %q, want only echo and set", cfg, cmds)
	}
}

func TestLint(t *testing.T) {
	for _, tt := range []struct {
		name, cfg string
		opts      []LintOption
		want      []string // substrings of the problems, in order
	}{
		{"the doc's grub.cfg", "echo \"GRUB-CFG prefix=$prefix\"\nset timeout=0\nmenuentry 'test' {\n  if linux /vmlinuz console=ttyS0 panic=-1; then\n    initrd /initrd.gz\n  else\n    echo 'LINUX-REFUSED'; sleep 2; halt\n  fi\n}\n", nil, nil},
		{"dispatcher", "if [ -n \"$net_default_mac\" ]; then\n\tsource \"/grub/${net_default_mac}.cfg\"\nfi\nexit\n", nil, nil},
		{"unterminated", "linux '/vmlinuz\n", nil, []string{"line 1: unterminated single quote"}},
		{"unknown command", "linux /k\nboot\nwget http://x\n", nil, []string{"line 3: unknown command \"wget\""}},
		{"http path", "linux (http,192.0.2.1)/vmlinuz\n", nil, []string{"no http module"}},
		{"insmod under Secure Boot", "insmod http\ninsmod tftp\nlinux /k\n", []LintOption{ForSecureBoot()}, []string{"line 1: insmod http: not built in"}},
		{"insmod without option", "insmod http\nlinux /k\n", nil, nil},
		{"if without fi", "if true; then\nlinux /k\n", nil, []string{"line 1: if opened here is never closed"}},
		{"fi without if", "linux /k\nfi\n", nil, []string{"line 2: \"fi\" without a matching if"}},
		{"else without if", "linux /k\nelse\n", nil, []string{"\"else\" without a matching if"}},
		{"brace", "menuentry 'a' {\nlinux /k\n", nil, []string{"never closed with \"}\""}},
		{"stray brace", "linux /k\n}\n", nil, []string{"\"}\" without a matching {"}},
		{"brace on next line", "menuentry 'a'\n{\nlinux /k\n}\n", nil, nil},
		{"function", "function boot_it {\n\tlinux /k\n}\nboot_it\n", nil, nil},
		{"reserved", "linux /k > /dev/null\n", nil, []string{"\">\" is reserved"}},
		{"linux without kernel", "linux\n", nil, []string{"linux without a kernel"}},
		{"initrd first", "initrd /i\nlinux /k\n", nil, []string{"line 1: initrd before any linux"}},
		{"initrd= with GRUB", "linux /k initrd=initrd.gz\n", nil, []string{"initrd=initrd.gz: GRUB loads the initrd itself"}},
		{"nothing boots", "set timeout=0\necho hi\n", nil, []string{"nothing boots"}},
		{"for loop", "for f in a b; do\necho $f\ndone\nlinux /k\n", nil, nil},
		{"done without for", "linux /k\ndone\n", nil, []string{"\"done\" without a matching for"}},
		{"assignment", "pxekit_failed=kernel\nlinux /k\n", nil, nil},
		{"extra commands", "linux /k\nwget x\n", []LintOption{WithCommands("wget")}, nil},
	} {
		probs := Lint(tt.cfg, tt.opts...)
		if len(probs) != len(tt.want) {
			t.Errorf("%s: Lint = %v, want %d problems %q", tt.name, probs, len(tt.want), tt.want)
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(probs[i].String(), w) {
				t.Errorf("%s: problem %d = %q, want %q", tt.name, i, probs[i], w)
			}
		}
	}
}

func TestParseSBAT(t *testing.T) {
	// The .sbat of grub-efi-amd64-signed 1+2.06+13+deb12u2's grubnetx64.efi.signed.
	grub := "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n" +
		"grub,5,Free Software Foundation,grub,2.06,https://www.gnu.org/software/grub/\n" +
		"grub.debian,5,Debian,grub2,2.06-13+deb12u2,https://tracker.debian.org/pkg/grub2\n" +
		"grub.debian12,1,Debian,grub2,2.06-13+deb12u2,https://tracker.debian.org/pkg/grub2\n\x00\x00\x00"
	img, err := ParseSBAT([]byte(grub))
	if err != nil {
		t.Fatal(err)
	}
	if len(img) != 4 || img[1] != (SBATEntry{"grub", 5, "Free Software Foundation", "grub", "2.06", "https://www.gnu.org/software/grub/"}) {
		t.Fatalf("ParseSBAT = %+v", img)
	}
	// shim-signed 1.51~1+deb12u1+16.1-2~deb12u1's .sbatlevel, as laid out in the section.
	prev, latest := "sbat,1,2025021800\nshim,4\ngrub,5\n", "sbat,1,2025051000\nshim,4\ngrub,5\ngrub.proxmox,2\n"
	sec := binary.LittleEndian.AppendUint32(nil, 0)
	sec = binary.LittleEndian.AppendUint32(sec, 8)
	sec = binary.LittleEndian.AppendUint32(sec, uint32(8+len(prev)+1))
	sec = append(append(append(append(sec, prev...), 0), latest...), 0, 0, 0)
	p, l, err := ParseSBATLevel(sec)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 3 || p[2] != (SBATEntry{Component: "grub", Generation: 5}) || len(l) != 4 || l[3].Component != "grub.proxmox" {
		t.Fatalf("ParseSBATLevel = %+v / %+v", p, l)
	}
	if bad := Revoked(img, p); len(bad) != 0 {
		t.Errorf("Debian 12's GRUB revoked by its shim: %+v", bad)
	}
	// bookworm-backports' GRUB 2.12 says grub,4: shim 16.1 refuses it.
	bpo, _ := ParseSBAT([]byte("sbat,1,SBAT Version,sbat,1,x\ngrub,4,Free Software Foundation,grub,2.12,x\ngrub.debian,4,Debian,grub2,2.12-1~bpo12+1,x\n"))
	if bad := Revoked(bpo, p); len(bad) != 1 || bad[0] != (SBATEntry{Component: "grub", Generation: 4}) {
		t.Errorf("Revoked(grub 2.12 bpo) = %+v, want grub at 4", bad)
	}
	for _, b := range []string{"grub\n", "grub,x\n", ",1\n", "grub,-1\n"} {
		if _, err := ParseSBAT([]byte(b)); err == nil {
			t.Errorf("ParseSBAT(%q) accepted", b)
		}
	}
	for _, b := range [][]byte{nil, make([]byte, 11), append(binary.LittleEndian.AppendUint32(nil, 1), make([]byte, 8)...),
		append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0), 99), 0), 'x')} {
		if _, _, err := ParseSBATLevel(b); err == nil {
			t.Errorf("ParseSBATLevel(%q) accepted", b)
		}
	}
}
