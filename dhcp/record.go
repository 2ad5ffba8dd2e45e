package dhcp

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// recordV1 marks a binary lease record. A record written under schema 1 is
// a JSON object and so starts with '{'; the two never collide.
const recordV1 = 0x01

// Limits a record's variable fields are held to when read: a link-layer
// address is at most 20 bytes (InfiniBand), option 61 and option 12 at most
// 255 (one DHCP option), a DUID at most 130.
const (
	maxRecordMAC      = 20
	maxRecordClientID = 255
	maxRecordHostname = 255
)

// appendRecord appends l's value record (the key is its address, which
// the value does not repeat): the mark, the state, the expiry as Unix
// seconds (zig-zag varint) and nanoseconds (varint), then MAC, client-id and
// hostname, each as a varint length and the bytes.
func appendRecord(b []byte, l Lease) []byte {
	b = append(b, recordV1, byte(l.State))
	b = binary.AppendVarint(b, l.Expiry.Unix())
	b = binary.AppendUvarint(b, uint64(l.Expiry.Nanosecond()))
	b = binary.AppendUvarint(b, uint64(len(l.MAC)))
	b = append(b, l.MAC...)
	b = binary.AppendUvarint(b, uint64(len(l.ClientID)))
	b = append(b, l.ClientID...)
	b = binary.AppendUvarint(b, uint64(len(l.Hostname)))
	b = append(b, l.Hostname...)
	return b
}

// errRecordShort is a record that ends inside a field.
var errRecordShort = errors.New("record ends early")

// recordReader reads the fields of one binary record in turn; the first
// fault sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errRecordShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errRecordShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns the next length-prefixed field, at most max bytes long. It
// aliases the record: the caller copies what it keeps.
func (r *recordReader) bytes(field string, max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.err = fmt.Errorf("%s: %d bytes, at most %d", field, n, max)
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = fmt.Errorf("%s: %w", field, errRecordShort)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// recordArena hands out the bytes of decoded records from large blocks,
// so that loading a million leases costs a few thousand allocations, not
// three million. Its slices are capped: appending to one copies it.
type recordArena struct {
	buf []byte
}

const arenaBlock = 256 << 10

func (a *recordArena) copy(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if a == nil {
		return append([]byte(nil), b...)
	}
	if len(a.buf)+len(b) > cap(a.buf) {
		a.buf = make([]byte, 0, max(arenaBlock, len(b)))
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// decodeLease reads one stored record, binary or (schema 1) JSON; the key
// must be an address and, in a JSON record, agree with the ip field.
func decodeLease(k, v []byte) (Lease, error) {
	return decodeLeaseArena(k, v, nil)
}

// decodeLeaseArena is decodeLease with the record's bytes copied into a
// (nil: allocated one by one).
func decodeLeaseArena(k, v []byte, a *recordArena) (Lease, error) {
	var l Lease
	key, ok := netip.AddrFromSlice(k)
	if !ok {
		return l, fmt.Errorf("dhcp: lease record key %x: want 4 or 16 bytes", k)
	}
	if len(v) == 0 {
		return l, fmt.Errorf("dhcp: lease record %s: empty", key)
	}
	if v[0] != recordV1 {
		return decodeJSONLease(key, v)
	}
	r := recordReader{b: v[1:]}
	if len(r.b) == 0 {
		return l, fmt.Errorf("dhcp: lease record %s: %w", key, errRecordShort)
	}
	l.IP, l.State = key, LeaseState(r.b[0])
	r.b = r.b[1:]
	sec := r.varint()
	nsec := r.uvarint()
	mac := r.bytes("mac", maxRecordMAC)
	cid := r.bytes("client-id", maxRecordClientID)
	host := r.bytes("hostname", maxRecordHostname)
	switch {
	case r.err != nil:
		return Lease{}, fmt.Errorf("dhcp: lease record %s: %w", key, r.err)
	case len(r.b) != 0:
		return Lease{}, fmt.Errorf("dhcp: lease record %s: %d bytes after the last field", key, len(r.b))
	case nsec >= 1e9:
		return Lease{}, fmt.Errorf("dhcp: lease record %s: expiry nanoseconds %d", key, nsec)
	case l.State != Bound && l.State != Declined:
		return Lease{}, fmt.Errorf("dhcp: lease record %s: unknown state %d", key, l.State)
	}
	l.Expiry = time.Unix(sec, int64(nsec)).UTC()
	if len(mac) > 0 {
		l.MAC = net.HardwareAddr(a.copy(mac))
	}
	l.ClientID = a.copy(cid)
	l.Hostname = string(host)
	return l, nil
}

// decodeJSONLease reads a record written under schema 1.
func decodeJSONLease(key netip.Addr, v []byte) (Lease, error) {
	var l Lease
	if err := json.Unmarshal(v, &l); err != nil {
		return Lease{}, fmt.Errorf("dhcp: lease record %s: %w", key, err)
	}
	if l.IP != key {
		return Lease{}, fmt.Errorf("dhcp: lease record %s: ip field says %s", key, l.IP)
	}
	if l.State != Bound && l.State != Declined {
		return Lease{}, fmt.Errorf("dhcp: lease record %s: unknown state %d", l.IP, l.State)
	}
	return l, nil
}
