package grub

import (
	"fmt"
	"strings"
)

// Quote renders s as one GRUB word with the same value: single-quoted,
// where GRUB expands nothing, with each single quote of s closing the
// quote, following as an escaped quote and opening the quote again:
//
//	it's → 'it'\''s'
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// TokenKind is what a Token of a GRUB script is.
type TokenKind int

// Token kinds.
const (
	TokenWord      TokenKind = iota // a word, its quotes and escapes removed
	TokenNewline                    // the end of a line
	TokenSemicolon                  // ";"
	TokenLBrace                     // "{"
	TokenRBrace                     // "}"
	TokenReserved                   // "|", "&", "<" or ">": reserved by GRUB's script syntax
)

// Token is one token of a GRUB script.
type Token struct {
	Kind TokenKind
	// Text is the word's value (quotes and escapes removed, variables
	// left as written), or the operator.
	Text string
	// Line is the 1-based line the token starts on.
	Line int
	// Expands is true when the word has a variable reference ($name,
	// ${name}) outside single quotes, which GRUB replaces when it runs.
	Expands bool
	// Quoted is true when any part of the word was quoted or escaped, so
	// it is never a keyword.
	Quoted bool
}

// Words splits a GRUB script into tokens as GRUB's lexer does: words
// separated by blanks, single quotes keeping everything literal, double
// quotes keeping all but $ expansions and the escapes \$ \\ \" and
// \<newline>, a backslash outside quotes escaping the next character
// (and \<newline> joining lines), "#" at the start of a word commenting
// out the rest of the line, and ";", "{", "}", "|", "&", "<", ">" as tokens
// of their own. It fails on an unterminated quote, with its line.
func Words(script string) ([]Token, error) {
	var toks []Token
	line := 1
	i := 0
	n := len(script)
	for i < n {
		c := script[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == '\n':
			toks = append(toks, Token{Kind: TokenNewline, Text: "\n", Line: line})
			line++
			i++
			continue
		case c == '\\' && i+1 < n && script[i+1] == '\n':
			// A line continuation between words.
			line++
			i += 2
			continue
		case c == '#':
			for i < n && script[i] != '\n' {
				i++
			}
			continue
		}
		if k, ok := operator(c); ok {
			toks = append(toks, Token{Kind: k, Text: string(c), Line: line})
			i++
			continue
		}
		tok, next, lines, err := word(script, i, line)
		if err != nil {
			return toks, err
		}
		toks = append(toks, tok)
		line += lines
		i = next
	}
	return toks, nil
}

// operator is the kind of a byte that is a token by itself.
func operator(c byte) (TokenKind, bool) {
	switch c {
	case ';':
		return TokenSemicolon, true
	case '{':
		return TokenLBrace, true
	case '}':
		return TokenRBrace, true
	case '|', '&', '<', '>':
		return TokenReserved, true
	}
	return 0, false
}

// isWordEnd reports a byte that ends an unquoted word.
func isWordEnd(c byte) bool {
	_, op := operator(c)
	return op || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// word reads one word starting at i: its value, where it ends, how many
// newlines it spans.
func word(s string, i, line int) (Token, int, int, error) {
	tok := Token{Kind: TokenWord, Line: line}
	var b strings.Builder
	lines := 0
	n := len(s)
	for i < n && !isWordEnd(s[i]) {
		c := s[i]
		switch c {
		case '\\':
			tok.Quoted = true
			if i+1 >= n {
				i++ // a trailing backslash escapes nothing
				continue
			}
			if s[i+1] == '\n' {
				lines++
			} else {
				b.WriteByte(s[i+1])
			}
			i += 2
		case '\'':
			tok.Quoted = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return tok, n, lines, fmt.Errorf("line %d: unterminated single quote", line+lines)
			}
			lit := s[i+1 : i+1+end]
			lines += strings.Count(lit, "\n")
			b.WriteString(lit)
			i += end + 2
		case '"':
			tok.Quoted = true
			start := line + lines
			i++
			closed := false
			for i < n {
				d := s[i]
				if d == '"' {
					closed = true
					i++
					break
				}
				if d == '\\' && i+1 < n {
					switch s[i+1] {
					case '$', '\\', '"':
						b.WriteByte(s[i+1])
						i += 2
						continue
					case '\n':
						lines++
						i += 2
						continue
					}
				}
				if d == '$' && isVarStart(s, i) {
					tok.Expands = true
				}
				if d == '\n' {
					lines++
				}
				b.WriteByte(d)
				i++
			}
			if !closed {
				return tok, n, lines, fmt.Errorf("line %d: unterminated double quote", start)
			}
		case '$':
			if isVarStart(s, i) {
				tok.Expands = true
			}
			if i+1 < n && s[i+1] == '{' {
				// ${name} is one word with its braces.
				if end := strings.IndexByte(s[i:], '}'); end > 0 && !strings.ContainsAny(s[i:i+end], " \t\n") {
					b.WriteString(s[i : i+end+1])
					i += end + 1
					continue
				}
			}
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	tok.Text = b.String()
	return tok, i, lines, nil
}

// isVarStart reports whether the "$" at s[i] starts a variable reference:
// $name, ${name}, $1, $?, $#, $*, $@.
func isVarStart(s string, i int) bool {
	if i+1 >= len(s) {
		return false
	}
	c := s[i+1]
	return c == '{' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '?' || c == '#' || c == '*' || c == '@'
}
