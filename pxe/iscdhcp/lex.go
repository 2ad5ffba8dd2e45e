package iscdhcp

import (
	"fmt"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString
	tPunct // { } ; ( ) , = !=
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits dhcpd.conf text into tokens. ISC's lexer has more classes
// (numbers, names, hex), but every token this subset uses is a word, a
// quoted string or punctuation; the parser reads words in context.
func lex(src string) ([]token, []Problem) {
	var toks []token
	var probs []Problem
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"':
			start := line
			var b strings.Builder
			i++
			closed := false
			for i < len(src) {
				ch := src[i]
				if ch == '"' {
					closed = true
					i++
					break
				}
				if ch == '\n' {
					line++
				}
				if ch == '\\' && i+1 < len(src) {
					i++
					switch src[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(src[i])
					}
					i++
					continue
				}
				b.WriteByte(ch)
				i++
			}
			if !closed {
				probs = append(probs, Problem{Line: start, Msg: "unterminated string"})
			}
			toks = append(toks, token{tString, b.String(), start})
		case c == '!' && i+1 < len(src) && src[i+1] == '=':
			toks = append(toks, token{tPunct, "!=", line})
			i += 2
		case strings.IndexByte("{};(),=", c) >= 0:
			toks = append(toks, token{tPunct, string(c), line})
			i++
		default:
			start := i
			for i < len(src) && !isDelim(src[i]) {
				i++
			}
			if i == start {
				probs = append(probs, Problem{Line: line, Msg: fmt.Sprintf("unexpected character %q", c)})
				i++
				continue
			}
			toks = append(toks, token{tWord, src[start:i], line})
		}
	}
	toks = append(toks, token{tEOF, "", line})
	return toks, probs
}

func isDelim(c byte) bool {
	return c <= ' ' || c == '#' || c == '"' || c == '!' || strings.IndexByte("{};(),=", c) >= 0 || c >= 0x7f
}
