package iscdhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pxekit/pxekit/macaddr"
)

// Problem is one thing in a dhcpd.conf that the import cannot honour, at
// its 1-based line.
type Problem struct {
	Line int
	Msg  string
}

// String renders "line N: message".
func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Msg) }

// Error lists every problem of a dhcpd.conf, in line order.
type Error struct{ Problems []Problem }

// Error lists the problems, "dhcpd.conf: line N: ...; line M: ...".
func (e *Error) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "dhcpd.conf: " + strings.Join(s, "; ")
}

// Config is an imported dhcpd.conf.
type Config struct {
	// Global is the outermost scope.
	Global *Scope
	// Subnets in file order.
	Subnets []*Subnet
	// Hosts in file order.
	Hosts []*Host
	// Options are the option definitions (option NAME code N = TYPE;),
	// by name.
	Options map[string]OptionDef
	// Warnings are things the file means differently under ISC dhcpd than
	// a reader might think, which pxekit does differently on purpose (for
	// instance a boot file with no next-server: ISC hands out siaddr
	// 0.0.0.0, pxekit its own address).
	Warnings []Problem

	groups int // groups declared so far (Host.Group indexes them)
}

// OptionDef is a user-defined option.
type OptionDef struct {
	Name string
	Code int
	Type string
	Line int
}

// Scope is a block of statements: the file itself, a subnet, a group or
// a host. Inner scopes override outer ones, as in ISC dhcpd.
type Scope struct {
	Kind   string // "global", "subnet", "group", "host"
	Line   int
	Parent *Scope
	body   []stmt
}

// Subnet is a subnet declaration.
type Subnet struct {
	Prefix netip.Prefix
	Ranges []Range
	Scope  *Scope
}

// Range is an inclusive dynamic address range (Start ≤ End).
type Range struct {
	Start netip.Addr // first address handed out
	End   netip.Addr // last address handed out
}

// Host is a host declaration.
type Host struct {
	Name         string
	MAC          net.HardwareAddr
	FixedAddress netip.Addr
	Scope        *Scope
	// Group is the 0-based index, in file order, of the group the host is
	// declared in, or -1.
	Group int
}

// Statements of a scope. Values are kept as written; evaluation reads them.
type stmt interface{ lineNo() int }

type optionStmt struct {
	line   int
	name   string
	values []token
}
type filenameStmt struct {
	line int
	name string
}
type nextServerStmt struct {
	line int
	addr netip.Addr
}
type leaseTimeStmt struct {
	line int
	name string
	d    time.Duration
}
type ifStmt struct {
	line     int
	branches []branch // cond nil: else
}
type branch struct {
	cond expr
	body []stmt
}

func (s optionStmt) lineNo() int     { return s.line }
func (s filenameStmt) lineNo() int   { return s.line }
func (s nextServerStmt) lineNo() int { return s.line }
func (s leaseTimeStmt) lineNo() int  { return s.line }
func (s ifStmt) lineNo() int         { return s.line }

// Boolean and data expressions of the subset.
type expr interface{}

type (
	existsExpr struct{ option string }
	equalExpr  struct {
		left, right expr
		negate      bool
	}
	andExpr       struct{ left, right expr }
	orExpr        struct{ left, right expr }
	notExpr       struct{ e expr }
	optionData    struct{ option string }
	constData     struct{ b []byte }
	substringExpr struct {
		data        expr
		offset, len int
	}
)

// builtinOptions are the ISC option names the subset knows, by code: what
// a condition may test and what a scope may set.
var builtinOptions = map[string]int{
	"subnet-mask": 1, "routers": 3, "domain-name-servers": 6, "host-name": 12, "domain-name": 15,
	"interface-mtu": 26, "vendor-class-identifier": 60, "dhcp-client-identifier": 61,
	"user-class": 77, "tftp-server-name": 66, "bootfile-name": 67,
}

type parser struct {
	toks  []token
	pos   int
	probs []Problem
	cfg   *Config
	group int
}

// Parse reads a dhcpd.conf. Everything outside the supported subset —
// a statement, declaration, option or expression it does not know — is a
// problem with its line number; the result is returned only when there are
// none, so nothing is dropped silently.
func Parse(src []byte) (*Config, error) {
	toks, probs := lex(string(src))
	p := &parser{toks: toks, probs: probs, cfg: &Config{Options: map[string]OptionDef{}}, group: -1}
	p.cfg.Global = &Scope{Kind: "global", Line: 1}
	p.cfg.Global.body = p.block(p.cfg.Global, true)
	if len(p.probs) > 0 {
		sort.SliceStable(p.probs, func(i, j int) bool { return p.probs[i].Line < p.probs[j].Line })
		return nil, &Error{Problems: p.probs}
	}
	p.cfg.check()
	return p.cfg, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) errf(line int, format string, args ...any) {
	p.probs = append(p.probs, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) isPunct(s string) bool { t := p.peek(); return t.kind == tPunct && t.text == s }

func (p *parser) expect(s string) bool {
	t := p.peek()
	if t.kind == tPunct && t.text == s {
		p.next()
		return true
	}
	p.errf(t.line, "expected %q, found %s", s, t)
	return false
}

// skipStatement recovers after an error: to the end of this statement, or
// past the block it opens.
func (p *parser) skipStatement() {
	depth := 0
	for {
		t := p.next()
		switch {
		case t.kind == tEOF:
			return
		case t.kind == tPunct && t.text == "{":
			depth++
		case t.kind == tPunct && t.text == "}":
			depth--
			if depth <= 0 {
				return
			}
		case t.kind == tPunct && t.text == ";" && depth == 0:
			return
		}
	}
}

// block parses statements until "}" (or EOF at the top level).
func (p *parser) block(sc *Scope, top bool) []stmt {
	var body []stmt
	for {
		t := p.peek()
		if t.kind == tEOF {
			if !top {
				p.errf(t.line, "missing \"}\" for the %s block of line %d", sc.Kind, sc.Line)
			}
			return body
		}
		if t.kind == tPunct && t.text == "}" {
			if top {
				p.errf(t.line, "unexpected \"}\"")
				p.next()
				continue
			}
			p.next()
			return body
		}
		if s := p.statement(sc); s != nil {
			body = append(body, s)
		}
	}
}

func (p *parser) statement(sc *Scope) stmt {
	t := p.next()
	if t.kind != tWord {
		if !(t.kind == tPunct && t.text == ";") { // a stray ";" is harmless
			p.errf(t.line, "expected a statement, found %s", t)
			p.skipStatement()
		}
		return nil
	}
	switch t.text {
	case "option":
		return p.option(t)
	case "filename":
		v := p.next()
		if v.kind != tString {
			p.errf(v.line, "filename wants a quoted string, found %s", v)
			p.skipStatement()
			return nil
		}
		p.expect(";")
		return filenameStmt{t.line, v.text}
	case "next-server":
		v := p.next()
		a, err := netip.ParseAddr(v.text)
		if v.kind != tWord || err != nil || !a.Is4() {
			p.errf(v.line, "next-server: %s is not an IPv4 address (host names are not supported)", v)
			p.skipStatement()
			return nil
		}
		p.expect(";")
		return nextServerStmt{t.line, a}
	case "default-lease-time", "max-lease-time":
		v := p.next()
		n, err := strconv.Atoi(v.text)
		if v.kind != tWord || err != nil || n <= 0 {
			p.errf(v.line, "%s wants seconds, found %s", t.text, v)
			p.skipStatement()
			return nil
		}
		p.expect(";")
		return leaseTimeStmt{t.line, t.text, time.Duration(n) * time.Second}
	case "authoritative":
		// pxekit always answers as the authority for its subnets.
		p.expect(";")
		return nil
	case "if":
		return p.ifStatement(t)
	case "subnet":
		p.subnet(sc, t)
		return nil
	case "group":
		if sc.Kind == "host" {
			p.errf(t.line, "a group cannot be declared inside a host")
		}
		if sc.Kind == "if" {
			p.errf(t.line, "a group inside an if is not supported")
		}
		p.cfg.groups++
		g := &Scope{Kind: "group", Line: t.line, Parent: sc}
		saved := p.group
		p.group = p.cfg.groups - 1
		if p.expect("{") {
			g.body = p.block(g, false)
		}
		p.group = saved
		return nil
	case "host":
		p.host(sc, t)
		return nil
	case "range":
		if sc.Kind != "subnet" {
			p.errf(t.line, "range outside a subnet declaration")
			p.skipStatement()
			return nil
		}
		p.rangeStmt(t)
		return nil
	case "hardware":
		if sc.Kind != "host" {
			p.errf(t.line, "hardware outside a host declaration")
		}
		p.skipStatement()
		return nil
	}
	p.errf(t.line, "%q is not supported by the import", t.text)
	p.skipStatement()
	return nil
}

func (p *parser) option(t token) stmt {
	name := p.next()
	if name.kind != tWord {
		p.errf(name.line, "option wants a name, found %s", name)
		p.skipStatement()
		return nil
	}
	// option NAME code N = TYPE;
	if p.peek().kind == tWord && p.peek().text == "code" {
		p.next()
		code := p.next()
		n, err := strconv.Atoi(code.text)
		if err != nil || n < 1 || n > 254 {
			p.errf(code.line, "option %s: code %s is not 1..254", name.text, code)
			p.skipStatement()
			return nil
		}
		if !p.expect("=") {
			p.skipStatement()
			return nil
		}
		var typ []string
		for p.peek().kind == tWord {
			typ = append(typ, p.next().text)
		}
		p.expect(";")
		def := OptionDef{Name: name.text, Code: n, Type: strings.Join(typ, " "), Line: t.line}
		switch def.Type {
		case "unsigned integer 8", "unsigned integer 16", "unsigned integer 32", "text", "string", "ip-address":
		default:
			p.errf(t.line, "option %s: type %q is not supported", name.text, def.Type)
		}
		if _, ok := builtinOptions[name.text]; ok {
			p.errf(t.line, "option %s is already defined by ISC dhcpd", name.text)
		}
		p.cfg.Options[name.text] = def
		return nil
	}
	if !p.knownOption(name.text) {
		p.errf(name.line, "option %s is not defined (define it with \"option %s code N = TYPE;\" first)", name.text, name.text)
		p.skipStatement()
		return nil
	}
	var vals []token
	for {
		v := p.next()
		if v.kind == tWord || v.kind == tString {
			vals = append(vals, v)
		} else {
			p.errf(v.line, "option %s: unexpected %s", name.text, v)
			p.skipStatement()
			return nil
		}
		if p.isPunct(",") {
			p.next()
			continue
		}
		break
	}
	if !p.expect(";") {
		p.skipStatement()
		return nil
	}
	s := optionStmt{t.line, name.text, vals}
	p.checkOptionValues(s)
	return s
}

func (p *parser) knownOption(name string) bool {
	if _, ok := builtinOptions[name]; ok {
		return true
	}
	_, ok := p.cfg.Options[name]
	return ok
}

// checkOptionValues catches values dhcpd itself would reject at load.
func (p *parser) checkOptionValues(s optionStmt) {
	switch s.name {
	case "routers", "domain-name-servers", "subnet-mask":
		for _, v := range s.values {
			if a, err := netip.ParseAddr(v.text); v.kind != tWord || err != nil || !a.Is4() {
				p.errf(v.line, "option %s: %s is not an IPv4 address", s.name, v)
			}
		}
	case "vendor-class-identifier", "domain-name", "host-name", "tftp-server-name", "bootfile-name":
		if len(s.values) != 1 || s.values[0].kind != tString {
			p.errf(s.line, "option %s wants one quoted string", s.name)
		}
	case "interface-mtu":
		if n, err := strconv.Atoi(s.values[0].text); len(s.values) != 1 || err != nil || n < 68 || n > 65535 {
			p.errf(s.line, "option interface-mtu wants a number 68..65535")
		}
	default:
		if _, ok := p.cfg.Options[s.name]; !ok {
			p.errf(s.line, "setting option %s is not supported by the import", s.name)
		}
	}
}

func (p *parser) subnet(parent *Scope, t token) {
	if parent.Kind != "global" {
		p.errf(t.line, "subnet declarations inside a %s are not supported", parent.Kind)
	}
	a, m := p.next(), p.next()
	net4, err := netip.ParseAddr(a.text)
	if a.kind != tWord || err != nil || !net4.Is4() {
		p.errf(a.line, "subnet: %s is not an IPv4 address", a)
		p.skipStatement()
		return
	}
	if m.kind != tWord || m.text != "netmask" {
		p.errf(m.line, "subnet: expected netmask, found %s", m)
		p.skipStatement()
		return
	}
	mt := p.next()
	mask, err := netip.ParseAddr(mt.text)
	if err != nil || !mask.Is4() {
		p.errf(mt.line, "subnet: netmask %s is not an IPv4 address", mt)
		p.skipStatement()
		return
	}
	mb := mask.As4()
	ones, bits := net.IPMask(mb[:]).Size()
	if bits == 0 {
		p.errf(mt.line, "subnet: netmask %s is not contiguous", mt.text)
		p.skipStatement()
		return
	}
	pfx := netip.PrefixFrom(net4, ones)
	if pfx.Masked().Addr() != net4 {
		p.errf(a.line, "subnet %s has host bits set for netmask %s", a.text, mt.text)
	}
	sn := &Subnet{Prefix: pfx.Masked(), Scope: &Scope{Kind: "subnet", Line: t.line, Parent: parent}}
	p.cfg.Subnets = append(p.cfg.Subnets, sn)
	if !p.expect("{") {
		p.skipStatement()
		return
	}
	sn.Scope.body = p.block(sn.Scope, false)
}

func (p *parser) rangeStmt(t token) {
	sn := p.cfg.Subnets[len(p.cfg.Subnets)-1]
	var addrs []netip.Addr
	for p.peek().kind == tWord {
		v := p.next()
		if v.text == "dynamic-bootp" {
			p.errf(v.line, "range dynamic-bootp is not supported (BOOTP clients are not served)")
			continue
		}
		a, err := netip.ParseAddr(v.text)
		if err != nil || !a.Is4() {
			p.errf(v.line, "range: %s is not an IPv4 address", v)
			continue
		}
		addrs = append(addrs, a)
	}
	p.expect(";")
	switch len(addrs) {
	case 1:
		addrs = append(addrs, addrs[0])
	case 2:
	default:
		p.errf(t.line, "range wants one or two addresses")
		return
	}
	r := Range{Start: addrs[0], End: addrs[1]}
	if r.End.Less(r.Start) {
		r.Start, r.End = r.End, r.Start // ISC accepts either order
	}
	if !sn.Prefix.Contains(r.Start) || !sn.Prefix.Contains(r.End) {
		p.errf(t.line, "range %s-%s is not inside subnet %s", r.Start, r.End, sn.Prefix)
	}
	sn.Ranges = append(sn.Ranges, r)
}

func (p *parser) host(parent *Scope, t token) {
	name := p.next()
	if name.kind != tWord && name.kind != tString {
		p.errf(name.line, "host wants a name, found %s", name)
		p.skipStatement()
		return
	}
	h := &Host{Name: name.text, Group: p.group, Scope: &Scope{Kind: "host", Line: t.line, Parent: parent}}
	if parent.Kind == "host" || parent.Kind == "if" {
		p.errf(t.line, "a host cannot be declared inside a %s", parent.Kind)
	}
	if !p.expect("{") {
		p.skipStatement()
		return
	}
	// Host-only statements are read here; the rest go into the scope.
	for {
		tk := p.peek()
		if tk.kind == tEOF {
			p.errf(tk.line, "missing \"}\" for host %s of line %d", h.Name, t.line)
			break
		}
		if tk.kind == tPunct && tk.text == "}" {
			p.next()
			break
		}
		if tk.kind == tWord && tk.text == "hardware" {
			p.next()
			typ, mac := p.next(), p.next()
			hw, err := macaddr.Parse(mac.text)
			if typ.text != "ethernet" || err != nil {
				p.errf(tk.line, "hardware: want \"hardware ethernet aa:bb:cc:dd:ee:ff;\", found %s %s", typ, mac)
			} else {
				h.MAC = hw
			}
			p.expect(";")
			continue
		}
		if tk.kind == tWord && tk.text == "fixed-address" {
			p.next()
			v := p.next()
			a, err := netip.ParseAddr(v.text)
			if err != nil || !a.Is4() {
				p.errf(v.line, "fixed-address: %s is not an IPv4 address (host names are not supported)", v)
			} else {
				h.FixedAddress = a
			}
			if p.isPunct(",") {
				p.errf(v.line, "fixed-address with several addresses is not supported")
			}
			p.skipStatement()
			continue
		}
		if s := p.statement(h.Scope); s != nil {
			h.Scope.body = append(h.Scope.body, s)
		}
	}
	if h.MAC == nil {
		p.errf(t.line, "host %s has no hardware ethernet address; only hosts matched by MAC are supported", h.Name)
		return
	}
	for _, o := range p.cfg.Hosts {
		if o.MAC.String() == h.MAC.String() {
			p.errf(t.line, "host %s: hardware ethernet %s is also host %s", h.Name, h.MAC, o.Name)
		}
	}
	p.cfg.Hosts = append(p.cfg.Hosts, h)
}

func (p *parser) ifStatement(t token) stmt {
	s := ifStmt{line: t.line}
	cond := p.condition()
	if !p.expect("{") {
		p.skipStatement()
		return nil
	}
	sc := &Scope{Kind: "if", Line: t.line}
	s.branches = append(s.branches, branch{cond, p.block(sc, false)})
	for {
		n := p.peek()
		if n.kind != tWord {
			break
		}
		switch n.text {
		case "elsif":
			p.next()
			c := p.condition()
			if !p.expect("{") {
				p.skipStatement()
				return nil
			}
			s.branches = append(s.branches, branch{c, p.block(sc, false)})
			continue
		case "else":
			p.next()
			if p.peek().kind == tWord && p.peek().text == "if" {
				// "else if" is elsif.
				p.next()
				c := p.condition()
				if !p.expect("{") {
					p.skipStatement()
					return nil
				}
				s.branches = append(s.branches, branch{c, p.block(sc, false)})
				continue
			}
			if !p.expect("{") {
				p.skipStatement()
				return nil
			}
			s.branches = append(s.branches, branch{nil, p.block(sc, false)})
		}
		break
	}
	return s
}

// condition := and-term { "or" and-term }
func (p *parser) condition() expr {
	l := p.andTerm()
	for p.peek().kind == tWord && p.peek().text == "or" {
		p.next()
		l = orExpr{l, p.andTerm()}
	}
	return l
}

func (p *parser) andTerm() expr {
	l := p.unary()
	for p.peek().kind == tWord && p.peek().text == "and" {
		p.next()
		l = andExpr{l, p.unary()}
	}
	return l
}

func (p *parser) unary() expr {
	t := p.peek()
	switch {
	case t.kind == tWord && t.text == "not":
		p.next()
		return notExpr{p.unary()}
	case t.kind == tWord && t.text == "exists":
		p.next()
		n := p.next()
		if n.kind != tWord || !p.knownOption(n.text) {
			p.errf(n.line, "exists: %s is not a known option", n)
		}
		return existsExpr{n.text}
	case t.kind == tPunct && t.text == "(":
		p.next()
		e := p.condition()
		p.expect(")")
		return e
	}
	left := p.data()
	op := p.peek()
	if op.kind != tPunct || (op.text != "=" && op.text != "!=") {
		p.errf(op.line, "expected = or != after a data expression, found %s (only comparisons, exists, and, or, not are supported)", op)
		return constData{}
	}
	p.next()
	right := p.data()
	return equalExpr{left, right, op.text == "!="}
}

// data := "option" NAME | "substring" "(" data "," N "," N ")" | STRING | hex
func (p *parser) data() expr {
	t := p.next()
	switch {
	case t.kind == tString:
		return constData{[]byte(t.text)}
	case t.kind == tWord && t.text == "option":
		n := p.next()
		if n.kind != tWord || !p.knownOption(n.text) {
			p.errf(n.line, "option %s is not a known option", n)
		}
		return optionData{n.text}
	case t.kind == tWord && t.text == "substring":
		if !p.expect("(") {
			return constData{}
		}
		d := p.data()
		p.expect(",")
		off := p.number()
		p.expect(",")
		n := p.number()
		p.expect(")")
		return substringExpr{d, off, n}
	case t.kind == tWord:
		if b, ok := parseHex(t.text); ok {
			return constData{b}
		}
	}
	p.errf(t.line, "data expression %s is not supported (option NAME, substring(...), \"string\" or colon-separated hex)", t)
	return constData{}
}

func (p *parser) number() int {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != tWord || err != nil || n < 0 || n > 65535 {
		p.errf(t.line, "expected a number, found %s", t)
		return 0
	}
	return n
}

// parseHex reads ISC's colon-separated hex bytes (00:07, 1:2:ab).
func parseHex(s string) ([]byte, bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 {
		return nil, false
	}
	b := make([]byte, len(parts))
	for i, x := range parts {
		if len(x) == 0 || len(x) > 2 {
			return nil, false
		}
		v, err := strconv.ParseUint(x, 16, 8)
		if err != nil {
			return nil, false
		}
		b[i] = byte(v)
	}
	return b, true
}

// check records warnings about ISC semantics a reader may not expect.
func (c *Config) check() {
	var walk func(body []stmt, hasNext bool)
	warned := map[int]bool{}
	walk = func(body []stmt, hasNext bool) {
		for _, s := range body {
			switch s := s.(type) {
			case nextServerStmt:
				hasNext = true
			case filenameStmt:
				if !hasNext && !strings.Contains(s.name, "://") && !warned[s.line] {
					warned[s.line] = true
					c.Warnings = append(c.Warnings, Problem{Line: s.line, Msg: fmt.Sprintf(
						"filename %q with no next-server: ISC dhcpd would send siaddr 0.0.0.0 and the TFTP client would not know where to fetch it; pxekit uses its own address", s.name)})
				}
			case ifStmt:
				for _, b := range s.branches {
					walk(b.body, hasNext)
				}
			}
		}
	}
	walk(c.Global.body, false)
	for _, sn := range c.Subnets {
		walk(sn.Scope.body, hasNextServer(c.Global.body))
	}
	for _, h := range c.Hosts {
		// A host outside any subnet still gets its subnet's scope when it
		// is served; with one subnet that subnet is known.
		has := len(c.Subnets) == 1 && hasNextServer(c.Subnets[0].Scope.body)
		for sc := h.Scope; sc != nil; sc = sc.Parent {
			has = has || hasNextServer(sc.body)
		}
		for sc := h.Scope; sc != nil; sc = sc.Parent {
			walk(sc.body, has)
		}
	}
	sort.SliceStable(c.Warnings, func(i, j int) bool { return c.Warnings[i].Line < c.Warnings[j].Line })
}

func hasNextServer(body []stmt) bool {
	for _, s := range body {
		if _, ok := s.(nextServerStmt); ok {
			return true
		}
	}
	return false
}

var errNoSubnet = errors.New("no subnet declared")
