package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/pxekit/pxekit/netattach"
	"github.com/pxekit/pxekit/strictyaml"
)

// A NAD's spec.config is JSON inside a YAML string. Written as a literal
// block (config: |), line k of the JSON is line k after the config: key, so a
// finding at spec.config.plugins[0].vlan can name the line of "vlan" instead
// of the line of config:. Other styles fold lines; they keep the key's line.

// jsonLines maps the field paths of a JSON document (as field.Path prints
// them, relative to the document: "plugins[0].vlan") to the 1-based line of
// their key, or for array elements of their first character. Invalid JSON
// yields what was read before the error.
func jsonLines(data []byte) map[string]int {
	lines := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(data))
	lineAt := func(off int64) int {
		if off > int64(len(data)) {
			off = int64(len(data))
		}
		return 1 + bytes.Count(data[:off], []byte("\n"))
	}
	// nextStart is the offset of the next value: past whitespace and the
	// separators the decoder has not consumed yet.
	nextStart := func() int64 {
		off := dec.InputOffset()
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
			off++
		}
		return off
	}
	var walk func(path string, depth int) bool
	walk = func(path string, depth int) bool {
		if depth > 100 {
			return false
		}
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				start := nextStart()
				key, err := dec.Token()
				k, ok := key.(string)
				if err != nil || !ok {
					return false
				}
				p := k
				if path != "" {
					p = path + "." + k
				}
				lines[p] = lineAt(start)
				if !walk(p, depth+1) {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				p := path + "[" + strconv.Itoa(i) + "]"
				lines[p] = lineAt(nextStart())
				if !walk(p, depth+1) {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		}
		return true
	}
	walk("", 0)
	return lines
}

// lookupLine returns the line of path or of its nearest ancestor, 0 if none.
func lookupLine(lines map[string]int, path string) int {
	if l, ok := lines[path]; ok {
		return l
	}
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

var configSyntaxLine = regexp.MustCompile(`^line (\d+) column \d+`)

// nadConfigLines returns a function giving the document line of a finding
// inside a NAD's literal-block spec.config (0: use the default line).
func nadConfigLines(doc []byte, idx *strictyaml.LineIndex) func(path, detail string) int {
	none := func(string, string) int { return 0 }
	keyLine := idx.Line("spec.config")
	docLines := strings.Split(string(doc), "\n")
	if keyLine == 0 || keyLine > len(docLines) {
		return none
	}
	_, value, ok := strings.Cut(docLines[keyLine-1], "config:")
	if !ok || !strings.HasPrefix(strings.TrimSpace(value), "|") {
		return none
	}
	nad, _ := netattach.DecodeNAD(doc)
	if nad == nil {
		return none
	}
	lines := jsonLines([]byte(nad.Spec.Config))
	return func(path, detail string) int {
		if path == "spec.config" {
			// A JSON syntax error names its line inside the config.
			if m := configSyntaxLine.FindStringSubmatch(detail); m != nil {
				n, _ := strconv.Atoi(m[1])
				return keyLine + n
			}
			return 0
		}
		rel, ok := strings.CutPrefix(path, "spec.config.")
		if !ok {
			return 0
		}
		if l := lookupLine(lines, rel); l > 0 {
			return keyLine + l
		}
		return 0
	}
}
