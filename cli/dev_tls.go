package cli

import (
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chronik-io/chronik/internal/certgen"
)

// devPKI is chronik dev --tls's throwaway CA and certificates, as PEM files.
type devPKI struct {
	ca                    string // CA certificate
	brokerCert, brokerKey string // every broker's (SAN 127.0.0.1, localhost)
	clientCert, clientKey string // a client's, subject CN=dev-client,O=chronik
}

// makeDevPKI makes a new CA, a broker certificate that every dev broker
// shares and a client certificate in dir, replacing earlier ones.
func makeDevPKI(dir string) (*devPKI, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	p := &devPKI{
		ca:         filepath.Join(dir, "ca.pem"),
		brokerCert: filepath.Join(dir, "broker.pem"), brokerKey: filepath.Join(dir, "broker.key"),
		clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client.key"),
	}
	ca, err := certgen.NewCA("chronik dev CA")
	if err != nil {
		return nil, err
	}
	broker, err := ca.Issue(certgen.Options{CommonName: "chronik-broker", Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		return nil, err
	}
	client, err := ca.Issue(certgen.Options{Subject: pkix.Name{CommonName: "dev-client", Organization: []string{"chronik"}}})
	if err != nil {
		return nil, err
	}
	for _, w := range []struct {
		c         *certgen.Cert
		cert, key string
	}{{&ca.Cert, p.ca, ""}, {broker, p.brokerCert, p.brokerKey}, {client, p.clientCert, p.clientKey}} {
		if err := w.c.WriteFiles(w.cert, w.key); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// howTo tells how to connect a client to brokers over SSL.
func (p *devPKI) howTo(brokers string) string {
	return fmt.Sprintf(`TLS files (a throwaway CA, made afresh on each chronik dev --tls):
  CA:     %s
  client: %s, key %s (principal User:CN=dev-client,O=chronik)
connect over SSL:
  kcat -b %s -X security.protocol=ssl -X ssl.ca.location=%s -L
and with a client certificate (mTLS):
  kcat -b %s -X security.protocol=ssl -X ssl.ca.location=%s \
       -X ssl.certificate.location=%s -X ssl.key.location=%s -L
franz-go: kgo.DialTLSConfig(&tls.Config{RootCAs: <pool of %s>})
`, p.ca, p.clientCert, p.clientKey, brokers, p.ca, brokers, p.ca, p.clientCert, p.clientKey, p.ca)
}
