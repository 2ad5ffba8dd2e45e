package strictyaml

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Decode decodes one YAML document strictly into into, which must be a
// non-nil pointer to a type with JSON tags. It returns every problem at
// once:
//   - a YAML syntax error, with its line (Origin [OriginSyntax], empty Field);
//   - every unknown field, as Forbidden at its full JSON path, e.g.
//     spec.domain.devices.disks[0].bootorder, saying where a field of that
//     name belongs (`did you mean "bootOrder"?` or
//     `it belongs at spec.domain.devices.disks[i].bootOrder`);
//   - every value of the wrong JSON type, as TypeInvalid at its path;
//   - every value a type with its own UnmarshalJSON (resource.Quantity,
//     metav1.Time, intstr.IntOrString, ...) rejects, as Invalid at its path;
//   - every key repeated in the same mapping, as Duplicate.
//
// Field names match case-sensitively, as the API server's strict decoding
// does. into is filled even when there are problems (unknown fields dropped,
// mistyped values left zero), so a caller can still validate the rest.
func Decode(doc []byte, into any) field.ErrorList {
	rv := reflect.ValueOf(into)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("strictyaml.Decode needs a non-nil pointer, got %T", into))}
	}
	js, ferr := toJSON(doc)
	if ferr != nil {
		return field.ErrorList{ferr}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("YAML converted to invalid JSON: %w", err))}
	}
	if tree == nil {
		return field.ErrorList{&field.Error{Type: field.ErrorTypeRequired, Field: "", BadValue: "", Detail: "the document is empty", Origin: OriginSyntax}}
	}
	w := &walker{root: rv.Type().Elem()}
	w.walk(tree, rv.Type().Elem(), nil)
	sc := scan(doc)
	w.errs = append(w.errs, sc.dups...)
	// Report in document order, as a reader goes through the file.
	lines := &LineIndex{lines: sc.lines}
	sort.SliceStable(w.errs, func(i, j int) bool {
		return lines.ErrorLine(w.errs[i]) < lines.ErrorLine(w.errs[j])
	})

	// Fill into on a best-effort basis: walk found the problems, so the
	// json error (which stops at the first one) adds nothing.
	if len(w.errs) == 0 {
		if err := json.Unmarshal(js, into); err != nil {
			w.errs = append(w.errs, field.InternalError(nil, err))
		}
	} else {
		clean := w.prune(tree, rv.Type().Elem())
		if b, err := json.Marshal(clean); err == nil {
			_ = json.Unmarshal(b, into)
		}
	}
	return w.errs
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// isLeaf reports whether t decodes itself (UnmarshalJSON/UnmarshalText)
// from a representation of its own (resource.Quantity, metav1.Time,
// intstr.IntOrString), so the walk stops there. A struct whose fields carry
// JSON names and whose UnmarshalJSON only post-processes them (KubeVirt's
// VirtualMachineInstanceSpec, PodNetwork and DHCPOptions sanitize IPs that
// way) is walked like any struct, so its unknown fields are still found.
func isLeaf(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	custom := t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler)
	return custom && !(t.Kind() == reflect.Struct && hasJSONNames(t))
}

// hasJSONNames reports whether struct t has a field with a JSON name of
// its own.
func hasJSONNames(t reflect.Type) bool {
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			return true
		}
	}
	return false
}

// structField is one JSON-visible field of a struct, inline structs
// flattened.
type structField struct {
	name  string
	index []int
	typ   reflect.Type
}

// fieldsOf lists the JSON fields of struct type t, following encoding/json's
// rules for embedded structs plus Kubernetes' `json:",inline"`.
func fieldsOf(t reflect.Type) []structField {
	var out []structField
	var visit func(t reflect.Type, index []int, depth int)
	visit = func(t reflect.Type, index []int, depth int) {
		if depth > 8 {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			inline := strings.Contains(","+opts+",", ",inline,")
			if (f.Anonymous && name == "") || inline {
				if ft.Kind() == reflect.Struct && !isLeaf(ft) {
					visit(ft, idx, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			out = append(out, structField{name: name, index: idx, typ: f.Type})
		}
	}
	visit(t, nil, 0)
	return out
}

type walker struct {
	root  reflect.Type
	errs  field.ErrorList
	index map[string][]string // lower-case field name -> paths where it is known
}

func child(p *field.Path, name string) *field.Path {
	if p == nil {
		return field.NewPath(name)
	}
	return p.Child(name)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// shown is what an error shows of a bad value: scalars as they are,
// containers by their kind only.
func shown(v any) any {
	switch x := v.(type) {
	case map[string]any, []any:
		return jsonKind(v)
	case json.Number:
		return x.String()
	}
	return v
}

func (w *walker) typeErr(p *field.Path, v any, want string) {
	w.errs = append(w.errs, field.TypeInvalid(p, shown(v), fmt.Sprintf("must be of type %s, got %s", want, jsonKind(v))))
}

func (w *walker) walk(v any, t reflect.Type, p *field.Path) {
	if v == nil {
		return // null decodes to the zero value of anything
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isLeaf(t) {
		w.leaf(v, t, p)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			w.typeErr(p, v, "object")
			return
		}
		fields := fieldsOf(t)
		byName := make(map[string]structField, len(fields))
		for _, f := range fields {
			byName[f.name] = f
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, ok := byName[k]
			if !ok {
				w.unknown(p, k, fields)
				continue
			}
			w.walk(m[k], f.typ, child(p, k))
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			w.typeErr(p, v, "object")
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			w.walkMapKey(k, t.Key(), p)
			w.walk(m[k], t.Elem(), p.Key(k))
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			s, ok := v.(string)
			if !ok {
				w.typeErr(p, v, "string (base64)")
				return
			}
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				w.errs = append(w.errs, field.Invalid(p, s, "must be base64-encoded"))
			}
			return
		}
		a, ok := v.([]any)
		if !ok {
			w.typeErr(p, v, "array")
			return
		}
		if t.Kind() == reflect.Array && len(a) > t.Len() {
			w.errs = append(w.errs, field.TooMany(p, len(a), t.Len()))
		}
		for i, e := range a {
			w.walk(e, t.Elem(), p.Index(i))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			w.typeErr(p, v, "string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			w.typeErr(p, v, "boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			w.typeErr(p, v, "integer")
			return
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			w.errs = append(w.errs, field.Invalid(p, n.String(), fmt.Sprintf("must be an integer that fits in %d bits", t.Bits())))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := v.(json.Number)
		if !ok {
			w.typeErr(p, v, "integer")
			return
		}
		if _, err := strconv.ParseUint(n.String(), 10, t.Bits()); err != nil {
			w.errs = append(w.errs, field.Invalid(p, n.String(), fmt.Sprintf("must be a non-negative integer that fits in %d bits", t.Bits())))
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			w.typeErr(p, v, "number")
			return
		}
		if f, err := strconv.ParseFloat(n.String(), t.Bits()); err != nil || math.IsInf(f, 0) {
			w.errs = append(w.errs, field.Invalid(p, n.String(), "number out of range"))
		}
	case reflect.Interface:
		// any value is fine
	default:
		w.errs = append(w.errs, field.InternalError(p, fmt.Errorf("cannot decode into Go type %s", t)))
	}
}

// leaf checks a value of a type that decodes itself by asking the type.
func (w *walker) leaf(v any, t reflect.Type, p *field.Path) {
	target := reflect.New(t).Interface()
	if u, ok := target.(json.Unmarshaler); ok {
		raw, err := json.Marshal(v)
		if err == nil {
			err = u.UnmarshalJSON(raw)
		}
		if err != nil {
			w.errs = append(w.errs, field.Invalid(p, shown(v), cleanUnmarshalErr(err)))
		}
		return
	}
	// Only encoding.TextUnmarshaler: encoding/json hands it strings.
	s, isStr := v.(string)
	if !isStr {
		w.typeErr(p, v, "string")
		return
	}
	if u, ok := target.(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(s)); err != nil {
			w.errs = append(w.errs, field.Invalid(p, s, err.Error()))
		}
	}
}

// walkMapKey checks a map key against a non-string key type.
func (w *walker) walkMapKey(k string, kt reflect.Type, p *field.Path) {
	switch kt.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(k, 10, kt.Bits()); err != nil {
			w.errs = append(w.errs, field.Invalid(p.Key(k), k, "map key must be an integer"))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, err := strconv.ParseUint(k, 10, kt.Bits()); err != nil {
			w.errs = append(w.errs, field.Invalid(p.Key(k), k, "map key must be a non-negative integer"))
		}
	}
}

func cleanUnmarshalErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
}

// prune returns a copy of v without what walk rejected, so that the
// best-effort json.Unmarshal fills everything else.
func (w *walker) prune(v any, t reflect.Type) any {
	if v == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	ok := func() bool {
		probe := &walker{root: w.root}
		probe.walk(v, t, nil)
		return len(probe.errs) == 0
	}
	if isLeaf(t) {
		if ok() {
			return v
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil
		}
		byName := map[string]structField{}
		for _, f := range fieldsOf(t) {
			byName[f.name] = f
		}
		out := map[string]any{}
		for k, e := range m {
			if f, known := byName[k]; known {
				out[k] = w.prune(e, f.typ)
			}
		}
		return out
	case reflect.Map:
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil
		}
		out := map[string]any{}
		for k, e := range m {
			out[k] = w.prune(e, t.Elem())
		}
		return out
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			if ok() {
				return v
			}
			return nil
		}
		a, isArr := v.([]any)
		if !isArr {
			return nil
		}
		if t.Kind() == reflect.Array && len(a) > t.Len() {
			a = a[:t.Len()]
		}
		out := make([]any, len(a))
		for i, e := range a {
			out[i] = w.prune(e, t.Elem())
		}
		return out
	}
	if ok() {
		return v
	}
	return nil
}

// unknown reports unknown field k of the struct at p, saying where a field
// of that name belongs when the type knows one.
func (w *walker) unknown(p *field.Path, k string, fields []structField) {
	fp := child(p, k)
	detail := fmt.Sprintf("unknown field %q", k)
	// Same name in another case, right here: almost always a typo.
	for _, f := range fields {
		if strings.EqualFold(f.name, k) {
			w.errs = append(w.errs, field.Forbidden(fp, detail+fmt.Sprintf("; did you mean %q?", f.name)))
			return
		}
	}
	if where := w.belongs(k, fp.String()); len(where) > 0 {
		w.errs = append(w.errs, field.Forbidden(fp, detail+" (it belongs at "+strings.Join(where, " or ")+")"))
		return
	}
	best, bestD := "", 3
	for _, f := range fields {
		if d := editDistance(strings.ToLower(f.name), strings.ToLower(k)); d < bestD && d <= len(k)/3+1 {
			best, bestD = f.name, d
		}
	}
	if best != "" {
		detail += fmt.Sprintf("; did you mean %q?", best)
	}
	w.errs = append(w.errs, field.Forbidden(fp, detail))
}

// belongs lists (at most three, nearest first) the paths in the root type
// where a field named k (any case) is known.
func (w *walker) belongs(k, at string) []string {
	if w.index == nil {
		w.index = map[string][]string{}
		var visit func(t reflect.Type, path string, depth int, stack []reflect.Type)
		visit = func(t reflect.Type, path string, depth int, stack []reflect.Type) {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if depth > 16 || isLeaf(t) {
				return
			}
			for _, s := range stack {
				if s == t {
					return // recursive type
				}
			}
			stack = append(stack, t)
			switch t.Kind() {
			case reflect.Struct:
				for _, f := range fieldsOf(t) {
					fp := f.name
					if path != "" {
						fp = path + "." + f.name
					}
					lk := strings.ToLower(f.name)
					w.index[lk] = append(w.index[lk], fp)
					visit(f.typ, fp, depth+1, stack)
				}
			case reflect.Slice, reflect.Array:
				visit(t.Elem(), path+"[i]", depth+1, stack)
			case reflect.Map:
				visit(t.Elem(), path+"[*]", depth+1, stack)
			}
		}
		visit(w.root, "", 0, nil)
	}
	cands := w.index[strings.ToLower(k)]
	if len(cands) == 0 {
		return nil
	}
	gen := genericPath(at)
	type scored struct {
		p     string
		score int
	}
	var list []scored
	for _, c := range cands {
		score := commonPrefix(gen, c)
		if strings.HasPrefix(c, "status.") && !strings.HasPrefix(gen, "status.") {
			score = -1 // the server writes status; a user's field belongs elsewhere
		}
		list = append(list, scored{c, score})
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].score != list[j].score {
			return list[i].score > list[j].score
		}
		return len(list[i].p) < len(list[j].p)
	})
	var out []string
	for _, s := range list {
		if len(out) == 3 || (s.score < 0 && len(out) > 0) {
			break
		}
		out = append(out, s.p)
	}
	return out
}

// genericPath turns spec.disks[0].x into spec.disks[i].x for comparison
// with the type index.
func genericPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '[' {
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				b.WriteString(p[i:])
				break
			}
			if _, err := strconv.Atoi(p[i+1 : i+j]); err == nil {
				b.WriteString("[i]")
			} else {
				b.WriteString("[*]")
			}
			i += j
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
