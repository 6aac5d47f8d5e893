package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/tlsconf"
	"github.com/chronik-io/chronik/kafka"
)

// securityFlags are chronik start's listener and TLS flags.
func securityFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "kafka-addr", Value: cli.NewStringSlice("127.0.0.1:9092"), Usage: "a Kafka listener to bind, as Kafka's listeners: PLAINTEXT://host:port, SSL://host:port, SASL_PLAINTEXT://host:port or SASL_SSL://host:port (a bare host:port is PLAINTEXT); repeat the flag (or separate with commas) for several", EnvVars: []string{"CHRONIK_KAFKA_ADDR"}},
		&cli.StringSliceFlag{Name: "advertise", Usage: "the address clients reach a listener at, as NAME://host:port (a bare host:port is PLAINTEXT), as Kafka's advertised.listeners; default: the listener's bound address", EnvVars: []string{"CHRONIK_ADVERTISE"}},
		&cli.StringFlag{Name: "advertised-kafka-addr", Usage: "host:port clients connect to on the first --kafka-addr listener (default: as bound); --advertise is the general form", EnvVars: []string{"CHRONIK_ADVERTISED_KAFKA_ADDR"}},
		&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate (chain) of the SSL and SASL_SSL listeners, and of Raft and HTTP over TLS", EnvVars: []string{"CHRONIK_TLS_CERT"}},
		&cli.StringFlag{Name: "tls-key", Usage: "PEM private key of --tls-cert", EnvVars: []string{"CHRONIK_TLS_KEY"}},
		&cli.StringFlag{Name: "tls-ca", Usage: "PEM CA certificates that client certificates (and Raft peers) must chain to", EnvVars: []string{"CHRONIK_TLS_CA"}},
		&cli.StringFlag{Name: "tls-client-auth", Value: "none", Usage: "client certificates on SSL listeners, as Kafka's ssl.client.auth: none, requested or required; a verified certificate's subject becomes the principal User:<RFC 2253 DN>", EnvVars: []string{"CHRONIK_TLS_CLIENT_AUTH"}},
		&cli.DurationFlag{Name: "tls-reload-interval", Value: 5 * time.Second, Usage: "how often the TLS files are checked for changes and reloaded (SIGHUP reloads at once); 0 disables polling", EnvVars: []string{"CHRONIK_TLS_RELOAD_INTERVAL"}},
		&cli.BoolFlag{Name: "raft-tls", Usage: "run the Raft transport between brokers over mutual TLS with --tls-cert, --tls-key and --tls-ca (default: on when --tls-cert is set; every member must agree)", EnvVars: []string{"CHRONIK_RAFT_TLS"}},
		&cli.BoolFlag{Name: "http-tls", Usage: "serve --http-addr over TLS (HTTPS) with --tls-cert", EnvVars: []string{"CHRONIK_HTTP_TLS"}},
	}
}

// listenerSpec is one Kafka listener of chronik start.
type listenerSpec struct {
	l          kafka.Listener // TLS is set by tlsSetup.apply
	bind       string
	advertised string // "" until runStart knows the bound address
}

// tlsSetup is the parsed TLS flags.
type tlsSetup struct {
	files      tlsconf.Files // CertFile "" = no TLS
	clientAuth tlsconf.ClientAuth
	reload     time.Duration
	raft       bool
	http       bool
}

// parseListeners parses --kafka-addr, --advertise and
// --advertised-kafka-addr.
func parseListeners(c *cli.Context) ([]listenerSpec, error) {
	var specs []listenerSpec
	var errs []error
	seen := map[string]bool{}
	for _, s := range c.StringSlice("kafka-addr") {
		l, addr, err := kafka.ParseListener(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--kafka-addr: %w", err))
			continue
		}
		if seen[l.Name] {
			errs = append(errs, fmt.Errorf("--kafka-addr: listener %s given twice", l.Name))
			continue
		}
		seen[l.Name] = true
		specs = append(specs, listenerSpec{l: l, bind: addr})
	}
	if len(specs) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("--kafka-addr: no listener"))
	}
	if a := c.String("advertised-kafka-addr"); a != "" {
		if h, _, err := net.SplitHostPort(a); err != nil || h == "" {
			errs = append(errs, fmt.Errorf("--advertised-kafka-addr %q: want host:port", a))
		} else if len(specs) > 0 {
			specs[0].advertised = a
		}
	}
	for _, s := range c.StringSlice("advertise") {
		l, addr, err := kafka.ParseListener(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--advertise: %w", err))
			continue
		}
		if h, _, _ := net.SplitHostPort(addr); h == "" {
			errs = append(errs, fmt.Errorf("--advertise %q: want a host", s))
			continue
		}
		found := false
		for i := range specs {
			if specs[i].l.Name == l.Name {
				specs[i].advertised, found = addr, true
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("--advertise %q: no --kafka-addr listener %s", s, l.Name))
		}
	}
	return specs, errors.Join(errs...)
}

// parseTLS parses the TLS flags and checks them against the listeners.
func parseTLS(c *cli.Context, specs []listenerSpec) (tlsSetup, error) {
	var errs []error
	ts := tlsSetup{
		files:  tlsconf.Files{CertFile: c.String("tls-cert"), KeyFile: c.String("tls-key"), CAFile: c.String("tls-ca")},
		reload: c.Duration("tls-reload-interval"),
		http:   c.Bool("http-tls"),
	}
	var err error
	if ts.clientAuth, err = tlsconf.ParseClientAuth(c.String("tls-client-auth")); err != nil {
		errs = append(errs, fmt.Errorf("--tls-client-auth: %w", err))
	}
	haveCert := ts.files.CertFile != ""
	if haveCert != (ts.files.KeyFile != "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	ts.raft = haveCert
	if c.IsSet("raft-tls") {
		ts.raft = c.Bool("raft-tls")
	}
	if ts.raft && (!haveCert || ts.files.CAFile == "") {
		errs = append(errs, errors.New("--raft-tls (on by default with --tls-cert) needs --tls-cert, --tls-key and --tls-ca; set --tls-ca, or --raft-tls=false for plain Raft"))
	}
	if ts.http && !haveCert {
		errs = append(errs, errors.New("--http-tls needs --tls-cert and --tls-key"))
	}
	if ts.clientAuth != tlsconf.ClientAuthNone && ts.files.CAFile == "" {
		errs = append(errs, fmt.Errorf("--tls-client-auth %s needs --tls-ca", ts.clientAuth))
	}
	for _, s := range specs {
		if s.l.Protocol.TLS() && !haveCert {
			errs = append(errs, fmt.Errorf("--kafka-addr %s://%s needs --tls-cert and --tls-key", s.l.Name, s.bind))
		}
	}
	if ts.reload < 0 {
		errs = append(errs, fmt.Errorf("--tls-reload-interval %s: must be >= 0", ts.reload))
	}
	return ts, errors.Join(errs...)
}

// raftFiles is the engine's Raft mTLS setting.
func (ts tlsSetup) raftFiles() engine.TLSFiles {
	if !ts.raft {
		return engine.TLSFiles{}
	}
	return engine.TLSFiles{CAFile: ts.files.CAFile, CertFile: ts.files.CertFile, KeyFile: ts.files.KeyFile}
}

// start loads the TLS files (nil without --tls-cert) and starts their
// reloading: polling every --tls-reload-interval until stop closes, and on
// each value from hup.
func (ts tlsSetup) start(lg *slog.Logger, stop <-chan struct{}, hup <-chan struct{}) (*tlsconf.Reloader, error) {
	if ts.files.CertFile == "" {
		return nil, nil
	}
	r, err := tlsconf.New(ts.files, lg)
	if err != nil {
		return nil, err
	}
	if ts.reload > 0 {
		go r.Watch(stop, ts.reload)
	}
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-hup:
				r.ReloadAndLog()
			}
		}
	}()
	return r, nil
}

// serverConfig is the TLS configuration of listener l (nil for non-TLS).
func (ts tlsSetup) serverConfig(r *tlsconf.Reloader, p kafka.SecurityProtocol) *tls.Config {
	if r == nil || !p.TLS() {
		return nil
	}
	auth := ts.clientAuth
	if p == kafka.ProtocolSASLSSL {
		auth = tlsconf.ClientAuthNone // SASL authenticates; Kafka also ignores ssl.client.auth there by default
	}
	return r.ServerConfig(auth)
}
