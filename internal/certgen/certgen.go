// Package certgen makes throwaway X.509 certificates: a self-signed CA and
// server or client certificates it signs, written as PEM files. chronik dev
// --tls and the TLS tests use it, so neither needs openssl. The keys are
// ECDSA P-256; nothing here is meant for production certificates.
//
//	ca, _ := certgen.NewCA("chronik dev CA")
//	srv, _ := ca.Issue(certgen.Options{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}})
//	srv.WriteFiles("broker.pem", "broker.key")
package certgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// Cert is a certificate with its private key.
type Cert struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// Key is the certificate's private key.
	Key *ecdsa.PrivateKey
}

// CA is a certificate authority that signs certificates.
type CA struct {
	Cert
}

// Options describes a certificate to issue.
type Options struct {
	// CommonName is the subject's CN.
	CommonName string
	// Subject, if set, is the whole subject (CommonName is then ignored
	// unless Subject has none).
	Subject pkix.Name
	// Hosts are DNS names and IP addresses for the subject alternative
	// names; a certificate with hosts is a server (and client) certificate,
	// one without only a client certificate.
	Hosts []string
	// Serial is the serial number; 0 picks a random one.
	Serial int64
	// Validity is how long the certificate is valid from an hour ago;
	// default a year.
	Validity time.Duration
}

// NewCA makes a self-signed CA named cn, valid for ten years.
func NewCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certgen: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("certgen: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certgen: parse CA certificate: %w", err)
	}
	return &CA{Cert{Cert: cert, Key: key}}, nil
}

// Issue makes a certificate signed by ca.
func (ca *CA) Issue(o Options) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certgen: generate key: %w", err)
	}
	serial := big.NewInt(o.Serial)
	if o.Serial == 0 {
		if serial, err = randomSerial(); err != nil {
			return nil, err
		}
	}
	if o.Validity == 0 {
		o.Validity = 365 * 24 * time.Hour
	}
	subject := o.Subject
	if subject.CommonName == "" {
		subject.CommonName = o.CommonName
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(o.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(o.Hosts) > 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("certgen: create certificate %q: %w", subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certgen: parse certificate: %w", err)
	}
	return &Cert{Cert: cert, Key: key}, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("certgen: serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// CertPEM is the certificate in PEM form.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM is the private key in PEM form (PKCS #8).
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(fmt.Sprintf("certgen: marshal an ECDSA key: %v", err)) // cannot fail for P-256
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLS is the certificate as crypto/tls wants it.
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// Pool is a pool holding only this certificate (a CA's, as roots).
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// WriteFiles writes the certificate to certFile and, if keyFile is not "",
// the key to keyFile (mode 0600). Each file is written to a temporary name
// and renamed, so a process reloading them never reads half a file.
func (c *Cert) WriteFiles(certFile, keyFile string) error {
	if err := writeAtomic(certFile, c.CertPEM(), 0o644); err != nil {
		return err
	}
	if keyFile == "" {
		return nil
	}
	return writeAtomic(keyFile, c.KeyPEM(), 0o600)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("certgen: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("certgen: rename %s: %w", tmp, err)
	}
	return nil
}
