package pxe

import (
	"net/url"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The config file's TLS and lease-store sections. They are decoded and
// checked here; the TLS section becomes Config's TLS fields (ConfigFile.Config),
// and the etcd store is built by the program that serves: pxe depends on no
// etcd client.

// TLSSpec is the config file's tls section: the certificate and key the
// boot server's HTTPS side presents.
type TLSSpec struct {
	// CertFile and KeyFile are PEM files, both or neither.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// ClientCAFile would be a PEM bundle of the CAs whose client
	// certificates are accepted; Validate refuses it, as the boot
	// server's clients (firmware) present none.
	ClientCAFile string `json:"clientCAFile,omitempty"`

	// The boot server's HTTPS side (Config's TLS fields). LabCA, instead of
	// certFile and keyFile, is a directory whose lab CA issues the
	// certificate (Config.TLSLabCA); Port is the HTTPS port (default 443);
	// HTTPSBoot and FilesHTTPSOnly are Config's.
	LabCA          string `json:"labCA,omitempty"`
	Port           int    `json:"port,omitempty"`
	HTTPSBoot      bool   `json:"httpsBoot,omitempty"`
	FilesHTTPSOnly bool   `json:"filesHTTPSOnly,omitempty"`
}

// Validate checks that the certificate and key come together, or a lab
// CA directory instead, and the port.
func (t *TLSSpec) Validate() field.ErrorList {
	var errs field.ErrorList
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, field.Required(field.NewPath("certFile"), "certFile and keyFile come together"))
	}
	if t.LabCA != "" && t.CertFile != "" {
		errs = append(errs, field.Forbidden(field.NewPath("labCA"), "certFile and keyFile, or labCA: not both"))
	}
	// The boot server's clients are firmware, which presents no client
	// certificate: a CA to check them by would lock every machine out.
	if t.ClientCAFile != "" {
		errs = append(errs, field.Forbidden(field.NewPath("clientCAFile"), "the boot server's HTTPS asks for no client certificate (UEFI firmware presents none)"))
	}
	if t.Port < 0 || t.Port > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("port"), t.Port, "must be 0 (the default) or a port"))
	}
	return errs
}

// files lists the files the section names, with their paths.
func (t *TLSSpec) files() map[string]string {
	return map[string]string{"certFile": t.CertFile, "keyFile": t.KeyFile, "clientCAFile": t.ClientCAFile}
}

// StoreSpec is the config file's store section: where leases live. One
// of BBolt or Etcd; neither keeps leases in memory (lost on restart).
type StoreSpec struct {
	BBolt *BBoltStoreSpec `json:"bbolt,omitempty"`
	Etcd  *EtcdStoreSpec  `json:"etcd,omitempty"`
}

// BBoltStoreSpec is a lease database file on this host (dhcp.BoltStore).
type BBoltStoreSpec struct {
	Path string `json:"path"`
}

// EtcdStoreSpec is a lease store in an etcd cluster, shared by several
// boot servers.
type EtcdStoreSpec struct {
	// Endpoints are the cluster's client URLs (https://host:2379).
	Endpoints []string `json:"endpoints"`
	// Prefix is the key prefix the leases live under (default
	// "/pxekit/").
	Prefix string `json:"prefix,omitempty"`
	// DialTimeout bounds connecting (default 5s).
	DialTimeout Duration      `json:"dialTimeout,omitzero"`
	TLS         *EtcdTLSSpec  `json:"tls,omitempty"`
	Auth        *EtcdAuthSpec `json:"auth,omitempty"`
}

// EtcdTLSSpec is how the boot server trusts etcd and proves itself to it.
type EtcdTLSSpec struct {
	CAFile   string `json:"caFile,omitempty"`
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// EtcdAuthSpec is etcd's user authentication; the password is read from
// a file so the config file can be world-readable.
type EtcdAuthSpec struct {
	Username     string `json:"username"`
	PasswordFile string `json:"passwordFile"`
}

// Validate checks that exactly one store is named and that an etcd store
// has endpoints that are URLs, a certificate with its key, and a user
// with a password file.
func (s *StoreSpec) Validate() field.ErrorList {
	var errs field.ErrorList
	if s.BBolt != nil && s.Etcd != nil {
		errs = append(errs, field.Forbidden(field.NewPath("etcd"), "name one store: bbolt or etcd"))
	}
	if b := s.BBolt; b != nil && b.Path == "" {
		errs = append(errs, field.Required(field.NewPath("bbolt", "path"), "the lease database file"))
	}
	if e := s.Etcd; e != nil {
		p := field.NewPath("etcd")
		if len(e.Endpoints) == 0 {
			errs = append(errs, field.Required(p.Child("endpoints"), "at least one client URL, e.g. https://etcd-0:2379"))
		}
		for i, ep := range e.Endpoints {
			u, err := url.Parse(ep)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, field.Invalid(p.Child("endpoints").Index(i), ep, "must be an http:// or https:// URL with a host"))
			}
		}
		if e.DialTimeout.Duration < 0 {
			errs = append(errs, field.Invalid(p.Child("dialTimeout"), e.DialTimeout.String(), "must not be negative"))
		}
		if t := e.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
			errs = append(errs, field.Required(p.Child("tls", "certFile"), "certFile and keyFile come together"))
		}
		if a := e.Auth; a != nil {
			if a.Username == "" {
				errs = append(errs, field.Required(p.Child("auth", "username"), ""))
			}
			if a.PasswordFile == "" {
				errs = append(errs, field.Required(p.Child("auth", "passwordFile"), "the password is read from a file"))
			}
		}
	}
	return errs
}

// files lists the files the section names (relative to the section).
func (s *StoreSpec) files() map[string]string {
	out := map[string]string{}
	if e := s.Etcd; e != nil {
		if t := e.TLS; t != nil {
			out["etcd.tls.caFile"], out["etcd.tls.certFile"], out["etcd.tls.keyFile"] = t.CAFile, t.CertFile, t.KeyFile
		}
		if a := e.Auth; a != nil {
			out["etcd.auth.passwordFile"] = a.PasswordFile
		}
	}
	return out
}
