package cli

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Listener and TLS flags: several listeners with their advertised
// addresses, Raft TLS on by default with a certificate, and the
// combinations that cannot work refused with the flag named.
func TestStartListenerFlags(t *testing.T) {
	tlsArgs := []string{"--tls-cert", "c.pem", "--tls-key", "c.key", "--tls-ca", "ca.pem"}
	for _, tc := range []struct {
		args      []string
		listeners string // NAME=bind>advertised,...
		raftTLS   bool
		err       string
	}{
		{args: nil, listeners: "PLAINTEXT=127.0.0.1:9092>"},
		{args: []string{"--kafka-addr", "h:9092", "--advertised-kafka-addr", "a:1"}, listeners: "PLAINTEXT=h:9092>a:1"},
		{args: append([]string{"--kafka-addr", "PLAINTEXT://:9092", "--kafka-addr", "SSL://:9093", "--advertise", "SSL://pub:9093", "--advertise", "PLAINTEXT://pub:9092"}, tlsArgs...),
			listeners: "PLAINTEXT=:9092>pub:9092,SSL=:9093>pub:9093", raftTLS: true},
		{args: append([]string{"--kafka-addr", "SSL://h:9093,SASL_SSL://h:9094", "--raft-tls=false"}, tlsArgs...), listeners: "SSL=h:9093>,SASL_SSL=h:9094>"},
		{args: []string{"--kafka-addr", "SSL://h:9093"}, err: "needs --tls-cert"},
		{args: []string{"--kafka-addr", "h:1", "--kafka-addr", "PLAINTEXT://h:2"}, err: "given twice"},
		{args: []string{"--kafka-addr", "TLS://h:1"}, err: "unknown protocol"},
		{args: []string{"--advertise", "SSL://h:1"}, err: "no --kafka-addr listener SSL"},
		{args: []string{"--tls-cert", "c.pem"}, err: "--tls-cert and --tls-key"},
		{args: []string{"--tls-cert", "c.pem", "--tls-key", "k"}, err: "needs --tls-cert, --tls-key and --tls-ca"},
		{args: []string{"--tls-client-auth", "required"}, err: "needs --tls-ca"},
		{args: []string{"--tls-client-auth", "maybe"}, err: "--tls-client-auth"},
		{args: []string{"--http-tls"}, err: "--http-tls needs"},
	} {
		cmd := startCommand()
		var sc startConfig
		var perr error
		cmd.Action = func(c *cli.Context) error {
			sc, perr = parseStart(c, slog.New(slog.DiscardHandler))
			return nil
		}
		app := &cli.App{Commands: []*cli.Command{cmd}}
		if err := app.Run(append([]string{"chronik", "start", "--data-dir", t.TempDir()}, tc.args...)); err != nil {
			t.Fatalf("start %v: %v", tc.args, err)
		}
		if tc.err != "" {
			if perr == nil || !strings.Contains(perr.Error(), tc.err) {
				t.Errorf("start %v: error %v, want one containing %q", tc.args, perr, tc.err)
			}
			continue
		}
		if perr != nil {
			t.Errorf("start %v: %v", tc.args, perr)
			continue
		}
		var got []string
		for _, l := range sc.listeners {
			got = append(got, l.l.Name+"="+l.bind+">"+l.advertised)
		}
		if g := strings.Join(got, ","); g != tc.listeners {
			t.Errorf("start %v: listeners %s, want %s", tc.args, g, tc.listeners)
		}
		if sc.engine.RaftTLS.Enabled() != tc.raftTLS {
			t.Errorf("start %v: Raft TLS %v, want %v", tc.args, sc.engine.RaftTLS.Enabled(), tc.raftTLS)
		}
	}
}
