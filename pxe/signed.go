package pxe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Query parameters of a signed per-machine file URL.
const (
	ParamExpires   = "expires" // Unix seconds after which the URL is refused
	ParamSignature = "sig"     // HMAC-SHA256 of the path and expiry, base64url
)

// MinURLKeyLen is the shortest Config.URLKey accepted: an HMAC key shorter
// than 128 bits could be guessed.
const MinURLKeyLen = 16

// Errors of VerifySignedPath. They say which check failed, never the
// signature itself (it is a bearer credential).
var (
	ErrNotSigned    = errors.New("URL is not signed")
	ErrBadSignature = errors.New("URL signature does not match")
	ErrExpired      = errors.New("signed URL has expired")
)

// SignPath returns the query ("expires=...&sig=...") that makes path valid
// until expires for a server holding key. A signed URL is a capability: it
// opens a per-machine file to whoever holds it, so it is for installers that
// cannot be tied to a DHCP lease (behind a relay or NAT, or fetching from
// another address), and it expires.
func SignPath(key []byte, path string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	v := url.Values{}
	v.Set(ParamExpires, exp)
	v.Set(ParamSignature, signature(key, path, exp))
	return v.Encode()
}

// VerifySignedPath checks the expires and sig parameters of q for path at
// time now.
func VerifySignedPath(key []byte, path string, q url.Values, now time.Time) error {
	exp, sig := q.Get(ParamExpires), q.Get(ParamSignature)
	if exp == "" || sig == "" {
		return ErrNotSigned
	}
	if len(key) < MinURLKeyLen {
		return ErrBadSignature
	}
	// Compare before parsing so that a forged expiry learns nothing more
	// than a forged signature does.
	if !hmac.Equal([]byte(sig), []byte(signature(key, path, exp))) {
		return ErrBadSignature
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if now.Unix() > n {
		return ErrExpired
	}
	return nil
}

// signature binds the method-independent path and the expiry; the "\n"
// separator keeps ("/a", "1") and ("/a\n1", "") from colliding.
func signature(key []byte, path, exp string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pxekit-file-url-v1\n"))
	m.Write([]byte(path))
	m.Write([]byte("\n"))
	m.Write([]byte(exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// MachineFilePath is the path a machine's per-profile file is served at.
func MachineFilePath(mac, name string) string {
	return PathMachines + mac + "/" + name
}
