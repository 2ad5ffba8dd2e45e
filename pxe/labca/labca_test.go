package labca

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	caOnce sync.Once
	testCA *CA
	caErr  error
)

// sharedCA is one CA for the tests that do not mint their own: RSA key
// generation is slow under the race detector.
func sharedCA(t *testing.T) *CA {
	t.Helper()
	caOnce.Do(func() { testCA, caErr = New("test CA") })
	if caErr != nil {
		t.Fatal(caErr)
	}
	return testCA
}

func TestIssueForAddresses(t *testing.T) {
	ca := sharedCA(t)
	crt, err := ca.Issue(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := crt.PrivateKey.(*rsa.PrivateKey); !ok {
		t.Errorf("server key is %T, want RSA (firmware uses RSA key exchange)", crt.PrivateKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, host := range []string{"192.0.2.1", "2001:db8::1"} {
		if _, err := crt.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := crt.Leaf.Verify(x509.VerifyOptions{DNSName: "192.0.2.99", Roots: roots}); err == nil {
		t.Error("the certificate also names 192.0.2.99")
	}
	other, err := New("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other.Cert)
	if _, err := crt.Leaf.Verify(x509.VerifyOptions{DNSName: "192.0.2.1", Roots: otherRoots}); err == nil {
		t.Error("another CA verifies the certificate")
	}
	if _, err := ca.Issue(); err == nil {
		t.Error("Issue without addresses succeeded")
	}
}

func TestOpenKeepsTheCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, st.Mode())
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Error("Open minted a new CA instead of loading the kept one")
	}
	os.Remove(filepath.Join(dir, KeyFile))
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not the other") {
		t.Errorf("Open with the key missing: %v", err)
	}
	p, err := ca.WriteFirmwareFiles(filepath.Join(t.TempDir(), "fw"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	certs, err := Certificates(b)
	if err != nil || len(certs) != 1 || !certs[0].Equal(ca.Cert) {
		t.Errorf("%s holds %v, %v", p, certs, err)
	}
}

func TestSignatureListLayout(t *testing.T) {
	ca := sharedCA(t)
	b := SignatureList(LabOwner(), ca.Cert)
	der := ca.Cert.Raw
	// EFI_CERT_X509_GUID in memory order, then ListSize, HeaderSize 0,
	// SignatureSize, the owner, the certificate.
	wantType := []byte{0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72}
	if !bytes.Equal(b[:16], wantType) {
		t.Errorf("type % x, want % x", b[:16], wantType)
	}
	if got, want := binary.LittleEndian.Uint32(b[16:]), uint32(28+16+len(der)); got != want || len(b) != int(want) {
		t.Errorf("ListSize %d, length %d; want %d", got, len(b), want)
	}
	if h, s := binary.LittleEndian.Uint32(b[20:]), binary.LittleEndian.Uint32(b[24:]); h != 0 || s != uint32(16+len(der)) {
		t.Errorf("HeaderSize %d, SignatureSize %d", h, s)
	}
	if !bytes.Equal(b[44:], der) {
		t.Error("the certificate is not after the owner")
	}
	if got := CertX509().String(); got != "a5c059a1-94e4-4aa7-87b5-ab155c2bf072" {
		t.Errorf("CertX509 = %s", got)
	}
	two := SignatureList(LabOwner(), ca.Cert, ca.Cert)
	sigs, err := ParseSignatureList(two)
	if err != nil || len(sigs) != 2 || sigs[1].Owner != LabOwner() || !bytes.Equal(sigs[1].Data, der) {
		t.Errorf("ParseSignatureList of two lists: %d entries, %v", len(sigs), err)
	}
	for _, bad := range [][]byte{b[:20], b[:len(b)-1], append(append([]byte(nil), b[:24]...), 0xff, 0xff, 0, 0)} {
		if _, err := ParseSignatureList(bad); err == nil {
			t.Errorf("ParseSignatureList accepted %d broken bytes", len(bad))
		}
	}
	if _, err := Certificates(nil); err == nil {
		t.Error("Certificates(nil) found certificates")
	}
}

func TestParseGUID(t *testing.T) {
	for _, s := range []string{"a5c059a1-94e4-4aa7-87b5-ab155c2bf072", "11111111-2222-3333-4444-555555555555"} {
		g, err := ParseGUID(s)
		if err != nil || g.String() != s {
			t.Errorf("ParseGUID(%s) = %s, %v", s, g, err)
		}
	}
	for _, s := range []string{"", "a5c059a1-94e4-4aa7-87b5", "zzc059a1-94e4-4aa7-87b5-ab155c2bf072"} {
		if _, err := ParseGUID(s); err == nil {
			t.Errorf("ParseGUID(%q) accepted", s)
		}
	}
}

// FuzzParseSignatureList: the reader never panics, and what it reads
// written back (one list per entry) reads the same.
func FuzzParseSignatureList(f *testing.F) {
	owner := LabOwner()
	typ := CertX509()
	list := append(append([]byte(nil), typ[:]...), 44+3, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0)
	list = append(append(list, owner[:]...), 1, 2, 3)
	f.Add(list)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		sigs, err := ParseSignatureList(b)
		if err != nil {
			return
		}
		var re []byte
		for _, s := range sigs {
			re = append(re, s.Type[:]...)
			re = binary.LittleEndian.AppendUint32(re, uint32(listHeader+16+len(s.Data)))
			re = binary.LittleEndian.AppendUint32(re, 0)
			re = binary.LittleEndian.AppendUint32(re, uint32(16+len(s.Data)))
			re = append(re, s.Owner[:]...)
			re = append(re, s.Data...)
		}
		again, err := ParseSignatureList(re)
		if err != nil || len(again) != len(sigs) {
			t.Fatalf("re-read %d entries, %v; want %d", len(again), err, len(sigs))
		}
		for i := range sigs {
			if again[i].Type != sigs[i].Type || again[i].Owner != sigs[i].Owner || !bytes.Equal(again[i].Data, sigs[i].Data) {
				t.Fatalf("entry %d changed", i)
			}
		}
	})
}
