package strictyaml

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LineIndex maps field paths of one YAML document to the 1-based lines they
// are written on. It understands block-style YAML, the style Kubernetes
// manifests are written in; the inside of a flow collection ({...}, [...])
// or a multi-line scalar maps to the line of its key.
//
// Lines count from the start of the bytes indexed. For a [Document] of a
// stream, the line in the file is Document.Line + line - 1.
type LineIndex struct {
	lines map[string]int
}

// IndexLines scans a document (a [Document]'s Data, or a whole file holding
// one document) for the lines of its fields.
func IndexLines(doc []byte) *LineIndex {
	s := scan(doc)
	return &LineIndex{lines: s.lines}
}

// Line returns the line of path (as printed by field.Path, e.g.
// spec.domain.devices.disks[0].bootOrder or metadata.labels[app]). A path
// not written in the document (a missing required field, say) gets the line
// of its nearest written ancestor; 0 means none is known.
func (x *LineIndex) Line(path string) int {
	if x == nil {
		return 0
	}
	segs := parsePath(path)
	for n := len(segs); n > 0; n-- {
		if l, ok := x.lines[strings.Join(segs[:n], "\x00")]; ok {
			return l
		}
	}
	return 0
}

// ErrorLine returns the line an error from [Decode] or from a validator of
// the decoded object is about: the line a syntax error names, else the line
// of the error's field path.
func (x *LineIndex) ErrorLine(e *field.Error) int {
	if e == nil {
		return 0
	}
	if e.Origin == OriginSyntax {
		if rest, ok := strings.CutPrefix(e.Detail, "line "); ok {
			if n, err := strconv.Atoi(rest[:max(0, strings.IndexByte(rest, ':'))]); err == nil {
				return n
			}
		}
		return 0
	}
	return x.Line(e.Field)
}

// parsePath splits a field.Path string into its names, indexes and keys.
func parsePath(p string) []string {
	var segs []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			segs = append(segs, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '.':
			flush()
		case '[':
			flush()
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				cur.WriteString(p[i+1:])
				i = len(p)
				continue
			}
			segs = append(segs, p[i+1:i+j])
			i += j
		default:
			cur.WriteByte(p[i])
		}
	}
	flush()
	return segs
}

// seg is one step of a path: a mapping key or a sequence index.
type seg struct {
	s   string
	idx bool
}

type frame struct {
	col  int
	seq  bool
	path []seg
	idx  int
	keys map[string]int // mapping: key -> line, to find duplicates
}

type pendingKey struct {
	path []seg
	col  int
}

type scanResult struct {
	lines map[string]int
	dups  field.ErrorList
}

func joinSegs(p []seg) string {
	parts := make([]string, len(p))
	for i, s := range p {
		parts[i] = s.s
	}
	return strings.Join(parts, "\x00")
}

func toFieldPath(p []seg) *field.Path {
	var fp *field.Path
	for _, s := range p {
		switch {
		case s.idx:
			n, _ := strconv.Atoi(s.s)
			fp = fp.Index(n)
		default:
			fp = child(fp, s.s)
		}
	}
	return fp
}

func extend(p []seg, s seg) []seg {
	return append(append(make([]seg, 0, len(p)+1), p...), s)
}

// scan walks the lines of a block-style YAML document, tracking the
// indentation of its mappings and sequences, and records the line of every
// key and sequence item. It also finds keys repeated in one mapping, which
// the YAML-to-JSON conversion silently collapses.
func scan(doc []byte) scanResult {
	res := scanResult{lines: map[string]int{}}
	var stack []*frame
	var pending *pendingKey
	blockCol := -1 // inside a block scalar (| or >) of a key at this column
	skipCol := -1  // inside a multi-line plain/quoted/flow value of a key at this column
	top := func() *frame {
		if len(stack) == 0 {
			return nil
		}
		return stack[len(stack)-1]
	}
	record := func(p []seg, line int) {
		k := joinSegs(p)
		if _, ok := res.lines[k]; !ok {
			res.lines[k] = line
		}
	}
	for i, raw := range strings.Split(string(doc), "\n") {
		line := i + 1
		raw = strings.TrimRight(raw, "\r")
		trimmed := strings.TrimLeft(raw, " ")
		col := len(raw) - len(trimmed)
		if blockCol >= 0 {
			if strings.TrimSpace(trimmed) == "" || col > blockCol {
				continue
			}
			blockCol = -1
		}
		if t := strings.TrimSpace(trimmed); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if skipCol >= 0 {
			if col > skipCol {
				continue
			}
			skipCol = -1
		}
		if strings.HasPrefix(trimmed, "---") || strings.HasPrefix(trimmed, "%") {
			continue
		}
		s, c := trimmed, col
		for s != "" {
			if s == "-" || strings.HasPrefix(s, "- ") || strings.HasPrefix(s, "-\t") {
				for top() != nil && top().col > c {
					stack = stack[:len(stack)-1]
				}
				switch t := top(); {
				case t != nil && t.seq && t.col == c:
					t.idx++
				case pending != nil && pending.col <= c:
					stack = append(stack, &frame{col: c, seq: true, path: pending.path})
				case t == nil:
					stack = append(stack, &frame{col: c, seq: true})
				default:
					// Indentation YAML itself would reject; keep going.
					stack = append(stack, &frame{col: c, seq: true, path: t.path})
				}
				pending = nil
				t := top()
				item := extend(t.path, seg{s: strconv.Itoa(t.idx), idx: true})
				record(item, line)
				rest := strings.TrimLeft(s[1:], " \t")
				if rest == "" || strings.HasPrefix(rest, "#") {
					pending = &pendingKey{path: item, col: c}
					break
				}
				if _, _, ok := splitKey(rest); !ok && !strings.HasPrefix(rest, "- ") && rest != "-" {
					skipCol = c // a scalar or flow item, maybe continued
					break
				}
				pending = &pendingKey{path: item, col: c}
				c += len(s) - len(rest)
				s = rest
				continue
			}
			key, value, ok := splitKey(s)
			if !ok {
				skipCol = c
				break
			}
			for top() != nil && (top().col > c || (top().col == c && top().seq)) {
				stack = stack[:len(stack)-1]
			}
			t := top()
			switch {
			case t != nil && !t.seq && t.col == c:
			case pending != nil && pending.col < c:
				t = &frame{col: c, path: pending.path}
				stack = append(stack, t)
			case t == nil:
				t = &frame{col: c}
				stack = append(stack, t)
			default:
				t = &frame{col: c, path: t.path}
				stack = append(stack, t)
			}
			pending = nil
			if t.keys == nil {
				t.keys = map[string]int{}
			}
			kp := extend(t.path, seg{s: key})
			if first, dup := t.keys[key]; dup {
				e := field.Duplicate(toFieldPath(kp), key)
				e.Detail = fmt.Sprintf("key %q is repeated in the same mapping (lines %d and %d); only the last would be kept", key, first, line)
				res.dups = append(res.dups, e)
			} else {
				t.keys[key] = line
			}
			record(kp, line)
			value = stripProps(value)
			switch {
			case value == "" || strings.HasPrefix(value, "#"):
				pending = &pendingKey{path: kp, col: c}
			case value[0] == '|' || value[0] == '>':
				blockCol = c
			default:
				skipCol = c
			}
			break
		}
	}
	return res
}

// stripProps drops anchors (&a) and tags (!t) in front of a value.
func stripProps(v string) string {
	v = strings.TrimSpace(v)
	for v != "" && (v[0] == '&' || v[0] == '!') {
		i := strings.IndexAny(v, " \t")
		if i < 0 {
			return ""
		}
		v = strings.TrimSpace(v[i:])
	}
	return v
}

// splitKey splits "key: value" (key plain or quoted) at its colon.
func splitKey(s string) (key, value string, ok bool) {
	if s == "" {
		return "", "", false
	}
	rest := ""
	switch s[0] {
	case '"', '\'':
		q := s[0]
		i := 1
		var b strings.Builder
		for ; i < len(s); i++ {
			if q == '\'' && s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			if q == '"' && s[i] == '\\' && i+1 < len(s) {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			if q == '"' && s[i] == '"' {
				break
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return "", "", false
		}
		key = b.String()
		rest = strings.TrimLeft(s[i+1:], " \t")
		if rest != ":" && !strings.HasPrefix(rest, ": ") && !strings.HasPrefix(rest, ":\t") {
			return "", "", false
		}
		return key, strings.TrimSpace(rest[1:]), true
	case '{', '[', '?', '#', '|', '>', '*', '&', '!', '@', '`':
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t') {
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), true
		}
		if s[i] == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
			return "", "", false
		}
	}
	return "", "", false
}
