// Package strictyaml decodes Kubernetes-style YAML strictly into Go types
// that carry JSON tags (the kubevirt.io/api, k8s.io/api and pxekit types).
//
// It reports problems the way the API server's strict field validation
// does, but all of them at once and with more help: every unknown field with
// its full JSON path and, when a field of that name exists elsewhere in the
// type, where it belongs ("it belongs at spec.domain.devices.interfaces") or
// which field was meant ("did you mean \"bootOrder\"?"); type mismatches
// with their path; duplicate keys; YAML syntax errors with their line.
// [LineIndex] maps any field path (from [Decode] or from a validator) back to
// the line it is written on, and [SplitDocuments] cuts a multi-document
// stream, so a linter can print file:doc:line for every finding.
package strictyaml

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Document is one document of a multi-document YAML stream.
type Document struct {
	// Index is the document's 0-based position among the non-empty
	// documents of the stream.
	Index int
	// Line is the 1-based line of the stream on which the document's first
	// line (the one after its "---" separator, if any) is.
	Line int
	// Data is the document's text, without its separator line.
	Data []byte
}

// SplitDocuments splits a multi-document YAML stream on its "---" separator
// lines. Documents holding only blank lines, comments or directives are
// dropped. A "..." document-end line is not part of any document.
func SplitDocuments(data []byte) []Document {
	var docs []Document
	var cur bytes.Buffer
	start := 1
	flush := func() {
		if !isEmptyDoc(cur.Bytes()) {
			docs = append(docs, Document{Index: len(docs), Line: start, Data: bytes.Clone(cur.Bytes())})
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		trimmed := strings.TrimRight(text, " \t\r")
		switch {
		case isSeparator(trimmed):
			flush()
			start = line + 1
			// Content after "--- " (e.g. "--- !tag" or "--- {a: 1}") starts
			// the next document on this same line.
			if rest := strings.TrimSpace(trimmed[3:]); rest != "" && !strings.HasPrefix(rest, "#") {
				cur.WriteString(rest)
				cur.WriteByte('\n')
				start = line
			}
			continue
		case trimmed == "...":
			flush()
			start = line + 1
			continue
		}
		cur.WriteString(text)
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

func isSeparator(line string) bool {
	if !strings.HasPrefix(line, "---") {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t'
}

// isEmptyDoc reports whether a document holds nothing but blank lines,
// comments and directives.
func isEmptyDoc(b []byte) bool {
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "%") {
			continue
		}
		return false
	}
	return true
}

// OriginSyntax is the [field.Error] Origin of a YAML syntax error. Such an
// error has an empty Field; its Detail starts with "line N: ".
const OriginSyntax = "yaml-syntax"

// toJSON converts one YAML document to JSON. A syntax error comes back as a
// field.Error naming the line.
func toJSON(doc []byte) (js []byte, ferr *field.Error) {
	defer func() {
		// The YAML parser is third-party code; a malformed document must
		// never take a server down with it.
		if r := recover(); r != nil {
			js, ferr = nil, syntaxError(0, fmt.Sprintf("YAML parser failed: %v", r))
		}
	}()
	js, err := yaml.YAMLToJSON(doc)
	if err == nil {
		return js, nil
	}
	msg := cleanYAMLError(err)
	return nil, syntaxError(errorLine(doc, msg), msg)
}

func syntaxError(line int, msg string) *field.Error {
	detail := msg
	if line > 0 {
		detail = fmt.Sprintf("line %d: %s", line, msg)
	}
	return &field.Error{Type: field.ErrorTypeInvalid, BadValue: field.OmitValueType{}, Detail: detail, Origin: OriginSyntax}
}

// cleanYAMLError strips the converter's prefixes and the parser's own line
// (which yaml.v2 reports 0-based for parser errors and 1-based for scanner
// errors, so it cannot be trusted; errorLine finds the real one).
func cleanYAMLError(err error) string {
	msg := err.Error()
	for _, p := range []string{"error converting YAML to JSON: ", "yaml: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 && strings.Trim(rest[:i], "0123456789") == "" {
			msg = rest[i+2:]
		}
	}
	return msg
}

// errorLine finds the 1-based line of a syntax error: the shortest prefix of
// whole lines that fails with the same message ends on the offending line.
// Any prefix that reaches the error fails the same way, so a binary search
// over the line count finds it.
func errorLine(doc []byte, msg string) int {
	lines := bytes.SplitAfter(doc, []byte("\n"))
	fails := func(n int) bool {
		_, err := safeYAMLToJSON(bytes.Join(lines[:n], nil))
		return err != nil && cleanYAMLError(err) == msg
	}
	lo, hi := 1, len(lines)
	if !fails(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func safeYAMLToJSON(b []byte) (js []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			js, err = nil, fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	return yaml.YAMLToJSON(b)
}

// TypeOf returns a document's apiVersion and kind. It fails on a YAML syntax
// error (naming the line), on a document that is not a mapping, and when
// either field is missing or not a string.
func TypeOf(doc []byte) (apiVersion, kind string, err error) {
	js, ferr := toJSON(doc)
	if ferr != nil {
		return "", "", errors.New(ferr.Detail)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil || m == nil {
		return "", "", errors.New("document is not a YAML mapping")
	}
	var errs field.ErrorList
	get := func(name string) string {
		v, ok := m[name]
		if !ok || v == nil {
			errs = append(errs, field.Required(field.NewPath(name), ""))
			return ""
		}
		s, ok := v.(string)
		if !ok || s == "" {
			errs = append(errs, field.Invalid(field.NewPath(name), v, "must be a non-empty string"))
		}
		return s
	}
	apiVersion, kind = get("apiVersion"), get("kind")
	if len(errs) > 0 {
		return apiVersion, kind, errs.ToAggregate()
	}
	return apiVersion, kind, nil
}
