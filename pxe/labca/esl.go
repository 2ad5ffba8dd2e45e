package labca

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// GUID is a UEFI GUID in its in-memory byte order: the first three fields
// little-endian, the last two as written.
type GUID [16]byte

// ParseGUID reads "a5c059a1-94e4-4aa7-87b5-ab155c2bf072".
func ParseGUID(s string) (GUID, error) {
	var g GUID
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("labca: %q is not a GUID", s)
	}
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("labca: %q is not a GUID: %v", s, err)
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(b[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(b[6:]))
	copy(g[8:], b[8:])
	return g, nil
}

func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// String writes the GUID as ParseGUID reads it.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(g[0:]), binary.LittleEndian.Uint16(g[4:]),
		binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

// CertX509 is EFI_CERT_X509_GUID, the type of a signature list of DER
// X.509 certificates.
func CertX509() GUID { return mustGUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072") }

// LabOwner is the owner GUID SignatureList gives the lab CA's entries
// (firmware keeps owners with the entries; it does not check them).
func LabOwner() GUID { return mustGUID("7078656b-6974-4c61-6243-410000000001") }

// Signature is one entry of an EFI_SIGNATURE_LIST.
type Signature struct {
	// Type is the list's signature type (CertX509 for certificates).
	Type GUID
	// Owner is the entry's owner.
	Owner GUID
	// Data is the signature data: for CertX509, a DER certificate.
	Data []byte
}

// listHeader is EFI_SIGNATURE_LIST without its variable parts: type GUID,
// ListSize, HeaderSize, SignatureSize.
const listHeader = 16 + 4 + 4 + 4

// SignatureList builds EFI_SIGNATURE_LISTs (UEFI 2.10, section 32.4.1) of
// certs: one list per certificate, each of the type CertX509 with no
// header and one entry (owner, then the DER certificate), as
// virt-fw-sigdb --add-cert writes them. Certificates of different sizes
// cannot share a list: every entry of a list has its SignatureSize.
func SignatureList(owner GUID, certs ...*x509.Certificate) []byte {
	var out []byte
	typ := CertX509()
	for _, c := range certs {
		sigSize := 16 + len(c.Raw)
		out = append(out, typ[:]...)
		out = binary.LittleEndian.AppendUint32(out, uint32(listHeader+sigSize))
		out = binary.LittleEndian.AppendUint32(out, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(sigSize))
		out = append(out, owner[:]...)
		out = append(out, c.Raw...)
	}
	return out
}

// ParseSignatureList reads a sequence of EFI_SIGNATURE_LISTs (a signature
// database such as db, or OVMF's cacerts) into its entries, in order.
func ParseSignatureList(b []byte) ([]Signature, error) {
	var out []Signature
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < listHeader {
			return nil, fmt.Errorf("labca: signature list at byte %d: %d bytes left, shorter than a list header", off, len(rest))
		}
		var typ GUID
		copy(typ[:], rest)
		listSize := binary.LittleEndian.Uint32(rest[16:])
		hdrSize := binary.LittleEndian.Uint32(rest[20:])
		sigSize := binary.LittleEndian.Uint32(rest[24:])
		if uint64(listSize) > uint64(len(rest)) || listSize < listHeader {
			return nil, fmt.Errorf("labca: signature list at byte %d: size %d, %d bytes left", off, listSize, len(rest))
		}
		body := uint64(listSize) - listHeader
		if uint64(hdrSize) > body {
			return nil, fmt.Errorf("labca: signature list at byte %d: header of %d bytes in a body of %d", off, hdrSize, body)
		}
		body -= uint64(hdrSize)
		if sigSize < 16 {
			return nil, fmt.Errorf("labca: signature list at byte %d: signature size %d is smaller than its owner GUID", off, sigSize)
		}
		if body%uint64(sigSize) != 0 {
			return nil, fmt.Errorf("labca: signature list at byte %d: %d bytes of signatures are not a multiple of %d", off, body, sigSize)
		}
		p := listHeader + int(hdrSize)
		for p+int(sigSize) <= int(listSize) {
			var s Signature
			s.Type = typ
			copy(s.Owner[:], rest[p:])
			s.Data = append([]byte(nil), rest[p+16:p+int(sigSize)]...)
			out = append(out, s)
			p += int(sigSize)
		}
		off += int(listSize)
	}
	return out, nil
}

// Certificates reads the X.509 certificates of a signature list, refusing
// entries of any other type.
func Certificates(b []byte) ([]*x509.Certificate, error) {
	sigs, err := ParseSignatureList(b)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for i, s := range sigs {
		if s.Type != CertX509() {
			return nil, fmt.Errorf("labca: entry %d has type %s, not X.509", i, s.Type)
		}
		c, err := x509.ParseCertificate(s.Data)
		if err != nil {
			return nil, fmt.Errorf("labca: entry %d: %w", i, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("labca: no certificates")
	}
	return out, nil
}
