package grub

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Config builds a grub.cfg line by line. Every value is checked as it is
// added and single-quoted when rendered; Build reports all problems at
// once, each under lines[i].<command>.
type Config struct {
	lines  []string
	errs   field.ErrorList
	indent int
}

// NewConfig starts an empty configuration.
func NewConfig() *Config { return &Config{} }

func (c *Config) path(cmd string) *field.Path {
	return field.NewPath("lines").Index(len(c.lines)).Child(cmd)
}

func (c *Config) add(words ...string) *Config {
	c.lines = append(c.lines, strings.Repeat("\t", c.indent)+strings.Join(words, " "))
	return c
}

func (c *Config) fail(p *field.Path, v any, msg string) bool {
	c.errs = append(c.errs, field.Invalid(p, v, msg))
	return false
}

// text checks free text (echo, comments): one line of valid UTF-8 without
// control characters. Quoting makes every other byte literal.
func (c *Config) text(p *field.Path, v string) bool {
	if !utf8.ValidString(v) {
		return c.fail(p, v, "must be valid UTF-8")
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b == 0x7f {
			if b == '\n' || b == '\r' {
				return c.fail(p, v, fmt.Sprintf("newline at byte %d: must be one line", i))
			}
			return c.fail(p, v, fmt.Sprintf("control character 0x%02x at byte %d", b, i))
		}
	}
	return true
}

// path checks a GRUB file path such as "/assets/vmlinuz" or
// "(tftp,192.0.2.1)/grub/grub.cfg": one word of printable ASCII.
func (c *Config) filePath(p *field.Path, v string) bool {
	if v == "" {
		c.errs = append(c.errs, field.Required(p, ""))
		return false
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		switch {
		case b == ' ' || b == '\t':
			return c.fail(p, v, fmt.Sprintf("whitespace at byte %d: a boot file path is one word", i))
		case b < 0x20 || b >= 0x7f:
			return c.fail(p, v, fmt.Sprintf("byte 0x%02x at %d: a path is printable ASCII", b, i))
		}
	}
	return true
}

// ValidateArg checks one kernel argument ("name" or "name=value") for a
// GRUB linux line: printable ASCII without whitespace (one argument),
// without a double quote, single quote or backslash (GRUB escapes those
// with a backslash when it builds the kernel command line, and the kernel
// does not remove the escape, so the value would change), and a name that
// is not empty and does not start with "-" (the kernel's "--" ends its own
// arguments).
func ValidateArg(arg string) error {
	name, _, _ := strings.Cut(arg, "=")
	if name == "" {
		return fmt.Errorf("name must not be empty")
	}
	if name[0] == '-' {
		return fmt.Errorf("name %q must not start with '-'", name)
	}
	for i := 0; i < len(arg); i++ {
		b := arg[i]
		switch {
		case b == ' ' || b == '\t':
			return fmt.Errorf("whitespace at byte %d would split it into two arguments", i)
		case b == '\n' || b == '\r':
			return fmt.Errorf("newline at byte %d", i)
		case b < 0x20 || b == 0x7f:
			return fmt.Errorf("control character 0x%02x at byte %d", b, i)
		case b >= 0x80:
			return fmt.Errorf("non-ASCII byte 0x%02x at byte %d", b, i)
		case b == '"' || b == '\'' || b == '\\':
			return fmt.Errorf("%q at byte %d would reach the kernel escaped by GRUB", b, i)
		}
	}
	return nil
}

// validName reports a GRUB variable name: [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || i > 0 && b >= '0' && b <= '9') {
			return false
		}
	}
	return true
}

// Comment adds "# text".
func (c *Config) Comment(text string) *Config {
	if c.text(c.path("comment"), text) {
		c.add("# " + text)
	}
	return c
}

// Echo prints text on GRUB's console.
func (c *Config) Echo(text string) *Config {
	if c.text(c.path("echo"), text) {
		c.add("echo", Quote(text))
	}
	return c
}

// Set sets GRUB variable name to a literal value, e.g. Set("timeout", "0").
func (c *Config) Set(name, value string) *Config {
	p := c.path("set")
	if !validName(name) {
		c.fail(p.Child("name"), name, "a GRUB variable name is letters, digits and '_', not starting with a digit")
		return c
	}
	if c.text(p.Child("value"), value) {
		c.add("set", name+"="+Quote(value))
	}
	return c
}

// Source reads and runs another configuration file in this one's context.
func (c *Config) Source(path string) *Config {
	if c.filePath(c.path("source").Child("path"), path) {
		c.add("source", Quote(path))
	}
	return c
}

// Sleep waits the given number of seconds.
func (c *Config) Sleep(seconds int) *Config {
	if seconds < 0 {
		c.fail(c.path("sleep"), seconds, "must not be negative")
		return c
	}
	return c.add("sleep", strconv.Itoa(seconds))
}

// Halt powers the machine off.
func (c *Config) Halt() *Config { return c.add("halt") }

// Reboot restarts the machine.
func (c *Config) Reboot() *Config { return c.add("reboot") }

// Exit leaves GRUB: the firmware goes on to its next boot option.
func (c *Config) Exit() *Config { return c.add("exit") }

// Failure names why Linux did not boot; Linux.Report paths end in it.
type Failure string

// The ways a Linux boot fails, as GRUB sees them.
const (
	// FailureKernel: linux failed. Under Secure Boot that is a kernel
	// without a signature shim trusts ("bad shim signature"), or a kernel
	// GRUB could not read.
	FailureKernel Failure = "kernel-refused"
	// FailureInitrd: an initrd could not be read.
	FailureInitrd Failure = "initrd-failed"
	// FailureBoot: boot returned.
	FailureBoot Failure = "boot-failed"
)

// Failures lists every Failure (a function: no package state to change).
func Failures() []Failure { return []Failure{FailureKernel, FailureInitrd, FailureBoot} }

// Linux is a kernel with its initrds and arguments.
type Linux struct {
	// Kernel is the kernel's GRUB path: "/assets/vmlinuz" on $root (the
	// boot server GRUB was loaded from), or with a device,
	// "(tftp,192.0.2.1)/vmlinuz".
	Kernel string
	// Initrds are the initrds' GRUB paths, loaded in order.
	Initrds []string
	// Args are the kernel arguments, one per element (see ValidateArg).
	// GRUB loads the initrds itself: no initrd= is needed.
	Args []string
	// Report, when set, is a GRUB path prefix: on a failure the config
	// sources Report followed by the Failure's name, so the server that
	// serves that path learns what GRUB's console said.
	Report string
	// Prepare are commands run before the report is read, when it needs
	// them (net_bootp, for a GRUB started from a disk image that has no
	// network configured yet), each a command and its arguments.
	Prepare [][]string
}

// Linux adds the guarded boot of l: linux, then initrd, then boot, each
// only if the step before succeeded. When a step fails, the config echoes
// what failed and reads the report path; the commands added after Linux
// (say Sleep and Exit) run then.
func (c *Config) Linux(l Linux) *Config {
	p := c.path("linux")
	ok := c.filePath(p.Child("kernel"), l.Kernel)
	for i, r := range l.Initrds {
		ok = c.filePath(p.Child("initrds").Index(i), r) && ok
	}
	for i, a := range l.Args {
		if err := ValidateArg(a); err != nil {
			ok = c.fail(p.Child("args").Index(i), a, err.Error())
		}
	}
	if l.Report != "" {
		ok = c.filePath(p.Child("report"), l.Report) && ok
	}
	for i, cmd := range l.Prepare {
		if len(cmd) == 0 || !validName(strings.ReplaceAll(cmd[0], ".", "_")) {
			ok = c.fail(p.Child("prepare").Index(i), cmd, "a command name")
			continue
		}
		for j, a := range cmd[1:] {
			ok = c.text(p.Child("prepare").Index(i).Index(j+1), a) && ok
		}
	}
	if !ok {
		return c
	}
	linux := []string{"linux", Quote(l.Kernel)}
	for _, a := range l.Args {
		linux = append(linux, Quote(a))
	}
	report := func(f Failure, msg string) {
		c.add("echo", Quote(msg))
		if l.Report == "" {
			return
		}
		for _, cmd := range l.Prepare {
			words := []string{cmd[0]}
			for _, a := range cmd[1:] {
				words = append(words, Quote(a))
			}
			c.add(words...)
		}
		c.add("source", Quote(l.Report+string(f)))
	}
	c.add(append(append([]string{"if"}, linux...), "; then")...)
	c.indent++
	if len(l.Initrds) > 0 {
		initrd := []string{"if", "initrd"}
		for _, r := range l.Initrds {
			initrd = append(initrd, Quote(r))
		}
		c.add(append(initrd, "; then")...)
		c.indent++
		c.add("boot")
		report(FailureBoot, "boot of "+l.Kernel+" failed")
		c.indent--
		c.add("else")
		c.indent++
		report(FailureInitrd, "cannot load the initrd "+strings.Join(l.Initrds, " "))
		c.indent--
		c.add("fi")
	} else {
		c.add("boot")
		report(FailureBoot, "boot of "+l.Kernel+" failed")
	}
	c.indent--
	c.add("else")
	c.indent++
	report(FailureKernel, "GRUB refused the kernel "+l.Kernel+": no signature shim trusts under Secure Boot, or it cannot be read")
	c.indent--
	c.add("fi")
	return c
}

// Build renders the configuration, or returns every problem found while
// adding lines.
func (c *Config) Build() ([]byte, error) {
	if err := c.errs.ToAggregate(); err != nil {
		return nil, err
	}
	return []byte(c.String()), nil
}

// String renders the configuration as far as it is valid (for logs and
// examples).
func (c *Config) String() string { return strings.Join(c.lines, "\n") + "\n" }
