package ipxe

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Arg is one kernel argument: "name" alone (a flag) or "name=value".
type Arg struct {
	Name     string
	Value    string
	HasValue bool
}

// String renders the argument as the kernel sees it.
func (a Arg) String() string {
	if !a.HasValue {
		return a.Name
	}
	return a.Name + "=" + a.Value
}

// Cmdline builds a kernel command line that iPXE passes through unchanged:
// every value is checked so that it stays one kernel argument and cannot
// inject an iPXE command or expansion. Problems are collected, not
// panicked on; Err reports them all with their position.
type Cmdline struct {
	args []Arg
	errs field.ErrorList
}

// NewCmdline returns an empty command line.
func NewCmdline() *Cmdline { return &Cmdline{} }

// ParseCmdline splits a command line such as a profile's
// "ip=dhcp net.ifnames=1 console=tty1" on whitespace and checks every
// argument. Kernel-style quoting ("a b") is refused, not interpreted: iPXE
// would split it into two words.
func ParseCmdline(s string) (*Cmdline, error) {
	c := NewCmdline()
	if strings.ContainsAny(s, "\n\r") {
		c.errs = append(c.errs, field.Invalid(field.NewPath("cmdline"), s, "must be one line"))
	}
	for _, w := range strings.Fields(s) {
		name, value, ok := strings.Cut(w, "=")
		if ok {
			c.Set(name, value)
		} else {
			c.Flag(name)
		}
	}
	return c, c.Err()
}

// Flag appends an argument without a value, such as "rd.cos.disable".
func (c *Cmdline) Flag(name string) *Cmdline {
	c.add(Arg{Name: name})
	return c
}

// Set appends name=value. Repeating a name appends again: the kernel
// accepts repeats (console=tty0 console=ttyS0).
func (c *Cmdline) Set(name, value string) *Cmdline {
	c.add(Arg{Name: name, Value: value, HasValue: true})
	return c
}

// SetInt appends name=n, such as rd.net.dhcp.retry=3.
func (c *Cmdline) SetInt(name string, n int) *Cmdline {
	return c.Set(name, strconv.Itoa(n))
}

func (c *Cmdline) add(a Arg) {
	p := field.NewPath("cmdline").Index(len(c.args))
	if err := ValidateArg(a); err != nil {
		c.errs = append(c.errs, field.Invalid(p, a.String(), err.Error()))
	}
	c.args = append(c.args, a)
}

// Args returns a copy of the arguments in order.
func (c *Cmdline) Args() []Arg { return append([]Arg(nil), c.args...) }

// Has reports whether an argument with this name is present.
func (c *Cmdline) Has(name string) bool {
	for _, a := range c.args {
		if a.Name == name {
			return true
		}
	}
	return false
}

// Clone returns an independent copy.
func (c *Cmdline) Clone() *Cmdline {
	return &Cmdline{args: c.Args(), errs: append(field.ErrorList(nil), c.errs...)}
}

// WithInitrd returns a copy with initrd=<name> in front for every name not
// already given: UEFI's Linux stub loads only the initrds named on the
// command line (Harvester's PXE install guide: "initrd=harvester-<version>-initrd" is required).
func (c *Cmdline) WithInitrd(names ...string) *Cmdline {
	out := &Cmdline{errs: append(field.ErrorList(nil), c.errs...)}
	for _, n := range names {
		dup := false
		for _, a := range c.args {
			if a.Name == "initrd" && a.Value == n {
				dup = true
			}
		}
		if !dup {
			out.add(Arg{Name: "initrd", Value: n, HasValue: true})
		}
	}
	for _, a := range c.args {
		out.add(a)
	}
	return out
}

// Err returns every invalid argument, or nil.
func (c *Cmdline) Err() error { return c.errs.ToAggregate() }

// String renders the command line: arguments separated by one space.
func (c *Cmdline) String() string {
	parts := make([]string, len(c.args))
	for i, a := range c.args {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}

// ValidateArg checks that an argument renders as exactly one word on an
// iPXE kernel line and one kernel argument: no whitespace or control
// characters (a newline would start a new iPXE command), no "${" (iPXE
// would expand it), no double quote (the kernel would join words) or
// backslash (an escape to iPXE and the kernel), nothing outside printable
// ASCII. Names also may not contain "=" or start with "#" or "-".
func ValidateArg(a Arg) error {
	if a.Name == "" {
		return fmt.Errorf("name must not be empty")
	}
	if strings.ContainsRune(a.Name, '=') {
		return fmt.Errorf("name %q must not contain '='", a.Name)
	}
	if a.Name[0] == '#' || a.Name[0] == '-' {
		return fmt.Errorf("name %q must not start with %q", a.Name, a.Name[0])
	}
	if err := checkWord(a.Name); err != nil {
		return fmt.Errorf("name: %v", err)
	}
	if !a.HasValue {
		return nil
	}
	if err := checkWord(a.Value); err != nil {
		return fmt.Errorf("value: %v", err)
	}
	return nil
}

// checkWord accepts printable ASCII without space, '"', '\' and "${".
func checkWord(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n' || c == '\r':
			return fmt.Errorf("newline at byte %d would start a new iPXE command", i)
		case c == ' ' || c == '\t':
			return fmt.Errorf("whitespace at byte %d would split it into two arguments", i)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("control character 0x%02x at byte %d", c, i)
		case c >= 0x80:
			return fmt.Errorf("non-ASCII byte 0x%02x at byte %d", c, i)
		case c == '"':
			return fmt.Errorf("double quote at byte %d would change how the kernel splits arguments", i)
		case c == '\\':
			return fmt.Errorf("backslash at byte %d is an escape to iPXE and the kernel", i)
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			return fmt.Errorf("\"${\" at byte %d would be expanded by iPXE", i)
		}
	}
	return nil
}
