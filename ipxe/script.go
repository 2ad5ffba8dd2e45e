package ipxe

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Firmware says which kind of client a script is rendered for.
type Firmware int

// Firmware kinds.
const (
	BIOS Firmware = iota // legacy BIOS (undionly.kpxe, or iPXE as option ROM)
	EFI                  // UEFI (ipxe.efi, snponly.efi): needs initrd= on the kernel line
)

// String names the firmware kind.
func (f Firmware) String() string {
	if f == EFI {
		return "efi"
	}
	return "bios"
}

// Script builds an iPXE script line by line. Every argument is checked as
// it is added; Build reports all problems at once, each with its line.
type Script struct {
	lines []string
	errs  field.ErrorList
}

// NewScript starts a script with the "#!ipxe" magic line.
func NewScript() *Script { return &Script{lines: []string{"#!ipxe"}} }

func (s *Script) path(cmd string) *field.Path {
	return field.NewPath("lines").Index(len(s.lines)).Child(cmd)
}

func (s *Script) add(line string) *Script {
	s.lines = append(s.lines, line)
	return s
}

// word checks one whitespace-free argument (a URL, a label, a name).
func (s *Script) word(p *field.Path, v string) bool {
	if v == "" {
		s.errs = append(s.errs, field.Required(p, ""))
		return false
	}
	if err := checkWord(v); err != nil {
		s.errs = append(s.errs, field.Invalid(p, v, err.Error()))
		return false
	}
	return true
}

// text checks free text (echo, menu titles): spaces are allowed, but no
// newline, control character or "${".
func (s *Script) text(p *field.Path, v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		var msg string
		switch {
		case c == '\n' || c == '\r':
			msg = fmt.Sprintf("newline at byte %d would start a new iPXE command", i)
		case c < 0x20 && c != ' ' || c == 0x7f:
			msg = fmt.Sprintf("control character 0x%02x at byte %d", c, i)
		case c == '$' && i+1 < len(v) && v[i+1] == '{':
			msg = fmt.Sprintf("\"${\" at byte %d would be expanded by iPXE", i)
		case c == '\\':
			msg = fmt.Sprintf("backslash at byte %d is an escape to iPXE", i)
		}
		if msg != "" {
			s.errs = append(s.errs, field.Invalid(p, v, msg))
			return false
		}
	}
	if strings.HasPrefix(strings.TrimSpace(v), "#") || strings.HasPrefix(strings.TrimSpace(v), "||") || strings.HasPrefix(strings.TrimSpace(v), "&&") {
		s.errs = append(s.errs, field.Invalid(p, v, "must not start with '#', '||' or '&&'"))
		return false
	}
	for _, w := range strings.Fields(v) {
		if w == "||" || w == "&&" {
			s.errs = append(s.errs, field.Invalid(p, v, "must not contain the iPXE operators '||' or '&&'"))
			return false
		}
	}
	return true
}

// setting checks an iPXE setting name such as "net0/mac" or "user-class",
// which is also used inside "${...}".
func (s *Script) setting(p *field.Path, v string) bool {
	if !s.word(p, v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./:", c) >= 0) {
			s.errs = append(s.errs, field.Invalid(p, v, fmt.Sprintf("setting names are letters, digits and _-./: (byte %d is %q)", i, c)))
			return false
		}
	}
	return true
}

// Comment adds "# text".
func (s *Script) Comment(text string) *Script {
	if s.text(s.path("comment"), text) {
		s.add("# " + text)
	}
	return s
}

// Echo prints literal text on the console.
func (s *Script) Echo(text string) *Script {
	if s.text(s.path("echo"), text) {
		s.add("echo " + text)
	}
	return s
}

// DHCP configures the network, trying up to attempts times (at least once)
// before the script fails: "dhcp || dhcp || dhcp".
func (s *Script) DHCP(attempts int) *Script {
	if attempts < 1 {
		attempts = 1
	}
	return s.add(strings.TrimSuffix(strings.Repeat("dhcp || ", attempts), " || "))
}

// Kernel downloads and selects the kernel with its command line.
func (s *Script) Kernel(url string, cmdline *Cmdline) *Script {
	p := s.path("kernel")
	ok := s.word(p.Child("url"), url)
	if cmdline == nil {
		cmdline = NewCmdline()
	}
	for _, e := range cmdline.errs {
		e := *e
		e.Field = p.String() + "." + e.Field
		s.errs = append(s.errs, &e)
		ok = false
	}
	if !ok {
		return s
	}
	if line := cmdline.String(); line != "" {
		return s.add("kernel " + url + " " + line)
	}
	return s.add("kernel " + url)
}

// Initrd downloads an initrd image.
func (s *Script) Initrd(url string) *Script {
	if s.word(s.path("initrd").Child("url"), url) {
		s.add("initrd " + url)
	}
	return s
}

// Boot boots the selected image.
func (s *Script) Boot() *Script { return s.add("boot") }

// Exit leaves iPXE with status code, handing the machine back to its
// firmware, which boots the next device of its boot order. SeaBIOS does
// so whatever the code; UEFI's boot manager goes on to the next boot
// option only after an error (a code other than 0), while success makes
// it stop at its menu.
func (s *Script) Exit(code int) *Script {
	if code < 0 || code > 255 {
		s.errs = append(s.errs, field.Invalid(s.path("exit"), code, "must be 0..255"))
		return s
	}
	return s.add("exit " + strconv.Itoa(code))
}

// Chain downloads and boots an image or script.
func (s *Script) Chain(url string) *Script {
	if s.word(s.path("chain").Child("url"), url) {
		s.add("chain " + url)
	}
	return s
}

// Linux is a kernel with its initrds and command line.
type Linux struct {
	Kernel  string   // URL or name relative to the script
	Initrds []string // URLs or names
	Cmdline *Cmdline
}

// Linux adds kernel, initrd and boot lines. For EFI clients every initrd's
// image name (the last element of its URL, which is how iPXE names it) is
// put on the kernel command line as initrd=<name>.
func (s *Script) Linux(l Linux, fw Firmware) *Script {
	cmd := l.Cmdline
	if cmd == nil {
		cmd = NewCmdline()
	}
	if fw == EFI && len(l.Initrds) > 0 {
		names := make([]string, len(l.Initrds))
		for i, u := range l.Initrds {
			names[i] = ImageName(u)
		}
		cmd = cmd.WithInitrd(names...)
	}
	s.Kernel(l.Kernel, cmd)
	for _, i := range l.Initrds {
		s.Initrd(i)
	}
	return s.Boot()
}

// ImageName is the name iPXE gives an image fetched from url: the last
// path element, without query or fragment.
func ImageName(url string) string {
	if i := strings.IndexAny(url, "?#"); i >= 0 {
		url = url[:i]
	}
	return path.Base(url)
}

// Label defines a goto target, ":name".
func (s *Script) Label(name string) *Script {
	if s.word(s.path("label"), name) {
		s.add(":" + name)
	}
	return s
}

// Goto jumps to a label.
func (s *Script) Goto(label string) *Script {
	if s.word(s.path("goto"), label) {
		s.add("goto " + label)
	}
	return s
}

// Set sets an iPXE setting to a literal value.
func (s *Script) Set(setting, value string) *Script {
	p := s.path("set")
	if s.setting(p.Child("setting"), setting) && s.word(p.Child("value"), value) {
		s.add("set " + setting + " " + value)
	}
	return s
}

// IsSet jumps to label when setting is not set:
// "isset ${setting} || goto label".
func (s *Script) IsSet(setting, label string) *Script {
	p := s.path("isset")
	if s.setting(p.Child("setting"), setting) && s.word(p.Child("label"), label) {
		s.add("isset ${" + setting + "} || goto " + label)
	}
	return s
}

// Sleep waits the given number of seconds.
func (s *Script) Sleep(seconds int) *Script {
	if seconds < 0 {
		s.errs = append(s.errs, field.Invalid(s.path("sleep"), seconds, "must not be negative"))
		return s
	}
	return s.add("sleep " + strconv.Itoa(seconds))
}

// Menu starts a menu with a title; follow with Item and Choose.
func (s *Script) Menu(title string) *Script {
	if title == "" {
		return s.add("menu")
	}
	if s.text(s.path("menu"), title) {
		s.add("menu " + title)
	}
	return s
}

// Item adds a menu entry; label is the goto target Choose jumps to.
func (s *Script) Item(label, text string) *Script {
	p := s.path("item")
	if s.word(p.Child("label"), label) && s.text(p.Child("text"), text) {
		if strings.HasPrefix(label, "-") {
			s.errs = append(s.errs, field.Invalid(p.Child("label"), label, "must not start with '-' (an option to iPXE)"))
			return s
		}
		s.add(strings.TrimSpace("item " + label + " " + text))
	}
	return s
}

// Choose shows the menu, stores the choice in setting and jumps to the
// chosen item's label. def is the default item ("" for none); a positive
// timeout picks it automatically.
func (s *Script) Choose(setting, def string, timeout time.Duration) *Script {
	p := s.path("choose")
	if !s.setting(p.Child("setting"), setting) {
		return s
	}
	line := "choose"
	if def != "" {
		if !s.word(p.Child("default"), def) {
			return s
		}
		line += " --default " + def
	}
	if timeout > 0 {
		line += " --timeout " + strconv.FormatInt(timeout.Milliseconds(), 10)
	}
	return s.add(line + " " + setting + " && goto ${" + setting + "}")
}

// Build renders the script, or returns every problem found while adding
// lines, each under lines[i].<command>.
func (s *Script) Build() ([]byte, error) {
	if err := s.errs.ToAggregate(); err != nil {
		return nil, err
	}
	return []byte(strings.Join(s.lines, "\n") + "\n"), nil
}

// String renders the script as far as it is valid (for logs and examples).
func (s *Script) String() string { return strings.Join(s.lines, "\n") + "\n" }
