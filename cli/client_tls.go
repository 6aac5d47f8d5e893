package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/urfave/cli/v2"
)

// clientTLSFlags are the TLS options of the commands that talk to brokers
// as a Kafka client (topic, group, cluster, user, acl), for SSL and
// SASL_SSL listeners.
func clientTLSFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "tls", Usage: "connect over TLS (SSL and SASL_SSL listeners), checking the brokers against the system's CAs or --tls-ca", EnvVars: []string{"CHRONIK_CLIENT_TLS"}},
		&cli.StringFlag{Name: "tls-ca", Usage: "PEM file of the CA the brokers' certificates are checked against (implies --tls)", EnvVars: []string{"CHRONIK_CLIENT_TLS_CA"}},
		&cli.StringFlag{Name: "tls-cert", Usage: "PEM client certificate for mutual TLS (with --tls-key; implies --tls)", EnvVars: []string{"CHRONIK_CLIENT_TLS_CERT"}},
		&cli.StringFlag{Name: "tls-key", Usage: "PEM key of --tls-cert", EnvVars: []string{"CHRONIK_CLIENT_TLS_KEY"}},
	}
}

// clientTLSOpts turns the flags of clientTLSFlags into a kgo option; none
// without TLS.
func clientTLSOpts(c *cli.Context) ([]kgo.Opt, error) {
	ca, cert, key := c.String("tls-ca"), c.String("tls-cert"), c.String("tls-key")
	if !c.Bool("tls") && ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", ca)
		}
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", cert, key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return []kgo.Opt{kgo.DialTLSConfig(cfg)}, nil
}
