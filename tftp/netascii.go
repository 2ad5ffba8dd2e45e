package tftp

import "io"

// netasciiReader encodes a file for netascii mode (RFC 764 via RFC 1350):
// LF travels as CR LF and CR as CR NUL, so the client restores the file's
// own line ends.
type netasciiReader struct {
	r       io.Reader
	buf     []byte
	i, n    int
	pending int // a second byte owed from the last expansion, or -1
	err     error
}

func newNetasciiReader(r io.Reader) *netasciiReader {
	return &netasciiReader{r: r, buf: make([]byte, 4096), pending: -1}
}

// Read fills p with encoded bytes.
func (a *netasciiReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if a.pending >= 0 {
			p[n] = byte(a.pending)
			a.pending = -1
			n++
			continue
		}
		if a.i == a.n {
			if a.err != nil {
				break
			}
			if n > 0 {
				return n, nil // do not block for more while holding bytes
			}
			a.n, a.err = a.r.Read(a.buf)
			a.i = 0
			continue
		}
		c := a.buf[a.i]
		a.i++
		switch c {
		case '\n':
			p[n], a.pending = '\r', '\n'
		case '\r':
			p[n], a.pending = '\r', 0
		default:
			p[n] = c
		}
		n++
	}
	if n > 0 {
		return n, nil
	}
	return 0, a.err
}
