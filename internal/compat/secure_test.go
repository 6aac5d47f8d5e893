package compat

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/certgen"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/internal/tlsconf"
	"github.com/chronik-io/chronik/kafka"
)

// secureBroker is a one-node chronik with three listeners, for clients
// that test TLS and SASL: SSL (no client certificate asked), SASL_PLAINTEXT
// and PLAINTEXT, a throwaway CA, and one SCRAM user.
type secureBroker struct {
	addrs  map[string]string // listener name -> address
	caFile string
	user   string
	pass   string
}

// startSecureBroker starts a secureBroker, closed at t's cleanup.
func startSecureBroker(t *testing.T) *secureBroker {
	t.Helper()
	dir := t.TempDir()
	ca, err := certgen.NewCA("chronik compat CA")
	if err != nil {
		t.Fatal(err)
	}
	sb := &secureBroker{addrs: map[string]string{}, caFile: filepath.Join(dir, "ca.pem"), user: "compat", pass: "compat-secret"}
	if err := os.WriteFile(sb.caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(certgen.Options{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	files := tlsconf.Files{CertFile: filepath.Join(dir, "broker.pem"), KeyFile: filepath.Join(dir, "broker.key"), CAFile: sb.caFile}
	if err := cert.WriteFiles(files.CertFile, files.KeyFile); err != nil {
		t.Fatal(err)
	}
	r, err := tlsconf.New(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	ls := []kafka.Listener{
		{Protocol: kafka.ProtocolSSL, TLS: r.ServerConfig(tlsconf.ClientAuthNone)},
		{Protocol: kafka.ProtocolSASLPlaintext},
		{Protocol: kafka.ProtocolPlaintext},
	}
	var lns []net.Listener
	for _, l := range ls {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		sb.addrs[string(l.Protocol)] = ln.Addr().String()
	}
	cl := testcluster.New(t, 1, testcluster.WithConfig(func(c *engine.Config) {
		c.KafkaListeners = sb.addrs
		c.KafkaAddr = sb.addrs[string(kafka.ProtocolPlaintext)]
		c.LogDB = logDB()
	}))
	// KIP-848 members heartbeat every second (Kafka's default, 5 s, makes
	// franz-go's 848 subtests wait on heartbeats to move partitions).
	srv, err := kafka.New(cl.Engine(1), kafka.Config{AutoCreateTopics: true,
		Groups: kafka.GroupConfig{ConsumerHeartbeatInterval: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, len(ls))
	for i, l := range ls {
		go func() { done <- srv.ServeListener(lns[i], l) }()
	}
	t.Cleanup(func() {
		srv.Close()
		for range ls {
			<-done
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Engine(1).EnsureScramUser(ctx, sb.user, sb.pass); err != nil {
		t.Fatal(err)
	}
	return sb
}
