package pxe

import (
	"bytes"

	"golang.org/x/net/http/httpguts"
)

// http1Verdict is what parseHTTP1 made of the bytes at the start of a
// connection's buffer.
type http1Verdict int

const (
	// http1More: the request's head is not complete yet (and could still
	// be one the fast path answers).
	http1More http1Verdict = iota
	// http1Other: not a request the fast path answers (another path or
	// method, a body, HTTP/1.0, anything unusual or malformed): net/http
	// gets the connection and answers it as it always did, errors included.
	http1Other
	// http1OK: a complete head of a request the fast path may answer.
	http1OK
)

// http1Request is a parsed GET or HEAD request without a body.
type http1Request struct {
	head     bool   // HEAD, else GET
	path     string // the target before '?', not unescaped (it has no '%')
	rawQuery string
	close    bool // Connection: close
	// cond: Range, If-Range or a conditional header, which only
	// ServeContent answers for an asset.
	cond bool
}

// fastPath reports whether a request target's path is one the fast path
// serves: a machine's script or an asset.
func fastPath(p []byte) bool {
	return string(p) == PathScript || bytes.HasPrefix(p, []byte(PathAssets)) || bytes.HasPrefix(p, []byte(PathIPXE))
}

// parseHTTP1 parses the request head at the start of b, within
// maxHeaderBytes, and returns it with its length. It accepts only what
// net/http would parse the same way — a strict subset: CRLF line ends,
// a token method, a plain origin-form target, HTTP/1.1, one Host, valid
// field names and values, no body — and leaves everything else to
// net/http (http1Other), so a malformed or hostile request meets the same
// checks and answers as before.
func parseHTTP1(b []byte) (req http1Request, n int, v http1Verdict) {
	if len(b) > maxHeaderBytes {
		b = b[:maxHeaderBytes]
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		if len(b) >= maxHeaderBytes {
			return req, 0, http1Other
		}
		return req, 0, http1More
	}
	// The request line: decided on as soon as it is complete, so a
	// request for another path goes to net/http at once (and meets its
	// header timeout and size limit there).
	if eol == 0 || b[eol-1] != '\r' {
		return req, 0, http1Other
	}
	line := b[:eol-1]
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return req, 0, http1Other
	}
	switch string(method) {
	case "GET":
	case "HEAD":
		req.head = true
	default:
		return req, 0, http1Other
	}
	target, proto, ok := bytes.Cut(rest, []byte(" "))
	if !ok || string(proto) != "HTTP/1.1" || len(target) == 0 || target[0] != '/' {
		return req, 0, http1Other
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return req, 0, http1Other
		}
	}
	p, q, hasQ := bytes.Cut(target, []byte("?"))
	if bytes.IndexByte(p, '%') >= 0 || !fastPath(p) {
		return req, 0, http1Other
	}
	// The fields, one CRLF-terminated line each, up to the empty line.
	hosts := 0
	off := eol + 1
	for {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			if len(b) >= maxHeaderBytes {
				return req, 0, http1Other
			}
			return req, 0, http1More
		}
		if i == 0 || b[off+i-1] != '\r' {
			return req, 0, http1Other
		}
		f := b[off : off+i-1]
		off += i + 1
		if len(f) == 0 {
			break
		}
		name, value, ok := bytes.Cut(f, []byte(":"))
		if !ok || !httpguts.ValidHeaderFieldName(string(name)) {
			return req, 0, http1Other // also a folded line (leading space)
		}
		value = bytes.Trim(value, " \t")
		if !httpguts.ValidHeaderFieldValue(string(value)) {
			return req, 0, http1Other
		}
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			if hosts++; hosts > 1 || !httpguts.ValidHostHeader(string(value)) {
				return req, 0, http1Other
			}
		case bytes.EqualFold(name, []byte("Connection")):
			for _, tok := range bytes.Split(value, []byte(",")) {
				switch tok = bytes.Trim(tok, " \t"); {
				case bytes.EqualFold(tok, []byte("close")):
					req.close = true
				case bytes.EqualFold(tok, []byte("keep-alive")), len(tok) == 0:
				default:
					return req, 0, http1Other // upgrade and other hop-by-hop fields
				}
			}
		case bytes.EqualFold(name, []byte("Content-Length")), bytes.EqualFold(name, []byte("Transfer-Encoding")),
			bytes.EqualFold(name, []byte("Expect")), bytes.EqualFold(name, []byte("Upgrade")):
			return req, 0, http1Other
		case bytes.EqualFold(name, []byte("Range")), bytes.EqualFold(name, []byte("If-Range")),
			bytes.EqualFold(name, []byte("If-None-Match")), bytes.EqualFold(name, []byte("If-Modified-Since")),
			bytes.EqualFold(name, []byte("If-Match")), bytes.EqualFold(name, []byte("If-Unmodified-Since")):
			req.cond = true
		}
	}
	if hosts != 1 {
		return req, 0, http1Other // net/http answers 400
	}
	req.path = string(p)
	if hasQ {
		req.rawQuery = string(q)
	}
	return req, off, http1OK
}
