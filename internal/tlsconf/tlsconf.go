// Package tlsconf builds the server TLS configuration of chronik's
// listeners from PEM files and reloads it when the files change, without
// dropping connections: every handshake takes the certificate and CA pool
// current at that moment (tls.Config.GetConfigForClient over an atomically
// swapped value), so open connections keep the certificate they were set up
// with and new ones see the new one. A file that fails to load keeps the
// previous certificate in use.
//
//	r, err := tlsconf.New(tlsconf.Files{CertFile: "broker.pem", KeyFile: "broker.key", CAFile: "ca.pem"}, lg)
//	ln = tls.NewListener(ln, r.ServerConfig(tlsconf.ClientAuthRequired))
//	go r.Watch(stop, 5*time.Second) // and r.Reload() on SIGHUP
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ClientAuth is a listener's client-certificate policy, named as Kafka's
// ssl.client.auth.
type ClientAuth string

// Client-certificate policies.
const (
	// ClientAuthNone asks for no client certificate.
	ClientAuthNone ClientAuth = "none"
	// ClientAuthRequested asks for one; a client without one is accepted,
	// a client whose certificate does not verify is refused.
	ClientAuthRequested ClientAuth = "requested"
	// ClientAuthRequired refuses clients without a certificate that
	// verifies against the CA.
	ClientAuthRequired ClientAuth = "required"
)

// ParseClientAuth parses "none", "requested" or "required" ("" is none).
func ParseClientAuth(s string) (ClientAuth, error) {
	switch ClientAuth(s) {
	case "", ClientAuthNone:
		return ClientAuthNone, nil
	case ClientAuthRequested, ClientAuthRequired:
		return ClientAuth(s), nil
	}
	return "", fmt.Errorf("tlsconf: client auth %q: want none, requested or required", s)
}

func (a ClientAuth) tls() tls.ClientAuthType {
	switch a {
	case ClientAuthRequested:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// Files names the PEM files of a TLS setup.
type Files struct {
	// CertFile is the certificate chain, leaf first.
	CertFile string
	// KeyFile is CertFile's private key.
	KeyFile string
	// CAFile holds the CA certificates client certificates must chain to;
	// "" for none (then no client can be authenticated).
	CAFile string
}

// Validate reports a missing cert or key file.
func (f Files) Validate() error {
	var errs []error
	if f.CertFile == "" {
		errs = append(errs, errors.New("tlsconf: CertFile is empty"))
	}
	if f.KeyFile == "" {
		errs = append(errs, errors.New("tlsconf: KeyFile is empty"))
	}
	return errors.Join(errs...)
}

// material is one loaded version of the files.
type material struct {
	cert *tls.Certificate
	cas  *x509.CertPool // nil without a CAFile
}

// Reloader holds the current certificate and CA pool of Files. Safe for
// concurrent use.
type Reloader struct {
	files Files
	log   *slog.Logger
	cur   atomic.Pointer[material]

	mu     sync.Mutex // serialises loads
	stamps []stamp    // of the files as last loaded
}

// stamp identifies one version of a file.
type stamp struct {
	mod  time.Time
	size int64
}

// New loads f; it fails if the files do not hold a valid certificate and
// key (and CA bundle, if named). lg receives reload logs; nil discards.
func New(f Files, lg *slog.Logger) (*Reloader, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{files: f, log: lg}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again and, if they are valid, makes them current.
// On an error the previous certificate stays in use.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stat()
	m, err := load(r.files)
	r.stamps = st // a bad version is not retried until it changes again
	if err != nil {
		return err
	}
	r.cur.Store(m)
	return nil
}

// ReloadIfChanged reloads when any file's modification time or size
// differs from the version last loaded; changed reports whether it tried.
func (r *Reloader) ReloadIfChanged() (changed bool, err error) {
	r.mu.Lock()
	st := r.stat()
	same := len(st) == len(r.stamps)
	for i := 0; same && i < len(st); i++ {
		same = st[i] == r.stamps[i]
	}
	r.mu.Unlock()
	if same {
		return false, nil
	}
	return true, r.Reload()
}

// Watch polls the files every interval until stop is closed, reloading
// them when they change, and logs the outcome.
func (r *Reloader) Watch(stop <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.logReload(r.ReloadIfChanged())
	}
}

// ReloadAndLog is Reload with its outcome logged (for a SIGHUP handler).
func (r *Reloader) ReloadAndLog() { r.logReload(true, r.Reload()) }

func (r *Reloader) logReload(tried bool, err error) {
	switch {
	case err != nil:
		r.log.Error("TLS reload failed; keeping the previous certificate", "cert", r.files.CertFile, "err", err)
	case tried:
		leaf := r.Leaf()
		r.log.Info("TLS certificate reloaded", "cert", r.files.CertFile, "subject", leaf.Subject.String(),
			"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	}
}

func (r *Reloader) stat() []stamp {
	var out []stamp
	for _, p := range []string{r.files.CertFile, r.files.KeyFile, r.files.CAFile} {
		var s stamp
		if p != "" {
			if fi, err := os.Stat(p); err == nil {
				s = stamp{fi.ModTime(), fi.Size()}
			}
		}
		out = append(out, s)
	}
	return out
}

func load(f Files) (*material, error) {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: load %s and %s: %w", f.CertFile, f.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsconf: parse %s: %w", f.CertFile, err)
		}
	}
	m := &material{cert: &cert}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tlsconf: read CA file: %w", err)
		}
		m.cas = x509.NewCertPool()
		if !m.cas.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tlsconf: CA file %s holds no PEM certificate", f.CAFile)
		}
	}
	return m, nil
}

// Leaf is the certificate currently served.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().cert.Leaf }

// CAs is the current CA pool; nil without a CAFile.
func (r *Reloader) CAs() *x509.CertPool { return r.cur.Load().cas }

// ServerConfig returns a server configuration (TLS 1.2 or later) that
// serves the current certificate and verifies client certificates against
// the current CA pool as auth says.
func (r *Reloader) ServerConfig(auth ClientAuth) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := r.cur.Load()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*m.cert},
				ClientCAs:    m.cas,
				ClientAuth:   auth.tls(),
			}, nil
		},
	}
}
