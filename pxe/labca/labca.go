// Package labca mints a private certificate authority for a boot lab and
// the boot server's HTTPS certificates, and writes the CA in the form UEFI
// firmware takes it: an EFI_SIGNATURE_LIST (for OVMF, the fw_cfg file
// etc/edk2/https/cacerts).
//
// Every key is RSA: UEFI HTTPS boot (OVMF 2022.11's TLS) offers only TLS 1.2
// suites with RSA key exchange, which need an RSA server key, and its
// certificate checks were built without elliptic curves. Server
// certificates name the server by IP address (the host of every URL a boot
// server hands out), which the firmware checks.
package labca

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Validity of what the package mints.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	ServerValidity = 825 * 24 * time.Hour // the longest browsers accept, for curl and the like
	keyBits        = 2048
)

// File names in a CA directory (Open).
const (
	CertFile           = "ca.pem"      // the CA certificate, PEM
	KeyFile            = "ca.key"      // its private key, PEM (PKCS #8), mode 0600
	SignatureListFile  = "cacerts.esl" // the CA as an EFI_SIGNATURE_LIST (written by WriteFirmwareFiles)
	firmwareDirMode    = 0o700
	privateKeyFileMode = 0o600
)

// CA is a private certificate authority.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	key  *rsa.PrivateKey
}

// New mints a CA named name (its subject's common name), valid for
// CAValidity, in memory.
func New(name string) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"pxekit lab"}},
		NotBefore:             now.Add(-time.Hour), // a guest clock a little behind still accepts it
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// Open loads the CA kept in dir (CertFile and KeyFile), or, when dir has
// neither, mints one named "pxekit lab CA" and keeps it there (dir is
// created with mode 0700, the key written 0600).
func Open(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		return parse(certPEM, keyPEM)
	case errors.Is(cerr, os.ErrNotExist) && errors.Is(kerr, os.ErrNotExist):
	case cerr != nil && !errors.Is(cerr, os.ErrNotExist):
		return nil, fmt.Errorf("labca: %w", cerr)
	case kerr != nil && !errors.Is(kerr, os.ErrNotExist):
		return nil, fmt.Errorf("labca: %w", kerr)
	default:
		return nil, fmt.Errorf("labca: %s holds one of %s and %s but not the other", dir, CertFile, KeyFile)
	}
	ca, err := New("pxekit lab CA")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, firmwareDirMode); err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), privateKeyFileMode); err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	if err := os.WriteFile(certPath, ca.CertPEM(), 0o644); err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	return ca, nil
}

func parse(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("labca: the CA certificate is not a PEM CERTIFICATE")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("labca: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("labca: the CA key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(kb.Bytes); err != nil {
			return nil, fmt.Errorf("labca: the CA key: %w", err)
		}
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("labca: the CA key is %T, want RSA", k)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("labca: the CA key does not match its certificate")
	}
	if !cert.IsCA {
		return nil, errors.New("labca: the certificate is not a CA")
	}
	return &CA{Cert: cert, key: key}, nil
}

// CertPEM is the CA certificate, PEM-encoded (for curl --cacert, a trust
// store, or firmware setup screens that take PEM).
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// SignatureList is the CA certificate as an EFI_SIGNATURE_LIST (see
// SignatureList), what OVMF reads from fw_cfg etc/edk2/https/cacerts.
func (ca *CA) SignatureList() []byte { return SignatureList(LabOwner(), ca.Cert) }

// Issue mints a server certificate for the boot server at addrs (its IP
// SANs; the first is its common name), signed by the CA, with a fresh
// RSA key, valid for ServerValidity.
func (ca *CA) Issue(addrs ...netip.Addr) (tls.Certificate, error) {
	if len(addrs) == 0 {
		return tls.Certificate{}, errors.New("labca: a server certificate needs at least one address")
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: addrs[0].String(), Organization: []string{"pxekit lab"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(ServerValidity),
		BasicConstraintsValid: true,
		// keyEncipherment: with RSA key exchange the client encrypts the
		// premaster secret to this key.
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, a := range addrs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// WriteFirmwareFiles writes what a client's firmware needs to trust the
// CA into dir: CertFile (PEM) and SignatureListFile (the
// EFI_SIGNATURE_LIST for OVMF: qemu -fw_cfg
// name=etc/edk2/https/cacerts,file=DIR/cacerts.esl). It returns the
// signature list's path.
func (ca *CA) WriteFirmwareFiles(dir string) (string, error) {
	if err := os.MkdirAll(dir, firmwareDirMode); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, CertFile), ca.CertPEM(), 0o644); err != nil {
		return "", err
	}
	p := filepath.Join(dir, SignatureListFile)
	return p, os.WriteFile(p, ca.SignatureList(), 0o644)
}
