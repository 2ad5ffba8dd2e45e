package tftp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Opcode is a TFTP packet type (RFC 1350, RFC 2347).
type Opcode uint16

// TFTP opcodes.
const (
	OpRRQ   Opcode = 1 // read request
	OpWRQ   Opcode = 2 // write request
	OpDATA  Opcode = 3 // data block
	OpACK   Opcode = 4 // acknowledgement
	OpERROR Opcode = 5 // error
	OpOACK  Opcode = 6 // option acknowledgement (RFC 2347)
)

// String names the opcode the way RFCs do.
func (o Opcode) String() string {
	switch o {
	case OpRRQ:
		return "RRQ"
	case OpWRQ:
		return "WRQ"
	case OpDATA:
		return "DATA"
	case OpACK:
		return "ACK"
	case OpERROR:
		return "ERROR"
	case OpOACK:
		return "OACK"
	}
	return "opcode(" + strconv.Itoa(int(o)) + ")"
}

// ErrorCode is the code carried by a TFTP ERROR packet.
type ErrorCode uint16

// TFTP error codes (RFC 1350 section 5, RFC 2347 for 8).
const (
	ErrUndefined        ErrorCode = 0 // not defined, see message
	ErrFileNotFound     ErrorCode = 1
	ErrAccessViolation  ErrorCode = 2
	ErrDiskFull         ErrorCode = 3
	ErrIllegalOperation ErrorCode = 4
	ErrUnknownTID       ErrorCode = 5
	ErrFileExists       ErrorCode = 6
	ErrNoSuchUser       ErrorCode = 7
	ErrOptionRefused    ErrorCode = 8
)

// Limits from the RFCs.
const (
	// MinBlockSize and MaxBlockSize bound the blksize option (RFC 2348).
	MinBlockSize = 8
	MaxBlockSize = 65464
	// DefaultBlockSize is the block size without a blksize option.
	DefaultBlockSize = 512
	// MaxRequestSize is the largest request packet accepted. RFC 2347 caps
	// requests at 512 octets; the slack tolerates clients that overshoot.
	MaxRequestSize = 1024
	// tftpHeader is the DATA header (opcode + block number) that every
	// block carries on top of its payload.
	tftpHeader = 4
)

// Option is one RFC 2347 option of a request, in the order the client sent it.
type Option struct {
	Name  string // lower-cased: option names are case-insensitive
	Value string
}

// Request is a parsed RRQ or WRQ.
type Request struct {
	Op       Opcode   // OpRRQ or OpWRQ
	Filename string   // exactly as sent; see CleanPath
	Mode     string   // "octet" or "netascii", lower-cased
	Options  []Option // unique names, first occurrence kept
}

// ParseRequest decodes an RRQ or WRQ packet. Errors name the field that is
// wrong. It never panics, whatever the input.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) < 2 {
		return r, errors.New("request: packet shorter than an opcode")
	}
	if len(b) > MaxRequestSize {
		return r, fmt.Errorf("request: %d bytes, more than %d", len(b), MaxRequestSize)
	}
	r.Op = Opcode(binary.BigEndian.Uint16(b))
	if r.Op != OpRRQ && r.Op != OpWRQ {
		return r, fmt.Errorf("opcode: %s is not a request", r.Op)
	}
	fields, err := splitNUL(b[2:])
	if err != nil {
		return r, err
	}
	if len(fields) < 2 {
		return r, errors.New("mode: missing")
	}
	if fields[0] == "" {
		return r, errors.New("filename: empty")
	}
	r.Filename = fields[0]
	r.Mode = strings.ToLower(fields[1])
	switch r.Mode {
	case "octet", "netascii":
	default:
		return r, fmt.Errorf("mode: unsupported %q (want octet or netascii)", fields[1])
	}
	r.Options, err = parseOptions(fields[2:])
	return r, err
}

// parseOptions pairs NUL-separated fields into options, names lower-cased,
// the first of a repeated name kept.
func parseOptions(fields []string) ([]Option, error) {
	if len(fields)%2 != 0 {
		return nil, fmt.Errorf("options[%d] %q: missing value", len(fields)/2, fields[len(fields)-1])
	}
	var opts []Option
	for i := 0; i < len(fields); i += 2 {
		name := strings.ToLower(fields[i])
		if name == "" {
			return nil, fmt.Errorf("options[%d]: empty name", i/2)
		}
		if slices.ContainsFunc(opts, func(o Option) bool { return o.Name == name }) {
			continue // RFC 2347 says nothing; keep the first, as tftpd-hpa does
		}
		opts = append(opts, Option{Name: name, Value: fields[i+1]})
	}
	return opts, nil
}

// splitNUL splits NUL-terminated strings; the last one must be terminated.
func splitNUL(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		i := indexNUL(b)
		if i < 0 {
			field := "filename"
			switch len(out) {
			case 0:
			case 1:
				field = "mode"
			default:
				field = fmt.Sprintf("options[%d]", (len(out)-2)/2)
			}
			return nil, fmt.Errorf("%s: missing NUL terminator", field)
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	if len(out) == 0 {
		return nil, errors.New("filename: missing")
	}
	return out, nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// Option returns the value of the named option (case-insensitive).
func (r Request) Option(name string) (string, bool) {
	name = strings.ToLower(name)
	for _, o := range r.Options {
		if o.Name == name {
			return o.Value, true
		}
	}
	return "", false
}

func (r Request) intOption(name string, lo, hi int64) (int64, bool) {
	v, ok := r.Option(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// BlockSize returns the blksize option when it is present and valid
// (RFC 2348: 8 to 65464).
func (r Request) BlockSize() (int, bool) {
	n, ok := r.intOption("blksize", MinBlockSize, MaxBlockSize)
	return int(n), ok
}

// TransferSize returns the tsize option when present and valid (RFC 2349).
func (r Request) TransferSize() (int64, bool) {
	return r.intOption("tsize", 0, 1<<62)
}

// Timeout returns the timeout option in seconds when present and valid
// (RFC 2349: 1 to 255).
func (r Request) Timeout() (int, bool) {
	n, ok := r.intOption("timeout", 1, 255)
	return int(n), ok
}

// WindowSize returns the windowsize option when present and valid
// (RFC 7440: 1 to 65535).
func (r Request) WindowSize() (int, bool) {
	n, ok := r.intOption("windowsize", 1, 65535)
	return int(n), ok
}

// AppendBinary encodes the request onto b (encoding.BinaryAppender).
func (r Request) AppendBinary(b []byte) ([]byte, error) {
	if r.Op != OpRRQ && r.Op != OpWRQ {
		return b, fmt.Errorf("opcode: %s is not a request", r.Op)
	}
	if r.Filename == "" || strings.IndexByte(r.Filename, 0) >= 0 {
		return b, errors.New("filename: empty or contains NUL")
	}
	if r.Mode == "" || strings.IndexByte(r.Mode, 0) >= 0 {
		return b, errors.New("mode: empty or contains NUL")
	}
	b = binary.BigEndian.AppendUint16(b, uint16(r.Op))
	b = append(append(b, r.Filename...), 0)
	b = append(append(b, r.Mode...), 0)
	return appendOptions(b, r.Options)
}

// appendOptions encodes options as NUL-terminated name and value pairs.
func appendOptions(b []byte, opts []Option) ([]byte, error) {
	for i, o := range opts {
		if o.Name == "" || strings.IndexByte(o.Name, 0) >= 0 || strings.IndexByte(o.Value, 0) >= 0 {
			return b, fmt.Errorf("options[%d]: empty name or NUL inside", i)
		}
		b = append(append(b, o.Name...), 0)
		b = append(append(b, o.Value...), 0)
	}
	return b, nil
}

// AppendError encodes an ERROR packet onto b. The message is cut at the
// first NUL, since the packet format cannot carry one.
func AppendError(b []byte, code ErrorCode, msg string) []byte {
	if i := strings.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 400 {
		msg = msg[:400] // stay well inside the client's 512-byte buffer
	}
	b = binary.BigEndian.AppendUint16(b, uint16(OpERROR))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(append(b, msg...), 0)
}

// The client's side of a transfer: the packets a server sends (OACK, DATA,
// ERROR) decoded, and the ACK a client answers with encoded.

// errNotPacket is what the Parse functions return for a packet of another
// opcode or one too short for its header.
var errNotPacket = errors.New("packet: wrong opcode or shorter than its header")

// OpcodeOf is the opcode a packet starts with, 0 (no TFTP opcode) when it
// is shorter than one.
func OpcodeOf(b []byte) Opcode {
	if len(b) < 2 {
		return 0
	}
	return Opcode(binary.BigEndian.Uint16(b))
}

// AppendACK encodes an ACK of block onto b (block 0 acknowledges an OACK).
func AppendACK(b []byte, block uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(OpACK))
	return binary.BigEndian.AppendUint16(b, block)
}

// ParseACK decodes an ACK's block number. Bytes after it are ignored, as
// the server has always done.
func ParseACK(b []byte) (uint16, error) {
	if len(b) < 4 || OpcodeOf(b) != OpACK {
		return 0, errNotPacket
	}
	return binary.BigEndian.Uint16(b[2:]), nil
}

// ParseData decodes a DATA packet: its block number and payload, which is
// b's own memory (valid until b is reused).
func ParseData(b []byte) (block uint16, data []byte, err error) {
	if len(b) < tftpHeader || OpcodeOf(b) != OpDATA {
		return 0, nil, errNotPacket
	}
	return binary.BigEndian.Uint16(b[2:]), b[tftpHeader:], nil
}

// AppendOACK encodes an option acknowledgement (RFC 2347) onto b, the
// options in the order given.
func AppendOACK(b []byte, opts []Option) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, uint16(OpOACK))
	return appendOptions(b, opts)
}

// ParseOACK decodes an option acknowledgement: the options in the order
// the server sent them, names lower-cased, the first of a repeated name
// kept. An OACK without options decodes to none. Errors name the option
// that is wrong; it never panics, whatever the input.
func ParseOACK(b []byte) ([]Option, error) {
	if OpcodeOf(b) != OpOACK {
		return nil, errNotPacket
	}
	var fields []string
	for b = b[2:]; len(b) > 0; {
		i := indexNUL(b)
		if i < 0 {
			return nil, fmt.Errorf("options[%d]: missing NUL terminator", len(fields)/2)
		}
		fields = append(fields, string(b[:i]))
		b = b[i+1:]
	}
	return parseOptions(fields)
}

// ParseError decodes an ERROR packet: its code and message. A message
// without its NUL terminator is taken whole, since the packet ends the
// transfer either way.
func ParseError(b []byte) (ErrorCode, string, error) {
	if len(b) < 4 || OpcodeOf(b) != OpERROR {
		return 0, "", errNotPacket
	}
	msg := b[4:]
	if i := indexNUL(msg); i >= 0 {
		msg = msg[:i]
	}
	return ErrorCode(binary.BigEndian.Uint16(b[2:])), string(msg), nil
}
